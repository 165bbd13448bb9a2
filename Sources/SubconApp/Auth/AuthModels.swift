import Fluent
import Foundation

/// A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored, so a copy of
/// the database does not let anyone sign in.
final class WebSession: Model, @unchecked Sendable {
    static let schema = "web_sessions"

    @ID(key: .id) var id: UUID?
    @Field(key: "token_hash") var tokenHash: String
    @Parent(key: "user_id") var user: User
    @Field(key: "csrf_token") var csrfToken: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "expires_at") var expiresAt: Date

    init() {}
    init(tokenHash: String, userID: UUID, csrfToken: String, createdAt: Date, expiresAt: Date) {
        self.tokenHash = tokenHash; self.$user.id = userID; self.csrfToken = csrfToken
        self.createdAt = createdAt; self.expiresAt = expiresAt
    }
}

/// A bearer token: either from `POST /api/v1/auth/token` (kind `login`, short-lived) or a named
/// personal token for an integration (kind `personal`). Stored hashed.
final class APIToken: Model, @unchecked Sendable {
    static let schema = "api_tokens"

    @ID(key: .id) var id: UUID?
    @Parent(key: "user_id") var user: User
    @Field(key: "kind") var kind: String
    @Field(key: "name") var name: String
    @Field(key: "token_hash") var tokenHash: String
    /// The first characters of the secret, so a person can tell tokens apart in a list.
    @Field(key: "prefix") var prefix: String
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "expires_at") var expiresAt: Date?
    @OptionalField(key: "last_used_at") var lastUsedAt: Date?
    @OptionalField(key: "revoked_at") var revokedAt: Date?

    init() {}
    init(userID: UUID, kind: String, name: String, tokenHash: String, prefix: String, createdAt: Date, expiresAt: Date?) {
        self.$user.id = userID; self.kind = kind; self.name = name; self.tokenHash = tokenHash
        self.prefix = prefix; self.createdAt = createdAt; self.expiresAt = expiresAt
    }
}

final class LoginAttempt: Model, @unchecked Sendable {
    static let schema = "login_attempts"

    @ID(key: .id) var id: UUID?
    @Field(key: "login") var login: String
    @Field(key: "address") var address: String
    @Field(key: "at") var at: Date
    @Field(key: "succeeded") var succeeded: Bool

    init() {}
    init(login: String, address: String, at: Date, succeeded: Bool) {
        self.login = login; self.address = address; self.at = at; self.succeeded = succeeded
    }
}
