import Fluent
import Foundation
import SQLKit
import SubconDomain

/// An organization's place to send its events: a chat group's robot, a webhook, a mailbox.
final class Channel: Model, @unchecked Sendable {
    static let schema = "channels"

    @ID(key: .id) var id: UUID?
    @Field(key: "organization_id") var organizationID: UUID
    @Field(key: "kind") var kind: String
    @Field(key: "name") var name: String
    /// The robot's or webhook's address, or a mailbox for `email`.
    @Field(key: "url") var url: String
    /// Signing secret: written, used, never shown again.
    @OptionalField(key: "secret") var secret: String?
    /// Comma-separated event keys; empty means every event the organization's people receive.
    @Field(key: "events") var events: String
    /// The manufacturer's team it serves (comma-separated roles); empty means anyone's events.
    @Field(key: "roles") var roles: String
    @Field(key: "locale") var locale: String
    @Field(key: "enabled") var enabled: Bool
    @Field(key: "version") var version: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    var eventList: [String] { events.split(separator: ",").map(String.init) }
    var roleList: [String] { roles.split(separator: ",").map(String.init) }

    /// What the audit keeps: never the secret, and the address masked.
    var auditSnapshot: [String: String?] {
        ["kind": kind, "name": name, "url": ChannelCheck.masked(url), "events": events, "roles": roles, "locale": locale,
         "enabled": String(enabled), "secret": secret == nil ? "" : "•••"]
    }
}

/// One message on its way to one channel or one person's mailbox. Unique per outbox message and
/// target, so running the fan-out twice sends nothing twice.
final class ChannelDelivery: Model, @unchecked Sendable {
    static let schema = "channel_deliveries"

    @ID(key: .id) var id: UUID?
    @Field(key: "organization_id") var organizationID: UUID
    @OptionalField(key: "channel_id") var channelID: UUID?
    @OptionalField(key: "user_id") var userID: UUID?
    @Field(key: "target") var target: String
    @Field(key: "kind") var kind: String
    @Field(key: "outbox_id") var outboxID: UUID
    @Field(key: "event") var event: String
    @Field(key: "payload") var payload: String
    @Field(key: "status") var status: String
    @Field(key: "attempts") var attempts: Int
    @Field(key: "next_at") var nextAt: Date
    @OptionalField(key: "lease_until") var leaseUntil: Date?
    @OptionalField(key: "lease_token") var leaseToken: UUID?
    @Field(key: "first_at") var firstAt: Date
    @OptionalField(key: "last_error") var lastError: String?
    @OptionalField(key: "last_status") var lastStatus: Int?
    @OptionalField(key: "sent_at") var sentAt: Date?
    @Field(key: "created_at") var createdAt: Date

    init() {}
}

enum DeliveryStatus: String, CaseIterable {
    case pending, sent, failed
    /// Held for the person's daily digest.
    case digest
    /// Went out inside a digest.
    case digested
}

struct CreateChannels: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("channels")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("kind", .string, .required)
            .field("name", .string, .required)
            .field("url", .string, .required)
            .field("secret", .string)
            .field("events", .string, .required)
            .field("roles", .string, .required)
            .field("locale", .string, .required)
            .field("enabled", .bool, .required)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .create()
        try await createIndex(db, "channels_org_idx", on: "channels", "organization_id", "enabled")
        try await db.schema("channel_deliveries")
            .id()
            .field("organization_id", .uuid, .required)
            .field("channel_id", .uuid)
            .field("user_id", .uuid)
            .field("target", .string, .required)
            .field("kind", .string, .required)
            .field("outbox_id", .uuid, .required)
            .field("event", .string, .required)
            .field("payload", .string, .required)
            .field("status", .string, .required)
            .field("attempts", .int, .required)
            .field("next_at", .datetime, .required)
            .field("lease_until", .datetime)
            .field("lease_token", .uuid)
            .field("first_at", .datetime, .required)
            .field("last_error", .string)
            .field("last_status", .int)
            .field("sent_at", .datetime)
            .field("created_at", .datetime, .required)
            .unique(on: "outbox_id", "target")
            .create()
        // The sender's claim (due and pending), the log per organization, the rate limit per channel.
        try await createIndex(db, "channel_deliveries_due_idx", on: "channel_deliveries", "status", "next_at")
        // The log, newest first: everyone's (the manufacturer's admin), by status, per organization.
        try await createIndex(db, "channel_deliveries_created_idx", on: "channel_deliveries", "created_at", "id")
        try await createIndex(db, "channel_deliveries_status_created_idx", on: "channel_deliveries", "status", "created_at", "id")
        try await createIndex(db, "channel_deliveries_org_idx", on: "channel_deliveries", "organization_id", "created_at", "id")
        try await createIndex(db, "channel_deliveries_channel_idx", on: "channel_deliveries", "channel_id", "sent_at")
        try await createIndex(db, "channel_deliveries_channel_created_idx", on: "channel_deliveries", "channel_id", "created_at", "id")
        try await createIndex(db, "channel_deliveries_user_idx", on: "channel_deliveries", "user_id", "status")
        try await db.schema("delivery_attempts")
            .id()
            .field("delivery_id", .uuid, .required, .references("channel_deliveries", "id", onDelete: .cascade))
            .field("at", .datetime, .required)
            .field("duration_ms", .int, .required)
            .field("http_status", .int)
            .field("outcome", .string, .required)
            .field("error", .string)
            .field("instance", .string, .required)
            .create()
        try await createIndex(db, "delivery_attempts_delivery_idx", on: "delivery_attempts", "delivery_id", "at")
        try await db.schema("notification_preferences")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id"))
            .field("event", .string, .required)
            .field("inbox", .bool, .required)
            .field("email", .bool, .required)
            .unique(on: "user_id", "event")
            .create()
        try await db.schema("notification_settings")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id"))
            .field("email_mode", .string, .required)
            .field("last_digest_at", .datetime)
            .field("version", .int, .required)
            .unique(on: "user_id")
            .create()
    }

    func revert(on db: any Database) async throws {
        for t in ["notification_settings", "notification_preferences", "delivery_attempts", "channel_deliveries", "channels"] {
            try await db.schema(t).delete()
        }
    }
}
