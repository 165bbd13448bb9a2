import Vapor

/// One thing wrong with one input field. `code` is also the message catalog key (`error.<code>`).
public struct FieldProblem: Sendable, Equatable {
    public var field: String
    public var code: String
    public var params: [String: String]
    public init(_ field: String, _ code: String, _ params: [String: String] = [:]) {
        self.field = field; self.code = code; self.params = params
    }
}

/// An error meant for the person or program that made the request. The error middleware renders it
/// as RFC 9457 problem details on the API and as an error message on pages.
public struct Problem: Error, Sendable {
    public var status: HTTPResponseStatus
    /// Short slug naming the kind of problem; also the catalog key `problem.<kind>`.
    public var kind: String
    /// Catalog key of the detail text and its parameters.
    public var detailKey: String
    public var params: [String: String]
    public var fields: [FieldProblem]
    public var headers: HTTPHeaders = [:]

    public init(_ status: HTTPResponseStatus, _ kind: String, detailKey: String? = nil,
                params: [String: String] = [:], fields: [FieldProblem] = []) {
        self.status = status; self.kind = kind
        self.detailKey = detailKey ?? "problem.\(kind).detail"
        self.params = params; self.fields = fields
    }

    public static func validation(_ fields: [FieldProblem]) -> Problem {
        Problem(.unprocessableEntity, "validation", fields: fields)
    }
    public static func badRequest(_ detailKey: String, _ params: [String: String] = [:], fields: [FieldProblem] = []) -> Problem {
        Problem(.badRequest, "bad-request", detailKey: detailKey, params: params, fields: fields)
    }
    /// Also answers for records outside the caller's scope, so their existence is not revealed.
    public static let notFound = Problem(.notFound, "not-found")
    public static let forbidden = Problem(.forbidden, "forbidden")
    public static let unauthorized = Problem(.unauthorized, "unauthorized")
    public static func staleVersion(current: Int) -> Problem {
        Problem(.conflict, "stale-version", params: ["current": String(current)])
    }
    public static func conflict(_ detailKey: String, _ params: [String: String] = [:], fields: [FieldProblem] = []) -> Problem {
        Problem(.conflict, "conflict", detailKey: detailKey, params: params, fields: fields)
    }
}

extension Problem {
    /// The same problem, with the fields of its lines (`lines[i].name`, as the API names them)
    /// named as a page's form names that line's inputs (`name(i, "quantity")` → `q_2`), or left
    /// as they are where it has none. The page's script marks an error at the input of its
    /// name; under the API's name it stayed at the top of the form.
    func namingLineFields(_ name: (_ index: Int, _ field: String) -> String?) -> Problem {
        var renamed = self
        renamed.fields = fields.map { f in
            let text = f.field
            guard text.hasPrefix("lines["), let close = text.firstIndex(of: "]"),
                  let i = Int(text[text.index(text.startIndex, offsetBy: 6)..<close]) else { return f }
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix("."), let field = name(i, String(rest.dropFirst())) else { return f }
            var g = f
            g.field = field
            return g
        }
        return renamed
    }
}
