import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// One open order line projected late or past due, with the supplier's reason.
struct LateLineDTO: Content {
    let orderId: UUID
    let orderCode: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let line: Int
    let itemCode: String
    let itemName: String
    let unit: String
    let operation: String?
    let quantity: FixedDecimal
    let dueDate: String
    let eta: String?
    let promisedDate: String?
    let daysLate: Int
    /// at_risk (within the delay threshold) or late.
    let risk: String
    let delayReason: String?
    let delayNote: String
}

extension LateLineDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) {
        o("orderId", orderId); o("orderCode", orderCode); o("supplierId", supplierId); o("supplierCode", supplierCode)
        o("supplierName", supplierName); o("line", line); o("itemCode", itemCode); o("itemName", itemName); o("unit", unit)
        o("operation", operation); o("quantity", quantity); o("dueDate", dueDate); o("eta", eta); o("promisedDate", promisedDate)
        o("daysLate", daysLate); o("risk", risk); o("delayReason", delayReason); o("delayNote", delayNote)
    }
}

/// "Which lines are late, and why?": the stored projection of open lines, most days late
/// first, in one statement plus its count.
enum LateLines {
    struct Filter {
        var supplierID: UUID?
        /// A delay reason code, or `none` for lines nobody has explained yet.
        var reason: String?
        var search: String?
    }

