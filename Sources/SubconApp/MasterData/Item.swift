import Fluent
import Foundation
import SubconDomain

/// An item (物料): raw material, semi-finished, finished good, or a service.
final class Item: Model, @unchecked Sendable {
    static let schema = "items"

    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    @Field(key: "specification") var specification: String
    @Field(key: "uom") var uom: String
    @Field(key: "kind") var kind: String
    @OptionalField(key: "default_site_id") var defaultSiteID: UUID?
    @Field(key: "active") var active: Bool
    @Field(key: "version") var version: Int
    /// What the material costs the manufacturer; write-off variances are deducted at it.
    @OptionalField(key: "cost_price") var costPriceUnits: Int64?
    var costPrice: Int64 { costPriceUnits ?? 0 }
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    init(code: String, name: String, specification: String, uom: String, kind: ItemKind, defaultSiteID: UUID?, now: Date) {
        self.code = code; self.name = name; self.specification = specification; self.uom = uom; self.kind = kind.rawValue
        self.defaultSiteID = defaultSiteID; self.active = true; self.version = 1; self.createdAt = now; self.updatedAt = now
    }

    var auditSnapshot: [String: String?] {
        ["code": code, "name": name, "specification": specification, "uom": uom, "kind": kind,
         "default_site_id": defaultSiteID?.uuidString, "active": String(active),
         "cost_price": FixedDecimal(units: costPrice).description]
    }
}

struct CreateItems: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("items")
            .id()
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("specification", .string, .required)
            .field("uom", .string, .required)
            .field("kind", .string, .required)
            .field("default_site_id", .uuid, .references("sites", "id"))
            .field("active", .bool, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "code")
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("items").delete() }
}
