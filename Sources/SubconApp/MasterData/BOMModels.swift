import Fluent
import Foundation
import SubconDomain

/// One numbered BOM version of a parent item, effective for a period.
final class BOMHeader: Model, @unchecked Sendable {
    static let schema = "boms"

    @ID(key: .id) var id: UUID?
    @Parent(key: "parent_item_id") var parent: Item
    @Field(key: "number") var number: Int
    /// Days as `YYYY-MM-DD` text: they sort and compare correctly on both databases.
    @Field(key: "valid_from") var validFrom: String
    @OptionalField(key: "valid_to") var validTo: String?
    @Field(key: "note") var note: String
    @Field(key: "version") var version: Int
    @Field(key: "created_at") var createdAt: Date
    @Children(for: \.$bom) var lines: [BOMLineRow]

    init() {}
}

final class BOMLineRow: Model, @unchecked Sendable {
    static let schema = "bom_lines"

    @ID(key: .id) var id: UUID?
    @Parent(key: "bom_id") var bom: BOMHeader
    @Field(key: "line_no") var lineNo: Int
    @Parent(key: "component_item_id") var component: Item
    /// Exact decimals as FixedDecimal units (1/10_000).
    @Field(key: "quantity_per") var quantityPerUnits: Int64
    @Field(key: "scrap_percent") var scrapPercentUnits: Int64
    @Field(key: "supply_by") var supplyBy: String

    init() {}
}

struct CreateBOMs: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("boms")
            .id()
            .field("parent_item_id", .uuid, .required, .references("items", "id"))
            .field("number", .int, .required)
            .field("valid_from", .string, .required)
            .field("valid_to", .string)
            .field("note", .string, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "parent_item_id", "number")
            .create()
        try await db.schema("bom_lines")
            .id()
            .field("bom_id", .uuid, .required, .references("boms", "id", onDelete: .cascade))
            .field("line_no", .int, .required)
            .field("component_item_id", .uuid, .required, .references("items", "id"))
            .field("quantity_per", .int64, .required)
            .field("scrap_percent", .int64, .required)
            .field("supply_by", .string, .required)
            .create()
        try await createIndex(db, "bom_lines_bom_idx", on: "bom_lines", "bom_id")
        try await createIndex(db, "bom_lines_component_idx", on: "bom_lines", "component_item_id")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("bom_lines").delete()
        try await db.schema("boms").delete()
    }
}
