import Fluent
import Foundation
import SQLKit

/// What each order line has been reported (good, scrap, the first and the last day) and shipped
/// (on delivery notes not cancelled), kept on the line so "ready to ship" (reported beyond
/// shipped) is read through a partial index of the lines where that holds, instead of two sums
/// per open line on every to-do page, and so that a progress report reads its order's lines
/// without summing every report made on them (`ProgressService.lineFacts`). Recomputed from the
/// records for the whole order whenever one of them changes, so it cannot drift from them; a
/// progress report writes its own line's (`LineLateness.write`).
enum ShipReadiness {
    static func refresh(_ orderID: UUID, on db: any SQLDatabase) async throws {
        // On PostgreSQL a report adds to these sums under its order's lock (`DeliveryService.lockOrder`).
        // Recomputed without it, a report committing meanwhile could be left out of the sums
        // until the next refresh; SQLite has one writer at a time.
        if db.dialect.name == "postgresql" {
            try await db.raw("SELECT id FROM outsourcing_orders WHERE id = \(bind: orderID) FOR UPDATE").run()
        }
        try await db.raw("UPDATE order_lines SET " + sums + " WHERE order_id = \(bind: orderID)").run()
    }

    /// Every line that has a progress report or a delivery note (after a bulk load).
    static func refreshAll(on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE order_lines SET " + sums + """
             WHERE order_id IN (SELECT order_id FROM progress_reports UNION SELECT order_id FROM delivery_notes)
            """).run()
    }

    private static let sums: SQLQueryString = """
        reported_quantity = (SELECT COALESCE(SUM(p.good_quantity), 0) FROM progress_reports p
                              WHERE p.order_id = order_lines.order_id AND p.line_no = order_lines.line_no),
        reported_scrap = (SELECT COALESCE(SUM(p.scrap_quantity), 0) FROM progress_reports p
                           WHERE p.order_id = order_lines.order_id AND p.line_no = order_lines.line_no),
        first_report_day = (SELECT MIN(p.report_day) FROM progress_reports p
                             WHERE p.order_id = order_lines.order_id AND p.line_no = order_lines.line_no),
        last_report_day = (SELECT MAX(p.report_day) FROM progress_reports p
                            WHERE p.order_id = order_lines.order_id AND p.line_no = order_lines.line_no),
        shipped_quantity = (SELECT COALESCE(SUM(n.quantity), 0) FROM delivery_note_lines n JOIN delivery_notes dn ON dn.id = n.note_id
                             WHERE dn.order_id = order_lines.order_id AND n.order_line_no = order_lines.line_no AND dn.status <> 'cancelled')
        """

    /// A line ready to ship, written of a line's name: the condition the partial index holds,
    /// spelled the same way in the to-do's read and in its kept count.
    static func ready(_ row: String) -> String { "\(row).state = 'open' AND \(row).reported_quantity > \(row).shipped_quantity" }
    static let readyCondition = ready("l")
}

struct AddLineShipReadiness: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("order_lines").field("reported_quantity", .int64, .required, .sql(.default(0))).update()
        try await db.schema("order_lines").field("shipped_quantity", .int64, .required, .sql(.default(0))).update()
        let sql = db as! any SQLDatabase
        // The two sums as they were then: `ShipReadiness` now keeps columns that later migrations add.
        try await sql.raw("""
            UPDATE order_lines SET
              reported_quantity = (SELECT COALESCE(SUM(p.good_quantity), 0) FROM progress_reports p
                                    WHERE p.order_id = order_lines.order_id AND p.line_no = order_lines.line_no),
              shipped_quantity = (SELECT COALESCE(SUM(n.quantity), 0) FROM delivery_note_lines n JOIN delivery_notes dn ON dn.id = n.note_id
                                   WHERE dn.order_id = order_lines.order_id AND n.order_line_no = order_lines.line_no AND dn.status <> 'cancelled')
             WHERE order_id IN (SELECT order_id FROM progress_reports UNION SELECT order_id FROM delivery_notes)
            """).run()
        try await sql.raw("""
            CREATE INDEX order_lines_ship_ready_idx ON order_lines (order_id) WHERE state = 'open' AND reported_quantity > shipped_quantity
            """).run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("DROP INDEX order_lines_ship_ready_idx").run()
        try await db.schema("order_lines").deleteField("shipped_quantity").update()
        try await db.schema("order_lines").deleteField("reported_quantity").update()
    }
}

/// A line's scrap and its first and last report day beside its good total (see `ShipReadiness`):
/// a progress report read its order's lines with sums over every report ever made on them,
/// inside the write gate. On the benchmark's lines, with 420 reports each on average, that was
/// the largest of the report's reads.
struct KeepLineReportSums: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column a statement: SQLite adds one at a time.
        try await db.schema("order_lines").field("reported_scrap", .int64, .required, .sql(.default(0))).update()
        try await db.schema("order_lines").field("first_report_day", .string).update()
        try await db.schema("order_lines").field("last_report_day", .string).update()
        try await ShipReadiness.refreshAll(on: db as! any SQLDatabase)
    }

    func revert(on db: any Database) async throws {
        for column: FieldKey in ["last_report_day", "first_report_day", "reported_scrap"] { try await db.schema("order_lines").deleteField(column).update() }
    }
}

/// Material documents the supplier has yet to confirm: the few unconfirmed lines, not every
/// document ever issued, drive the to-do's read.
struct AddUnconfirmedMaterialIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("""
            CREATE INDEX material_document_lines_unconfirmed_idx ON material_document_lines (document_id) WHERE confirmed_at IS NULL
            """).run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("DROP INDEX material_document_lines_unconfirmed_idx").run()
    }
}
