import Foundation
import Leaf
import SubconDomain
import Vapor

/// UI texts per language, loaded from `Resources/Locales/<locale>.json`. Views never hold text:
/// they ask the catalog through the `#t("key")` tag.
public final class Catalog: Sendable {
    let messages: [AppLocale: [String: String]]

    public init(directory: String) throws {
        var all: [AppLocale: [String: String]] = [:]
        for locale in AppLocale.allCases {
            let url = URL(fileURLWithPath: directory).appendingPathComponent("\(locale.rawValue).json")
            let data = try Data(contentsOf: url)
            all[locale] = try JSONDecoder().decode([String: String].self, from: data)
        }
        messages = all
    }

    public func text(_ key: String, _ locale: AppLocale, _ params: [String: String] = [:]) -> String {
        let template = messages[locale]?[key] ?? messages[.fallback]?[key] ?? key
        return params.isEmpty ? template : Self.fill(template, params)
    }

    /// One pass over the template: each `{name}` that has a parameter becomes its value, any
    /// other brace stays as written. Replacing name after name with Foundation's string search
    /// was 16% of the inbox's time (every message is filled on every read), and could replace
    /// inside a value put in by an earlier name.
    ///
    /// Chinese templates put a space between a placeholder and the Chinese words around it, as
    /// Chinese text sets Latin letters and digits apart ("订单 WX-001 的"); a value whose edge
    /// is itself Chinese (a company's name) takes no space there ("苏州精工有限公司的").
    static func fill(_ template: String, _ params: [String: String]) -> String {
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), space = UInt8(ascii: " ")
        var out = ""
        out.reserveCapacity(template.utf8.count + 32)
        var rest = template[...]
        while let start = rest.utf8.firstIndex(of: open) {
            out += rest[..<start]
            let name = rest.utf8.index(after: start)
            if let end = rest.utf8[name...].firstIndex(of: close), let value = params[String(rest[name..<end])] {
                if let first = value.unicodeScalars.first, isChinese(first), out.utf8.last == space,
                   let before = out.unicodeScalars.dropLast().last, isChinese(before) {
                    out.removeLast()
                }
                out += value
                rest = rest[rest.utf8.index(after: end)...]
                if let last = value.unicodeScalars.last, isChinese(last), rest.utf8.first == space,
                   let after = rest.unicodeScalars.dropFirst().first, isChinese(after) {
                    rest = rest.dropFirst()
                }
            } else {
                out += "{"
                rest = rest[name...]
            }
        }
        out += rest
        return out
    }

    /// Han characters and Chinese punctuation (CJK symbols, full-width forms).
    static func isChinese(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3000...0x303F, 0x3400...0x9FFF, 0xF900...0xFAFF, 0xFF00...0xFFEF: true
        default: false
        }
    }

    /// Whether the key has a text in some language (else `text` answers the key itself).
    public func has(_ key: String) -> Bool { messages[.fallback]?[key] != nil }

    public func keys(_ locale: AppLocale) -> Set<String> { Set(messages[locale]?.keys ?? [:].keys) }
}

/// `#words(key, params)`: a text stored as a catalog key with its parameters (an exception
/// the system raised), in the page's language.
struct WordsTag: LeafTag {
    let catalog: Catalog

    func render(_ ctx: LeafContext) throws -> LeafData {
        guard let key = ctx.parameters.first?.string else { return .string("") }
        let locale = ctx.data["locale"]?.string.flatMap(AppLocale.init(rawValue:)) ?? .fallback
        var params: [String: String] = [:]
        if ctx.parameters.count > 1, let d = ctx.parameters[1].dictionary {
            for (k, v) in d { params[k] = v.string ?? v.description }
        }
        return .string(catalog.text(key, locale, params))
    }
}

/// `#t("key")` or `#t("key", "name", value, …)` in a view: the text in the page's language
/// (the context's top-level `locale`), HTML-escaped by Leaf.
struct TranslateTag: LeafTag {
    let catalog: Catalog

    func render(_ ctx: LeafContext) throws -> LeafData {
        guard let key = ctx.parameters.first?.string else { throw Abort(.internalServerError, reason: "#t needs a key") }
        let locale = ctx.data["locale"]?.string.flatMap(AppLocale.init(rawValue:)) ?? .fallback
        var params: [String: String] = [:]
        var rest = ctx.parameters.dropFirst()
        while rest.count >= 2 {
            let name = rest.removeFirst(), value = rest.removeFirst()
            if let n = name.string { params[n] = value.string ?? value.description }
        }
        return .string(catalog.text(key, locale, params))
    }
}


