import Foundation
import SubconDomain
import Vapor

/// Markup written in Swift, for the rows of the busiest list pages.
///
/// Leaf's serializer resolves every `#(…)`, `#if` and `#t(…)` of a row through dictionaries of
/// `LeafData`, and the view's data is first encoded into them: on the order list, Leaf was three
/// quarters of the page's time (50 rows: about 2 ms). The rows of such a page are written here
/// and the template puts them in with `#unsafeHTML`. Safe by construction: text interpolated
/// into an `HTML` is escaped exactly as Leaf's `#(…)` escapes it; only another `HTML` goes in
/// as it is.
struct HTML: ExpressibleByStringInterpolation, Encodable, Sendable, Equatable {
    private(set) var text: String

    init() { text = "" }
    init(stringLiteral literal: String) { text = literal }
    init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    static func += (lhs: inout HTML, rhs: HTML) { lhs.text += rhs.text }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var text = ""

        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + 24 * interpolationCount) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: String) { HTML.escape(value, into: &text) }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ value: UUID) { text += UUIDText.text(value) }
        mutating func appendInterpolation(_ value: HTML) { text += value.text }
    }

    /// What LeafKit's `htmlEscaped` writes for the same text.
    static func escape(_ s: String, into out: inout String) {
        // Names, codes and numbers seldom hold any of the five: such text is appended whole. The
        // bytes are walked in place where the string has them contiguous (a native string does),
        // about half the time of the generic `contains(where:)` over its UTF-8 view.
        func special(_ b: UInt8) -> Bool { b == 0x26 || b == 0x22 || b == 0x27 || b == 0x3C || b == 0x3E }
        let plain = s.utf8.withContiguousStorageIfAvailable { bytes in
            for b in bytes where special(b) { return false }
            return true
        } ?? !s.utf8.contains(where: special)
        guard !plain else {
            out += s
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.unicodeScalars.append(scalar)
            }
        }
    }

    /// `markup` when the condition holds, else nothing (a row's optional tag or class).
    static func when(_ condition: Bool, _ markup: @autoclosure () -> HTML) -> HTML { condition ? markup() : HTML() }
}

extension Request {
    /// A page's texts by key, each looked up once however many rows show it.
    func texts() -> PageTexts { PageTexts(req: self) }

    /// A date pattern in the installation's time zone, as the templates' `#date(…, shell.timeZone)`
    /// writes it (an unknown zone falls back to the process's, as `DateTag` does).
    func datePattern(_ format: String) -> DatePattern {
        DatePattern(format, zone: TimeZone(identifier: application.subcon.settings.timeZone) ?? .current)
    }
}

/// The catalog's texts in the page's language, for rows written in Swift. The language is
/// worked out once (from the cookies and headers, which `Request.locale` parses on every call).
struct PageTexts {
    private let catalog: Catalog
    private let locale: AppLocale
    private var known: [String: String] = [:]

    init(req: Request) { self.init(catalog: req.application.subcon.catalog, locale: req.locale) }

    init(catalog: Catalog, locale: AppLocale) {
        self.catalog = catalog
        self.locale = locale
    }

    mutating func callAsFunction(_ key: String) -> String {
        if let text = known[key] { return text }
        let text = catalog.text(key, locale)
        known[key] = text
        return text
    }

    /// A text with parameters (not kept: its values differ from row to row).
    func callAsFunction(_ key: String, _ params: [String: String]) -> String { catalog.text(key, locale, params) }
}

extension HTML {
    /// A list's table as the list pages write it: it scrolls sideways where it is too wide, and
    /// on a phone each row stands as a card with its labels (`stack`, the cells' `data-label`).
    static func listTable(head: HTML, rows: HTML) -> HTML {
        """
        <div class="scroll"><table class="stack">
            <thead><tr>\(head)</tr></thead>
            <tbody>
            \(rows)
            </tbody>
          </table></div>

        """
    }
}