    static func filter(_ req: Request) throws -> Filter {
        let reason = req.queryText("reason").flatMap { $0.isEmpty ? nil : $0 }
        if let reason, reason != "none", !req.subcon.settings.delayReasons.codes.contains(reason) {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("reason", "invalidValue")])
        }
        return Filter(supplierID: try req.uuidQuery("supplierId"), reason: reason, search: req.queryText("q"))
    }

    struct Row: ReadByPosition {
        let order_id: UUID; let code: String; let supplier_id: UUID; let supplier_code: String; let supplier_name: String
        let line_no: Int; let item_code: String; let item_name: String; let uom: String; let operation: String?; let quantity: Int64
        let due_date: String; let eta: String?; let promised_date: String?; let days_late: Int; let risk: String
        let delay_reason: String?; let delay_note: String

        static let columnNames = ["order_id", "code", "supplier_id", "supplier_code", "supplier_name", "line_no", "item_code", "item_name",
                                  "uom", "operation", "quantity", "due_date", "eta", "promised_date", "days_late", "risk", "delay_reason", "delay_note"]
        init(_ r: inout ColumnReader) throws {
            order_id = try r.value(); code = try r.value(); supplier_id = try r.value(); supplier_code = try r.value(); supplier_name = try r.value()
            line_no = try r.value(); item_code = try r.value(); item_name = try r.value(); uom = try r.value(); operation = try r.optional()
            quantity = try r.value(); due_date = try r.value(); eta = try r.optional(); promised_date = try r.optional(); days_late = try r.value()
            risk = try r.value(); delay_reason = try r.optional(); delay_note = try r.value()
        }
    }

    /// Read through the application's `reads` (on SQLite, connections that keep their statements
    /// and read rows by position; through the pool's rows the page's 18 columns cost more than its
    /// SQL), or without a search through its `keyedReads`: the walk below is the best plan whatever
    /// the supplier, reason or page, so on PostgreSQL it is prepared once and never planned again.
    static func list(_ p: Principal, _ f: Filter, page: PageRequest, app: Application) async throws -> Page<LateLineDTO> {
        let searching = !(f.search?.trimmingCharacters(in: .whitespaces) ?? "").isEmpty
        let sql = searching ? app.reads : app.keyedReads
        // The page is walked in the order of `order_lines_late_page_idx` (see
        // `AddLineOrderCode`), which holds the whole sort, and counted from it, with the order's
        // status and code taken from the line's copies: joining every late line to its order for
        // its status and sorting them all took 170 ms and more a page. The conditions are written
        // as the index's own (literals, not binds), so that SQLite can prove the partial index
        // applies; told to use it, since for `risk IN (…)` it preferred the (risk, days_late)
        // index and sorted.
        // A supplier sees only its own lines, whatever supplier the filter names.
        let scope = p.scope.supplierID ?? f.supplierID
        var conditions: [SQLQueryString] = [
            "l.state = 'open'", "l.risk IN (\(unsafeRaw: AddLateLinePageIndex.risks))", "l.order_status IN (\(binds: LineLateness.liveOrderStatuses))",
        ]
        // The line's supplier too (set from its order when written; an order's supplier never
        // changes), held in the index: a supplier's list is then counted without its orders.
        if let scope { conditions.append("l.supplier_id = \(bind: scope)") }
        if let r = f.reason { conditions.append(r == "none" ? "l.delay_reason IS NULL" : "l.delay_reason = \(bind: r)") }
        if let q = f.search?.trimmingCharacters(in: .whitespaces), !q.isEmpty {
            let pattern = ListQuery.containsPattern(q)
            var any: SQLQueryString = "("
            for (n, column) in ["o.code", "s.code", "s.name", "i.code", "i.name"].enumerated() {
                any = any + (n == 0 ? "" : " OR ") + ListQuery.like(column, pattern)
            }
            conditions.append(any + ")")
        }
        var whereClause: SQLQueryString = ""
        for (n, c) in conditions.enumerated() { whereClause = whereClause + (n == 0 ? " WHERE " : " AND ") + c }
        // One supplier's late lines are a range of an index of their own: walking every late line
        // for a supplier's 50 read all 21,000 on SQLite, and PostgreSQL's plan kept for any
        // supplier (which expects a supplier to have 19) gathered the largest one's 1,458 and
        // sorted them (35 ms).
        let index = scope == nil ? "order_lines_late_page_idx" : "order_lines_supplier_late_page_idx"
        let lines: SQLQueryString = sql.dialect.name == "sqlite" ? " FROM order_lines l INDEXED BY \(unsafeRaw: index)" : " FROM order_lines l"
        let from: SQLQueryString = lines + """
             JOIN outsourcing_orders o ON o.id = l.order_id
            JOIN organizations s ON s.id = o.supplier_id JOIN items i ON i.id = l.item_id
            """
        let reason = f.reason
        let select: SQLQueryString = """
            SELECT l.order_id, o.code, o.supplier_id, s.code AS supplier_code, s.name AS supplier_name, l.line_no, i.code AS item_code,
                   i.name AS item_name, i.uom, l.operation, l.quantity, l.due_date, l.eta, l.promised_date, l.days_late, l.risk,
                   l.delay_reason, l.delay_note
            """
        let pageOrder: SQLQueryString = " ORDER BY l.days_late DESC, l.due_date, l.order_code, l.line_no LIMIT \(literal: page.per) OFFSET \(bind: page.offset)"
        // All late lines, or those nobody has explained, of a supplier or of all, are kept counts
        // (`KeptCounts.lateLines`), read in the page's own statement; other filters are counted
        // from the index, and a search through the joins, on the page's connection (on
        // PostgreSQL, one lease for both).
        let kept = searching ? nil : reason == nil ? KeptCounts.lateLines : reason == "none" ? KeptCounts.unexplainedLateLines : nil
        let (rows, total): ([Row], Int)
        if let kept {
            (rows, total) = try await kept.pageAndTotal(["supplier_id": scope], decoding: Row.self, on: sql) { total in
                select + ", \(total)" + from + whereClause + pageOrder
            }
        } else {
            (total, rows) = try await sql.withSession { [whereClause] sql in
                let total = try await sql.raw("SELECT COUNT(*) AS n" + (searching ? from : lines) + whereClause).first()?.decode(column: "n", as: Int.self) ?? 0
                return (total, try await sql.raw(select + from + whereClause + pageOrder).rows(decoding: Row.self))
            }
        }
        return Page(items: rows.map {
            LateLineDTO(orderId: $0.order_id, orderCode: $0.code, supplierId: $0.supplier_id, supplierCode: $0.supplier_code, supplierName: $0.supplier_name,
                        line: $0.line_no, itemCode: $0.item_code, itemName: $0.item_name, unit: $0.uom, operation: $0.operation,
                        quantity: FixedDecimal(units: $0.quantity), dueDate: $0.due_date, eta: $0.eta, promisedDate: $0.promised_date,
                        daysLate: $0.days_late, risk: $0.risk, delayReason: $0.delay_reason, delayNote: $0.delay_note)
        }, page: page.page, per: page.per, total: total)
    }

    static func rows(_ lines: [LateLineDTO], _ req: Request) -> [[String]] {
        [[req.t("orders.code"), "#", req.t("prices.supplier"), req.t("material.item"), req.t("orders.quantity"), req.t("orders.dueDate"),
          req.t("work.eta"), req.t("work.promised"), req.t("late.daysLate"), req.t("work.risk"), req.t("delay.reason"), req.t("material.note")]]
        + lines.map { l in
            [l.orderCode, String(l.line), "\(l.supplierCode) \(l.supplierName)", "\(l.itemCode) \(l.itemName)", "\(l.quantity) \(l.unit)", l.dueDate,
             l.eta ?? "", l.promisedDate ?? "", String(l.daysLate), req.t("risk.\(l.risk)"),
             l.delayReason.map { DelayReasonOptions.label($0, req) } ?? "", l.delayNote]
        }
    }
}

