import Fluent
import SQLKit

/// What each order line has been delivered, kept on the line by the database: the accepted
/// quantity, the part of it received by the line's due date, and the last day anything was
/// accepted. The scorecard's on-time delivery read every line's receipts to get these — 50,000
/// lines and their receipts for the largest supplier's year — and now reads the lines alone.
///
/// Triggers rather than application code for the same reason as `KeptCounts`: accepted
/// quantities are written by receiving, inspection and its corrections, and due dates by
/// revisions and counter-proposals; a figure one of them forgot would drift silently. A receipt's
/// day is its `receipt_day` (the installation's local day, as the reports count it).
struct AddKeptDeliveries: AsyncMigration {
    /// Recomputes the kept figures of the lines matching `condition` (over `order_lines`).
    static func refresh(where condition: String) -> String {
        let ofLine = "r.order_id = order_lines.order_id AND r.order_line_no = order_lines.line_no"
        return """
            UPDATE order_lines SET
              accepted_quantity = COALESCE((SELECT SUM(r.accepted_quantity) FROM receipt_lines r WHERE \(ofLine)), 0),
              accepted_on_time = COALESCE((SELECT SUM(r.accepted_quantity) FROM receipt_lines r JOIN goods_receipts g ON g.id = r.receipt_id
                                           WHERE \(ofLine) AND g.receipt_day <= order_lines.due_date), 0),
              last_accepted_day = (SELECT MAX(g.receipt_day) FROM receipt_lines r JOIN goods_receipts g ON g.id = r.receipt_id
                                   WHERE \(ofLine) AND r.accepted_quantity > 0)
            WHERE \(condition);
            """
    }

    private static func receiptLine(_ row: String) -> String { "order_id = \(row).order_id AND line_no = \(row).order_line_no" }
    private static func receipt(_ row: String) -> String {
        "(order_id, line_no) IN (SELECT r.order_id, r.order_line_no FROM receipt_lines r WHERE r.receipt_id = \(row).id)"
    }

    func prepare(on db: any Database) async throws {
        for column in ["accepted_quantity", "accepted_on_time"] {
            try await db.schema("order_lines").field(.string(column), .int64, .required, .sql(.default(0))).update()
        }
        try await db.schema("order_lines").field("last_accepted_day", .string).update()
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "sqlite" {
            try await sql.raw("CREATE TRIGGER kept_delivery_receipt_insert AFTER INSERT ON receipt_lines BEGIN \(unsafeRaw: Self.refresh(where: Self.receiptLine("NEW"))) END").run()
            try await sql.raw("CREATE TRIGGER kept_delivery_receipt_delete AFTER DELETE ON receipt_lines BEGIN \(unsafeRaw: Self.refresh(where: Self.receiptLine("OLD"))) END").run()
            try await sql.raw("""
                CREATE TRIGGER kept_delivery_receipt_update AFTER UPDATE OF accepted_quantity, order_id, order_line_no, receipt_id ON receipt_lines
                BEGIN \(unsafeRaw: Self.refresh(where: Self.receiptLine("OLD"))) \(unsafeRaw: Self.refresh(where: Self.receiptLine("NEW"))) END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER kept_delivery_day AFTER UPDATE OF receipt_day ON goods_receipts BEGIN \(unsafeRaw: Self.refresh(where: Self.receipt("NEW"))) END
                """).run()
            // Recursive triggers are off in SQLite: the refresh's own update of the line does not fire this again.
            try await sql.raw("""
                CREATE TRIGGER kept_delivery_due AFTER UPDATE OF due_date ON order_lines BEGIN \(unsafeRaw: Self.refresh(where: "id = NEW.id")) END
                """).run()
        } else {
            try await sql.raw("""
                CREATE FUNCTION kept_delivery_receipt() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP <> 'INSERT' THEN \(unsafeRaw: Self.refresh(where: Self.receiptLine("OLD"))) END IF;
                  IF TG_OP <> 'DELETE' THEN \(unsafeRaw: Self.refresh(where: Self.receiptLine("NEW"))) END IF;
                  RETURN NULL;
                END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER kept_delivery_receipt AFTER INSERT OR DELETE OR UPDATE OF accepted_quantity, order_id, order_line_no, receipt_id
                  ON receipt_lines FOR EACH ROW EXECUTE FUNCTION kept_delivery_receipt()
                """).run()
            try await sql.raw("""
                CREATE FUNCTION kept_delivery_day() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN \(unsafeRaw: Self.refresh(where: Self.receipt("NEW"))) RETURN NULL; END $$
                """).run()
            try await sql.raw("CREATE TRIGGER kept_delivery_day AFTER UPDATE OF receipt_day ON goods_receipts FOR EACH ROW EXECUTE FUNCTION kept_delivery_day()").run()
            // The refresh sets none of the columns this trigger watches, so it does not fire itself again.
            try await sql.raw("""
                CREATE FUNCTION kept_delivery_due() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN \(unsafeRaw: Self.refresh(where: "id = NEW.id")) RETURN NULL; END $$
                """).run()
            try await sql.raw("CREATE TRIGGER kept_delivery_due AFTER UPDATE OF due_date ON order_lines FOR EACH ROW EXECUTE FUNCTION kept_delivery_due()").run()
        }
        try await Self.rebuild(on: sql)
    }

