import Fluent
import Foundation
import SQLKit
import SubconDomain

/// What each supplier holds and has on its way per material and lot, one row per lot that is
/// not zero, with the supplier's and the material's codes beside it so that the stock page is a
/// range of an index in its own order. Kept by `Ledger.record` in the movement's transaction; a
/// lot that comes back to zero on both counts is deleted, so the table is exactly the stock
/// list, and `KeptCounts.lotBalances` counts it per supplier. On a million order lines the page
/// grouped all 422,912 running totals by lot, joined names and sorted every group to count
/// them, for each page: 2.7 pages a second over every supplier. Codes are given at creation and
/// never edited, so the copies cannot go stale.
enum LotBalances {
    static let table = "lot_balances"

    /// Moves one lot's balances by what a movement of `kind` and `quantity` does to them.
    static func move(_ kind: MovementKind, supplier: UUID, item: UUID, lot: String, quantity: Int64, on sql: any SQLDatabase) async throws {
        let transit = Int64(kind.transitSign) * quantity, held = Int64(kind.heldSign) * quantity
        guard transit != 0 || held != 0 else { return }
        try await sql.raw("""
            INSERT INTO lot_balances (supplier_id, item_id, lot, supplier_code, item_code, in_transit, held)
            VALUES (\(bind: supplier), \(bind: item), \(bind: lot), (SELECT code FROM organizations WHERE id = \(bind: supplier)),
                    (SELECT code FROM items WHERE id = \(bind: item)), \(bind: transit), \(bind: held))
            ON CONFLICT (supplier_id, item_id, lot)
            DO UPDATE SET in_transit = lot_balances.in_transit + excluded.in_transit, held = lot_balances.held + excluded.held
            """).run()
        try await sql.raw("""
            DELETE FROM lot_balances WHERE supplier_id = \(bind: supplier) AND item_id = \(bind: item) AND lot = \(bind: lot)
              AND in_transit = 0 AND held = 0
            """).run()
    }

    /// Recomputes every lot's balances from the running totals (the migration, bulk loads).
    static func rebuild(on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM lot_balances").run()
        try await sql.raw("""
            INSERT INTO lot_balances (supplier_id, item_id, lot, supplier_code, item_code, in_transit, held)
            SELECT b.supplier_id, b.item_id, b.lot, s.code, i.code, b.in_transit, b.held
            FROM (SELECT t.supplier_id, t.item_id, t.lot,
                         CAST(SUM((\(unsafeRaw: HeldValues.sign("t.kind", \.transitSign))) * t.quantity) AS BIGINT) AS in_transit,
                         CAST(SUM((\(unsafeRaw: HeldValues.sign("t.kind"))) * t.quantity) AS BIGINT) AS held
                  FROM ledger_totals t GROUP BY t.supplier_id, t.item_id, t.lot) b
            JOIN organizations s ON s.id = b.supplier_id JOIN items i ON i.id = b.item_id
            WHERE b.in_transit <> 0 OR b.held <> 0
            """).run()
        try await KeptCounts.lotBalances.rebuild(on: sql)
    }
}

extension KeptCounts {
    static let lotBalances = KeptCounts(table: LotBalances.table, counts: "lot_balance_counts", keys: ["supplier_id"], acrossFirstKey: true)
}

/// The stock page's lots, kept (see `LotBalances`), with an index for each way the page is read:
/// every supplier, one supplier, one material, one lot.
struct CreateLotBalances: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema(LotBalances.table)
            .field("supplier_id", .uuid, .required).field("item_id", .uuid, .required).field("lot", .string, .required)
            .field("supplier_code", .string, .required).field("item_code", .string, .required)
            .field("in_transit", .int64, .required).field("held", .int64, .required)
            .constraint(.constraint(.compositeIdentifier([.key("supplier_id"), .key("item_id"), .key("lot")]), name: ""))
            .create()
        try await createIndex(db, "lot_balances_page_idx", on: LotBalances.table, "supplier_code", "item_code", "lot")
        try await createIndex(db, "lot_balances_supplier_idx", on: LotBalances.table, "supplier_id", "item_code", "lot")
        try await createIndex(db, "lot_balances_item_idx", on: LotBalances.table, "item_code", "supplier_code", "lot")
        try await createIndex(db, "lot_balances_lot_idx", on: LotBalances.table, "lot")
        try await KeptCounts.lotBalances.create(on: db)
        try await LotBalances.rebuild(on: db as! any SQLDatabase)
    }

    func revert(on db: any Database) async throws {
        try await KeptCounts.lotBalances.drop(on: db)
        try await db.schema(LotBalances.table).delete()
    }
}