/// `GET /api/v1/late-lines` (`?format=csv|xlsx` downloads up to 10,000 rows).
struct LateLinesAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("late-lines", use: list)
    }

    func list(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let f = try LateLines.filter(req)
        if req.queryText("format") != nil {
            let format = try SpreadsheetDownload.format(req)
            let page = try await LateLines.list(p, f, page: PageRequest(page: 1, per: 10_000), app: req.application)
            return try SpreadsheetDownload.response(LateLines.rows(page.items, req), sheet: req.t("late.title"), filename: "late-lines", format: format)
        }
        return try await LateLines.list(p, f, page: try PageRequest(req), app: req.application).encodeResponse(for: req)
    }
}

/// `/late-lines`: the same list on a page, filtered by reason, supplier or a search.
struct LateLinesPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("late-lines", use: page)
    }

    /// Written in Swift from the first tag to the last.
    func page(req: Request) async throws -> Vapor.View {
        let p = try req.requirePrincipal()
        let f = try LateLines.filter(req)
        let page = try await LateLines.list(p, f, page: try PageRequest(req, defaultPer: 50), app: req.application)
        var reasons = DelayReasonOptions.options(req, selected: f.reason)
        reasons[0] = Option(value: "", label: req.t("late.allReasons"), selected: f.reason == nil)
        reasons.insert(Option(value: "none", label: req.t("late.noReason"), selected: f.reason == "none"), at: 1)
        let rows = Self.rows(page.items, isSupplier: p.isSupplier, req: req), pager = Pager(page, req)
        let search = f.search ?? "", supplierID = f.supplierID?.uuidString ?? "", query = req.url.query ?? ""
        return try await req.renderPage(titleKey: "late.title") { t in
            var html: HTML = """
                <section class="card">
                  <form method="get" action="/late-lines" class="form row">
                    <label class="grow">\(t("action.search"))<input type="search" name="q" value="\(search)" placeholder="\(t("late.searchHint"))"></label>
                    \(supplierID.isEmpty ? HTML() : "<input type=\"hidden\" name=\"supplierId\" value=\"\(supplierID)\">")
                    <label>\(t("delay.reason"))<select name="reason" data-autosubmit>
                """
            html += Option.html(reasons)
            html += """
                </select></label>
                    <button type="submit">\(t("action.search"))</button>
                  </form>
                  <p class="muted">\(t("late.explain")) · \(t("late.count", ["n": String(pager.total)])) · \
                <a href="/api/v1/late-lines?format=xlsx&\(query)">Excel</a> · <a href="/api/v1/late-lines?format=csv&\(query)">CSV</a></p>

                """
            if page.items.isEmpty {
                html += "<p class=\"muted\">\(t("late.none"))</p>"
            } else {
                html += .listTable(head: """
                    <th>\(t("orders.code"))</th>\(p.isSupplier ? HTML() : "<th>\(t("prices.supplier"))</th>")<th>\(t("material.item"))</th>\
                    <th class="num">\(t("orders.quantity"))</th><th>\(t("orders.dueDate"))</th><th>\(t("work.eta")) / \(t("work.promised"))</th>\
                    <th class="num">\(t("late.daysLate"))</th><th>\(t("delay.reason"))</th>
                    """, rows: rows)
                html += pager.html(&t)
            }
            html += "</section>"
            return html
        }
    }
}

