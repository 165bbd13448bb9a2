import Fluent
import Foundation
import SubconDomain
import Vapor

extension Request {
    func boolQuery(_ name: String) throws -> Bool? {
        guard let raw = queryText(name), !raw.isEmpty else { return nil }
        switch raw.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "wrongType", ["expected": "boolean"])])
        }
    }

    func uuidQuery(_ name: String) throws -> UUID? {
        guard let raw = queryText(name), !raw.isEmpty else { return nil }
        guard let id = UUID(uuidString: raw) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "invalidValue")])
        }
        return id
    }
}

extension Response {
    static func created(_ value: some Content, for req: Request) async throws -> Response {
        let r = try await value.encodeResponse(for: req)
        r.status = .created
        return r
    }
}

struct AuthAPI: RouteCollection {
    struct TokenRequest: StrictInput {
        static let fields: Set<String> = ["login", "password"]
        var login: String
        var password: String
    }

    struct TokenResponse: Content {
        let token: String
        let tokenType: String
        let expiresAt: Date?
        let user: UserDTO
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.post("auth", "token", use: token)
    }

    func token(req: Request) async throws -> Response {
        let input = try req.decodeStrict(TokenRequest.self)
        let signedIn = try await AuthService.authenticate(login: input.login, password: input.password,
                                                          address: req.remoteAddress?.ipAddress ?? "unknown", app: req.application)
        let issued = try await AuthService.issueToken(for: signedIn.user, kind: "login", name: "login",
                                                      lifetime: req.subcon.settings.apiTokenLifetime,
                                                      actor: AuditActor(id: signedIn.user.id, login: signedIn.user.login), app: req.application)
        return try await .created(TokenResponse(token: issued.token, tokenType: "Bearer", expiresAt: issued.expiresAt,
                                                user: UserDTO(signedIn.user)), for: req)
    }
}

struct MeAPI: RouteCollection {
    struct Me: Content {
        let user: UserDTO
        let organization: OrganizationDTO
        let permissions: [String]
    }

    struct ChangePasswordInput: StrictInput {
        static let fields: Set<String> = ["currentPassword", "newPassword"]
        var currentPassword: String
        var newPassword: String
    }

    struct NewTokenInput: StrictInput {
        static let fields: Set<String> = ["name", "expiresInDays"]
        var name: String
        var expiresInDays: Int?
        func validate() -> [FieldProblem] {
            var p: [FieldProblem] = []
            Check.text(name, "name", max: 100, into: &p)
            if let d = expiresInDays, !(1...3650).contains(d) {
                p.append(FieldProblem("expiresInDays", "outOfRange", ["min": "1", "max": "3650"]))
            }
            return p
        }
    }

    struct TokenDTO: Content {
        let id: UUID
        let name: String
        let prefix: String
        let createdAt: Date
        let expiresAt: Date?
        let lastUsedAt: Date?
        let revoked: Bool
    }

    func boot(routes: any RoutesBuilder) throws {
        let me = routes.grouped("me")
        me.get(use: show)
        me.post("password", use: changePassword)
        me.post("logout", use: logout)
        me.get("tokens", use: tokens)
        me.post("tokens", use: createToken)
        me.delete("tokens", ":id", use: revokeToken)
    }

    func show(req: Request) async throws -> Me {
        let p = try req.requirePrincipal()
        guard let (user, org) = try await PrincipalLoader.load(userID: p.userID, on: req.db) else { throw Problem.unauthorized }
        return Me(user: UserDTO(user), organization: OrganizationDTO(org),
                  permissions: Action.allCases.filter { p.can($0) }.map(\.rawValue))
    }

    func changePassword(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        let input = try req.decodeStrict(ChangePasswordInput.self)
        try await UserService.changeOwnPassword(p, current: input.currentPassword, new: input.newPassword, app: req.application)
        return .noContent
    }

    /// Revokes the token this request was made with.
    func logout(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        if let tokenID = p.tokenID {
            try await req.write { change in
                try await APIToken.query(on: change.db).filter(\.$id == tokenID).set(\.$revokedAt, to: change.now).update()
                try await change.audit("api_token", tokenID, "revoke", after: ["revoked": "true"])
            }
        }
        return .noContent
    }

    func tokens(req: Request) async throws -> [TokenDTO] {
        let p = try req.requirePrincipal()
        return try await PersonalTokens.list(p, on: req.db)
    }

