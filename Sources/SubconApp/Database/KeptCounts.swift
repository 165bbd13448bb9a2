import Fluent
import Foundation
import SQLKit

/// How many rows of a table there are per combination of a few key columns, kept by the
/// database itself (triggers), so a list's "N results" does not count a large supplier's tens of
/// thousands of rows on every page. Triggers rather than application code: the keyed columns
/// (statuses above all) are written in many places, and a count one of them forgot would drift
/// silently. (A later migration that rebuilds one of these tables — SQLite copies a table to
/// change a column — must create its triggers again and call `rebuild`.)
struct KeptCounts: Sendable {
    /// The table counted, the table the counts are kept in, and the columns counted by.
    let table: String
    let counts: String
    let keys: [String]
    /// Rows are counted only while this holds, written of a row's name (NEW, OLD or the table);
    /// `reads` are the columns it reads besides the keys.
    var only: @Sendable (String) -> String = { _ in "1 = 1" }
    var reads: [String] = []
    /// Whether the counts are kept summed over every value of the first key as well (every
    /// supplier's: the buyer's lists), on SQLite, as rows whose first key is `everyone`.
    ///
    /// A buyer's total summed a row per supplier and status on every page: 500 to 2,000 rows on
    /// the large data set, 0.04–0.08 ms of SQLite's time in lists that take about 1 ms in all.
    /// SQLite writes one change at a time, so keeping the sum on one row per status costs a row
    /// more per trigger and makes no change wait. PostgreSQL's changes run side by side; one row
    /// that every new order updated would make each wait for the one before it to commit, so
    /// there the totals are still summed.
    var acrossFirstKey = false

    /// The first key of the rows that hold the sums over it (no supplier or user has this id).
    static let everyone = "00000000-0000-0000-0000-000000000000"

    static let orders = KeptCounts(table: "outsourcing_orders", counts: "order_counts", keys: ["supplier_id", "status"], acrossFirstKey: true)
    static let exceptions = KeptCounts(table: "exceptions", counts: "exception_counts", keys: ["supplier_id", "status", "type"], acrossFirstKey: true)
    static let receiptLines = KeptCounts(table: "receipt_lines", counts: "receipt_line_counts", keys: ["supplier_id", "status"], acrossFirstKey: true)

