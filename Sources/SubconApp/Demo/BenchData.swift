import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A large data set for the load benchmark (`subcon seed-bench`): many suppliers, their people,
/// and a full inbox. Inserted in batches straight through SQL; it is test data, so it is not
/// put on the audit trail (the chain stays valid).
public enum BenchData {
    public static func seed(app: Application, suppliers: Int, usersPerSupplier: Int, notificationsPerUser: Int) async throws {
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
    }
}
