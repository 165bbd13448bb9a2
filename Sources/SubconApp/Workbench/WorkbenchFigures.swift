import Foundation
import Fluent
import SQLKit
import SubconDomain

/// What the home pages and dashboards read, kept so that each figure is one short range of an
/// index or a few rows of a small table, whatever the history behind it. On the large data set
/// (a million order lines) the dashboard grouped six months of inspections and receipts (150,000
/// rows each) and counted late lines and this week's due lines through their orders (90,000
/// lookups) on every view: seconds, where a person expects a page.
///
/// - Every order line carries its order's status (`order_status`, written by the database when
///   the line is inserted and whenever the order's status changes), so "open lines of a live
///   order" is a condition on the line alone, under partial indexes of the late lines and of the
///   open lines by due day.
/// - `supplier_months` keeps per supplier and month of receipt (the installation's calendar, as
///   `goods_receipts.receipt_day`): lots inspected, lots passed without rejects, quantities
///   accepted and rejected, receipt lines, and those received by their line's due day. Triggers
///   rather than application code, as for `KeptCounts`: inspections are written by inspection
///   and its corrections, receipt lines by receiving, due days by revisions and promises, and a
///   figure one of them forgot would drift silently.
/// What each supplier holds of each material (the ledger's balance over all lots) and its value
/// at the material's cost price, rounded to the fen; kept beside the running totals by
/// `MaterialService.record` and revalued by the database when a cost price changes. The buyer's
/// dashboard summed 53,000 running totals and looked up 17,600 cost prices per view (28 ms).
enum HeldValues {
    static let table = "ledger_held"

    /// How a movement kind moves the balance (or, with `\.transitSign`, what is in transit),
    /// from the domain's rule.
    static func sign(_ kind: String, _ rule: KeyPath<MovementKind, Int> = \.heldSign) -> String {
        "CASE \(kind) " + MovementKind.allCases.map { "WHEN '\($0.rawValue)' THEN \($0[keyPath: rule])" }.joined(separator: " ") + " ELSE 0 END"
    }

    /// The value of `held` units at `cost` units each, to the fen (half away from zero; only
    /// positive balances have a value).
    static func value(_ held: String, _ cost: String, on sql: any SQLDatabase) -> String {
        let product = "CAST(\(held) AS NUMERIC) * COALESCE(\(cost), 0) + \(FixedDecimal.unit * FixedDecimal.unit / 200)"
        let fen = sql.dialect.name == "sqlite" ? "(\(product)) / \(FixedDecimal.unit * 100)" : "div(\(product), \(FixedDecimal.unit * 100))"
        return "CASE WHEN \(held) > 0 THEN CAST((\(fen)) * 100 AS BIGINT) ELSE 0 END"
    }

    /// Moves one supplier's balance of one material by `delta` units and values it again.
    static func move(supplier: UUID, item: UUID, delta: Int64, on sql: any SQLDatabase) async throws {
        let cost = "(SELECT cost_price FROM items WHERE id = excluded.item_id)"
        try await sql.raw("""
            INSERT INTO ledger_held (supplier_id, item_id, held, value)
            VALUES (\(bind: supplier), \(bind: item), \(bind: delta), 0)
            ON CONFLICT (supplier_id, item_id) DO UPDATE SET held = ledger_held.held + excluded.held,
              value = \(unsafeRaw: value("ledger_held.held + excluded.held", cost, on: sql))
            """).run()
        // A first movement inserted the row without its value.
        try await sql.raw("""
            UPDATE ledger_held SET value = \(unsafeRaw: value("held", "(SELECT cost_price FROM items WHERE id = ledger_held.item_id)", on: sql))
            WHERE supplier_id = \(bind: supplier) AND item_id = \(bind: item) AND held > 0 AND value = 0
            """).run()
    }

    /// Recomputes every balance and value from the running totals.
    static func rebuild(on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM ledger_held").run()
        try await sql.raw("""
            INSERT INTO ledger_held (supplier_id, item_id, held, value)
            SELECT m.supplier_id, m.item_id, CAST(SUM((\(unsafeRaw: sign("m.kind"))) * m.quantity) AS BIGINT), 0 FROM ledger_item_totals m GROUP BY m.supplier_id, m.item_id
            """).run()
        try await sql.raw("""
            UPDATE ledger_held SET value = \(unsafeRaw: value("held", "(SELECT cost_price FROM items WHERE id = ledger_held.item_id)", on: sql)) WHERE held > 0
            """).run()
    }

