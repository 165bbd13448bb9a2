import Fluent
import SQLKit

/// The open delivery notes (shipped, partly received) in their list's order, for every supplier
/// and for one. The material hub and `GET /api/v1/deliveries?open=true` list them earliest ship
/// date first; with only the status index SQLite read every open note and sorted them on each
/// view (30,000 on the large data set: 9 ms of a hub's 15). `MaterialReports.notes` names the
/// condition in the same words, which is how SQLite knows these partial indexes apply; and as an
/// expression of the status, as for the workbench's notes to receive, so that the status index
/// cannot serve it (on a small table SQLite took that one and sorted). Both carry the creation
/// time: the to-do's count of notes to receive (their oldest, under the same condition) may be
/// answered from either, and without it read every open note's row (23 ms instead of 1).
struct AddOpenNoteIndexes: AsyncMigration {
    static func open(_ status: String) -> String { AddWorkbenchFigures.toReceive(status) }

    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("CREATE INDEX delivery_notes_open_page_idx ON delivery_notes (ship_date, code, created_at) WHERE \(unsafeRaw: Self.open("status"))").run()
        try await sql.raw("CREATE INDEX delivery_notes_supplier_open_page_idx ON delivery_notes (supplier_id, ship_date, code, created_at) WHERE \(unsafeRaw: Self.open("status"))").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "delivery_notes_supplier_open_page_idx").run()
        try await sql.drop(index: "delivery_notes_open_page_idx").run()
    }
}

/// A supplier's open material discrepancies, newest first, for its material hub. With only the
/// index of a supplier's exceptions by status, SQLite read every open exception of the supplier
/// to find the few of this type (SUP-JG, 3,384 open on the large data set: 5.6 ms of each view,
/// for none found).
struct AddSupplierExceptionTypeIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "exceptions_supplier_type_idx", on: "exceptions", "supplier_id", "type", "status", "created_at")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "exceptions_supplier_type_idx").run()
    }
}
