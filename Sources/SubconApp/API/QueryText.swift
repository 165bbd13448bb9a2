import Foundation
import Vapor

extension Request {
    private struct ParsedQueryKey: StorageKey {
        /// The query as it was parsed, and its parameters: a page that drops a bad query and
        /// renders again (the write-off's) reads the new one.
        typealias Value = (query: String?, values: [String: String?])
    }

    /// A query parameter's text as `query[String.self, at: name]` reads it — the last of repeated
    /// values, "+" as a space, nil when absent or not validly percent-encoded — from the query
    /// parsed once per request. Vapor's container parses the whole query again for each parameter
    /// read; the order list reads ten, and that was a twentieth of its time.
    func queryText(_ name: String) -> String? {
        let query = url.query
        if let parsed = storage[ParsedQueryKey.self], parsed.query == query { return parsed.values[name] ?? nil }
        let values = Self.parseQuery(query)
        storage[ParsedQueryKey.self] = (query, values)
        return values[name] ?? nil
    }

    /// A whole number from the query, `value` when absent or empty; out of `range` or not a
    /// number is a 400 naming the parameter and its bounds.
    func intQuery(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = queryText(name), !raw.isEmpty else { return value }
        guard let n = Int(raw), range.contains(n) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "outOfRange", ["min": String(range.lowerBound), "max": String(range.upperBound)])])
        }
        return n
    }

    /// Plain `name=value` pairs only: a pair without "=" or with a bracketed (nested) name is not
    /// a parameter `queryText` reads, as it is not for Vapor's container.
    static func parseQuery(_ query: String?) -> [String: String?] {
        guard let query, !query.isEmpty else { return [:] }
        var result: [String: String?] = [:]
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            func decoded(_ part: Substring) -> String? {
                part.contains("+") ? part.replacingOccurrences(of: "+", with: "%20").removingPercentEncoding : part.removingPercentEncoding
            }
            guard let name = decoded(pair[..<equals]), !name.contains("[") else { continue }
            result[name] = .some(decoded(pair[pair.index(after: equals)...]))
        }
        return result
    }
}

/// Refuses a query parameter holding a NUL (`%00`) with a 400 that names it: no text column can
/// hold one (PostgreSQL refuses the value outright, SQLite's full-text index stops reading the
/// search there), so a search for one reached the database and came back a 500.
struct RefuseNULInQuery: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let query = req.url.query, query.contains("%00") {
            let names = query.split(separator: "&").filter { $0.contains("%00") }
                .map { pair in String(pair.split(separator: "=", maxSplits: 1).first ?? "").removingPercentEncoding ?? "" }
            throw Problem.badRequest("problem.query.invalid", fields: names.map { FieldProblem($0, "invalidValue") })
        }
        return try await next.respond(to: req)
    }
}
