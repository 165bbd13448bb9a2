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
        try await seedStatements(app: app, now: now)
    }

    /// A year of locked statements for every supplier (no lines: they are for the lists and the
    /// change feed; generating this month's is what the benchmark times).
    static func seedStatements(app: Application, now: Date) async throws {
        typealias Row = [any SQLExpression]
        func bind(_ v: some Encodable & Sendable) -> any SQLExpression { SQLBind(v) }
        let settings = app.subcon.settings
        let current = settings.statementCalendar.period(of: app.subcon.today())
        let suppliers = try await Organization.query(on: app.db).filter(\.$kind == OrganizationKind.supplier.rawValue).all()
        let buyer = try await User.query(on: app.db).filter(\.$login == "finance").first()!.id!
        var rows: [Row] = []
        var seq: Int64 = 0
        var period = current
        for _ in 0..<12 {
            period = period.previous
            for (i, s) in suppliers.enumerated() {
                seq += 1
                let spread: Int64 = (Int64(i) * 7919 + seq) % 900_000
                let net: Int64 = (10_000 + spread) * 100
                let tax: Int64 = net * 13 / 100
                let gross: Int64 = net + tax
                let zero: Int64 = 0
                var row: Row = [bind(UUID()), bind("ST-\(s.code)-\(period)"), bind(s.id!), bind(period.description), bind("locked"), bind(1), bind(4)]
                row += [bind("CNY"), bind(FixedDecimal(13).units), bind(net), bind(zero), bind(zero), bind(net), bind(tax), bind(gross)]
                row += [bind(seq), bind(buyer), bind(now), bind(now), bind(buyer), bind(now), bind(buyer), bind(now), bind(buyer), bind(now)]
                rows.append(row)
            }
        }
        let all = rows, last = seq
        try await app.db.transaction { db in
            let sql = db as! any SQLDatabase
            try await sql.insertRows(into: "statements", columns: ["id", "code", "supplier_id", "period", "status", "revision", "version", "currency",
                                                                   "tax_percent", "goods", "deductions", "adjustments", "net", "tax", "gross", "change_seq",
                                                                   "created_by", "created_at", "updated_at", "sent_by", "sent_at", "confirmed_by",
                                                                   "confirmed_at", "locked_by", "locked_at"], all)
            try await sql.raw("UPDATE statement_feed SET seq = \(bind: last) WHERE id = 1").run()
        }
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
                // Every seventh order's first line is projected late, half of those with a reason.
                let late = n == 1 && i % 7 == 0 && !pending
                lines.append([bind(UUID()), bind(id), bind(n), bind(itemID), SQLLiteral.null, bind(Int64(100 * n) * FixedDecimal.unit),
                              bind(today.adding(days: (i + n) % 60).description), bind(Int64(12) * FixedDecimal.unit), bind("open"), SQLLiteral.null,
                              bind(late ? "late" : "unknown"), bind(late ? 4 + i % 20 : 0), late && i % 2 == 0 ? bind("capacity") : SQLLiteral.null])
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
                                                                    "unit_price", "state", "plan_line_id", "risk", "days_late", "delay_reason"], l)
            try await sql.insertRows(into: "order_revisions", columns: ["id", "order_id", "number", "lines", "changes", "reason", "status", "created_by",
                                                                        "released_at", "answered_at", "answered_by", "response_seconds", "escalation", "round"], r)
        }
        try await seedMaterial(app: app, buyer: buyer, now: now)
    }

    /// Material for every answered order: a requirement of line 1 (2 per part, 1 % scrap), an
    /// issue confirmed by the supplier, and on every second order a receipt of 50 accepted parts
    /// with its consumption; every fifth order has a delivery note on its way. About five
    /// movements per answered order, over 50 lots.
    static func seedMaterial(app: Application, buyer: UUID, now: Date) async throws {
        typealias Row = [any SQLExpression]
        func bind(_ v: some Encodable & Sendable) -> any SQLExpression { SQLBind(v) }
        let ids = try await (app.db as! any SQLDatabase).raw("SELECT id, supplier_id, status FROM outsourcing_orders WHERE status <> 'released'")
            .all(decoding: OrderRef.self)
        let component = UUID()
        let u = FixedDecimal.unit
        var reqs: [Row] = [], docs: [Row] = [], docLines: [Row] = [], moves: [Row] = [], receipts: [Row] = [], receiptLines: [Row] = []
        var notes: [Row] = [], noteLines: [Row] = [], inspections: [Row] = [], exceptions: [Row] = []
        for (i, o) in ids.enumerated() {
            let lot = "L\(i % 50)"
            let at = now.addingTimeInterval(Double(-i))
            reqs.append([bind(UUID()), bind(o.id), bind(1), bind(component), bind(2 * u), bind(1 * u), bind("manufacturer"), bind(202 * u), bind(202 * u)])
            let doc = UUID()
            docs.append([bind(doc), bind(String(format: "FLB-%07d", i)), bind("issue"), bind("done"), bind(o.supplier_id), SQLLiteral.null, bind(o.id),
                         SQLLiteral.null, bind(""), bind(1), bind(buyer), bind(at), SQLLiteral.null, SQLLiteral.null, bind("")])
            docLines.append([bind(UUID()), bind(doc), bind(1), bind(1), bind(component), bind(lot), bind(202 * u), bind(202 * u), bind(buyer), bind(at)])
            func move(_ kind: String, _ q: Int64, _ allowance: Int64 = 0, receiptLine: UUID? = nil) {
                moves.append([bind(UUID()), bind(o.supplier_id), bind(component), bind(lot), bind(kind), bind(q), bind(allowance), bind(o.id), bind(1),
                              bind(doc), receiptLine.map { bind($0) } ?? SQLLiteral.null, bind(buyer), bind(at)])
            }
            move("issued", 202 * u)
            move("receipt_confirmed", 202 * u)
            if i % 2 == 0 {
                let receipt = UUID(), line = UUID()
                receipts.append([bind(receipt), bind(String(format: "SRB-%07d", i)), bind(o.supplier_id), bind(o.id), SQLLiteral.null, bind(""), bind(buyer), bind(at), bind(receiptDay(at))])
                receiptLines.append([bind(line), bind(receipt), bind(1), bind(o.supplier_id), bind(o.id), bind(1), bind(component), bind("P\(i)"), bind(50 * u),
                                     bind("accepted"), bind(50 * u), bind(Int64(0)), bind(buyer), bind(at), bind(2)])
                move("consumed", 100 * u, u, receiptLine: line)
                inspections.append([bind(UUID()), bind(String(format: "IQB-%07d", i)), bind(receipt), bind(line), bind(1), bind(o.supplier_id), bind(o.id),
                                    bind(component), bind("P\(i)"), bind(50 * u), bind("normal"), bind("II"), bind("1.0"), bind("F"), bind(13), bind(0), bind(1),
                                    bind(0), bind(0), bind("[]"), bind("[]"), bind(true), bind("accept"), bind(50 * u), bind(Int64(0)), bind(false), bind(""),
                                    bind(buyer), bind(at)])
            }
            if i % 10 == 1 {
                // Another lot of every tenth order waits for inspection.
                let receipt = UUID()
                receipts.append([bind(receipt), bind(String(format: "SRW-%07d", i)), bind(o.supplier_id), bind(o.id), SQLLiteral.null, bind(""), bind(buyer), bind(at), bind(receiptDay(at))])
                receiptLines.append([bind(UUID()), bind(receipt), bind(1), bind(o.supplier_id), bind(o.id), bind(1), bind(component), bind("W\(i)"), bind(30 * u),
                                     bind("awaiting_inspection"), bind(Int64(0)), bind(Int64(0)), SQLLiteral.null, SQLLiteral.null, bind(1)])
            }
            if i % 4 == 0 {
                let open = i % 8 == 0
                let due = ExceptionRules.due(from: at, ExceptionRules.defaultDeadlines(.quality, .major))
                exceptions.append([bind(UUID()), bind(String(format: "YCB-%07d", i)), bind("quality"), bind("major"), bind(open ? "open" : "closed"),
                                   bind(o.supplier_id), bind(o.id), bind(component), bind(lot), bind("manual"), bind(""), bind("压测异常 \(i)"), bind("批量划伤"),
                                   bind(buyer), bind(at), bind(1), bind(due.responseBy), bind(due.containmentBy), bind(due.resolveBy),
                                   open ? SQLLiteral.null : bind(at.addingTimeInterval(3600)), open ? SQLLiteral.null : bind(at.addingTimeInterval(86_400)),
                                   open ? SQLLiteral.null : bind(60), open ? SQLLiteral.null : bind(1440), bind(""), bind(0), bind("SCRATCH"), bind(true), bind(0),
                                   // Every other one carries a penalty for the statement.
                                   i % 8 == 4 ? bind("fixed") : SQLLiteral.null, i % 8 == 4 ? bind(200 * u) : SQLLiteral.null])
            }
            if i % 5 == 0 {
                let note = UUID()
                notes.append([bind(note), bind(String(format: "SHB-%07d", i)), bind(o.supplier_id), bind(o.id), bind(Day(year: 2026, month: 12, day: 1)!.description),
                              bind("shipped"), bind(""), bind(1), bind(buyer), bind(at)])
                noteLines.append([bind(UUID()), bind(note), bind(1), bind(1), bind(component), bind("N\(i)"), bind(20 * u), bind(Int64(0))])
            }
        }
        let item: [Row] = [[bind(component), bind("BENCH-RM"), bind("压测原料"), bind(""), bind("kg"), bind("raw_material"), SQLLiteral.null,
                            bind(true), bind(1), bind(now), bind(now), bind(12 * u)]]
        let batches = (reqs, docs, docLines, moves, receipts, receiptLines, notes, noteLines)
        let quality = (inspections, exceptions)
        try await app.db.transaction { db in
            let sql = db as! any SQLDatabase
            try await sql.insertRows(into: "items", columns: ["id", "code", "name", "specification", "uom", "kind", "default_site_id",
                                                              "active", "version", "created_at", "updated_at", "cost_price"], item)
            try await sql.insertRows(into: "order_requirements", columns: ["id", "order_id", "line_no", "component_id", "quantity_per", "scrap_percent",
                                                                           "supply_by", "gross_quantity", "issued_quantity"], batches.0)
            try await sql.insertRows(into: "material_documents", columns: ["id", "code", "kind", "status", "supplier_id", "to_supplier_id", "order_id",
                                                                           "condition", "reason", "version", "created_by", "created_at", "decided_by",
                                                                           "decided_at", "decision_note"], batches.1)
            try await sql.insertRows(into: "material_document_lines", columns: ["id", "document_id", "no", "order_line_no", "item_id", "lot", "quantity",
                                                                                "confirmed_quantity", "confirmed_by", "confirmed_at"], batches.2)
            try await sql.insertRows(into: "material_movements", columns: ["id", "supplier_id", "item_id", "lot", "kind", "quantity", "allowance", "order_id",
                                                                           "order_line_no", "document_id", "receipt_line_id", "created_by", "created_at"], batches.3)
            try await sql.insertRows(into: "goods_receipts", columns: ["id", "code", "supplier_id", "order_id", "delivery_note_id", "note", "created_by",
                                                                       "created_at", "receipt_day"], batches.4)
            try await sql.insertRows(into: "receipt_lines", columns: ["id", "receipt_id", "no", "supplier_id", "order_id", "order_line_no", "item_id", "lot",
                                                                      "quantity", "status", "accepted_quantity", "rejected_quantity", "decided_by",
                                                                      "decided_at", "version"], batches.5)
            try await sql.insertRows(into: "delivery_notes", columns: ["id", "code", "supplier_id", "order_id", "ship_date", "status", "note", "version",
                                                                       "created_by", "created_at"], batches.6)
            try await sql.insertRows(into: "delivery_note_lines", columns: ["id", "note_id", "no", "order_line_no", "item_id", "lot", "quantity",
                                                                            "received_quantity"], batches.7)
            try await sql.insertRows(into: "inspections", columns: ["id", "code", "receipt_id", "receipt_line_id", "receipt_line_no", "supplier_id", "order_id",
                                                                    "item_id", "lot", "lot_quantity", "severity", "level", "aql", "code_letter", "sample_size",
                                                                    "acceptance", "rejection", "nonconforming", "critical", "results", "defects", "sample_passed",
                                                                    "decision", "accepted_quantity", "rejected_quantity", "exempt", "note", "inspector_id",
                                                                    "created_at"], quality.0)
            try await sql.insertRows(into: "exceptions", columns: ["id", "code", "type", "severity", "status", "supplier_id", "order_id", "item_id", "lot",
                                                                   "source", "source_id", "title", "description", "raised_by", "created_at", "version",
                                                                   "response_by", "containment_by", "resolve_by", "responded_at", "closed_at",
                                                                   "response_minutes", "closure_minutes", "resolution", "escalation_level", "defect_codes",
                                                                   "eight_d", "reopened", "penalty_kind", "penalty_value"], quality.1)
        }
    }

    struct OrderRef: Decodable { let id: UUID; let supplier_id: UUID; let status: String }

    /// The calendar day of a receipt in the demo's zone, as receiving records it.
    static func receiptDay(_ at: Date) -> String {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let d = c.dateComponents([.year, .month, .day], from: at)
        return Day(year: d.year!, month: d.month!, day: d.day!)!.description
    }
}
