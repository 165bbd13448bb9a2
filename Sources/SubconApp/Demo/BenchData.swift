import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A large data set for the load benchmark (`subcon seed-bench`): many suppliers, their people,
/// and a full inbox. Inserted in batches straight through SQL; it is test data, so it is not
/// put on the audit trail (the chain stays valid).
public enum BenchData {
    public static func seed(app: Application, suppliers: Int, usersPerSupplier: Int, notificationsPerUser: Int, orders: Int = 0) async throws {
        try await DemoData.seedIfEmpty(app: app)
        let now = app.subcon.clock.now()
        let hash = try await app.subcon.passwordHasher.hash(DemoData.password, on: app)
        typealias Row = [any SQLExpression]
        func bind(_ v: some Encodable & Sendable) -> any SQLExpression { SQLBind(v) }
        var orgs: [Row] = [], users: [Row] = []
        for s in 0..<suppliers {
            let orgID = UUID()
            orgs.append([bind(orgID), bind("supplier"), bind(String(format: "BS%05d", s)), bind("压测供应商 \(s) 号有限公司"),
                         bind(true), bind(1), bind(now), bind(now)])
            for u in 0..<usersPerSupplier {
                users.append([bind(UUID()), bind(orgID), bind(String(format: "bs%05d-%02d", s, u)), bind("供应商用户 \(s)-\(u)"),
                              SQLLiteral.null, bind(hash), bind(u == 0 ? "supplier_admin" : "supplier_user"), bind(""),
                              bind(true), bind(1), bind(now), bind(now)])
            }
        }
        let people = try await User.query(on: app.db).filter(\.$login ~~ ["admin", "planner", "purchaser", "supplier1"]).all()
        var notes: [Row] = []
        for person in people {
            for i in 0..<notificationsPerUser {
                notes.append([bind(UUID()), bind(person.id!), bind("bench"), bind("notice.supplierCreated"),
                              bind(#"{"name":"压测供应商 \#(i)"}"#), SQLLiteral.null, bind(now.addingTimeInterval(Double(-i))),
                              i % 3 == 0 ? SQLLiteral.null : bind(now), bind(UUID())])
            }
        }
        let (orgRows, userRows, noteRows) = (orgs, users, notes)
        try await app.db.transaction { db in
            let sql = db as! any SQLDatabase
            try await sql.insertRows(into: "organizations", columns: ["id", "kind", "code", "name", "active", "version", "created_at", "updated_at"], orgRows)
            try await sql.insertRows(into: "users", columns: ["id", "organization_id", "login", "display_name", "email", "password_hash",
                                                              "roles", "locale", "active", "version", "created_at", "updated_at"], userRows)
            try await sql.insertRows(into: "notifications", columns: ["id", "user_id", "event", "message_key", "params", "link",
                                                                      "created_at", "read_at", "outbox_id"], noteRows)
        }
        if orders > 0 { try await seedOrders(app: app, count: orders, now: now) }
    }

    /// Orders over the bench suppliers (every tenth to SUP-JG, so supplier1's scoped list has
    /// plenty), three lines each; a third still wait for an answer.
    static func seedOrders(app: Application, count: Int, now: Date) async throws {
        typealias Row = [any SQLExpression]
        func bind(_ v: some Encodable & Sendable) -> any SQLExpression { SQLBind(v) }
        let suppliers = try await Organization.query(on: app.db).filter(\.$kind == OrganizationKind.supplier.rawValue).all(\.$id)
        let jg = try await Organization.query(on: app.db).filter(\.$code == "SUP-JG").first()!.id!
        let buyer = try await User.query(on: app.db).filter(\.$login == "purchaser").first()!.id!
        let itemID = UUID()
        let today = app.subcon.today()
        var orders: [Row] = [], lines: [Row] = [], revisions: [Row] = []
        for i in 0..<count {
            let id = UUID()
            let pending = i % 3 == 0
            let status = pending ? "released" : (i % 3 == 1 ? "acknowledged" : "in_production")
            let created = now.addingTimeInterval(Double(-i * 60))
            orders.append([bind(id), bind(String(format: "BX-%07d", i)), bind(i % 10 == 0 ? jg : suppliers[i % suppliers.count]), SQLLiteral.null,
                           bind(status), bind("CNY"), bind(1), bind(""), bind(1), bind(buyer), bind(created), bind(created)])
            for n in 1...3 {
                lines.append([bind(UUID()), bind(id), bind(n), bind(itemID), SQLLiteral.null, bind(Int64(100 * n) * FixedDecimal.unit),
                              bind(today.adding(days: (i + n) % 60).description), bind(Int64(12) * FixedDecimal.unit), bind("open"), SQLLiteral.null])
            }
            revisions.append([bind(UUID()), bind(id), bind(1), bind("[]"), bind("[]"), bind(""), bind(pending ? "pending" : "acknowledged"),
                              bind(buyer), bind(created), pending ? SQLLiteral.null : bind(created), SQLLiteral.null,
                              pending ? SQLLiteral.null : bind(3600), bind(0), bind(1)])
        }
        let (o, l, r) = (orders, lines, revisions)
        let item: [Row] = [[bind(itemID), bind("BENCH-1"), bind("压测物料"), bind(""), bind("件"), bind("semi_finished"), SQLLiteral.null,
                            bind(true), bind(1), bind(now), bind(now)]]
        try await app.db.transaction { db in
            let sql = db as! any SQLDatabase
            try await sql.insertRows(into: "items", columns: ["id", "code", "name", "specification", "uom", "kind", "default_site_id",
                                                              "active", "version", "created_at", "updated_at"], item)
            try await sql.insertRows(into: "outsourcing_orders", columns: ["id", "code", "supplier_id", "plan_id", "status", "currency", "revision",
                                                                           "note", "version", "created_by", "created_at", "updated_at"], o)
            try await sql.insertRows(into: "order_lines", columns: ["id", "order_id", "line_no", "item_id", "operation", "quantity", "due_date",
                                                                    "unit_price", "state", "plan_line_id"], l)
            try await sql.insertRows(into: "order_revisions", columns: ["id", "order_id", "number", "lines", "changes", "reason", "status", "created_by",
                                                                        "released_at", "answered_at", "answered_by", "response_seconds", "escalation", "round"], r)
        }
    }
}