    static func create(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await db.schema(table).field("supplier_id", .uuid, .required).field("item_id", .uuid, .required)
            .field("held", .int64, .required).field("value", .int64, .required)
            .constraint(.constraint(.compositeIdentifier([.key("supplier_id"), .key("item_id")]), name: "")).create()
        try await createIndex(db, "ledger_held_item_idx", on: table, "item_id")
        try await createIndex(db, "ledger_held_supplier_value_idx", on: table, "supplier_id", "held", "value")
        let revalue = "UPDATE ledger_held SET value = \(value("held", "NEW.cost_price", on: sql)) WHERE item_id = NEW.id;"
        if sql.dialect.name == "sqlite" {
            try await sql.raw("""
                CREATE TRIGGER ledger_held_cost AFTER UPDATE OF cost_price ON items WHEN OLD.cost_price IS NOT NEW.cost_price BEGIN \(unsafeRaw: revalue) END
                """).run()
        } else {
            try await sql.raw("CREATE FUNCTION ledger_held_cost() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \(unsafeRaw: revalue) RETURN NULL; END $$").run()
            try await sql.raw("""
                CREATE TRIGGER ledger_held_cost AFTER UPDATE OF cost_price ON items FOR EACH ROW
                WHEN (OLD.cost_price IS DISTINCT FROM NEW.cost_price) EXECUTE FUNCTION ledger_held_cost()
                """).run()
        }
        try await rebuild(on: sql)
    }

    static func drop(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "sqlite" {
            try await sql.raw("DROP TRIGGER ledger_held_cost").run()
        } else {
            try await sql.raw("DROP TRIGGER ledger_held_cost ON items").run()
            try await sql.raw("DROP FUNCTION ledger_held_cost()").run()
        }
        try await db.schema(table).delete()
    }
}

struct AddWorkbenchFigures: AsyncMigration {
    static let months = "supplier_months"
    static let figures = ["lots", "passed", "accepted", "rejected", "deliveries", "on_time"]

    /// Adds `select`'s rows (supplier_id, month, then one value per figure) to the kept figures.
    static func bump(_ select: String) -> String {
        """
        INSERT INTO \(months) (supplier_id, month, \(figures.joined(separator: ", "))) \(select)
          ON CONFLICT (supplier_id, month) DO UPDATE SET \(figures.map { "\($0) = \(months).\($0) + excluded.\($0)" }.joined(separator: ", "));
        """
    }

    /// One inspection in (`sign` 1) or out (-1) of its receipt's month.
    static func inspection(_ row: String, _ sign: Int) -> String {
        bump("""
            SELECT \(row).supplier_id, substr(g.receipt_day, 1, 7), \(sign), \(sign) * (CASE WHEN \(row).rejected_quantity = 0 THEN 1 ELSE 0 END),
              \(sign) * \(row).accepted_quantity, \(sign) * \(row).rejected_quantity, 0, 0
            FROM goods_receipts g WHERE g.id = \(row).receipt_id AND g.receipt_day IS NOT NULL
            """)
    }

    /// One receipt line in or out of its receipt's month, on time against its line's due day.
    static func receiptLine(_ row: String, _ sign: Int) -> String {
        bump("""
            SELECT \(row).supplier_id, substr(g.receipt_day, 1, 7), 0, 0, 0, 0, \(sign), \(sign) * (CASE WHEN g.receipt_day <= l.due_date THEN 1 ELSE 0 END)
            FROM goods_receipts g JOIN order_lines l ON l.order_id = \(row).order_id AND l.line_no = \(row).order_line_no
            WHERE g.id = \(row).receipt_id AND g.receipt_day IS NOT NULL
            """)
    }

