import Fluent
import Foundation
import SubconDomain
import Vapor

/// `subcon create-admin`: the first login of a new installation (creating the manufacturer if needed).
public enum AdminBootstrap {
    public static func createAdmin(app: Application, login: String, displayName: String, password: String,
                                   companyCode: String, companyName: String) async throws {
        do { try PasswordRules.check(password, login: login) } catch {
            throw BootstrapError("password: \(error) (at least \(PasswordRules.minimumLength) characters, not the login)")
        }
        if try await User.query(on: app.database).filter(\.$login == login).count() > 0 {
            throw BootstrapError("login '\(login)' already exists")
        }
        let hash = try await app.subcon.passwordHasher.hash(password, on: app)
        try await app.write(as: .system) { change in
            var maker = try await Organization.query(on: change.db).filter(\.$kind == OrganizationKind.manufacturer.rawValue).first()
            if maker == nil {
                let m = Organization(kind: .manufacturer, code: companyCode, name: companyName, now: change.now)
                try await m.create(on: change.db)
                try await change.audit("organization", m.id, "create", after: m.auditSnapshot)
                maker = m
            }
            let user = User(organizationID: maker!.id!, login: login, displayName: displayName, email: nil,
                            passwordHash: hash, roles: [.admin], locale: nil, now: change.now)
            try await user.create(on: change.db)
            try await change.audit("user", user.id, "create", after: user.auditSnapshot)
        }
    }
}

public struct BootstrapError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
