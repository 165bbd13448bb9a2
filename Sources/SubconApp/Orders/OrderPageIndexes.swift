import Fluent
import SQLKit

/// The order lists read a page's ids in (created_at DESC, code DESC) order. With indexes on
/// created_at alone SQLite read every skipped order's row for its code and sorted each run of
/// equal times: page 100 of every order walked 5,000 rows (2 ms). With the code and the id in
/// the index the page is read from the index alone (0.06 ms); PostgreSQL can do the same with an
/// index-only scan.
struct AddOrderPageIndexes: IndexExtensionMigration {
    static let extensions = [
        IndexExtension(table: "outsourcing_orders", old: "orders_created_idx", oldColumns: ["created_at"],
                       new: "orders_page_idx", newColumns: ["created_at", "code", "id"]),
        IndexExtension(table: "outsourcing_orders", old: "orders_status_created_idx", oldColumns: ["status", "created_at"],
                       new: "orders_status_page_idx", newColumns: ["status", "created_at", "code", "id"]),
        IndexExtension(table: "outsourcing_orders", old: "orders_supplier_created_idx", oldColumns: ["supplier_id", "created_at"],
                       new: "orders_supplier_page_idx", newColumns: ["supplier_id", "created_at", "code", "id"]),
    ]
}

/// The waiting list reads a page of pending revisions in (released_at, order_id) order. With the
/// (status, released_at) index SQLite sorted each run of equal times in a temporary tree and
/// PostgreSQL walked the release index of every revision, skipping the answered ones (15,000
/// read for page 100's 5,000). This index holds the pending ones alone, in the page's order.
///
/// It is partial, and the old index stays: extended to (status, released_at, order_id), the old
/// one looked to SQLite like the best way to find an order's pending revision (status = ? and
/// the order's id in the index), and the order lists' join to it read all 50,000 pending
/// revisions for every order on the page (5 s a page). The status is in it so that SQLite reads
/// the page from the index alone.
struct AddWaitingPageIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw(
            "CREATE INDEX order_revisions_waiting_page_idx ON order_revisions (released_at, order_id, status) WHERE status = 'pending'").run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "order_revisions_waiting_page_idx").run()
    }
}

extension KeptCounts {
    /// Orders projected late (a stored lateness and a status still worked on) per supplier: the
    /// late list's total had counted all of them on every page (21,000 on the large data set,
    /// about 10 ms a page).
    static let lateOrders = KeptCounts(
        table: "outsourcing_orders", counts: "late_order_counts", keys: ["supplier_id"],
        only: { row in "\(row).days_late IS NOT NULL AND \(row).status IN (\(AddWorkbenchFigures.live))" },
        reads: ["days_late", "status"], acrossFirstKey: true)
}

extension KeptCounts {
    /// Revisions waiting for the supplier's answer, per supplier: the waiting list counted all of
    /// them on every page (50,000 on the large data set). A revision's supplier is set when it is
    /// written; one without is not counted rather than refused.
    static let pendingRevisions = KeptCounts(
        table: "order_revisions", counts: "pending_revision_counts", keys: ["supplier_id"],
        only: { row in "\(row).status = 'pending' AND \(row).supplier_id IS NOT NULL" }, reads: ["status"], acrossFirstKey: true)
}

struct AddLateOrderCounts: AsyncMigration {
    func prepare(on db: any Database) async throws { try await KeptCounts.lateOrders.create(on: db) }
    func revert(on db: any Database) async throws { try await KeptCounts.lateOrders.drop(on: db) }
}

struct AddPendingRevisionCounts: AsyncMigration {
    func prepare(on db: any Database) async throws { try await KeptCounts.pendingRevisions.create(on: db) }
    func revert(on db: any Database) async throws { try await KeptCounts.pendingRevisions.drop(on: db) }
}

/// The late order list's page, from an index of the late orders alone in page order with the
/// status it filters on: SQLite had walked every order newest first (`orders_page_idx`) and looked
/// each one up for its lateness until it had 50 late ones (1.7 ms a page; 0.04 from this index).
/// It replaces the index of late orders by creation time only, which sorted each run of equal times.
struct AddLateOrderPageIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("DROP INDEX orders_late_idx").run()
        try await sql.raw("CREATE INDEX orders_late_page_idx ON outsourcing_orders (created_at, code, id, status) WHERE days_late IS NOT NULL").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("DROP INDEX orders_late_page_idx").run()
        try await sql.raw("CREATE INDEX orders_late_idx ON outsourcing_orders (created_at) WHERE days_late IS NOT NULL").run()
    }
}

/// PostgreSQL: the orders are vacuumed once a fiftieth of them has changed or been added, not a
/// fifth. The order lists' pages are index-only scans of `orders_page_idx`, and those read an
/// order's row too unless a vacuum has marked its page all-visible. The lateness sweep rewrites
/// every late order's days once a day (13,988 of 200,000 on the large data set), and new orders
/// are the first page of every list: at the default fifth, autovacuum came every few days, and in
/// between page 100 of every order fetched 4,794 rows from the table for its 5,000 index entries
/// (1.35 ms to run; 0.79 ms once vacuumed). With a fiftieth, autovacuum follows a sweep within
/// its minute's round, and visits only the pages the sweep changed. SQLite has no such map.
struct VacuumOrdersSooner: AsyncMigration {
    static let settings = ["autovacuum_vacuum_scale_factor": "0.02", "autovacuum_vacuum_insert_scale_factor": "0.02"]

    func prepare(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase, sql.dialect.name == "postgresql" else { return }
        let list = Self.settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ")
        try await sql.raw("ALTER TABLE outsourcing_orders SET (\(unsafeRaw: list))").run()
    }

    func revert(on db: any Database) async throws {
        guard let sql = db as? any SQLDatabase, sql.dialect.name == "postgresql" else { return }
        try await sql.raw("ALTER TABLE outsourcing_orders RESET (\(unsafeRaw: Self.settings.keys.sorted().joined(separator: ", ")))").run()
    }
}
