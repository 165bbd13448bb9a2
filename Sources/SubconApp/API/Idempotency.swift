import Crypto
import Fluent
import Foundation
import NIOConcurrencyHelpers
import SubconDomain
import Vapor

/// `Idempotency-Key` on POST: the first response is stored and replayed for a retry with the
/// same key, so a phone that resends a submission over a bad connection never writes twice.
/// Keys are per user; reusing a key for a different request is refused.
struct IdempotencyMiddleware: PassingMiddleware {
    static let header = "Idempotency-Key"

    func passes(_ req: Request) -> Bool { req.method != .POST || req.headers.first(name: Self.header) == nil }

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

        if let existing = try await IdempotencyRecord.query(on: req.modelReads).filter(\.$userID == principal.userID)
            .filter(\.$key == key).first() {
            guard existing.fingerprint == fingerprint else { throw Problem(.unprocessableEntity, "idempotency-mismatch") }
            // The change committed (the key is written in its transaction) but its answer is not
            // stored yet: it is being sent right now, or the server stopped in between.
            guard let status = existing.status else { throw Problem.conflict("problem.idempotency.inProgress") }
            var headers = HTTPHeaders()
            if let ct = existing.contentType { headers.replaceOrAdd(name: .contentType, value: ct) }
            headers.replaceOrAdd(name: "Idempotent-Replayed", value: "true")
            return Response(status: .init(statusCode: status), headers: headers, body: .init(string: existing.body ?? ""))
        }

        // The key is written inside the request's own transaction (see `Application.write`), so
        // it exists exactly when the change does: a crash can neither lose a change whose key was
        // taken nor let a retry write it twice. A refused request (an error) stored nothing, and
        // its key may be used again for a corrected one.
        let claim = IdempotencyClaim(userID: principal.userID, key: key, fingerprint: fingerprint, now: req.now)
        let response = try await IdempotencyClaim.$current.withValue(claim) { try await next.respond(to: req) }
        if response.status.code < 500 && response.status.code != 409 && response.status.code != 429 {
            let status = Int(response.status.code), contentType = response.headers.first(name: .contentType)
            var body = response.body.string
            if body == nil, let streamed = try await response.body.collect(on: req.eventLoop).get() {
                // A streamed answer (a long statement) is stored whole so that a retry gets it again.
                body = String(buffer: streamed)
                response.body = .init(buffer: streamed)
            }
            // On the write connection, as the change was: through the driver this was a write of
            // another connection's, and SQLite's page cache of the write connection is emptied
            // whenever another connection has written.
            let stored = body ?? "", recorded = claim.isRecorded, app = req.application
            try await services.writeGate.run {
                if recorded {
                    try await app.transactionInGate { db in
                        try await IdempotencyRecord.query(on: db).filter(\.$userID == principal.userID).filter(\.$key == key)
                            .set(\.$status, to: status).set(\.$contentType, to: contentType).set(\.$body, to: stored).update()
                    }
                } else {
                    // A request with the same key that stored its answer first stands (the insert
                    // fails on the unique key, and on PostgreSQL that ends its transaction).
                    try? await app.transactionInGate { db in
                        let record = claim.record()
                        record.status = status; record.contentType = contentType; record.body = stored
                        try await record.create(on: db)
                    }
                }
            }
        }
        return response
    }

    static func fingerprint(_ req: Request) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(req.method.rawValue.utf8))
        hasher.update(data: Data(req.url.path.utf8))
        if let body = req.body.data { hasher.update(data: Data(buffer: body)) }
        return hasher.finalize().lowercaseHex
    }
}

/// The idempotency key of the request being handled. The first transaction the request commits
/// writes it (see `Application.write`), so the key and the change it guards commit together.
final class IdempotencyClaim: Sendable {
    @TaskLocal static var current: IdempotencyClaim?

    let userID: UUID, key: String, fingerprint: String, now: Date
    private let recorded = NIOLockedValueBox(false)

    init(userID: UUID, key: String, fingerprint: String, now: Date) {
        self.userID = userID; self.key = key; self.fingerprint = fingerprint; self.now = now
    }

    var isRecorded: Bool { recorded.withLockedValue { $0 } }

    func record() -> IdempotencyRecord { IdempotencyRecord(userID: userID, key: key, fingerprint: fingerprint, now: now) }

    /// Called inside a transaction; only the first one records the key. A concurrent request
    /// with the same key fails here on the unique index and its whole change rolls back.
    func recordOnce(on db: any Database) async throws {
        guard !isRecorded else { return }
        try await record().create(on: db)
        recorded.withLockedValue { $0 = true }
    }
}
