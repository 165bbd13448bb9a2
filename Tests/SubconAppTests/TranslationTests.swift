import Foundation
import Testing
import VaporTesting
@testable import SubconApp

/// Walks the pages of the demo scenario as people of every side would, in Simplified Chinese,
/// and fails on text a Chinese reader should never see: a message key that was not translated,
/// or an English phrase from the code.
@Suite struct TranslationTests {
    /// Text between tags, without scripts, styles, SVG titles' codes or attribute values.
    static func visibleText(_ html: String) -> [String] {
        var s = html
        for pattern in ["(?s)<script.*?</script>", "(?s)<textarea[^>]*>.*?</textarea>", "(?s)<style.*?</style>", "(?s)<!--.*?-->"] {
            s = s.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        return s.components(separatedBy: CharacterSet(charactersIn: "<>")).enumerated()
            .filter { $0.offset % 2 == 0 }.map { $0.element.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            .map { $0.replacingOccurrences(of: "&nbsp;", with: " ").replacingOccurrences(of: "&amp;", with: "&") }
    }

    /// Words that are the same in a Chinese UI: units, standards, formats, abbreviations.
    static let allowed: Set<String> = ["Excel", "CSV", "PPM", "AQL", "IATF", "ISO", "PDF", "API", "UTF", "GB", "PNG", "JPEG", "WebP", "SKU",
                                       "Ac", "Re", "ID", "QR", "OK", "NG", "mm", "kg", "pcs", "PCS", "xlsx", "csv", "demo", "Subcon", "D1",
                                       "D2", "D3", "D4", "D5", "D6", "D7", "D8", "8D", "CNC", "IQC", "MB", "KB", "Token", "Authorization", "Bearer",
                                       "JSON", "Webhook", "HTTPS", "HTTP", "HMAC", "ERP", "MES"]

    /// Text is cut into tokens at spaces and at punctuation that never sits inside a code.
    static func tokens(_ text: String) -> [String] {
        text.split(whereSeparator: { $0.isWhitespace || "，。、；：,;:()（）·「」“”\"!?！？【】[]{}|".contains($0) }).map(String.init)
    }

    /// A message key or a code word from the program: `audit.action.release`, `cost_price`.
    static func codeWord(_ token: String) -> Bool {
        token.wholeMatch(of: /[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9_]+)+/) != nil || token.wholeMatch(of: /[a-z]+(_[a-z]+)+/) != nil
    }

    /// An English phrase: two or more words of Latin letters only in a row (codes such as
    /// SF-MH-001, WX202612-0001 or a hash are not words).
    static func englishPhrase(_ text: String) -> String? {
        var run: [String] = []
        for t in tokens(text) {
            let w = t.trimmingCharacters(in: CharacterSet(charactersIn: ".'"))
            if w.count >= 2, w.allSatisfy({ $0.isASCII && $0.isLetter }), !allowed.contains(w) {
                run.append(w)
                if run.count >= 2 { return run.joined(separator: " ") }
            } else { run = [] }
        }
        return nil
    }

    @Test func pagesInChineseHaveNoKeysAndNoEnglish() async throws {
        try await TestApp.run(scenario: true) { t in
            let keys = t.app.subcon.catalog.keys(.zhHans)
            var problems: [String] = []
            var visitedCount = 0
            for login in ["purchaser", "supplier1", "supplier2", "quality", "warehouse", "finance", "planner", "admin"] {
                var b = try await t.signIn(login)
                var queue = ["/", "/dashboard"], seen = Set<String>()
                var pagesForLogin = 0
                while let path = queue.first, pagesForLogin < 120 {
                    queue.removeFirst()
                    // One page per kind of path: the first order, not every order.
                    let shape = path.replacingOccurrences(of: "[0-9A-Fa-f-]{36}", with: "{id}", options: .regularExpression)
                        .replacingOccurrences(of: "\\?.*", with: "", options: .regularExpression)
                    guard !seen.contains(shape) else { continue }
                    seen.insert(shape)
                    let r = try await t.page(.GET, path, browser: &b)
                    guard r.status == .ok, r.headers.contentType?.subType == "html" else { continue }
                    pagesForLogin += 1
                    let html = r.body.string
                    for text in Self.visibleText(html) {
                        for token in Self.tokens(text) where keys.contains(token) || Self.codeWord(token) {
                            problems.append("\(login) \(path): untranslated \(token)")
                        }
                        // "我方" (our side) means the customer only to the customer's own people.
                        if login.hasPrefix("supplier"), text.contains("我方") { problems.append("\(login) \(path): 我方 in \"\(text.prefix(80))\"") }
                        if let phrase = Self.englishPhrase(text) { problems.append("\(login) \(path): English \"\(phrase)\" in \"\(text.prefix(80))\"") }
                    }
                    // Links to follow: pages of this site, not downloads, API, logout or language switches.
                    for m in html.matches(of: /href="(\/[^"#]*)/) {
                        let link = String(m.1).replacingOccurrences(of: "&amp;", with: "&")
                        if link.hasPrefix("/api") || link.hasPrefix("/lang") || link.hasPrefix("/css") || link.hasPrefix("/js") || link.contains("/files/")
                            || link.contains("format=") || link.hasSuffix(".svg") || link.contains("/print") || link.contains("/export") { continue }
                        queue.append(link)
                    }
                }
                visitedCount += pagesForLogin
            }
            #expect(visitedCount > 100, "visited \(visitedCount) pages")
            // One line per kind of page and problem, whoever met it.
            let distinct = Set(problems.map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? $0 }
                .map { $0.replacingOccurrences(of: "[0-9A-F]{8}-[0-9A-F-]{27}", with: "{id}", options: .regularExpression) })
            let report = distinct.sorted().prefix(300).joined(separator: "\n")
            #expect(problems.isEmpty, "\(problems.count) problems:\n\(report)")
        }
    }
}