    /// A receipt's lines and inspections in or out of the month of `row`'s receipt day.
    static func receipt(_ row: String, _ sign: Int) -> String {
        bump("""
            SELECT r.supplier_id, substr(\(row).receipt_day, 1, 7), 0, 0, 0, 0, \(sign) * COUNT(*),
              \(sign) * CAST(SUM(CASE WHEN \(row).receipt_day <= l.due_date THEN 1 ELSE 0 END) AS BIGINT)
            FROM receipt_lines r JOIN order_lines l ON l.order_id = r.order_id AND l.line_no = r.order_line_no
            WHERE r.receipt_id = \(row).id AND \(row).receipt_day IS NOT NULL GROUP BY r.supplier_id
            """)
        + bump("""
            SELECT i.supplier_id, substr(\(row).receipt_day, 1, 7), \(sign) * COUNT(*), \(sign) * CAST(SUM(CASE WHEN i.rejected_quantity = 0 THEN 1 ELSE 0 END) AS BIGINT),
              \(sign) * CAST(SUM(i.accepted_quantity) AS BIGINT), \(sign) * CAST(SUM(i.rejected_quantity) AS BIGINT), 0, 0
            FROM inspections i WHERE i.receipt_id = \(row).id AND \(row).receipt_day IS NOT NULL GROUP BY i.supplier_id
            """)
    }

    /// A line's receipts judged again against its new due day.
    static let dueChanged = bump("""
        SELECT r.supplier_id, substr(g.receipt_day, 1, 7), 0, 0, 0, 0, 0,
          CAST(SUM((CASE WHEN g.receipt_day <= NEW.due_date THEN 1 ELSE 0 END) - (CASE WHEN g.receipt_day <= OLD.due_date THEN 1 ELSE 0 END)) AS BIGINT)
        FROM receipt_lines r JOIN goods_receipts g ON g.id = r.receipt_id
        WHERE r.order_id = NEW.order_id AND r.order_line_no = NEW.line_no AND g.receipt_day IS NOT NULL
        GROUP BY r.supplier_id, substr(g.receipt_day, 1, 7)
        """)

    /// Where a new line's supplier and order status come from.
    static func fromOrder(_ column: String, _ line: String) -> String {
        "(SELECT o.\(column) FROM outsourcing_orders o WHERE o.id = \(line).order_id)"
    }

    /// Recounts every month from the inspections and receipt lines (after a bulk load, or to repair).
    static func rebuild(on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM \(unsafeRaw: months)").run()
        try await sql.raw("""
            INSERT INTO \(unsafeRaw: months) (supplier_id, month, \(unsafeRaw: figures.joined(separator: ", ")))
            SELECT supplier_id, month, \(unsafeRaw: figures.map { "CAST(SUM(\($0)) AS BIGINT)" }.joined(separator: ", ")) FROM (
              SELECT i.supplier_id, substr(g.receipt_day, 1, 7) AS month, 1 AS lots, CASE WHEN i.rejected_quantity = 0 THEN 1 ELSE 0 END AS passed,
                i.accepted_quantity AS accepted, i.rejected_quantity AS rejected, 0 AS deliveries, 0 AS on_time
              FROM inspections i JOIN goods_receipts g ON g.id = i.receipt_id WHERE g.receipt_day IS NOT NULL
              UNION ALL
              SELECT r.supplier_id, substr(g.receipt_day, 1, 7), 0, 0, 0, 0, 1, CASE WHEN g.receipt_day <= l.due_date THEN 1 ELSE 0 END
              FROM receipt_lines r JOIN goods_receipts g ON g.id = r.receipt_id JOIN order_lines l ON l.order_id = r.order_id AND l.line_no = r.order_line_no
              WHERE g.receipt_day IS NOT NULL
            ) x GROUP BY supplier_id, month
            """).run()
    }

    /// Delivery notes on their way, waiting to be received.
    static func toReceive(_ status: String) -> String { "(\(status) || '') IN ('shipped', 'partially_received')" }