    /// Recomputes every line's figures (after a bulk load that bypassed the triggers, or to repair).
    static func rebuild(on sql: any SQLDatabase) async throws {
        try await sql.raw(SQLQueryString(refresh(where: "1 = 1"))).run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "sqlite" {
            for t in ["receipt_insert", "receipt_delete", "receipt_update", "day", "due"] { try await sql.raw("DROP TRIGGER kept_delivery_\(unsafeRaw: t)").run() }
        } else {
            try await sql.raw("DROP TRIGGER kept_delivery_receipt ON receipt_lines").run()
            try await sql.raw("DROP TRIGGER kept_delivery_day ON goods_receipts").run()
            try await sql.raw("DROP TRIGGER kept_delivery_due ON order_lines").run()
            for f in ["receipt", "day", "due"] { try await sql.raw("DROP FUNCTION kept_delivery_\(unsafeRaw: f)()").run() }
        }
        for column in ["last_accepted_day", "accepted_on_time", "accepted_quantity"] { try await db.schema("order_lines").deleteField(.string(column)).update() }
    }
}

/// A revision carries its order's supplier, so a supplier's revisions in a period are read from
/// one index rather than through every order of the supplier (20,935 for the largest: 119 ms, twice).
struct AddRevisionSupplier: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("order_revisions").field("supplier_id", .uuid).update()
        let sql = db as! any SQLDatabase
        try await sql.raw("UPDATE order_revisions SET supplier_id = (SELECT o.supplier_id FROM outsourcing_orders o WHERE o.id = order_revisions.order_id)").run()
        try await createIndex(db, "order_revisions_supplier_released_idx", on: "order_revisions", "supplier_id", "released_at")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "order_revisions_supplier_released_idx").run()
        try await db.schema("order_revisions").deleteField("supplier_id").update()
    }
}

