import Fluent
import SQLKit
import Foundation
import SubconDomain
import Vapor

struct UserDTO: Content {
    let id: UUID
    let organizationId: UUID
    let login: String
    let displayName: String
    let email: String?
    let roles: [String]
    let locale: String?
    let active: Bool
    let version: Int
    let createdAt: Date
    let updatedAt: Date

    /// The columns a list reads, decoded without Fluent, by position.
    struct Row: ReadByPosition {
        static let columnNames = ["id", "organization_id", "login", "display_name", "email", "roles", "locale", "active",
                                  "version", "created_at", "updated_at"]
        init(_ r: inout ColumnReader) throws {
            id = try r.value(); organization_id = try r.value(); login = try r.value(); display_name = try r.value(); email = try r.optional()
            roles = try r.value(); locale = try r.value(); active = try r.value(); version = try r.value(); created_at = try r.value()
            updated_at = try r.value()
        }
        let id: UUID
        let organization_id: UUID
        let login: String
        let display_name: String
        let email: String?
        let roles: String
        let locale: String
        let active: Bool
        let version: Int
        let created_at: Date
        let updated_at: Date
    }

    init(_ r: Row) {
        id = r.id; organizationId = r.organization_id; login = r.login; displayName = r.display_name; email = r.email
        roles = Role.parseList(r.roles).sorted().map(\.rawValue); locale = r.locale.isEmpty ? nil : r.locale
        active = r.active; version = r.version; createdAt = r.created_at; updatedAt = r.updated_at
    }

    init(_ u: User) {
        id = u.id!; organizationId = u.$organization.id; login = u.login; displayName = u.displayName
        email = u.email; roles = u.roles.sorted().map(\.rawValue); locale = u.locale.isEmpty ? nil : u.locale
        active = u.active; version = u.version; createdAt = u.createdAt; updatedAt = u.updatedAt
    }
}

struct NewUserInput: StrictInput {
    static let fields: Set<String> = ["organizationId", "login", "displayName", "email", "password", "roles", "locale"]
    var organizationId: UUID
    var login: String
    var displayName: String
    var email: String?
    var password: String
    var roles: [String]
    var locale: String?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.code(login, "login", max: 40, into: &p)
        Check.text(displayName, "displayName", max: 100, into: &p)
        Check.email(email, "email", into: &p)
        p += UserInputRules.roles(roles) + UserInputRules.locale(locale)
        do { try PasswordRules.check(password, login: login) } catch { p.append(UserInputRules.password(error)) }
        return p
    }
}

struct UserPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "displayName", "email", "roles", "locale", "active"]
    var version: Int
    var displayName: String?
    var email: String?
    var roles: [String]?
    var locale: String?
    var active: Bool?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if let displayName { Check.text(displayName, "displayName", max: 100, into: &p) }
        Check.email(email, "email", into: &p)
        if let roles { p += UserInputRules.roles(roles) }
        return p + UserInputRules.locale(locale)
    }
}

struct PasswordInput: StrictInput {
    static let fields: Set<String> = ["password"]
    var password: String
}

enum UserInputRules {
    static func roles(_ roles: [String]) -> [FieldProblem] {
        if roles.isEmpty { return [FieldProblem("roles", "required")] }
        return roles.filter { Role(rawValue: $0) == nil }.map { FieldProblem("roles", "unknownRole", ["role": $0]) }
    }
    /// Empty means "follow the browser's language".
    static func locale(_ l: String?) -> [FieldProblem] {
        guard let l, !l.isEmpty, AppLocale(rawValue: l) == nil else { return [] }
        return [FieldProblem("locale", "invalidValue")]
    }
    static func password(_ e: PasswordRules.Problem, field: String = "password") -> FieldProblem {
        switch e {
        case .tooShort: FieldProblem(field, "passwordTooShort", ["min": String(PasswordRules.minimumLength)])
        case .tooLong: FieldProblem(field, "tooLong", ["max": String(PasswordRules.maximumLength)])
        case .sameAsLogin: FieldProblem(field, "passwordSameAsLogin")
        case .tooCommon: FieldProblem(field, "passwordTooCommon")
        }
    }
    static func refusal(_ r: UserAdministration.Refusal) -> Problem {
        switch r {
        case .notAllowed: .forbidden
        case .noRoles: .validation([FieldProblem("roles", "required")])
        case .roleNotForOrganization(let role): .validation([FieldProblem("roles", "roleNotForOrganization", ["role": role.rawValue])])
        case .cannotDeactivateSelf: .validation([FieldProblem("active", "cannotDeactivateSelf")])
        case .cannotRemoveOwnAdminRole: .validation([FieldProblem("roles", "cannotRemoveOwnAdminRole")])
        }
    }
}

