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

extension KeptCounts {
    /// Delivery notes waiting to be received (shipped or partly received), per supplier: the
    /// to-do counted all of them on every view of a buyer's or warehouse's home page (30,000 on
    /// the large data set, 3.5 ms).
    static let notesToReceive = KeptCounts(
        table: "delivery_notes", counts: "notes_to_receive_counts", keys: ["supplier_id"],
        only: { row in AddWorkbenchFigures.toReceive("\(row).status") }, reads: ["status"], acrossFirstKey: true)
}

/// The home pages' to-do counted from what the database keeps, its oldest of each kind from the
/// first entry of an index:
/// - the notes to receive counted by triggers, and their oldest from an index of their creation
///   times (under the same condition, so that both databases know it applies);
/// - a supplier's lines ready to ship in due order, from their own copies of the order's
///   supplier and status. The index holds every column the to-do reads of a line (its
///   condition's too): short of that, SQLite read each ready line's row to check the condition
///   again, and for the first three it walked the supplier's open lines by due day instead
///   (`order_lines_supplier_open_due_idx`, as cheap by its guess): 8.9 ms for SUP-JG.
struct AddTodoKeptCounts: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await KeptCounts.notesToReceive.create(on: db)
        try await sql.raw("CREATE INDEX delivery_notes_to_receive_created_idx ON delivery_notes (created_at) WHERE \(unsafeRaw: AddOpenNoteIndexes.open("status"))").run()
        try await sql.raw("""
            CREATE INDEX order_lines_supplier_ship_ready_idx ON order_lines (supplier_id, due_date, order_status, state, reported_quantity, shipped_quantity, order_id, line_no)
              WHERE state = 'open' AND reported_quantity > shipped_quantity
            """).run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "order_lines_supplier_ship_ready_idx").run()
        try await sql.drop(index: "delivery_notes_to_receive_created_idx").run()
        try await KeptCounts.notesToReceive.drop(on: db)
    }
}

extension KeptCounts {
    /// A supplier's lines ready to ship (good parts reported and not yet shipped, the order still
    /// taking deliveries).
    static let readyLines = KeptCounts(
        table: "order_lines", counts: "ready_line_counts", keys: ["supplier_id"],
        only: { row in "\(row).supplier_id IS NOT NULL AND \(ShipReadiness.ready(row)) AND \(row).order_status IN (\(MaterialService.workingStatusList))" },
        reads: ["state", "reported_quantity", "shipped_quantity", "order_status"])

    /// A supplier's open exceptions it has not answered yet.
    static let unansweredExceptions = KeptCounts(
        table: "exceptions", counts: "unanswered_exception_counts", keys: ["supplier_id"],
        only: { row in AddSupplierTodoKeptCounts.unanswered("\(row).") }, reads: ["status", "responded_at"])
}

/// A supplier's to-do counted from kept counts too: its lines ready to ship and its exceptions to
/// answer, the oldest of the latter from an index of their creation times. The index names the
/// status as an expression: named as the column, SQLite would weigh it for every statement that
/// binds an exception's status, and prepare the exception lists again whenever the bound status
/// changed (`RepreparedStatements`).
struct AddSupplierTodoKeptCounts: AsyncMigration {
    /// An open exception its supplier has not answered, of a row's columns (`prefix` "e." or none).
    static func unanswered(_ prefix: String = "") -> String { "(\(prefix)status || '') = 'open' AND \(prefix)responded_at IS NULL" }

    func prepare(on db: any Database) async throws {
        try await KeptCounts.readyLines.create(on: db)
        try await KeptCounts.unansweredExceptions.create(on: db)
        try await (db as! any SQLDatabase).raw("""
            CREATE INDEX exceptions_unanswered_idx ON exceptions (supplier_id, created_at) WHERE \(unsafeRaw: Self.unanswered())
            """).run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "exceptions_unanswered_idx").run()
        try await KeptCounts.unansweredExceptions.drop(on: db)
        try await KeptCounts.readyLines.drop(on: db)
    }
}

/// PostgreSQL's statistics of the open notes' condition. It has none for an expression of the
/// status (which the partial indexes above use, for SQLite's sake), so it guessed 300 open notes
/// of 37,000 on the large data set, where there are 30,000; at that guess reading them by the
/// to-do's index of creation times and sorting them was the cheapest way to the hub's first
/// fifty (27 ms), not the page index in their order (0.04 ms). Extended statistics on the
/// expression give it the count; the to-do's oldest is still read from its index.
struct AddOpenNoteStatistics: AsyncMigration {
    func prepare(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase, sql.dialect.name == "postgresql" else { return }
        // The expression of `AddWorkbenchFigures.toReceive`, spelled as there.
        try await sql.raw("CREATE STATISTICS delivery_notes_open_stats ON (status || '') FROM delivery_notes").run()
        try await sql.raw("ANALYZE delivery_notes").run()
    }

    func revert(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase, sql.dialect.name == "postgresql" else { return }
        try await sql.raw("DROP STATISTICS delivery_notes_open_stats").run()
    }
}
