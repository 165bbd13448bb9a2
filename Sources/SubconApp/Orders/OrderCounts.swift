import Fluent
import Foundation
import SQLKit

/// How many orders each supplier has in each status, kept by the database itself (triggers on
/// `outsourcing_orders`), so a list's "N orders" does not count a large supplier's 20,000 orders
/// on every page. Triggers rather than application code: an order's status is written in many
/// places, and a count that one of them forgot would drift silently.
enum OrderCounts {
    /// The number of orders of one supplier (or all), optionally of one status.
    static func total(supplierID: UUID?, status: String?, on sql: any SQLDatabase) async throws -> Int {
        var q: SQLQueryString = "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM order_counts WHERE 1 = 1"
        if let supplierID { q = q + " AND supplier_id = \(bind: supplierID)" }
        if let status { q = q + " AND status = \(bind: status)" }
        return try await sql.raw(q).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Recounts from the orders (after a bulk load, or to repair).
    static func rebuild(on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM order_counts").run()
        try await sql.raw("""
            INSERT INTO order_counts (supplier_id, status, n) SELECT supplier_id, status, COUNT(*) FROM outsourcing_orders GROUP BY supplier_id, status
            """).run()
    }
}

struct CreateOrderCounts: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await db.schema("order_counts")
            .field("supplier_id", .uuid, .required)
            .field("status", .string, .required)
            .field("n", .int64, .required)
            .compositeIdentifier(over: "supplier_id", "status")
            .create()
        if sql.dialect.name == "sqlite" {
            // An update of both status and supplier leaves the old pair first, then enters the
            // new one; rows that fall to zero stay (harmless, and a later order reuses them).
            try await sql.raw("""
                CREATE TRIGGER order_counts_insert AFTER INSERT ON outsourcing_orders BEGIN
                  INSERT INTO order_counts (supplier_id, status, n) VALUES (NEW.supplier_id, NEW.status, 1)
                    ON CONFLICT (supplier_id, status) DO UPDATE SET n = n + 1;
                END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER order_counts_delete AFTER DELETE ON outsourcing_orders BEGIN
                  UPDATE order_counts SET n = n - 1 WHERE supplier_id = OLD.supplier_id AND status = OLD.status;
                END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER order_counts_update AFTER UPDATE OF status, supplier_id ON outsourcing_orders
                  WHEN OLD.status <> NEW.status OR OLD.supplier_id <> NEW.supplier_id BEGIN
                  UPDATE order_counts SET n = n - 1 WHERE supplier_id = OLD.supplier_id AND status = OLD.status;
                  INSERT INTO order_counts (supplier_id, status, n) VALUES (NEW.supplier_id, NEW.status, 1)
                    ON CONFLICT (supplier_id, status) DO UPDATE SET n = n + 1;
                END
                """).run()
        } else {
            // Two transactions moving orders of one supplier between the same two statuses in
            // opposite directions would lock the two counters in opposite order; touching them
            // in the order of their status names makes that a wait, not a deadlock.
            try await sql.raw("""
                CREATE FUNCTION order_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.supplier_id = NEW.supplier_id THEN RETURN NULL; END IF;
                  IF TG_OP = 'UPDATE' AND NEW.status < OLD.status THEN
                    INSERT INTO order_counts (supplier_id, status, n) VALUES (NEW.supplier_id, NEW.status, 1)
                      ON CONFLICT (supplier_id, status) DO UPDATE SET n = order_counts.n + 1;
                    UPDATE order_counts SET n = n - 1 WHERE supplier_id = OLD.supplier_id AND status = OLD.status;
                    RETURN NULL;
                  END IF;
                  IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    UPDATE order_counts SET n = n - 1 WHERE supplier_id = OLD.supplier_id AND status = OLD.status;
                  END IF;
                  IF TG_OP IN ('UPDATE', 'INSERT') THEN
                    INSERT INTO order_counts (supplier_id, status, n) VALUES (NEW.supplier_id, NEW.status, 1)
                      ON CONFLICT (supplier_id, status) DO UPDATE SET n = order_counts.n + 1;
                  END IF;
                  RETURN NULL;
                END $$
                """).run()
            try await sql.raw("""
                CREATE TRIGGER order_counts_track AFTER INSERT OR DELETE OR UPDATE OF status, supplier_id ON outsourcing_orders
                  FOR EACH ROW EXECUTE FUNCTION order_counts_track()
                """).run()
        }
        try await OrderCounts.rebuild(on: sql)
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "sqlite" {
            for t in ["order_counts_insert", "order_counts_delete", "order_counts_update"] { try await sql.raw("DROP TRIGGER \(unsafeRaw: t)").run() }
        } else {
            try await sql.raw("DROP TRIGGER order_counts_track ON outsourcing_orders").run()
            try await sql.raw("DROP FUNCTION order_counts_track()").run()
        }
        try await db.schema("order_counts").delete()
    }
}
