import Fluent
import SQLKit

extension MaterialReports {
    /// An order line whose goods may still arrive: open, on an order the supplier is working on.
    /// `dueToArrive` and the partial indexes below spell it in the same words, which is how
    /// SQLite knows the indexes apply. The status is an expression of the column, as for the
    /// open delivery notes, so that no other read can take these indexes: the work list (whose
    /// condition implies the plain spelling) took the supplier's one once the table had its
    /// statistics (`ANALYZE`) and sorted SUP-JG's 51,000 lines for each page (17 pages a second).
    static func arriving(_ row: String?) -> String {
        let c = row.map { "\($0)." } ?? ""
        return "\(c)state = 'open' AND (\(c)order_status || '') IN (\(MaterialService.workingStatusList))"
    }
}

/// The material hub's lists read from indexes in their own order.
///
/// - The lines to arrive, earliest due first, for every supplier and for one. Both walked the
///   open lines by due day (`order_lines_supplier_open_due_idx`) and passed over the lines of
///   orders not yet accepted, which come first: 6,668 of SUP-JG's before its first fifty on the
///   large data set (1–1.7 ms of its hub), and 16,670 before the 500 of
///   `GET /api/v1/material/due-to-arrive` (57–78 ms). The index holds only the lines of working
///   orders, in the list's order, so neither walk passes over anything nor sorts.
/// - A supplier's receipt lines waiting for inspection, newest first: read by the supplier's
///   index of all its receipt lines, every one of them fetched to look at its status (SUP-JG:
///   17,000 lines for 40 waiting, 46–92 ms of `GET /api/v1/receipts?awaiting=true`). The status
///   is a key here, not a condition, so no statement that binds a status is re-prepared for it.
struct AddMaterialHubIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        let arriving = MaterialReports.arriving(nil)
        try await sql.raw("CREATE INDEX order_lines_supplier_arrive_idx ON order_lines (supplier_id, due_date, order_id, line_no) WHERE \(unsafeRaw: arriving)").run()
        try await sql.raw("CREATE INDEX order_lines_arrive_idx ON order_lines (due_date, order_id, line_no) WHERE \(unsafeRaw: arriving)").run()
        try await createIndex(db, "receipt_lines_supplier_status_idx", on: "receipt_lines", "supplier_id", "status", "received_at", "receipt_id")
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "receipt_lines_supplier_status_idx").run()
        try await sql.drop(index: "order_lines_arrive_idx").run()
        try await sql.drop(index: "order_lines_supplier_arrive_idx").run()
    }
}

/// The buyer's newest receipts with a lot waiting for inspection (the material hub, and
/// `GET /api/v1/receipts?awaiting=true`): the (status, received_at) index gave the lines in
/// time order, but each line's receipt had to be fetched from the table to tell receipts apart.
/// PostgreSQL read 500 lines that way with a parallel worker and sorted them: 21 ms of the
/// buyer's hub on the large data set. With the receipt in the index both databases read the
/// index alone, in the list's order. The new index serves everything the old one did (same
/// leading columns), so the old one goes.
struct AddAwaitingReceiptIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "receipt_lines_status_received_receipt_idx", on: "receipt_lines", "status", "received_at", "receipt_id")
        try await (db as! any SQLDatabase).drop(index: "receipt_lines_status_received_idx").run()
    }

    func revert(on db: any Database) async throws {
        try await createIndex(db, "receipt_lines_status_received_idx", on: "receipt_lines", "status", "received_at")
        try await (db as! any SQLDatabase).drop(index: "receipt_lines_status_received_receipt_idx").run()
    }
}

/// A supplier's material documents, newest first: its own (`supplier_id`) and those transferred
/// to it (`to_supplier_id`). Asked as one condition with OR, both databases walked every
/// document by time and looked at each: on the large data set a small supplier's first fifty
/// took 18 ms on SQLite, and a supplier with none walked all 150,000 (28–196 ms) — the API's
/// list and a supplier's material hub. Each side now has an index in the list's order, and the
/// page is the newest of both walks (`MaterialReports.documents`). Only transfers have a
/// receiving supplier, so its index holds only them.
struct AddSupplierDocumentIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await createIndex(db, "material_documents_supplier_page_idx", on: "material_documents", "supplier_id", "created_at", "code")
        try await sql.raw("""
            CREATE INDEX material_documents_to_supplier_page_idx ON material_documents (to_supplier_id, created_at, code) WHERE to_supplier_id IS NOT NULL
            """).run()
        try await sql.drop(index: "material_documents_supplier_idx").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await createIndex(db, "material_documents_supplier_idx", on: "material_documents", "supplier_id", "created_at")
        try await sql.drop(index: "material_documents_to_supplier_page_idx").run()
        try await sql.drop(index: "material_documents_supplier_page_idx").run()
    }
}