/// Account management, shared by the API and the pages.
enum UserService {
    struct ListFilter: Sendable {
        var organizationID: UUID?
        var search: String?
        var active: Bool?
    }

    /// Read on `sql`: the read connections where there are (a page of 50 through the driver's
    /// thread pool was a fifth of the ceiling).
    static func list(_ principal: Principal, filter: ListFilter, page: PageRequest, on sql: any SQLDatabase,
                     counts: TrigramCounts?) async throws -> Page<UserDTO> {
        try principal.require(.viewDirectory)
        var q = ListQuery(sql, User.schema)
        principal.scope.restrict(&q, column: "organization_id")
        if let org = filter.organizationID { q.equal("organization_id", org) }
        if let active = filter.active { q.equal("active", active) }
        if let s = filter.search?.trimmingCharacters(in: .whitespaces), !s.isEmpty { try await q.contains(s, in: ["login", "display_name"], counts: counts) }
        let (rows, total) = try await q.pageAndTotal(UserDTO.Row.self, orderBy: [("login", .ascending)], page: page)
        return Page(items: rows.map(UserDTO.init), page: page.page, per: page.per, total: total)
    }

    static func get(_ principal: Principal, _ id: UUID, on db: any Database) async throws -> User {
        try principal.require(.viewDirectory)
        return try await principal.scope.find(User.self, id, on: db)
    }

    static func create(_ principal: Principal, _ input: NewUserInput, app: Application) async throws -> User {
        let org = try await principal.scope.find(Organization.self, input.organizationId, on: app.database)
        let roles = Set(input.roles.compactMap(Role.init(rawValue:)))
        do {
            try UserAdministration.check(actor: principal.administrationActor, targetUserID: nil,
                                         organizationID: org.id!.uuidString, organizationKind: org.organizationKind,
                                         roles: roles, active: true)
        } catch { throw UserInputRules.refusal(error) }
        if try await User.query(on: app.database).filter(\.$login == input.login).count() > 0 {
            throw Problem.conflict("problem.conflict.loginTaken", fields: [FieldProblem("login", "taken")])
        }
        let hash = try await app.subcon.passwordHasher.hash(input.password, on: app)
        let user = User(organizationID: org.id!, login: input.login, displayName: input.displayName.trimmingCharacters(in: .whitespaces),
                        email: input.email?.isEmpty == true ? nil : input.email, passwordHash: hash, roles: roles,
                        locale: input.locale.flatMap(AppLocale.init(rawValue:)), now: app.subcon.clock.now())
        return try await app.write(as: principal.auditActor) { change in
            user.createdAt = change.now; user.updatedAt = change.now
            try await user.create(on: change.db)
            try await change.audit("user", user.id, "create", after: user.auditSnapshot)
            try await change.notify("user.created", recipients: [user.id!], messageKey: "notice.welcome",
                                    params: ["name": user.displayName, "org": org.name], link: "/account")
            return user
        }
    }