extension LateLinesPages {
    /// The late lines' rows (see `HTML`).
    static func rows(_ lines: [LateLineDTO], isSupplier: Bool, req: Request) -> HTML {
        var t = req.texts()
        let order = t("orders.code"), supplier = t("prices.supplier"), item = t("material.item"), quantity = t("orders.quantity")
        let due = t("orders.dueDate"), when = t("work.eta") + " / " + t("work.promised"), late = t("late.daysLate"), reason = t("delay.reason")
        let noReason = t("late.noReason"), explainNow = t("late.explainNow")
        var reasons: [String: String] = [:]
        var html = HTML()
        for l in lines {
            let operation = l.operation.map { $0.isEmpty ? HTML() : " / \($0)" } ?? HTML()
            let because: HTML
            if let r = l.delayReason {
                let label = reasons[r] ?? DelayReasonOptions.label(r, req)
                reasons[r] = label
                because = "\(label)\(HTML.when(l.delayNote != "", " <span class=\"muted\">\(l.delayNote)</span>"))"
            } else {
                because = """
                    <span class="tag warn">\(noReason)</span>\
                    \(HTML.when(isSupplier, " <a href=\"/orders/\(l.orderId)/report?line=\(l.line)\">\(explainNow)</a>"))
                    """
            }
            html += """
                <tr><td data-label="\(order)"><a class="nowrap" href="/orders/\(l.orderId)#progress">\(l.orderCode)</a> \
                <span class="muted">\(t("material.lineNo", ["n": String(l.line)]))</span></td>
                \(isSupplier ? HTML() : "<td data-label=\"\(supplier)\">\(l.supplierName) <span class=\"muted\">\(l.supplierCode)</span></td>")
                <td data-label="\(item)"><span class="nowrap">\(l.itemCode)</span> <span class="muted">\(l.itemName)</span>\(operation)</td>
                <td data-label="\(quantity)" class="num nowrap">\(l.quantity.grouped) \(l.unit)</td>
                <td data-label="\(due)" class="nowrap">\(l.dueDate)</td>
                <td data-label="\(when)" class="nowrap">\(l.eta ?? "—") / \(l.promisedDate ?? "—")</td>
                <td data-label="\(late)" class="num"><span class="tag risk-\(l.risk)">\(t("work.daysLate", ["n": String(l.daysLate)]))</span></td>
                <td data-label="\(reason)">\(because)</td></tr>

                """
        }
        return html
    }
}

extension KeptCounts {
    /// Open lines projected late or at risk of orders still worked on, per supplier, as the list
    /// selects them: counting them from the list's index took 6–9 ms a page on the large data set
    /// (34,000 lines), most of what the list cost. A line's supplier is set just after it is
    /// written (see `AddWorkbenchFigures`); until then it is not counted.
    static let lateLines = KeptCounts(
        table: "order_lines", counts: "late_line_counts", keys: ["supplier_id"],
        only: { row in LateLines.counted(row) }, reads: ["state", "risk", "order_status"], acrossFirstKey: true)
    /// The same, for lines nobody has given a reason for yet (the to-do's "explain the delay").
    static let unexplainedLateLines = KeptCounts(
        table: "order_lines", counts: "unexplained_late_line_counts", keys: ["supplier_id"],
        only: { row in "\(LateLines.counted(row)) AND \(row).delay_reason IS NULL" }, reads: ["state", "risk", "order_status", "delay_reason"], acrossFirstKey: true)
    /// The same lines per supplier and risk, for the dashboard's "at risk" and "late": counted
    /// from the lines, its two counts walked the 34,000 late lines' index on every view of a
    /// buyer's dashboard (10–25 ms of its 30).
    static let lateLinesByRisk = KeptCounts(
        table: "order_lines", counts: "late_line_risk_counts", keys: ["supplier_id", "risk"],
        only: { row in LateLines.counted(row) }, reads: ["state", "order_status"], acrossFirstKey: true)
}

