import Fluent
import SQLKit

/// The exception lists read a page's ids first, in the order of an index that holds the whole
/// sort key and the id: page 20 of the open exceptions had read 1,000 full rows, each joined to
/// its supplier, to keep 50.
struct AddExceptionPageIndexes: IndexExtensionMigration {
    static let extensions = [
        IndexExtension(table: "exceptions", old: "exceptions_status_resolve_idx", oldColumns: ["status", "resolve_by"],
                       new: "exceptions_status_page_idx", newColumns: ["status", "resolve_by", "created_at", "id"]),
        IndexExtension(table: "exceptions", old: "exceptions_status_closed_idx", oldColumns: ["status", "closed_at"],
                       new: "exceptions_closed_page_idx", newColumns: ["status", "closed_at", "id"]),
    ]
}

/// A supplier's exceptions (all of them, or the closed) in the list's whole order: the
/// (supplier, resolve_by) index left SQLite to sort each run of equal deadlines by reading the
/// rows, and for the bench's largest supplier (6,866 exceptions) a page took 6 ms, 145 lists a
/// second. Holding the tie-breaks, the page is read from the index alone (0.1 ms).
struct AddSupplierExceptionPageIndexes: IndexExtensionMigration {
    static let extensions = [
        IndexExtension(table: "exceptions", old: "exceptions_supplier_resolve_idx", oldColumns: ["supplier_id", "resolve_by"],
                       new: "exceptions_supplier_page_idx", newColumns: ["supplier_id", "resolve_by", "created_at", "id"]),
        IndexExtension(table: "exceptions", old: "exceptions_supplier_closed_idx", oldColumns: ["supplier_id", "closed_at"],
                       new: "exceptions_supplier_closed_page_idx", newColumns: ["supplier_id", "closed_at", "id"]),
    ]
}

/// The material hub lists open discrepancies newest first; with no index on the type SQLite
/// walked all 33,000 open exceptions of every type to find none (26 ms on every hub view).
struct AddExceptionTypeIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "exceptions_type_status_created_idx", on: "exceptions", "type", "status", "created_at")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "exceptions_type_status_created_idx").run()
    }
}

/// A supplier's to-do counts its unanswered exceptions and the oldest one's time: 4,094 for the
/// bench's busiest supplier, each row read from the table for its `created_at` (15 ms of the
/// supplier's 42 ms to-do). With the time in the index the count reads the index alone (1.6 ms).
struct AddSupplierTodoExceptionIndex: IndexExtensionMigration {
    static let extensions = [
        IndexExtension(table: "exceptions", old: "exceptions_supplier_deadlines_idx",
                       oldColumns: ["supplier_id", "status", "responded_at", "response_by", "resolve_by"],
                       new: "exceptions_supplier_todo_idx",
                       newColumns: ["supplier_id", "status", "responded_at", "response_by", "resolve_by", "created_at"]),
    ]
}
