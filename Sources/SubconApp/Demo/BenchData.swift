import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A large data set for the load benchmark (`subcon seed-bench`): many suppliers, their people,
/// and a full inbox. Inserted in batches straight through SQL; it is test data, so it is not
/// put on the audit trail (the chain stays valid).
public enum BenchData {
    public static func seed(app: Application, suppliers: Int, usersPerSupplier: Int, notificationsPerUser: Int, shape: Shape) async throws {
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
        let people = try await User.query(on: app.database).filter(\.$login ~~ ["admin", "planner", "purchaser", "supplier1"]).all()
        var notes: [Row] = []
        for person in people {
            for i in 0..<notificationsPerUser {
                notes.append([bind(UUID()), bind(person.id!), bind("bench"), bind("notice.supplierCreated"),
                              bind(#"{"name":"压测供应商 \#(i)"}"#), SQLLiteral.null, bind(now.addingTimeInterval(Double(-i))),
                              i % 3 == 0 ? SQLLiteral.null : bind(now), bind(UUID())])
            }
        }
        let (orgRows, userRows, noteRows) = (orgs, users, notes)
        try await app.database.transaction { db in
            let sql = db as! any SQLDatabase
            try await sql.insertRows(into: "organizations", columns: ["id", "kind", "code", "name", "active", "version", "created_at", "updated_at"], orgRows)
            try await sql.insertRows(into: "users", columns: ["id", "organization_id", "login", "display_name", "email", "password_hash",
                                                              "roles", "locale", "active", "version", "created_at", "updated_at"], userRows)
            try await sql.insertRows(into: "notifications", columns: ["id", "user_id", "event", "message_key", "params", "link",
                                                                      "created_at", "read_at", "outbox_id"], noteRows)
        }
        if shape.orders > 0 { try await seedOrders(app: app, shape: shape, now: now) }
        try await seedStatements(app: app, months: max(12, shape.months), now: now)
        // PostgreSQL plans from its statistics and reads an index alone only where its visibility
        // map says the table's pages are all visible; rows just bulk-inserted have neither until
        // autovacuum comes round, so the first minutes measured plans from no statistics and an
        // index-only page read the table 5,000 times. SQLite's plans here were chosen without
        // `sqlite_stat1`, and stay so.
        if let sql = app.db as? any SQLDatabase, sql.dialect.name == "postgresql" { try await sql.raw("VACUUM ANALYZE").run() }
    }

    /// The columns of a locked statement without lines, as the bench and the demo's history write them.
    static let statementColumns = ["id", "code", "supplier_id", "period", "status", "revision", "version", "currency", "tax_percent", "goods",
                                   "deductions", "adjustments", "net", "tax", "gross", "change_seq", "created_by", "created_at", "updated_at",
                                   "sent_by", "sent_at", "confirmed_by", "confirmed_at", "locked_by", "locked_at"]

    /// Locked statements of every supplier for the months before the last closed one (no lines:
    /// they are for the lists and the change feed). Each has taken its month's sources, as the
    /// month-end that locked it would have, so the last closed month — left open — is what a
    /// statement generated now settles: one month of a supplier's records, which is what the
    /// benchmark times. (Without the claims, that statement took two years of receipts as late.)
    static func seedStatements(app: Application, months: Int, now: Date) async throws {
        typealias Row = [any SQLExpression]
        func bind(_ v: some Encodable & Sendable) -> any SQLExpression { SQLBind(v) }
        let settings = app.subcon.settings
        let current = settings.statementCalendar.period(of: app.subcon.today())
        let suppliers = try await Organization.query(on: app.database).filter(\.$kind == OrganizationKind.supplier.rawValue).all()
        let buyer = try await User.query(on: app.database).filter(\.$login == "finance").first()!.id!
        var rows: [Row] = []
        var seq: Int64 = 0
        var period = current.previous
        var locked: [SettlementPeriod] = []
        for _ in 0..<months {
            period = period.previous
            locked.append(period)
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
        try await app.database.transaction { db in
            let sql = db as! any SQLDatabase
            try await sql.insertRows(into: "statements", columns: statementColumns, all)
            try await sql.raw("UPDATE statement_feed SET seq = \(bind: last) WHERE id = 1").run()
        }
        // The oldest statement also takes whatever came before it, as a first month-end would.
        for (n, p) in locked.enumerated() {
            let b = StatementBuilder.bounds(p, settings: settings)
            try await claimSources(of: p, from: n == locked.count - 1 ? nil : b.start, to: b.end, on: app.db as! any SQLDatabase)
        }
    }

    /// Claims for the statements of `period` (one per supplier), in one INSERT … SELECT per kind
    /// of source, with the conditions `StatementBuilder` takes each kind on; sources another
    /// statement has are left to it.
    static func claimSources(of period: SettlementPeriod, from: Date?, to: Date,
                             kinds: Set<String> = ["receipt_line", "exception", "reject", "write_off"], on sql: any SQLDatabase) async throws {
        // Claim ids made by the database: a uuid on PostgreSQL; on SQLite, text in a uuid's shape, as Fluent stores them.
        let newID: SQLQueryString = sql.dialect.name == "postgresql" ? "gen_random_uuid()"
            : "upper(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6)))"
        func window(_ column: String) -> SQLQueryString {
            (from.map { " AND \(unsafeRaw: column) >= \(bind: $0)" } ?? "") + " AND \(unsafeRaw: column) < \(bind: to)"
        }
        let statement: SQLQueryString = " JOIN statements s ON s.supplier_id = x.supplier_id AND s.period = \(bind: period.description)"
        func claim(_ kind: String, _ rest: SQLQueryString) async throws {
            guard kinds.contains(kind) else { return }
            try await sql.raw("INSERT INTO statement_claims (id, source_type, source_id, statement_id) SELECT " + newID
                + ", \(literal: kind), x.id, s.id" + rest
                + " AND NOT EXISTS (SELECT 1 FROM statement_claims c WHERE c.source_type = \(literal: kind) AND c.source_id = x.id)").run()
        }
        try await claim("receipt_line", " FROM receipt_lines x JOIN goods_receipts r ON r.id = x.receipt_id" + statement
            + " WHERE \(unsafeRaw: AddClaimedMarks.unclaimedGoods("x"))" + window("r.created_at"))
        try await claim("exception", " FROM exceptions x" + statement + " WHERE \(unsafeRaw: AddClaimedMarks.unclaimedPenalties("x"))" + window("x.created_at"))
        try await claim("reject", " FROM reject_decisions x" + statement + " WHERE x.responsibility <> 'undetermined'" + window("x.occurred_at"))
        try await claim("write_off", " FROM deduction_proposals x" + statement
            + " WHERE x.quantity > 0 AND x.period " + (from == nil ? "<= " : "= ") + "\(bind: period.description)")
    }

    /// The shape of the order history: how many orders and lines, over how many items and months.
    public struct Shape: Sendable {
        public var orders: Int
        public var linesPerOrder = 3
        public var items = 1
        public var months = 1
        public init(orders: Int, linesPerOrder: Int = 3, items: Int = 1, months: Int = 1) {
            (self.orders, self.linesPerOrder, self.items, self.months) = (orders, linesPerOrder, items, months)
        }
    }

    /// Orders over the bench suppliers (every tenth to SUP-JG, so supplier1's scoped list has
    /// plenty), spread evenly back over `months`; a quarter still wait for an answer. Each
    /// answered order carries its material, receipts, inspections and exceptions (see
    /// `flowRows`). Written in chunks, each in its own transaction, so a million lines never sit
    /// in memory at once.
    static func seedOrders(app: Application, shape: Shape, now: Date) async throws {
        let suppliers = try await Organization.query(on: app.database).filter(\.$kind == OrganizationKind.supplier.rawValue).sort(\.$code).all(\.$id)
        let jg = try await Organization.query(on: app.database).filter(\.$code == "SUP-JG").first()!.id!
        let buyer = try await User.query(on: app.database).filter(\.$login == "purchaser").first()!.id!
        let u = FixedDecimal.unit
        // Semi-finished parts on the lines, raw material (at a cost price) in the ledger.
        var parts: [UUID] = [], materials: [UUID] = []
        var itemRows: [[any SQLExpression]] = []
        for k in 0..<max(1, shape.items) {
            let id = UUID()
            let raw = k % 10 == 9
            if raw { materials.append(id) } else { parts.append(id) }
            itemRows.append([SQLBind(id), SQLBind(k == 0 ? "BENCH-1" : String(format: "BI%06d", k)), SQLBind(raw ? "压测原料 \(k)" : (k == 0 ? "压测物料" : "压测零件 \(k)")),
                             SQLBind(""), SQLBind(raw ? "kg" : "件"), SQLBind(raw ? "raw_material" : "semi_finished"), SQLLiteral.null,
                             SQLBind(true), SQLBind(1), SQLBind(now), SQLBind(now), raw ? SQLBind(12 * u) : SQLLiteral.null])
        }
        let component = UUID()
        materials.insert(component, at: 0)
        itemRows.append([SQLBind(component), SQLBind("BENCH-RM"), SQLBind("压测原料"), SQLBind(""), SQLBind("kg"), SQLBind("raw_material"), SQLLiteral.null,
                         SQLBind(true), SQLBind(1), SQLBind(now), SQLBind(now), SQLBind(12 * u)])
        let items = itemRows
        try await app.database.transaction { db in
            try await (db as! any SQLDatabase).insertRows(into: "items", columns: ["id", "code", "name", "specification", "uom", "kind", "default_site_id",
                                                                                   "active", "version", "created_at", "updated_at", "cost_price"], items)
        }
        let flow = Flow(suppliers: suppliers, jg: jg, buyer: buyer, parts: parts, materials: materials, today: app.subcon.today(), now: now,
                        step: Double(shape.months) * 30 * 86_400 / Double(max(1, shape.orders)), lines: shape.linesPerOrder,
                        responseClock: app.subcon.settings.responseClock)
        let chunk = 2_000
        for start in stride(from: 0, to: shape.orders, by: chunk) {
            var rows = FlowRows()
            for i in start..<min(start + chunk, shape.orders) { flow.order(i, into: &rows) }
            let batch = rows
            try await app.database.transaction { db in try await batch.insert(into: db as! any SQLDatabase) }
        }
        try await Ledger.rebuildTotals(on: app.database as! any SQLDatabase)
        try await HeldValues.rebuild(on: app.database as! any SQLDatabase)
        try await LotBalances.rebuild(on: app.database as! any SQLDatabase)
        try await LineLateness.refreshOrders(on: app.database as! any SQLDatabase)
        try await ShipReadiness.refreshAll(on: app.database as! any SQLDatabase)
    }

    /// How one bench order and what happened to it become rows.
    struct Flow {
        let suppliers: [UUID], jg: UUID, buyer: UUID, parts: [UUID], materials: [UUID]
        let today: Day, now: Date, step: Double, lines: Int
        var responseClock = ResponseClock()

        func order(_ i: Int, into r: inout FlowRows) {
            typealias B = SQLBind
            let u = FixedDecimal.unit
            let null = SQLLiteral.null
            let id = UUID()
            let supplier = i % 10 == 0 ? jg : suppliers[i % suppliers.count]
            let pending = i % 4 == 0
            let status = pending ? "released" : (i % 4 == 1 ? "acknowledged" : "in_production")
            let created = now.addingTimeInterval(-Double(i) * step - 60)
            r.orders.append([B(id), B(String(format: "BX-%07d", i)), B(supplier), null, B(status), B("CNY"), B(1), B(""), B(1), B(buyer), B(created), B(created)])
            for n in 1...lines {
                // Every seventh answered order's first line is projected late, half of those with a reason.
                let late = n == 1 && i % 7 == 0 && !pending
                let item = parts[(i * lines + n) % parts.count]
                r.lines.append([B(UUID()), B(id), B(n), B(item), null, B(Int64(100 * n) * u), B(today.adding(days: (i + n) % 60).description),
                                B(Int64(12) * u), B("open"), null, B(late ? "late" : "unknown"), B(late ? 4 + i % 20 : 0),
                                late && i % 2 == 0 ? B("capacity") : null])
            }
            r.revisions.append([B(UUID()), B(id), B(1), B("[]"), B("[]"), B(""), B(pending ? "pending" : "acknowledged"), B(buyer), B(created),
                                pending ? null : B(created), null, pending ? null : B(3600),
                                // As escalated as a running installation would have it by now.
                                B(pending ? responseClock.stageDue(releasedAt: Int64(created.timeIntervalSince1970), now: Int64(now.timeIntervalSince1970)).rawValue : 0),
                                B(1), B(supplier)])
            if pending { return }
            // Material: a requirement and an issue of every line, confirmed by the supplier.
            let at = min(created.addingTimeInterval(5 * 86_400), now.addingTimeInterval(-3600))
            // A supplier works with a score of materials, a new lot of each about every month.
            let who = i % 10 == 0 ? suppliers.count : i % suppliers.count
            let component = materials[(who * 37 + (i / 997) % 20) % materials.count]
            let lot = "L\(Int(Double(i) * step / (30 * 86_400)))-\(i % 3)"
            let doc = UUID()
            r.docs.append([B(doc), B(String(format: "FLB-%07d", i)), B("issue"), B("done"), B(supplier), null, B(id), null, B(""), B(1), B(buyer), B(at), null, null, B("")])
            for n in 1...lines {
                let gross = Int64(202 * n) * u
                r.reqs.append([B(UUID()), B(id), B(n), B(component), B(2 * u), B(1 * u), B("manufacturer"), B(gross), B(gross)])
                r.docLines.append([B(UUID()), B(doc), B(n), B(n), B(component), B(lot), B(gross), B(gross), B(buyer), B(at)])
                r.move(supplier, component, lot, "issued", gross, order: id, line: n, doc: doc, by: buyer, at: at)
                r.move(supplier, component, lot, "receipt_confirmed", gross, order: id, line: n, doc: doc, by: buyer, at: at)
            }
            // Receipts: all lines but the last (all on every other order), each inspected and its
            // material consumed.
            let received = i % 2 == 0 ? lines : max(1, lines - 1)
            let receipt = UUID(), day = BenchData.receiptDay(at)
            r.receipts.append([B(receipt), B(String(format: "SRB-%07d", i)), B(supplier), B(id), null, B(""), B(buyer), B(at), B(day)])
            for n in 1...received {
                let line = UUID()
                let item = parts[(i * lines + n) % parts.count]
                r.receiptLines.append([B(line), B(receipt), B(n), B(supplier), B(id), B(n), B(item), B("P\(i)-\(n)"), B(50 * u),
                                       B("accepted"), B(50 * u), B(Int64(0)), B(buyer), B(at), B(2), B(at)])
                r.move(supplier, component, lot, "consumed", 100 * u, allowance: u, order: id, line: n, doc: doc, receiptLine: line, by: buyer, at: at)
                r.inspections.append([B(UUID()), B(String(format: "IQB-%07d-%d", i, n)), B(receipt), B(line), B(n), B(supplier), B(id),
                                      B(item), B("P\(i)-\(n)"), B(50 * u), B("normal"), B("II"), B("1.0"), B("F"), B(13), B(0), B(1),
                                      B(0), B(0), B("[]"), B("[]"), B(true), B("accept"), B(50 * u), B(Int64(0)), B(false), B(""), B(buyer), B(at)])
            }
            if i % 10 == 1 {
                // Another lot of every tenth order waits for inspection.
                let waiting = UUID()
                r.receipts.append([B(waiting), B(String(format: "SRW-%07d", i)), B(supplier), B(id), null, B(""), B(buyer), B(at), B(day)])
                r.receiptLines.append([B(UUID()), B(waiting), B(1), B(supplier), B(id), B(1), B(parts[(i * lines + 1) % parts.count]), B("W\(i)"),
                                       B(30 * u), B("awaiting_inspection"), B(Int64(0)), B(Int64(0)), null, null, B(1), B(at)])
            }
            if i % 3 != 0 {
                // Two of three answered orders had a quality exception; one in eight is still open.
                let open = i % 8 == 2 || i % 8 == 5
                let due = ExceptionRules.due(from: at, ExceptionRules.defaultDeadlines(.quality, .major))
                r.exceptions.append([B(UUID()), B(String(format: "YCB-%07d", i)), B("quality"), B("major"), B(open ? "open" : "closed"),
                                     B(supplier), B(id), B(component), B(lot), B("manual"), B(""), B("压测异常 \(i)"), B("批量划伤"),
                                     B(buyer), B(at), B(1), B(due.responseBy), B(due.containmentBy), B(due.resolveBy),
                                     open ? null : B(at.addingTimeInterval(3600)), open ? null : B(at.addingTimeInterval(86_400)),
                                     open ? null : B(60), open ? null : B(1440), B(""),
                                     B(open ? ExceptionRules.escalationLevel(now: now, due: due, respondedAt: nil, containedAt: nil, closedAt: nil,
                                                                             needsContainment: true, current: 0) : 0),
                                     B("SCRATCH"), B(true), B(0),
                                     // Every other one carries a penalty for the statement.
                                     i % 2 == 0 ? B("fixed") : null, i % 2 == 0 ? B(200 * u) : null])
            }
            if i % 5 == 0 {
                let note = UUID()
                r.notes.append([B(note), B(String(format: "SHB-%07d", i)), B(supplier), B(id), B(today.description), B("shipped"), B(""), B(1), B(buyer), B(at)])
                r.noteLines.append([B(UUID()), B(note), B(1), B(1), B(parts[(i * lines + 1) % parts.count]), B("N\(i)"), B(20 * u), B(Int64(0))])
            }
        }
    }

    struct FlowRows {
        typealias Row = [any SQLExpression]
        var orders: [Row] = [], lines: [Row] = [], revisions: [Row] = []
        var reqs: [Row] = [], docs: [Row] = [], docLines: [Row] = [], moves: [Row] = [], receipts: [Row] = [], receiptLines: [Row] = []
        var notes: [Row] = [], noteLines: [Row] = [], inspections: [Row] = [], exceptions: [Row] = []

        mutating func move(_ supplier: UUID, _ item: UUID, _ lot: String, _ kind: String, _ q: Int64, allowance: Int64 = 0, order: UUID, line: Int,
                           doc: UUID, receiptLine: UUID? = nil, by: UUID, at: Date) {
            moves.append([SQLBind(UUID()), SQLBind(supplier), SQLBind(item), SQLBind(lot), SQLBind(kind), SQLBind(q), SQLBind(allowance), SQLBind(order),
                          SQLBind(line), SQLBind(doc), receiptLine.map { SQLBind($0) } ?? SQLLiteral.null, SQLBind(by), SQLBind(at)])
        }

        func insert(into sql: any SQLDatabase) async throws {
            try await sql.insertRows(into: "outsourcing_orders", columns: ["id", "code", "supplier_id", "plan_id", "status", "currency", "revision",
                                                                           "note", "version", "created_by", "created_at", "updated_at"], orders)
            try await sql.insertRows(into: "order_lines", columns: ["id", "order_id", "line_no", "item_id", "operation", "quantity", "due_date",
                                                                    "unit_price", "state", "plan_line_id", "risk", "days_late", "delay_reason"], lines)
            try await sql.insertRows(into: "order_revisions", columns: ["id", "order_id", "number", "lines", "changes", "reason", "status", "created_by",
                                                                        "released_at", "answered_at", "answered_by", "response_seconds", "escalation", "round",
                                                                        "supplier_id"], revisions)
            try await sql.insertRows(into: "order_requirements", columns: ["id", "order_id", "line_no", "component_id", "quantity_per", "scrap_percent",
                                                                           "supply_by", "gross_quantity", "issued_quantity"], reqs)
            try await sql.insertRows(into: "material_documents", columns: ["id", "code", "kind", "status", "supplier_id", "to_supplier_id", "order_id",
                                                                           "condition", "reason", "version", "created_by", "created_at", "decided_by",
                                                                           "decided_at", "decision_note"], docs)
            try await sql.insertRows(into: "material_document_lines", columns: ["id", "document_id", "no", "order_line_no", "item_id", "lot", "quantity",
                                                                                "confirmed_quantity", "confirmed_by", "confirmed_at"], docLines)
            try await sql.insertRows(into: "material_movements", columns: ["id", "supplier_id", "item_id", "lot", "kind", "quantity", "allowance", "order_id",
                                                                           "order_line_no", "document_id", "receipt_line_id", "created_by", "created_at"], moves)
            try await sql.insertRows(into: "goods_receipts", columns: ["id", "code", "supplier_id", "order_id", "delivery_note_id", "note", "created_by",
                                                                       "created_at", "receipt_day"], receipts)
            try await sql.insertRows(into: "receipt_lines", columns: ["id", "receipt_id", "no", "supplier_id", "order_id", "order_line_no", "item_id", "lot",
                                                                      "quantity", "status", "accepted_quantity", "rejected_quantity", "decided_by",
                                                                      "decided_at", "version", "received_at"], receiptLines)
            try await sql.insertRows(into: "delivery_notes", columns: ["id", "code", "supplier_id", "order_id", "ship_date", "status", "note", "version",
                                                                       "created_by", "created_at"], notes)
            try await sql.insertRows(into: "delivery_note_lines", columns: ["id", "note_id", "no", "order_line_no", "item_id", "lot", "quantity",
                                                                            "received_quantity"], noteLines)
            try await sql.insertRows(into: "inspections", columns: ["id", "code", "receipt_id", "receipt_line_id", "receipt_line_no", "supplier_id", "order_id",
                                                                    "item_id", "lot", "lot_quantity", "severity", "level", "aql", "code_letter", "sample_size",
                                                                    "acceptance", "rejection", "nonconforming", "critical", "results", "defects", "sample_passed",
                                                                    "decision", "accepted_quantity", "rejected_quantity", "exempt", "note", "inspector_id",
                                                                    "created_at"], inspections)
            try await sql.insertRows(into: "exceptions", columns: ["id", "code", "type", "severity", "status", "supplier_id", "order_id", "item_id", "lot",
                                                                   "source", "source_id", "title", "description", "raised_by", "created_at", "version",
                                                                   "response_by", "containment_by", "resolve_by", "responded_at", "closed_at",
                                                                   "response_minutes", "closure_minutes", "resolution", "escalation_level", "defect_codes",
                                                                   "eight_d", "reopened", "penalty_kind", "penalty_value"], exceptions)
        }
    }

    /// The calendar day of a receipt in the demo's zone, as receiving records it.
    static func receiptDay(_ at: Date) -> String {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let d = c.dateComponents([.year, .month, .day], from: at)
        return Day(year: d.year!, month: d.month!, day: d.day!)!.description
    }
}