extension LateLines {
    /// The list's own condition, written of a row's name for the kept counts' triggers.
    static func counted(_ row: String) -> String {
        "\(row).supplier_id IS NOT NULL AND \(row).state = 'open' AND \(row).risk IN (\(AddWorkbenchFigures.late)) AND \(row).order_status IN (\(AddWorkbenchFigures.live))"
    }
}

/// The late lines' page order, holding what the list filters on, for open lines projected late
/// or at risk only (about 21,000 of a million lines on the large data set).
struct AddLateLinePageIndex: AsyncMigration {
    /// The late risks as the index's condition writes them; the list's query must say the same.
    static let risks = AddWorkbenchFigures.late

    func prepare(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("""
            CREATE INDEX order_lines_late_page_idx ON order_lines (days_late DESC, due_date, order_status, supplier_id)
            WHERE state = 'open' AND risk IN (\(unsafeRaw: Self.risks))
            """).run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "order_lines_late_page_idx").run()
    }
}

/// Every order line carries its order's code (`order_code`, written by the database when the line
/// is inserted; a code never changes once given, it is on the printed order), and the late lines'
/// page index holds the list's whole order with it. The list's tie-break was the order's code from
/// the join, so a page was sorted: SQLite sorted each run of lines equally late and due, and
/// PostgreSQL read 523 lines and joined each to its order to return the first 50 (8.8 ms). One
/// supplier's late lines get an index of their own in the same order.
struct AddLineOrderCode: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await db.schema("order_lines").field("order_code", .string).update()
        try await sql.raw("UPDATE order_lines SET order_code = \(unsafeRaw: AddWorkbenchFigures.fromOrder("code", "order_lines"))").run()
        try await Self.insertTrigger(copying: ["supplier_id", "status", "code"], on: sql)
        try await sql.drop(index: "order_lines_late_page_idx").run()
        try await sql.raw("""
            CREATE INDEX order_lines_late_page_idx ON order_lines (days_late DESC, due_date, order_code, line_no, order_status, supplier_id)
            WHERE state = 'open' AND risk IN (\(unsafeRaw: AddLateLinePageIndex.risks))
            """).run()
        try await sql.raw(Self.supplierIndex).run()
    }

    /// One supplier's late lines in page order.
    static let supplierIndex: SQLQueryString = """
        CREATE INDEX order_lines_supplier_late_page_idx ON order_lines (supplier_id, days_late DESC, due_date, order_code, line_no, order_status)
        WHERE state = 'open' AND risk IN (\(unsafeRaw: AddLateLinePageIndex.risks))
        """

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "order_lines_supplier_late_page_idx").run()
        try await sql.drop(index: "order_lines_late_page_idx").run()
        try await AddLateLinePageIndex().prepare(on: db)
        try await Self.insertTrigger(copying: ["supplier_id", "status"], on: sql)
        try await db.schema("order_lines").deleteField("order_code").update()
    }

    /// The trigger that gives a new line what it takes from its order (the order's `status` goes
    /// to `order_status`, the `code` to `order_code`), as `AddWorkbenchFigures` last wrote it.
    static func insertTrigger(copying columns: [String], on sql: any SQLDatabase) async throws {
        func target(_ column: String) -> String { column == "supplier_id" ? column : "order_\(column)" }
        if sql.dialect.name == "sqlite" {
            let sets = columns.map { "\(target($0)) = \(AddWorkbenchFigures.fromOrder($0, "NEW"))" }.joined(separator: ", ")
            try await sql.raw("DROP TRIGGER line_supplier_insert").run()
            try await sql.raw("""
                CREATE TRIGGER line_supplier_insert AFTER INSERT ON order_lines BEGIN
                  UPDATE order_lines SET \(unsafeRaw: sets) WHERE id = NEW.id;
                END
                """).run()
        } else {
            let sets = columns.map { "NEW.\(target($0)) := \(AddWorkbenchFigures.fromOrder($0, "NEW"));" }.joined(separator: "\n  ")
            try await sql.raw("""
                CREATE OR REPLACE FUNCTION line_supplier_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  \(unsafeRaw: sets)
                  RETURN NEW;
                END $$
                """).run()
        }
    }
}
