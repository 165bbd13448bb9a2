import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A report's filters saved under a name by one person, to run again with one tap.
final class SavedReport: Model, @unchecked Sendable {
    static let schema = "saved_reports"
    @ID(key: .id) var id: UUID?
    @Field(key: "user_id") var userID: UUID
    @Field(key: "name") var name: String
    @Field(key: "kind") var kind: String
    /// The filters as a query string (from, to, plantId, supplierId, item).
    @Field(key: "query") var query: String
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

/// What the reports read that the flow did not keep in a form SQL can group by: the calendar
/// day of each goods receipt (on time or late against the line's due day), one row per defect
/// found in an inspection (a Pareto in SQL), and the saved reports.
struct CreateReports: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("goods_receipts").field("receipt_day", .string).update()
        try await db.schema("inspection_defects")
            .id()
            .field("inspection_id", .uuid, .required, .references("inspections", "id", onDelete: .cascade))
            .field("supplier_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("count", .int, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "inspection_defects_created_idx", on: "inspection_defects", "created_at", "code")
        try await createIndex(db, "goods_receipts_day_idx", on: "goods_receipts", "receipt_day")
        try await db.schema("saved_reports")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("kind", .string, .required)
            .field("query", .string, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "user_id", "name")
            .create()
        // Earlier records: the receipt's day where the installation is (the default zone, or
        // SUBCON_TIMEZONE), and the defects kept as JSON on each inspection.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: Environment.get("SUBCON_TIMEZONE") ?? "Asia/Shanghai") ?? .gmt
        for r in try await GoodsReceipt.query(on: db).all() {
            let c = calendar.dateComponents([.year, .month, .day], from: r.createdAt)
            try await (db as! any SQLDatabase).update("goods_receipts")
                .set("receipt_day", to: Day(year: c.year!, month: c.month!, day: c.day!)!.description).where("id", .equal, r.id!).run()
        }
        for ins in try await Inspection.query(on: db).all() {
            try await InspectionDefects.record(ins, on: db)
        }
    }

    func revert(on db: any Database) async throws {
        try await db.schema("saved_reports").delete()
        try await db.schema("inspection_defects").delete()
        try await db.schema("goods_receipts").deleteField("receipt_day").update()
    }
}

/// Tasks done, by the notices about them (event and link), so that a notice still waiting in
/// the outbox when its task is done is delivered read.
struct CreateSettledNotices: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("settled_notices")
            .id()
            .field("event", .string, .required)
            .field("link", .string, .required)
            .field("organization_id", .uuid)
            .field("settled_at", .datetime, .required)
            .create()
        try await createIndex(db, "settled_notices_link_idx", on: "settled_notices", "link", "event")
        // The dashboard's and the reports' held material: the ledger grouped from the index alone.
        try await createIndex(db, "material_movements_balance_idx", on: "material_movements", "supplier_id", "item_id", "kind", "quantity")
    }

    func revert(on db: any Database) async throws { try await db.schema("settled_notices").delete() }
}

/// A task done settles its unread notices by link; without an index every write that settles
/// one scanned all notifications (100,000 and more in a year).
struct AddNoticeLinkIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "notifications_link_idx", on: "notifications", "link", "read_at")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("DROP INDEX notifications_link_idx").run()
    }
}

/// The ledger's running totals per supplier × material × lot × movement kind, and per supplier
/// × material × kind (all lots), kept with every movement in the same transaction
/// (`Ledger.record`), so that balances, held material and the write-off's opening read a row
/// per key instead of summing millions of movements.
struct CreateLedgerTotals: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("ledger_totals")
            .field("supplier_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("lot", .string, .required)
            .field("kind", .string, .required)
            .field("quantity", .int64, .required)
            .field("allowance", .int64, .required)
            .unique(on: "supplier_id", "item_id", "lot", "kind")
            .create()
        try await db.schema("ledger_item_totals")
            .field("supplier_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("kind", .string, .required)
            .field("quantity", .int64, .required)
            .field("allowance", .int64, .required)
            .unique(on: "supplier_id", "item_id", "kind")
            .create()
        try await Ledger.rebuildTotals(on: db as! any SQLDatabase)
    }

    func revert(on db: any Database) async throws {
        try await db.schema("ledger_item_totals").delete()
        try await db.schema("ledger_totals").delete()
    }
}

enum InspectionDefects {
    /// One row per defect code found, named as the item's inspection plan names it.
    static func record(_ ins: Inspection, on db: any Database) async throws {
        let found = (try? JSONDecoder().decode([DefectCount].self, from: Data(ins.defects.utf8))) ?? []
        guard !found.isEmpty else { return }
        let plan = try await InspectionPlan.query(on: db).filter(\.$itemID == ins.itemID).first()
        let names = (plan.flatMap { try? JSONDecoder().decode([DefectCode].self, from: Data($0.defectCodes.utf8)) } ?? [])
        for d in found where d.count > 0 {
            try await (db as! any SQLDatabase).insert(into: "inspection_defects")
                .columns("id", "inspection_id", "supplier_id", "item_id", "code", "name", "count", "created_at")
                .values(SQLBind(UUID()), SQLBind(ins.id!), SQLBind(ins.supplierID), SQLBind(ins.itemID), SQLBind(d.code),
                        SQLBind(names.first { $0.code == d.code }?.name ?? d.code), SQLBind(d.count), SQLBind(ins.createdAt))
                .run()
        }
    }
}
