import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// The signed-in person making a request, with everything authorization needs.
public struct Principal: Sendable {
    public let userID: UUID
    public let login: String
    public let displayName: String
    public let organizationID: UUID
    public let organizationKind: OrganizationKind
    public let organizationName: String
    public let roles: Set<Role>
    public let preferredLocale: AppLocale?
    /// Set when signed in through the browser.
    public let sessionID: UUID?
    public let csrfToken: String?
    /// Set when signed in with a bearer token.
    public let tokenID: UUID?

    public var isSupplier: Bool { organizationKind == .supplier }

    /// The one place that decides which rows this person may see.
    public var scope: DataScope { DataScope(supplierID: isSupplier ? organizationID : nil) }

    public func require(_ action: Action) throws {
        guard Policy.allows(roles, action) else { throw Problem.forbidden }
    }

    public func can(_ action: Action) -> Bool { Policy.allows(roles, action) }

    var administrationActor: UserAdministration.Actor {
        .init(userID: userID.uuidString, organizationID: organizationID.uuidString, roles: roles)
    }

    var auditActor: AuditActor { AuditActor(id: userID, login: login) }
}

/// Who a write is recorded against: a person, or the system itself (CLI, background work).
public struct AuditActor: Sendable {
    public let id: UUID?
    public let login: String
    public static let system = AuditActor(id: nil, login: "system")
}

extension Request {
    private struct PrincipalKey: StorageKey { typealias Value = Principal }
    private struct LocaleKey: StorageKey { typealias Value = AppLocale }

    public var principal: Principal? {
        get { storage[PrincipalKey.self] }
        set {
            storage[PrincipalKey.self] = newValue
            // The person's saved preference may decide the language: work it out again.
            storage[LocaleKey.self] = nil
        }
    }

    /// The signed-in person, or 401.
    public func requirePrincipal() throws -> Principal {
        guard let p = principal else { throw Problem.unauthorized }
        return p
    }

    /// UI language: the choice made on this device (`lang` cookie), then the person's saved
    /// preference, then Accept-Language, then Simplified Chinese.
    ///
    /// Worked out once a request: `cookies` parses the Cookie header on every call, and a page
    /// asking for a dozen texts (a filter's choices) spent a twentieth of its time there.
    public var locale: AppLocale {
        if let known = storage[LocaleKey.self] { return known }
        let locale = negotiatedLocale
        storage[LocaleKey.self] = locale
        return locale
    }

    private var negotiatedLocale: AppLocale {
        if let c = cookies["lang"]?.string, let l = AppLocale(rawValue: c) { return l }
        if let l = principal?.preferredLocale { return l }
        return AppLocale.negotiate(acceptLanguage: headers.first(name: .acceptLanguage)) ?? .fallback
    }
}

enum PrincipalLoader {
    /// Loads the active user behind a session or token, with its organization, in one query.
    /// Inactive users and inactive organizations load nothing, so deactivation takes effect on
    /// the very next request.
    static func load(userID: UUID, on db: any Database) async throws -> (user: User, org: Organization)? {
        guard let user = try await User.query(on: db).filter(\.$id == userID).filter(\.$active == true)
            .join(Organization.self, on: \User.$organization.$id == \Organization.$id)
            .filter(Organization.self, \.$active == true).first()
        else { return nil }
        let org = try user.joined(Organization.self)
        user.$organization.value = org
        return (user, org)
    }

    /// What signing a request in needs from the session or token row, its active user and its
    /// active organization, read as one plain row: decoding three Fluent models for it cost a
    /// third of a small request (reflection over their properties and serializing the joined
    /// column list each time). A revoked token, an ended session or a deactivated user is refused
    /// by the very next request on every instance: sessions are read on every request, and API
    /// tokens too, except from `SignInCache` on PostgreSQL, which keeps that promise its own way.
    struct SignInRow: Decodable {
        let id: UUID
        let expires_at: Date?
        let revoked_at: Date?
        var last_used_at: Date?
        let csrf_token: String?
        let user_id: UUID
        let login: String
        let display_name: String
        let roles: String
        let locale: String
        let organization_id: UUID
        let organization_kind: String
        let organization_name: String

        func principal(_ credential: Credential) -> Principal {
            Principal(userID: user_id, login: login, displayName: display_name, organizationID: organization_id,
                      organizationKind: OrganizationKind(rawValue: organization_kind) ?? .supplier, organizationName: organization_name,
                      roles: Role.parseList(roles), preferredLocale: AppLocale(rawValue: locale),
                      sessionID: credential == .session ? id : nil, csrfToken: csrf_token, tokenID: credential == .apiToken ? id : nil)
        }
    }

    enum Credential { case session, apiToken }

    static func signedIn(_ credential: Credential, tokenHash: String, on sql: any SQLDatabase) async throws -> SignInRow? {
        try await sql.raw(signInQuery(credential, tokenHash: tokenHash)).firstRow(decoding: SignInRow.self)
    }

    /// The same read without suspending, on the inline read connections.
    static func signedInNow(_ credential: Credential, tokenHash: String, on reads: ReadConnections) throws -> SignInRow? {
        try reads.rowsNow(signInQuery(credential, tokenHash: tokenHash)).first.map { try $0.decode(model: SignInRow.self) }
    }

    private static func signInQuery(_ credential: Credential, tokenHash: String) -> SQLQueryString {
        let columns = credential == .session
            ? "t.id, t.expires_at, NULL AS revoked_at, NULL AS last_used_at, t.csrf_token"
            : "t.id, t.expires_at, t.revoked_at, t.last_used_at, NULL AS csrf_token"
        let table = credential == .session ? "web_sessions" : "api_tokens"
        return """
            SELECT \(unsafeRaw: columns), u.id AS user_id, u.login, u.display_name, u.roles, u.locale,
                   o.id AS organization_id, o.kind AS organization_kind, o.name AS organization_name
              FROM \(unsafeRaw: table) t JOIN users u ON u.id = t.user_id JOIN organizations o ON o.id = u.organization_id
             WHERE t.token_hash = \(bind: tokenHash) AND u.active = \(bind: true) AND o.active = \(bind: true)
            """
    }

    static func principal(_ user: User, _ org: Organization, sessionID: UUID?, csrf: String?, tokenID: UUID?) -> Principal {
        Principal(userID: user.id!, login: user.login, displayName: user.displayName, organizationID: org.id!,
                  organizationKind: org.organizationKind, organizationName: org.name, roles: user.roles,
                  preferredLocale: user.appLocale, sessionID: sessionID, csrfToken: csrf, tokenID: tokenID)
    }
}