    func createToken(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let input = try req.decodeStrict(NewTokenInput.self)
        let issued = try await PersonalTokens.create(p, name: input.name, days: input.expiresInDays, app: req.application)
        return try await .created(issued, for: req)
    }

    func revokeToken(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        try await PersonalTokens.revoke(p, try req.idParameter(), app: req.application)
        return .noContent
    }
}

/// Named tokens a person creates for integrations. A person manages only their own.
enum PersonalTokens {
    static func list(_ p: Principal, on db: any Database) async throws -> [MeAPI.TokenDTO] {
        try await APIToken.query(on: db).filter(\.$user.$id == p.userID).filter(\.$kind == "personal")
            .sort(\.$createdAt, .descending).all()
            .map { .init(id: $0.id!, name: $0.name, prefix: $0.prefix, createdAt: $0.createdAt, expiresAt: $0.expiresAt,
                         lastUsedAt: $0.lastUsedAt, revoked: $0.revokedAt != nil) }
    }

    static func create(_ p: Principal, name: String, days: Int?, app: Application) async throws -> AuthService.IssuedToken {
        guard let user = try await User.find(p.userID, on: app.database) else { throw Problem.unauthorized }
        return try await AuthService.issueToken(for: user, kind: "personal", name: name, lifetime: days.map { Double($0) * 86400 },
                                                actor: p.auditActor, app: app)
    }

    static func revoke(_ p: Principal, _ id: UUID, app: Application) async throws {
        guard let token = try await APIToken.query(on: app.database).filter(\.$id == id).filter(\.$user.$id == p.userID)
            .filter(\.$kind == "personal").first() else { throw Problem.notFound }
        guard token.revokedAt == nil else { return }
        try await app.write(as: p.auditActor) { change in
            try await APIToken.query(on: change.db).filter(\.$id == id).set(\.$revokedAt, to: change.now).update()
            try await change.audit("api_token", id, "revoke", before: ["revoked": "false"], after: ["revoked": "true"])
        }
    }
}

struct OrganizationsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let orgs = routes.grouped("organizations")
        orgs.get(use: list)
        orgs.post(use: create)
        orgs.get(":id", use: show)
        orgs.patch(":id", use: update)
        let sites = routes.grouped("sites")
        sites.get(use: listSites)
        sites.post(use: createSite)
        sites.patch(":id", use: updateSite)
    }

    func list(req: Request) async throws -> Page<OrganizationDTO> {
        let kind: OrganizationKind? = try req.queryText("kind").flatMap {
            guard let k = OrganizationKind(rawValue: $0) else {
                throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("kind", "invalidValue")])
            }
            return k
        }
        let filter = OrganizationService.ListFilter(kind: kind, search: req.queryText("q"), active: try req.boolQuery("active"))
        return try await OrganizationService.list(try req.requirePrincipal(), filter: filter, page: try PageRequest(req), on: req.db)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.administerInstallation)
        let org = try await OrganizationService.createSupplier(p, try req.decodeStrict(NewOrganizationInput.self), app: req.application)
        return try await .created(OrganizationDTO(org), for: req)
    }

    func show(req: Request) async throws -> OrganizationDTO {
        OrganizationDTO(try await OrganizationService.get(try req.requirePrincipal(), try req.idParameter(), on: req.db))
    }

    func update(req: Request) async throws -> OrganizationDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await OrganizationService.get(p, id, on: req.db)
        try p.require(.administerInstallation)
        return OrganizationDTO(try await OrganizationService.update(p, id, try req.decodeStrict(OrganizationPatchInput.self), app: req.application))
    }

    func listSites(req: Request) async throws -> [SiteDTO] {
        try await OrganizationService.listSites(try req.requirePrincipal(), on: req.db)
    }

    func createSite(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.administerInstallation)
        return try await .created(SiteDTO(try await OrganizationService.createSite(p, try req.decodeStrict(NewSiteInput.self), app: req.application)), for: req)
    }

    func updateSite(req: Request) async throws -> SiteDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await p.scope.find(Site.self, id, on: req.db)
        try p.require(.administerInstallation)
        return SiteDTO(try await OrganizationService.updateSite(p, id, try req.decodeStrict(SitePatchInput.self), app: req.application))
    }
}

