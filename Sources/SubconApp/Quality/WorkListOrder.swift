import Fluent
import SQLKit

/// The inspection work list goes oldest receipt first. Sorting every waiting line by its
/// receipt's time on each page meant joining them all; the line carries the time it was received
/// instead, under an index of (status, received_at), so a page is read in index order.
struct AddReceiptLineReceivedAt: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("receipt_lines").field("received_at", .datetime).update()
        let sql = db as! any SQLDatabase
        try await sql.raw("""
            UPDATE receipt_lines SET received_at = (SELECT g.created_at FROM goods_receipts g WHERE g.id = receipt_lines.receipt_id)
            """).run()
        try await createIndex(db, "receipt_lines_status_received_idx", on: "receipt_lines", "status", "received_at")
        // Its prefix serves every read by status; left in place, SQLite picked it and sorted.
        try await sql.raw("DROP INDEX receipt_lines_status_idx").run()
    }

    func revert(on db: any Database) async throws {
        try await createIndex(db, "receipt_lines_status_idx", on: "receipt_lines", "status")
        try await (db as! any SQLDatabase).raw("DROP INDEX receipt_lines_status_received_idx").run()
        try await db.schema("receipt_lines").deleteField("received_at").update()
    }
}

/// A supplier's exception list in its order: without them SQLite sorted a large supplier's
/// 7,000 exceptions for every page (66 → 0.5 ms).
struct AddSupplierExceptionIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "exceptions_supplier_resolve_idx", on: "exceptions", "supplier_id", "resolve_by")
        try await createIndex(db, "exceptions_supplier_closed_idx", on: "exceptions", "supplier_id", "closed_at")
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "exceptions_supplier_closed_idx").run()
        try await sql.drop(index: "exceptions_supplier_resolve_idx").run()
    }
}

/// A receipt's inspections by receipt: the receipt's page and every receiving response read
/// them, and without an index that read scanned all 650,000 inspections (221 ms) — most of the
/// workflow's receiving step.
struct AddInspectionReceiptIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "inspections_receipt_idx", on: "inspections", "receipt_id")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "inspections_receipt_idx").run()
    }
}
