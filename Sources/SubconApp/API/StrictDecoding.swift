import Foundation
import SubconDomain
import Vapor

/// A JSON request body with a closed set of fields. Unknown fields are refused rather than
/// silently ignored, so a misspelled field never looks like it was saved.
public protocol StrictInput: Decodable, Sendable {
    static var fields: Set<String> { get }
    /// Semantic checks after decoding (ranges, lengths, formats).
    func validate() -> [FieldProblem]
}

extension StrictInput {
    public func validate() -> [FieldProblem] { [] }
}

extension Request {
    static let maxJSONBytes = 1 << 20

    /// Decodes a JSON body into `T`, turning every way it can be wrong into a 4xx problem.
    public func decodeStrict<T: StrictInput>(_ type: T.Type) throws -> T {
        guard let contentType = headers.contentType,
              contentType.type == "application", contentType.subType == "json" || contentType.subType.hasSuffix("+json")
        else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type")
        }
        guard let buffer = body.data else { throw Problem.badRequest("problem.body.empty") }
        // The route limit already stops larger bodies on the wire; this also covers bodies that
        // arrive pre-collected (tests, internal callers).
        guard buffer.readableBytes <= Self.maxJSONBytes else { throw Problem(.payloadTooLarge, "too-large") }
        let data = Data(buffer: buffer)
        let object: Any
        do {
            // Foundation's parser is lenient (trailing commas, for one): the strict grammar first.
            try JSONSyntax.check(buffer.readableBytesView)
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw Problem.badRequest("problem.body.malformed")
        }
        guard let dict = object as? [String: Any] else { throw Problem.badRequest("problem.body.notObject") }
        var unknown = Set(dict.keys).subtracting(T.fields).sorted()
        if unknown.isEmpty, let shape = subcon.bodyShapes.shape(for: self) {
            unknown = BodyShapes.unknownNested(dict, shape)
        }
        if !unknown.isEmpty {
            throw Problem.badRequest("problem.body.unknownFields", ["fields": unknown.joined(separator: ", ")],
                                     fields: unknown.map { FieldProblem($0, "unknownField") })
        }
        let value: T
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[.strictDecimalText] = true
            value = try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Problem.badRequest("problem.body.invalid", fields: [FieldProblem.from(error)])
        }
        let problems = value.validate()
        if !problems.isEmpty { throw Problem.validation(problems) }
        return value
    }
}

extension FieldProblem {
    static func from(_ error: DecodingError) -> FieldProblem {
        func path(_ ctx: DecodingError.Context, extra: CodingKey? = nil) -> String {
            let keys = ctx.codingPath + (extra.map { [$0] } ?? [])
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "body" : p.replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            return FieldProblem(path(ctx), "wrongType", ["expected": jsonTypeName(type)])
        case .valueNotFound(_, let ctx):
            return FieldProblem(path(ctx), "required")
        case .keyNotFound(let key, let ctx):
            return FieldProblem(path(ctx, extra: key), "required")
        case .dataCorrupted(let ctx):
            return FieldProblem(path(ctx), "invalidValue")
        @unknown default:
            return FieldProblem("body", "invalidValue")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Bool.Type: "boolean"
        case is Int.Type, is Int64.Type, is Int32.Type: "integer"
        case is Double.Type: "number"
        default: type is any Collection.Type ? "array" : "object"
        }
    }
}

/// Helpers that validations share.
enum Check {
    static func text(_ value: String?, _ field: String, required: Bool = true, max: Int = 200,
                     into problems: inout [FieldProblem]) {
        guard let value else { if required { problems.append(FieldProblem(field, "required")) }; return }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if required && trimmed.isEmpty { problems.append(FieldProblem(field, "required")) }
        else if value.count > max { problems.append(FieldProblem(field, "tooLong", ["max": String(max)])) }
    }

    /// Codes and logins: letters, digits and `._-`, so they are safe in URLs and file names.
    static func code(_ value: String?, _ field: String, max: Int = 40, into problems: inout [FieldProblem]) {
        text(value, field, max: max, into: &problems)
        guard let value, !value.isEmpty, value.count <= max else { return }
        let ok = value.unicodeScalars.allSatisfy {
            ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || "._-".unicodeScalars.contains($0)
        }
        if !ok { problems.append(FieldProblem(field, "badCode")) }
    }

    static func email(_ value: String?, _ field: String, into problems: inout [FieldProblem]) {
        guard let value, !value.isEmpty else { return }
        if value.count > 200 || !value.contains("@") || value.contains(" ") {
            problems.append(FieldProblem(field, "badEmail"))
        }
    }
}