    static let late = Projection.Risk.lateValues.map { "'\($0)'" }.joined(separator: ", ")
    static let live = LineLateness.liveOrderStatuses.map { "'\($0)'" }.joined(separator: ", ")

    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        let sqlite = sql.dialect.name == "sqlite"
        try await db.schema("order_lines").field("order_status", .string).update()
        try await sql.raw("UPDATE order_lines SET order_status = \(unsafeRaw: Self.fromOrder("status", "order_lines"))").run()
        try await db.schema(Self.months)
            .field("supplier_id", .uuid, .required).field("month", .string, .required)
            .field("lots", .int64, .required).field("passed", .int64, .required).field("accepted", .int64, .required)
            .field("rejected", .int64, .required).field("deliveries", .int64, .required).field("on_time", .int64, .required)
            .constraint(.constraint(.compositeIdentifier([.key("supplier_id"), .key("month")]), name: ""))
            .create()
        try await createIndex(db, "supplier_months_month_idx", on: Self.months, "month")
        if sqlite {
            // One update of the new line sets both what it takes from its order.
            try await sql.raw("DROP TRIGGER line_supplier_insert").run()
            try await sql.raw("""
                CREATE TRIGGER line_supplier_insert AFTER INSERT ON order_lines BEGIN
                  UPDATE order_lines SET supplier_id = \(unsafeRaw: Self.fromOrder("supplier_id", "NEW")), order_status = \(unsafeRaw: Self.fromOrder("status", "NEW"))
                  WHERE id = NEW.id;
                END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER line_order_status AFTER UPDATE OF status ON outsourcing_orders WHEN OLD.status <> NEW.status
                BEGIN UPDATE order_lines SET order_status = NEW.status WHERE order_id = NEW.id; END
                """).run()
            for (table, name, columns, row) in [("inspections", "inspection", "accepted_quantity, rejected_quantity, supplier_id, receipt_id", Self.inspection),
                                                ("receipt_lines", "receipt_line", "supplier_id, order_id, order_line_no, receipt_id", Self.receiptLine)] {
                try await sql.raw("CREATE TRIGGER months_\(unsafeRaw: name)_insert AFTER INSERT ON \(unsafeRaw: table) BEGIN \(unsafeRaw: row("NEW", 1)) END").run()
                try await sql.raw("CREATE TRIGGER months_\(unsafeRaw: name)_delete AFTER DELETE ON \(unsafeRaw: table) BEGIN \(unsafeRaw: row("OLD", -1)) END").run()
                try await sql.raw("""
                    CREATE TRIGGER months_\(unsafeRaw: name)_update AFTER UPDATE OF \(unsafeRaw: columns) ON \(unsafeRaw: table)
                    BEGIN \(unsafeRaw: row("OLD", -1)) \(unsafeRaw: row("NEW", 1)) END
                    """).run()
            }
            try await sql.raw("""
                CREATE TRIGGER months_receipt_day AFTER UPDATE OF receipt_day ON goods_receipts WHEN OLD.receipt_day IS NOT NEW.receipt_day
                BEGIN \(unsafeRaw: Self.receipt("OLD", -1)) \(unsafeRaw: Self.receipt("NEW", 1)) END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER months_due AFTER UPDATE OF due_date ON order_lines WHEN OLD.due_date IS NOT NEW.due_date
                BEGIN \(unsafeRaw: Self.dueChanged) END
                """).run()
        } else {
            try await sql.raw("""
                CREATE OR REPLACE FUNCTION line_supplier_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  NEW.supplier_id := \(unsafeRaw: Self.fromOrder("supplier_id", "NEW"));
                  NEW.order_status := \(unsafeRaw: Self.fromOrder("status", "NEW"));
                  RETURN NEW;
                END $$
                """).run()
            try await sql.raw("""
                CREATE FUNCTION line_order_status() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN UPDATE order_lines SET order_status = NEW.status WHERE order_id = NEW.id; RETURN NULL; END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER line_order_status AFTER UPDATE OF status ON outsourcing_orders FOR EACH ROW
                WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION line_order_status()
                """).run()
            for (table, name, columns, row) in [("inspections", "inspection", "accepted_quantity, rejected_quantity, supplier_id, receipt_id", Self.inspection),
                                                ("receipt_lines", "receipt_line", "supplier_id, order_id, order_line_no, receipt_id", Self.receiptLine)] {
                try await sql.raw("""
                    CREATE FUNCTION months_\(unsafeRaw: name)() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                      IF TG_OP <> 'INSERT' THEN \(unsafeRaw: row("OLD", -1)) END IF;
                      IF TG_OP <> 'DELETE' THEN \(unsafeRaw: row("NEW", 1)) END IF;
                      RETURN NULL;
                    END $$
                    """).run()
                try await sql.raw("""
                    CREATE TRIGGER months_\(unsafeRaw: name) AFTER INSERT OR DELETE OR UPDATE OF \(unsafeRaw: columns) ON \(unsafeRaw: table)
                    FOR EACH ROW EXECUTE FUNCTION months_\(unsafeRaw: name)()
                    """).run()
            }
            try await sql.raw("""
                CREATE FUNCTION months_receipt_day() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN \(unsafeRaw: Self.receipt("OLD", -1)) \(unsafeRaw: Self.receipt("NEW", 1)) RETURN NULL; END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER months_receipt_day AFTER UPDATE OF receipt_day ON goods_receipts FOR EACH ROW
                WHEN (OLD.receipt_day IS DISTINCT FROM NEW.receipt_day) EXECUTE FUNCTION months_receipt_day()
                """).run()
            try await sql.raw("""
                CREATE FUNCTION months_due() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN \(unsafeRaw: Self.dueChanged) RETURN NULL; END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER months_due AFTER UPDATE OF due_date ON order_lines FOR EACH ROW
                WHEN (OLD.due_date IS DISTINCT FROM NEW.due_date) EXECUTE FUNCTION months_due()
                """).run()
        }
        try await Self.rebuild(on: sql)
        try await HeldValues.create(on: db)
        // Partial indexes: the queries name these conditions in the same words (literals, not
        // binds), which is how SQLite knows an index applies.
        try await sql.raw("""
            CREATE INDEX order_lines_late_idx ON order_lines (risk, supplier_id, order_status, delay_reason, days_late, due_date)
            WHERE state = 'open' AND risk IN (\(unsafeRaw: Self.late))
            """).run()
        try await sql.raw("CREATE INDEX order_lines_open_due_idx ON order_lines (due_date, order_status, supplier_id) WHERE state = 'open'").run()
        try await sql.raw("CREATE INDEX order_lines_supplier_open_due_idx ON order_lines (supplier_id, due_date, order_status) WHERE state = 'open'").run()
        try await sql.raw("CREATE INDEX order_revisions_pending_supplier_idx ON order_revisions (supplier_id, released_at) WHERE status = 'pending'").run()
        // The status as an expression: compared plainly, SQLite took the status index and sorted
        // every note on its way (40,000: 18 ms) for the first three.
        try await sql.raw("CREATE INDEX delivery_notes_to_receive_idx ON delivery_notes (ship_date, created_at) WHERE \(unsafeRaw: Self.toReceive("status"))").run()
        try await createIndex(db, "eight_d_steps_state_idx", on: "eight_d_steps", "state", "exception_id")
        // Open exceptions by deadline state, counted in the index (33,000 open: 10 ms a count through the table).
        try await createIndex(db, "exceptions_status_deadlines_idx", on: "exceptions", "status", "responded_at", "response_by", "resolve_by")
        try await createIndex(db, "exceptions_supplier_deadlines_idx", on: "exceptions", "supplier_id", "status", "responded_at", "response_by", "resolve_by")
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        for index in ["order_lines_late_idx", "order_lines_open_due_idx", "order_lines_supplier_open_due_idx", "order_revisions_pending_supplier_idx",
                      "delivery_notes_to_receive_idx", "eight_d_steps_state_idx", "exceptions_status_deadlines_idx", "exceptions_supplier_deadlines_idx"] {
            try await sql.drop(index: index).run()
        }
        if sql.dialect.name == "sqlite" {
            for t in ["months_inspection_insert", "months_inspection_delete", "months_inspection_update", "months_receipt_line_insert",
                      "months_receipt_line_delete", "months_receipt_line_update", "months_receipt_day", "months_due", "line_order_status", "line_supplier_insert"] {
                try await sql.raw("DROP TRIGGER \(unsafeRaw: t)").run()
            }
            try await sql.raw("""
                CREATE TRIGGER line_supplier_insert AFTER INSERT ON order_lines
                BEGIN UPDATE order_lines SET supplier_id = \(unsafeRaw: Self.fromOrder("supplier_id", "NEW")) WHERE id = NEW.id; END
                """).run()
        } else {
            for (t, table) in [("months_inspection", "inspections"), ("months_receipt_line", "receipt_lines"), ("months_receipt_day", "goods_receipts"),
                               ("months_due", "order_lines"), ("line_order_status", "outsourcing_orders")] {
                try await sql.raw("DROP TRIGGER \(unsafeRaw: t) ON \(unsafeRaw: table)").run()
                try await sql.raw("DROP FUNCTION \(unsafeRaw: t)()").run()
            }
            try await sql.raw("""
                CREATE OR REPLACE FUNCTION line_supplier_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN NEW.supplier_id := \(unsafeRaw: Self.fromOrder("supplier_id", "NEW")); RETURN NEW; END $$
                """).run()
        }
        try await HeldValues.drop(on: db)
        try await db.schema(Self.months).delete()
        try await db.schema("order_lines").deleteField("order_status").update()
    }
}
