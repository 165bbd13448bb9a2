import Fluent
import Foundation
import SQLKit
import SubconDomain

enum AuditLog {
    /// Appends one row to the chain. Must run inside the transaction of the write it records,
    /// so the record and the change commit (or roll back) together.
    static func append(on db: any Database, postgres: Bool, actor: AuditActor, entity: String, entityID: String,
                       action: String, changes: [String: FieldChange], at: Date) async throws {
        // The same path as a batch of one: every write appends, and a model read and insert
        // of the chain's end cost more than the write's own statements.
        try await appendMany(on: db, postgres: postgres, actor: actor,
                             [Pending(entity: entity, entityID: entityID, action: action, changes: changes)], at: at)
    }

    struct Pending: Sendable {
        let entity: String
        let entityID: String
        let action: String
        let changes: [String: FieldChange]
    }

    /// Appends many rows at once (imports): one lock, one read of the chain's end, and
    /// multi-row inserts, instead of a round trip pair per row.
    static func appendMany(on db: any Database, postgres: Bool, actor: AuditActor, _ entries: [Pending], at: Date) async throws {
        guard !entries.isEmpty else { return }
        let sql = db as! any SQLDatabase
        if postgres { try await sql.raw("SELECT pg_advisory_xact_lock(1634036065)").run() }
        struct End: Decodable { let seq: Int64; let hash: String }
        let last = try await sql.raw("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").firstRow(decoding: End.self)
        var sequence = last?.seq ?? 0
        var previous = last?.hash ?? AuditChain.genesis
        let ms = Int64((at.timeIntervalSince1970 * 1000).rounded())
        var rows: [[any SQLExpression]] = []
        for e in entries {
            sequence += 1
            let record = AuditRecord(sequence: sequence, atMilliseconds: ms, actorID: actor.id?.uuidString, actorLogin: actor.login,
                                     entity: e.entity, entityID: e.entityID, action: e.action,
                                     changesJSON: FieldChanges.canonicalJSON(e.changes), previousHash: previous)
            let hash = record.hash
            rows.append([SQLBind(record.sequence), SQLBind(record.atMilliseconds), actor.id.map { SQLBind($0) } ?? SQLLiteral.null,
                         SQLBind(record.actorLogin), SQLBind(record.entity), SQLBind(record.entityID), SQLBind(record.action),
                         SQLBind(record.changesJSON), SQLBind(record.previousHash), SQLBind(hash)])
            previous = hash
        }
        try await sql.insertRows(into: AuditEntry.schema,
                                 columns: ["seq", "at_ms", "actor_id", "actor_login", "entity", "entity_id", "action", "changes", "prev_hash", "hash"],
                                 rows)
    }

    struct Verification: Sendable {
        let checked: Int
        let failure: AuditChain.Break?
    }

    /// Walks the whole chain in batches, so memory stays flat however long the log is.
    static func verify(on db: any Database, batch: Int = 1000) async throws -> Verification {
        var verifier = AuditChain.Verifier()
        var after: Int64 = 0
        while true {
            let rows = try await AuditEntry.query(on: db).filter(\.$id > after).sort(\.$id).limit(batch).all()
            for row in rows {
                if let broken = verifier.check(row.record, storedHash: row.hash) {
                    return Verification(checked: verifier.checked, failure: broken)
                }
            }
            guard let lastRow = rows.last, rows.count == batch else { break }
            after = lastRow.id!
        }
        return Verification(checked: verifier.checked, failure: nil)
    }
}