    /// The number of rows whose key columns equal the given values (the others any).
    func total(_ equal: [String: (any Encodable & Sendable)?], on sql: any SQLDatabase) async throws -> Int {
        try await sql.raw("SELECT " + expression(equal, on: sql) + " AS n").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// A page and the list's total in one statement: `statement` is given the total as a column
    /// (named `totalColumn`) to put among the page's. On PostgreSQL every statement is a round
    /// trip, and the count was one of three a list made (signing in, the count, the page). The
    /// subquery names no column of the page's rows, so both databases work it out once per
    /// statement. An empty page (past the last, or nothing to list) has no row to carry it, and
    /// is counted apart.
    func pageAndTotal<Row: Decodable>(_ equal: [String: (any Encodable & Sendable)?], decoding: Row.Type, on sql: any SQLDatabase,
                                      _ statement: (_ totalColumn: SQLQueryString) -> SQLQueryString) async throws -> (rows: [Row], total: Int) {
        let raw = try await sql.raw(statement(expression(equal, on: sql) + " AS \(unsafeRaw: Self.totalColumn)")).all()
        guard let first = raw.first else { return ([], try await total(equal, on: sql)) }
        return (try RowDecoding.rows(raw, as: Row.self), try first.decode(column: Self.totalColumn, as: Int.self))
    }

    static let totalColumn = "kept_total"

    /// The total as a scalar subquery, to read among other figures.
    func expression(_ equal: [String: (any Encodable & Sendable)?], on sql: any SQLDatabase) -> SQLQueryString {
        "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM \(ident: counts) WHERE " + condition(equal, on: sql) + ")"
    }

    /// The counts' rows to sum for the rows whose keys equal the given values (the others any):
    /// the first key's sums where it is not given and they are kept, and never those otherwise.
    func condition(_ equal: [String: (any Encodable & Sendable)?], on sql: any SQLDatabase) -> SQLQueryString {
        var q: SQLQueryString = "1 = 1"
        for (i, key) in keys.enumerated() {
            if let value = equal[key] ?? nil {
                q = q + " AND \(ident: key) = \(bind: value)"
            } else if i == 0, keepsSums(on: sql) {
                q = q + " AND \(ident: key) = '\(unsafeRaw: Self.everyone)'"
            }
        }
        return q
    }

    private func keepsSums(on sql: any SQLDatabase) -> Bool { acrossFirstKey && sql.dialect.name == "sqlite" }

    /// Recounts from the table (after a bulk load, or to repair).
    func rebuild(on sql: any SQLDatabase) async throws {
        let columns = keys.joined(separator: ", ")
        try await sql.raw("DELETE FROM \(ident: counts)").run()
        try await sql.raw("""
            INSERT INTO \(ident: counts) (\(unsafeRaw: columns), n) SELECT \(unsafeRaw: columns), COUNT(*) FROM \(ident: table)
              WHERE \(unsafeRaw: only(table)) GROUP BY \(unsafeRaw: columns)
            """).run()
        if keepsSums(on: sql) {
            let rest = keys.dropFirst().joined(separator: ", ")
            try await sql.raw("""
                INSERT INTO \(ident: counts) (\(unsafeRaw: columns), n) SELECT '\(unsafeRaw: Self.everyone)'\(unsafeRaw: rest.isEmpty ? "" : ", " + rest), COALESCE(SUM(n), 0)
                  FROM \(ident: counts)\(unsafeRaw: rest.isEmpty ? "" : " GROUP BY " + rest)
                """).run()
        }
    }

    /// The key columns' values for a row: its own, or with the first key `everyone` (its sum's row).
    private func values(_ row: String, sum: Bool) -> [String] {
        keys.enumerated().map { i, key in sum && i == 0 ? "'\(Self.everyone)'" : "\(row).\(key)" }
    }
    /// Counts the row in, if it is one counted (a SELECT with a WHERE, so that SQLite's triggers
    /// need no IF). PostgreSQL needs the kept count named by its table in the upsert (a bare `n`
    /// could be the excluded row's); SQLite's triggers take it bare.
    private func enter(_ row: String, qualified: Bool, sum: Bool = false) -> String {
        """
        INSERT INTO \(counts) (\(keys.joined(separator: ", ")), n) SELECT \(values(row, sum: sum).joined(separator: ", ")), 1 WHERE \(only(row))
          ON CONFLICT (\(keys.joined(separator: ", "))) DO UPDATE SET n = \(qualified ? counts + "." : "")n + 1;
        """
    }
    private func leave(_ row: String, sum: Bool = false) -> String {
        "UPDATE \(counts) SET n = n - 1 WHERE \(zip(keys, values(row, sum: sum)).map { "\($0) = \($1)" }.joined(separator: " AND ")) AND \(only(row));"
    }
    /// SQLite's trigger bodies: the row's own count, and its sum's where that is kept.
    private func enterSQLite(_ row: String, sums: Bool) -> String { enter(row, qualified: false) + (sums ? " " + enter(row, qualified: false, sum: true) : "") }
    private func leaveSQLite(_ row: String, sums: Bool) -> String { leave(row) + (sums ? " " + leave(row, sum: true) : "") }
    /// An update moves the row between counts when a key changes or it starts or stops being counted.
    /// The condition may be unknown for a row with a column still NULL (a line's order status
    /// before the database copies it); as unknown it would hide the change, so it counts as false.
    private var changed: String {
        (keys.map { "OLD.\($0) <> NEW.\($0)" } + ["COALESCE((\(only("OLD"))), FALSE) <> COALESCE((\(only("NEW"))), FALSE)"]).joined(separator: " OR ")
    }
    private var watched: String { (keys + reads).joined(separator: ", ") }

    /// Creates the counts table and its triggers, and counts what is there.
    func create(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        var schema = db.schema(counts)
        for key in keys { schema = schema.field(.string(key), key.hasSuffix("_id") ? .uuid : .string, .required) }
        try await schema.field("n", .int64, .required).constraint(.constraint(.compositeIdentifier(keys.map { .key(.string($0)) }), name: "")).create()
        if sql.dialect.name == "sqlite" {
            try await createSQLiteTriggers(on: sql, sums: keepsSums(on: sql))
        } else {
            // Two transactions moving rows between the same two keys in opposite directions would
            // lock the two counters in opposite order; touching them in the order of their keys
            // makes that a wait, not a deadlock.
            let newFirst = "ROW(\(keys.map { "NEW.\($0)::text" }.joined(separator: ", "))) < ROW(\(keys.map { "OLD.\($0)::text" }.joined(separator: ", ")))"
            try await sql.raw("""
                CREATE FUNCTION \(unsafeRaw: counts)_track() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'INSERT' THEN \(unsafeRaw: enter("NEW", qualified: true)) RETURN NULL; END IF;
                  IF TG_OP = 'DELETE' THEN \(unsafeRaw: leave("OLD")) RETURN NULL; END IF;
                  IF NOT (\(unsafeRaw: changed)) THEN RETURN NULL; END IF;
                  IF \(unsafeRaw: newFirst) THEN \(unsafeRaw: enter("NEW", qualified: true)) \(unsafeRaw: leave("OLD"))
                  ELSE \(unsafeRaw: leave("OLD")) \(unsafeRaw: enter("NEW", qualified: true)) END IF;
                  RETURN NULL;
                END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER \(unsafeRaw: counts)_track AFTER INSERT OR DELETE OR UPDATE OF \(unsafeRaw: watched) ON \(unsafeRaw: table)
                  FOR EACH ROW EXECUTE FUNCTION \(unsafeRaw: counts)_track()
                """).run()
        }
        try await rebuild(on: sql)
    }

    /// Rows that fall to zero stay (harmless; a later row reuses them).
    private func createSQLiteTriggers(on sql: any SQLDatabase, sums: Bool) async throws {
        try await sql.raw("CREATE TRIGGER \(unsafeRaw: counts)_insert AFTER INSERT ON \(unsafeRaw: table) BEGIN \(unsafeRaw: enterSQLite("NEW", sums: sums)) END").run()
        try await sql.raw("CREATE TRIGGER \(unsafeRaw: counts)_delete AFTER DELETE ON \(unsafeRaw: table) BEGIN \(unsafeRaw: leaveSQLite("OLD", sums: sums)) END").run()
        try await sql.raw("""
            CREATE TRIGGER \(unsafeRaw: counts)_update AFTER UPDATE OF \(unsafeRaw: watched) ON \(unsafeRaw: table)
              WHEN \(unsafeRaw: changed) BEGIN \(unsafeRaw: leaveSQLite("OLD", sums: sums)) \(unsafeRaw: enterSQLite("NEW", sums: sums)) END
            """).run()
    }

    private func dropSQLiteTriggers(on sql: any SQLDatabase) async throws {
        for t in ["insert", "delete", "update"] { try await sql.raw("DROP TRIGGER \(unsafeRaw: counts)_\(unsafeRaw: t)").run() }
    }

    /// Starts or stops keeping the sums over the first key on an SQLite database whose counts
    /// were kept without them or with them (a migration's two ways), and counts again.
    func keepSums(_ keep: Bool, on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        guard acrossFirstKey, sql.dialect.name == "sqlite" else { return }
        try await dropSQLiteTriggers(on: sql)
        try await createSQLiteTriggers(on: sql, sums: keep)
        var kept = self
        kept.acrossFirstKey = keep
        try await kept.rebuild(on: sql)
    }

    func drop(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "sqlite" {
            try await dropSQLiteTriggers(on: sql)
        } else {
            try await sql.raw("DROP TRIGGER \(unsafeRaw: counts)_track ON \(unsafeRaw: table)").run()
            try await sql.raw("DROP FUNCTION \(unsafeRaw: counts)_track()").run()
        }
        try await db.schema(counts).delete()
    }
}

/// Order lists total scope and status, exception lists scope, status and type, and the
/// inspection work list its waiting lines, from kept counts.
struct CreateKeptCounts: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await KeptCounts.orders.create(on: db)
        try await KeptCounts.exceptions.create(on: db)
        try await KeptCounts.receiptLines.create(on: db)
    }

    func revert(on db: any Database) async throws {
        try await KeptCounts.receiptLines.drop(on: db)
        try await KeptCounts.exceptions.drop(on: db)
        try await KeptCounts.orders.drop(on: db)
    }
}

/// The buyer's totals from one row per status (and type) instead of a row per supplier, on
/// SQLite (see `KeptCounts.acrossFirstKey`): the counts kept before, counted again with their sums.
struct KeepCountsAcrossSuppliers: AsyncMigration {
    static let counts: [KeptCounts] = [.orders, .exceptions, .receiptLines, .lateOrders, .pendingRevisions, .lateLines, .unexplainedLateLines, .lotBalances]

    func prepare(on db: any Database) async throws {
        for kept in Self.counts { try await kept.keepSums(true, on: db) }
    }

    func revert(on db: any Database) async throws {
        for kept in Self.counts.reversed() { try await kept.keepSums(false, on: db) }
    }
}

/// Creates kept counts, and drops them last first, under a migration name given once (the name
/// is what the database records as run, so it must never change).
struct AddKeptCounts: AsyncMigration {
    let name: String
    let counts: [KeptCounts]

    func prepare(on db: any Database) async throws {
        for kept in counts { try await kept.create(on: db) }
    }

    func revert(on db: any Database) async throws {
        for kept in counts.reversed() { try await kept.drop(on: db) }
    }
}
