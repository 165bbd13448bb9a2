import Fluent
import Foundation
import SubconDomain

/// One row of the append-only, hash-chained audit log. Never updated or deleted by the app.
final class AuditEntry: Model, @unchecked Sendable {
    static let schema = "audit_log"

    @ID(custom: "seq", generatedBy: .user) var id: Int64?
    @Field(key: "at_ms") var atMilliseconds: Int64
    @OptionalField(key: "actor_id") var actorID: UUID?
    @Field(key: "actor_login") var actorLogin: String
    @Field(key: "entity") var entity: String
    @Field(key: "entity_id") var entityID: String
    @Field(key: "action") var action: String
    @Field(key: "changes") var changes: String
    @Field(key: "prev_hash") var previousHash: String
    @Field(key: "hash") var hash: String

    init() {}

    init(_ r: AuditRecord) {
        id = r.sequence; atMilliseconds = r.atMilliseconds; actorID = r.actorID.flatMap(UUID.init(uuidString:))
        actorLogin = r.actorLogin; entity = r.entity; entityID = r.entityID; action = r.action
        changes = r.changesJSON; previousHash = r.previousHash; hash = r.hash
    }

    var record: AuditRecord {
        AuditRecord(sequence: id ?? 0, atMilliseconds: atMilliseconds, actorID: actorID?.uuidString, actorLogin: actorLogin,
                    entity: entity, entityID: entityID, action: action, changesJSON: changes, previousHash: previousHash)
    }
}