    static func update(_ principal: Principal, _ id: UUID, _ input: UserPatchInput, app: Application) async throws -> User {
        let user = try await principal.scope.find(User.self, id, on: app.database)
        guard input.version == user.version else { throw Problem.staleVersion(current: user.version) }
        let org = try await Organization.find(user.$organization.id, on: app.database)!
        let before = user.auditSnapshot
        let roles = input.roles.map { Set($0.compactMap(Role.init(rawValue:))) } ?? user.roles
        let active = input.active ?? user.active
        do {
            try UserAdministration.check(actor: principal.administrationActor, targetUserID: user.id!.uuidString,
                                         organizationID: org.id!.uuidString, organizationKind: org.organizationKind,
                                         roles: roles, active: active)
        } catch { throw UserInputRules.refusal(error) }
        if let v = input.displayName { user.displayName = v.trimmingCharacters(in: .whitespaces) }
        if let v = input.email { user.email = v.isEmpty ? nil : v }
        if let v = input.locale { user.locale = v }
        user.rolesText = Role.storageText(roles)
        user.active = active
        let deactivated = before["active"] == "true" && !active
        let rolesChanged = before["roles"] != user.rolesText
        return try await app.write(as: principal.auditActor) { change in
            user.updatedAt = change.now
            try await change.updateVersioned(User.schema, id: id, expected: input.version, sets: [
                "display_name": user.displayName, "email": user.email, "locale": user.locale,
                "roles": user.rolesText, "active": user.active, "updated_at": change.now,
            ])
            user.version = input.version + 1
            try await change.audit("user", id, "update", before: before, after: user.auditSnapshot)
            if deactivated { try await AuthService.revokeEverything(of: id, in: change) }
            if rolesChanged {
                try await change.notify("user.roles_changed", recipients: [id], messageKey: "notice.rolesChanged",
                                        params: ["roles": user.rolesText], link: "/account")
            }
            return user
        }
    }

    /// The account, if `principal` may manage it: 404 outside the scope, 403 without the right.
    static func managed(_ principal: Principal, _ id: UUID, on db: any Database) async throws -> User {
        let user = try await principal.scope.find(User.self, id, on: db)
        guard UserAdministration.mayManage(actor: principal.administrationActor, organizationID: user.$organization.id.uuidString) else {
            throw Problem.forbidden
        }
        return user
    }

    /// An administrator sets a new password; every session and token of the user ends. `user`
    /// comes from `managed(_:_:on:)`, which the caller asks before reading what was typed.
    static func resetPassword(_ principal: Principal, _ user: User, _ password: String, app: Application) async throws {
        let id = try user.requireID()
        do { try PasswordRules.check(password, login: user.login) } catch { throw Problem.validation([UserInputRules.password(error)]) }
        let hash = try await app.subcon.passwordHasher.hash(password, on: app)
        try await app.write(as: principal.auditActor) { change in
            try await User.query(on: change.db).filter(\.$id == id).set(\.$passwordHash, to: hash).set(\.$updatedAt, to: change.now).update()
            try await change.audit("user", id, "password_reset", after: ["password": "reset"])
            try await AuthService.revokeEverything(of: id, in: change)
            try await change.notify("user.password_reset", recipients: [id], messageKey: "notice.passwordReset", link: "/account")
        }
    }

    /// The person changes their own password; other sessions and tokens end, this one stays.
    static func changeOwnPassword(_ principal: Principal, current: String, new: String, app: Application) async throws {
        guard let user = try await User.find(principal.userID, on: app.database) else { throw Problem.unauthorized }
        guard try await app.subcon.passwordHasher.verify(current, hash: user.passwordHash, on: app) else {
            throw Problem.validation([FieldProblem("currentPassword", "wrongPassword")])
        }
        do { try PasswordRules.check(new, login: user.login) } catch {
            throw Problem.validation([UserInputRules.password(error, field: "newPassword")])
        }
        let hash = try await app.subcon.passwordHasher.hash(new, on: app)
        try await app.write(as: principal.auditActor) { change in
            try await User.query(on: change.db).filter(\.$id == principal.userID).set(\.$passwordHash, to: hash)
                .set(\.$updatedAt, to: change.now).update()
            try await change.audit("user", principal.userID, "password_change", after: ["password": "changed"])
            try await AuthService.revokeEverything(of: principal.userID, in: change, keepSession: principal.sessionID, keepToken: principal.tokenID)
        }
    }
}
