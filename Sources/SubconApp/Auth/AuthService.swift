import Fluent
import Foundation
import SubconDomain
import Vapor

enum AuthService {
    struct SignedIn: Sendable {
        let user: User
        let organization: Organization
    }

    /// Checks a login and password, with throttling. Every attempt is recorded; failures are
    /// answered the same whether the login exists or not.
    static func authenticate(login: String, password: String, address: String, app: Application) async throws -> SignedIn {
        let db = app.database
        let services = app.subcon
        let now = services.clock.now()
        let windowStart = now.addingTimeInterval(-Double(services.settings.loginThrottle.window.components.seconds))
        let accountFailures = try await LoginAttempt.query(on: db).filter(\.$login == login).filter(\.$succeeded == false)
            .filter(\.$at >= windowStart).all(\.$at)
        let addressFailures = try await LoginAttempt.query(on: db).filter(\.$address == address).filter(\.$succeeded == false)
            .filter(\.$at >= windowStart).all(\.$at)
        let seconds = { (d: Date) in Int64(d.timeIntervalSince1970) }
        if case .refuse(let wait) = services.settings.loginThrottle.decide(
            accountFailures: accountFailures.map(seconds), addressFailures: addressFailures.map(seconds), now: seconds(now)) {
            var p = Problem(.tooManyRequests, "throttled", params: ["seconds": String(wait)])
            p.headers.replaceOrAdd(name: .retryAfter, value: String(wait))
            throw p
        }
        let user = try await User.query(on: db).filter(\.$login == login).with(\.$organization).first()
        var ok = false
        if let user, user.active, user.organization.active {
            ok = try await services.passwordHasher.verify(password, hash: user.passwordHash, on: app)
        }
        try await services.writeGate.run {
            try await LoginAttempt(login: String(login.prefix(100)), address: address, at: now, succeeded: ok).create(on: db)
        }
        guard ok, let user else { throw Problem(.unauthorized, "bad-credentials") }
        return SignedIn(user: user, organization: user.organization)
    }

    /// Starts a browser session; returns the cookie secret.
    static func startSession(for user: User, app: Application) async throws -> String {
        let secret = Secrets.make()
        let lifetime = app.subcon.settings.sessionLifetime
        try await app.write(as: AuditActor(id: user.id, login: user.login)) { change in
            let session = WebSession(tokenHash: Secrets.hash(secret), userID: user.id!, csrfToken: Secrets.make(),
                                     createdAt: change.now, expiresAt: change.now.addingTimeInterval(lifetime))
            try await session.create(on: change.db)
            try await change.audit("user", user.id, "login", after: ["via": "web"])
        }
        return secret
    }

    struct IssuedToken: Content {
        let id: UUID
        let token: String
        let name: String
        let expiresAt: Date?
    }

    /// Issues a bearer token. `lifetime` nil means it lasts until revoked (personal tokens only).
    static func issueToken(for user: User, kind: String, name: String, lifetime: TimeInterval?,
                           actor: AuditActor, app: Application) async throws -> IssuedToken {
        let secret = Secrets.make(prefix: "sct_")
        return try await app.write(as: actor) { change in
            let token = APIToken(userID: user.id!, kind: kind, name: name, tokenHash: Secrets.hash(secret),
                                 prefix: String(secret.prefix(10)), createdAt: change.now,
                                 expiresAt: lifetime.map { change.now.addingTimeInterval($0) })
            try await token.create(on: change.db)
            try await change.audit("api_token", token.id, "create",
                                   after: ["user_id": user.id!.uuidString, "kind": kind, "name": name,
                                           "expires_at": token.expiresAt.map { ISO8601DateFormatter().string(from: $0) }])
            return IssuedToken(id: token.id!, token: secret, name: name, expiresAt: token.expiresAt)
        }
    }

    /// Ends every session and token of a user at once (deactivation, password reset).
    static func revokeEverything(of userID: UUID, in change: Change, keepSession: UUID? = nil, keepToken: UUID? = nil) async throws {
        var sessions = WebSession.query(on: change.db).filter(\.$user.$id == userID)
        if let keepSession { sessions = sessions.filter(\.$id != keepSession) }
        try await sessions.delete()
        var tokens = APIToken.query(on: change.db).filter(\.$user.$id == userID).filter(\.$revokedAt == nil)
        if let keepToken { tokens = tokens.filter(\.$id != keepToken) }
        try await tokens.set(\.$revokedAt, to: change.now).update()
    }
}