/// Each order line carries its order's supplier (set by the database when the line is written),
/// under an index holding everything the scorecard sums, so a supplier's lines due in a year are
/// one range of one index: through the orders, the largest supplier's 50,500 lines of a year
/// were 20,199 separate lookups (200–250 ms). Lot figures get the same kind of index.
struct AddLineSupplier: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("order_lines").field("supplier_id", .uuid).update()
        let sql = db as! any SQLDatabase
        let fromOrder = "(SELECT o.supplier_id FROM outsourcing_orders o WHERE o.id = order_lines.order_id)"
        try await sql.raw("UPDATE order_lines SET supplier_id = \(unsafeRaw: fromOrder)").run()
        if sql.dialect.name == "sqlite" {
            try await sql.raw("CREATE TRIGGER line_supplier_insert AFTER INSERT ON order_lines BEGIN UPDATE order_lines SET supplier_id = \(unsafeRaw: fromOrder) WHERE id = NEW.id; END").run()
            try await sql.raw("""
                CREATE TRIGGER line_supplier_order AFTER UPDATE OF supplier_id ON outsourcing_orders
                BEGIN UPDATE order_lines SET supplier_id = NEW.supplier_id WHERE order_id = NEW.id; END
                """).run()
        } else {
            try await sql.raw("""
                CREATE FUNCTION line_supplier_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN NEW.supplier_id := (SELECT o.supplier_id FROM outsourcing_orders o WHERE o.id = NEW.order_id); RETURN NEW; END $$
                """).run()
            try await sql.raw("CREATE TRIGGER line_supplier_insert BEFORE INSERT ON order_lines FOR EACH ROW EXECUTE FUNCTION line_supplier_insert()").run()
            try await sql.raw("""
                CREATE FUNCTION line_supplier_order() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN UPDATE order_lines SET supplier_id = NEW.supplier_id WHERE order_id = NEW.id; RETURN NULL; END $$
                """).run()
            try await sql.raw("CREATE TRIGGER line_supplier_order AFTER UPDATE OF supplier_id ON outsourcing_orders FOR EACH ROW EXECUTE FUNCTION line_supplier_order()").run()
        }
        try await createIndex(db, "order_lines_supplier_due_kept_idx", on: "order_lines", "supplier_id", "due_date", "state", "quantity",
                              "accepted_quantity", "accepted_on_time", "last_accepted_day", "order_id")
        // Its prefix serves every read the narrower index did.
        try await createIndex(db, "inspections_supplier_created_figures_idx", on: "inspections", "supplier_id", "created_at", "decision",
                              "lot_quantity", "rejected_quantity")
        try await sql.drop(index: "inspections_supplier_created_idx").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await createIndex(db, "inspections_supplier_created_idx", on: "inspections", "supplier_id", "created_at")
        try await sql.drop(index: "inspections_supplier_created_figures_idx").run()
        try await sql.drop(index: "order_lines_supplier_due_kept_idx").run()
        if sql.dialect.name == "sqlite" {
            try await sql.raw("DROP TRIGGER line_supplier_insert").run()
            try await sql.raw("DROP TRIGGER line_supplier_order").run()
        } else {
            try await sql.raw("DROP TRIGGER line_supplier_insert ON order_lines").run()
            try await sql.raw("DROP TRIGGER line_supplier_order ON outsourcing_orders").run()
            try await sql.raw("DROP FUNCTION line_supplier_insert()").run()
            try await sql.raw("DROP FUNCTION line_supplier_order()").run()
        }
        try await db.schema("order_lines").deleteField("supplier_id").update()
    }
}

/// Revision and exception figures read everything they sum from the index that finds one
/// supplier's rows of a period: the largest supplier's 20,199 revisions and 6,866 exceptions were
/// as many lookups into the table, 58 and 31 ms of its 12-year scorecard, twice and three times
/// over. The wider indexes replace the narrower ones, whose reads their prefixes serve.
struct AddScorecardFigureIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await createIndex(db, "order_revisions_supplier_released_answer_idx", on: "order_revisions", "supplier_id", "released_at",
                              "answered_at", "response_seconds")
        try await sql.drop(index: "order_revisions_supplier_released_idx").run()
        try await createIndex(db, "exceptions_supplier_created_figures_idx", on: "exceptions", "supplier_id", "created_at", "response_by",
                              "responded_at", "resolve_by", "closed_at", "response_minutes", "closure_minutes")
        try await sql.drop(index: "exceptions_supplier_created_idx").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await createIndex(db, "exceptions_supplier_created_idx", on: "exceptions", "supplier_id", "created_at")
        try await sql.drop(index: "exceptions_supplier_created_figures_idx").run()
        try await createIndex(db, "order_revisions_supplier_released_idx", on: "order_revisions", "supplier_id", "released_at")
        try await sql.drop(index: "order_revisions_supplier_released_answer_idx").run()
    }
}
