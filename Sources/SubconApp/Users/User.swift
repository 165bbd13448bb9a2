import Fluent
import Foundation
import SubconDomain

final class User: Model, @unchecked Sendable {
    static let schema = "users"

    @ID(key: .id) var id: UUID?
    @Parent(key: "organization_id") var organization: Organization
    @Field(key: "login") var login: String
    @Field(key: "display_name") var displayName: String
    @OptionalField(key: "email") var email: String?
    @Field(key: "password_hash") var passwordHash: String
    @Field(key: "roles") var rolesText: String
    @Field(key: "locale") var locale: String
    @Field(key: "active") var active: Bool
    @Field(key: "version") var version: Int
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    init(id: UUID? = nil, organizationID: UUID, login: String, displayName: String, email: String?,
         passwordHash: String, roles: Set<Role>, locale: AppLocale?, now: Date) {
        self.id = id; self.$organization.id = organizationID; self.login = login; self.displayName = displayName
        self.email = email; self.passwordHash = passwordHash; self.rolesText = Role.storageText(roles)
        self.locale = locale?.rawValue ?? ""; self.active = true; self.version = 1; self.createdAt = now; self.updatedAt = now
    }

    var roles: Set<Role> { Role.parseList(rolesText) }
    /// nil: follow the browser's Accept-Language.
    var appLocale: AppLocale? { AppLocale(rawValue: locale) }

    /// Audited fields. The password hash is deliberately not among them: the trail records that it changed.
    var auditSnapshot: [String: String?] {
        ["organization_id": $organization.id.uuidString, "login": login, "display_name": displayName,
         "email": email, "roles": rolesText, "locale": locale, "active": String(active)]
    }
}

extension User: SupplierOwned { static var ownerKey: FieldKey { "organization_id" } }
