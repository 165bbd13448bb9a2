import Fluent
import Foundation
import SQLKit
import SubconDomain

enum AuditLog {
    /// Appends one row to the chain. Must run inside the transaction of the write it records,
    /// so the record and the change commit (or roll back) together.
    static func append(on db: any Database, postgres: Bool, actor: AuditActor, entity: String, entityID: String,
                       action: String, changes: [String: FieldChange], at: Date) async throws {
        let sql = db as! any SQLDatabase
        if postgres {
            // Serializes appends across all app instances until this transaction ends.
            try await sql.raw("SELECT pg_advisory_xact_lock(1634036065)").run()
        }
        let last = try await AuditEntry.query(on: db).sort(\.$id, .descending).first()
        let record = AuditRecord(
            sequence: (last?.id ?? 0) + 1,
            atMilliseconds: Int64((at.timeIntervalSince1970 * 1000).rounded()),
            actorID: actor.id?.uuidString, actorLogin: actor.login, entity: entity, entityID: entityID,
            action: action, changesJSON: FieldChanges.canonicalJSON(changes),
            previousHash: last?.hash ?? AuditChain.genesis)
        try await AuditEntry(record).create(on: db)
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
