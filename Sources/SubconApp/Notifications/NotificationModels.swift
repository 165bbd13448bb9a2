import Fluent
import Foundation

/// A message waiting to be delivered. Written in the same transaction as the change that caused
/// it, so a change never happens without its notification, nor a notification without its change.
final class OutboxMessage: Model, @unchecked Sendable {
    static let schema = "outbox"

    @ID(key: .id) var id: UUID?
    @Field(key: "event") var event: String
    @Field(key: "payload") var payload: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "available_at") var availableAt: Date
    @OptionalField(key: "processed_at") var processedAt: Date?
    @Field(key: "attempts") var attempts: Int
    @OptionalField(key: "last_error") var lastError: String?

    init() {}
    init(event: String, payload: String, now: Date) {
        self.event = event; self.payload = payload; self.createdAt = now; self.availableAt = now; self.attempts = 0
    }
}

/// An entry in a person's in-app inbox. The text is stored as a catalog key with parameters and
/// rendered in the reader's language when shown.
final class InboxItem: Model, @unchecked Sendable {
    static let schema = "notifications"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "event") var event: String
    @Field(key: "message_key") var messageKey: String
    @Field(key: "params") var params: String
    @OptionalField(key: "link") var link: String?
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "read_at") var readAt: Date?
    /// The outbox message it came from: delivering the same message twice inserts nothing new.
    @Field(key: "outbox_id") var outboxID: UUID

    init() {}
}

final class IdempotencyRecord: Model, @unchecked Sendable {
    static let schema = "idempotency_keys"

    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "key") var key: String
    @Field(key: "fingerprint") var fingerprint: String
    @OptionalField(key: "status") var status: Int?
    @OptionalField(key: "content_type") var contentType: String?
    @OptionalField(key: "body") var body: String?
    @Field(key: "created_at") var createdAt: Date

    init() {}
    init(userID: UUID, key: String, fingerprint: String, now: Date) {
        self.userID = userID; self.key = key; self.fingerprint = fingerprint; self.createdAt = now
    }
}