struct UsersAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let users = routes.grouped("users")
        users.get(use: list)
        users.post(use: create)
        users.get(":id", use: show)
        users.patch(":id", use: update)
        users.post(":id", "password", use: resetPassword)
    }

    func list(req: Request) async throws -> Page<UserDTO> {
        let filter = UserService.ListFilter(organizationID: try req.uuidQuery("organizationId"), search: req.queryText("q"),
                                            active: try req.boolQuery("active"))
        return try await UserService.list(try req.requirePrincipal(), filter: filter, page: try PageRequest(req),
                                          on: req.application.reads, counts: req.subcon.trigramCounts)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        guard p.can(.administerInstallation) || p.can(.manageOwnOrganizationUsers) else { throw Problem.forbidden }
        let user = try await UserService.create(p, try req.decodeStrict(NewUserInput.self), app: req.application)
        return try await .created(UserDTO(user), for: req)
    }

    func show(req: Request) async throws -> UserDTO {
        UserDTO(try await UserService.get(try req.requirePrincipal(), try req.idParameter(), on: req.db))
    }

    func update(req: Request) async throws -> UserDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let user = try await UserService.get(p, id, on: req.db)
        guard UserAdministration.mayManage(actor: p.administrationActor, organizationID: user.$organization.id.uuidString) else {
            throw Problem.forbidden
        }
        return UserDTO(try await UserService.update(p, id, try req.decodeStrict(UserPatchInput.self), app: req.application))
    }

    func resetPassword(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let user = try await UserService.managed(p, id, on: req.db)
        let input = try req.decodeStrict(PasswordInput.self)
        try await UserService.resetPassword(p, user, input.password, app: req.application)
        return .noContent
    }
}

struct AuditAPI: RouteCollection {
    struct EntryDTO: Content {
        let seq: Int64
        let at: Date
        let actorId: UUID?
        let actorLogin: String
        let entity: String
        let entityId: String
        let action: String
        let changes: [String: FieldChange]
    }

    struct VerifyDTO: Content {
        let ok: Bool
        let checked: Int
        let failure: String?
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("audit", use: list)
        routes.post("audit", "verify", use: verify)
    }

    func list(req: Request) async throws -> Page<EntryDTO> {
        let p = try req.requirePrincipal()
        let entity = req.queryText("entity")
        let entityID = req.queryText("entityId")
        let page = try await AuditHistory.list(p, entity: entity, entityID: entityID, page: try PageRequest(req), on: req.db)
        return Page(items: page.items.map(EntryDTO.init), page: page.page, per: page.per, total: page.total)
    }

    func verify(req: Request) async throws -> VerifyDTO {
        try req.requirePrincipal().require(.verifyAuditChain)
        let result = try await AuditLog.verify(on: req.db)
        return VerifyDTO(ok: result.failure == nil, checked: result.checked, failure: result.failure?.description)
    }
}

extension AuditAPI.EntryDTO {
    init(_ e: AuditEntry) {
        seq = e.id!; at = Date(timeIntervalSince1970: Double(e.atMilliseconds) / 1000); actorId = e.actorID
        actorLogin = e.actorLogin; entity = e.entity; entityId = e.entityID; action = e.action
        changes = (try? JSONDecoder().decode([String: FieldChange].self, from: Data(e.changes.utf8))) ?? [:]
    }
}

struct NotificationsAPI: RouteCollection {
    struct Count: Content { let unread: Int }

    func boot(routes: any RoutesBuilder) throws {
        let n = routes.grouped("notifications")
        n.get(use: list)
        n.get("unread-count", use: unread)
        n.post(":id", "read", use: read)
        n.post("read-all", use: readAll)
    }

    func list(req: Request) async throws -> Page<Inbox.Item> {
        let p = try req.requirePrincipal()
        return try await Inbox.list(userID: p.userID, page: try PageRequest(req), unreadOnly: try req.boolQuery("unread") ?? false,
                                    locale: req.locale, catalog: req.subcon.catalog, on: req.application.keyedReads)
    }

    func unread(req: Request) async throws -> Count {
        Count(unread: try await Inbox.unreadCount(userID: try req.requirePrincipal().userID, on: req.application.reads))
    }

    func read(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        try await Inbox.markRead(userID: p.userID, itemID: try req.idParameter(), now: req.now, on: req.db)
        return .noContent
    }

    func readAll(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        try await Inbox.markRead(userID: p.userID, itemID: nil, now: req.now, on: req.db)
        return .noContent
    }
}
