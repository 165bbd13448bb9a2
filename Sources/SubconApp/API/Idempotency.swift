import Crypto
import Fluent
import Foundation
import Vapor

/// `Idempotency-Key` on POST: the first response is stored and replayed for a retry with the
/// same key, so a phone that resends a submission over a bad connection never writes twice.
/// Keys are per user; reusing a key for a different request is refused.
struct IdempotencyMiddleware: AsyncMiddleware {
    static let header = "Idempotency-Key"

    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard req.method == .POST, let key = req.headers.first(name: Self.header) else {
            return try await next.respond(to: req)
        }
        guard !key.isEmpty, key.count <= 200 else {
            throw Problem.badRequest("problem.idempotency.badKey", fields: [FieldProblem(Self.header, "invalidValue")])
        }
        // Without a signed-in user the request fails anyway; let it do so normally.
        guard let principal = req.principal else { return try await next.respond(to: req) }
        try await req.collectBodyForMiddleware()
        let fingerprint = Self.fingerprint(req)
        let services = req.subcon

        let record = IdempotencyRecord(userID: principal.userID, key: key, fingerprint: fingerprint, now: req.now)
        do {
            try await services.writeGate.run { try await record.create(on: req.db) }
        } catch let error as any DatabaseError where error.isConstraintFailure {
            guard let existing = try await IdempotencyRecord.query(on: req.db).filter(\.$userID == principal.userID)
                .filter(\.$key == key).first() else { throw Problem.conflict("problem.idempotency.inProgress") }
            guard existing.fingerprint == fingerprint else {
                throw Problem(.unprocessableEntity, "idempotency-mismatch")
            }
            guard let status = existing.status else { throw Problem.conflict("problem.idempotency.inProgress") }
            var headers = HTTPHeaders()
            if let ct = existing.contentType { headers.replaceOrAdd(name: .contentType, value: ct) }
            headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
            return Response(status: .init(statusCode: status), headers: headers, body: .init(string: existing.body ?? ""))
        }

        let response: Response
        do {
            response = try await next.respond(to: req)
        } catch {
            // A refused request stored nothing; the key may be used again for a corrected one.
            try? await services.writeGate.run { try await record.delete(on: req.db) }
            throw error
        }
        if response.status.code >= 500 || response.status.code == 409 || response.status.code == 429 {
            try? await services.writeGate.run { try await record.delete(on: req.db) }
        } else {
            record.status = Int(response.status.code)
            record.contentType = response.headers.first(name: .contentType)
            record.body = response.body.string ?? ""
            try await services.writeGate.run { try await record.save(on: req.db) }
        }
        return response
    }

    static func fingerprint(_ req: Request) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(req.method.rawValue.utf8))
        hasher.update(data: Data(req.url.path.utf8))
        if let body = req.body.data { hasher.update(data: Data(buffer: body)) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
