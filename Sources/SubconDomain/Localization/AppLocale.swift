/// The UI languages. Simplified Chinese is the default: most users read it first.
public enum AppLocale: String, Codable, Sendable, CaseIterable {
    case zhHans = "zh-Hans"
    case zhHant = "zh-Hant"
    case en = "en"

    public static let fallback: AppLocale = .zhHans

    /// Maps a language tag (`zh-TW`, `zh-Hant-HK`, `zh-CN`, `en-US`, …) to a UI language.
    public init?(tag: String) {
        let t = tag.trimmingSpaces().lowercased().replacingAll("_", with: "-")
        if t.hasPrefix("zh") {
            let traditional = ["hant", "tw", "hk", "mo"]
            let parts = t.split(separator: "-").dropFirst().map(String.init)
            self = parts.contains(where: traditional.contains) ? .zhHant : .zhHans
        } else if t == "en" || t.hasPrefix("en-") {
            self = .en
        } else {
            return nil
        }
    }

    /// Picks the best UI language from an Accept-Language header, honouring q-values.
    public static func negotiate(acceptLanguage header: String?) -> AppLocale? {
        guard let header, !header.isEmpty else { return nil }
        var best: (q: Double, order: Int, locale: AppLocale)?
        for (order, item) in header.split(separator: ",").enumerated() {
            let pieces = item.split(separator: ";")
            guard let tag = pieces.first, let locale = AppLocale(tag: String(tag)) else { continue }
            // q-values are a ranking hint, not a quantity: a Double is fine here.
            var q = 1.0
            for p in pieces.dropFirst() {
                let kv = p.split(separator: "=")
                if kv.count == 2, String(kv[0]).trimmingSpaces() == "q", let v = Double(String(kv[1]).trimmingSpaces()) { q = v }
            }
            if q > 0, best == nil || q > best!.q { best = (q, order, locale) }
        }
        return best?.locale
    }
}

extension String {
    func replacingAll(_ a: String, with b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
