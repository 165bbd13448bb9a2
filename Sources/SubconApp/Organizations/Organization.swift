import Fluent
import Foundation
import SubconDomain

/// The manufacturer (one per installation) or a supplier organization.
final class Organization: Model, @unchecked Sendable {
    static let schema = "organizations"

    @ID(key: .id) var id: UUID?
    @Field(key: "kind") var kind: String
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    @Field(key: "active") var active: Bool
    @Field(key: "version") var version: Int
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    init(id: UUID? = nil, kind: OrganizationKind, code: String, name: String, now: Date) {
        self.id = id; self.kind = kind.rawValue; self.code = code; self.name = name
        self.active = true; self.version = 1; self.createdAt = now; self.updatedAt = now
    }

    var organizationKind: OrganizationKind { OrganizationKind(rawValue: kind) ?? .supplier }

    /// The audited fields, as text.
    var auditSnapshot: [String: String?] {
        ["kind": kind, "code": code, "name": name, "active": String(active)]
    }
}

/// A plant or warehouse of the manufacturer.
final class Site: Model, @unchecked Sendable {
    static let schema = "sites"

    @ID(key: .id) var id: UUID?
    @Parent(key: "organization_id") var organization: Organization
    @Field(key: "kind") var kind: String
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    @OptionalField(key: "plant_id") var plantID: UUID?
    @Field(key: "active") var active: Bool
    @Field(key: "version") var version: Int
    @Field(key: "created_at") var createdAt: Date

    init() {}

    init(organizationID: UUID, kind: SiteKind, code: String, name: String, plantID: UUID?, now: Date) {
        self.$organization.id = organizationID; self.kind = kind.rawValue; self.code = code; self.name = name
        self.plantID = plantID; self.active = true; self.version = 1; self.createdAt = now
    }

    var auditSnapshot: [String: String?] {
        ["kind": kind, "code": code, "name": name, "plant_id": plantID?.uuidString, "active": String(active)]
    }
}

enum SiteKind: String, Codable, Sendable, CaseIterable {
    case plant, warehouse
}

extension Organization: SupplierOwned { static var ownerKey: FieldKey { .id } }
extension Site: SupplierOwned { static var ownerKey: FieldKey { "organization_id" } }
