import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A report as a table: typed columns and rows of exact values (decimal text, whole numbers,
/// translated words), the same for the page, the API and the downloads.
struct ReportDTO: Content {
    struct Column: Content {
        let key: String
        let label: String
        /// text, int, quantity, money, percent.
        let format: String
    }
    let kind: String
    let from: String?
    let to: String?
    let columns: [Column]
    let rows: [[String]]
    /// More rows matched than a report shows (narrow the filters).
    let truncated: Bool
}

/// The reports, each one or two aggregate statements in the caller's scope (a supplier sees
/// only its own), filtered by months, plant (the item's plant), supplier and item.
enum Reports {
    static let maxRows = 5_000

    struct Query {
        let kind: ReportKind
        let filter: ReportFilter
        let plantID: UUID?
        let supplierID: UUID?
        let itemCode: String?
    }

    /// Reads `from`, `to` (YYYY-MM; the last three months by default), `plantId`, `supplierId`
    /// and `item` (a code); bad values are a 400 naming the field.
    static func query(_ req: Request, kind: ReportKind) throws -> Query {
        let current = req.subcon.settings.statementCalendar.period(of: req.subcon.today())
        func period(_ name: String, _ fallback: SettlementPeriod) throws -> SettlementPeriod {
            guard let t = req.queryText(name), !t.isEmpty else { return fallback }
            guard let p = SettlementPeriod(t) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "badPeriod")]) }
            return p
        }
        let to = try period("to", current)
        let from = try period("from", to.previous.previous)
        let filter: ReportFilter
        do { filter = try ReportFilter(from: from, to: to) } catch {
            switch error {
            case .fromAfterTo: throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("from", "fromAfterTo")])
            case .tooLong(let n): throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("from", "periodTooLong", ["months": String(n)])])
            }
        }
        let item = req.queryText("item")?.trimmingCharacters(in: .whitespaces)
        if let item, item.count > 60 { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("item", "tooLong", ["max": "60"])]) }
        return Query(kind: kind, filter: filter, plantID: try req.uuidQuery("plantId"), supplierID: try req.uuidQuery("supplierId"),
                     itemCode: (item ?? "").isEmpty ? nil : item)
    }

    static func kind(_ req: Request) throws -> ReportKind {
        guard let k = req.parameters.get("kind").flatMap(ReportKind.init(rawValue:)) else { throw Problem.notFound }
        return k
    }

    static func run(_ p: Principal, _ q: Query, req: Request) async throws -> ReportDTO {
        let sql = req.db as! any SQLDatabase
        let settings = req.subcon.settings
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: settings.timeZone) ?? .gmt
        let start = calendar.date(from: DateComponents(year: q.filter.from.year, month: q.filter.from.month, day: 1))!
        let end = calendar.date(byAdding: .month, value: 1, to: calendar.date(from: DateComponents(year: q.filter.to.year, month: q.filter.to.month, day: 1))!)!
        let supplier = p.scope.supplierID ?? q.supplierID
        /// The filters on the supplier column given and on the item joined as `i`.
        func filters(_ supplierColumn: String) -> SQLQueryString {
            var s: SQLQueryString = ""
            if let supplier { s = s + " AND \(unsafeRaw: supplierColumn) = \(bind: supplier)" }
            if let plant = q.plantID { s = s + " AND i.default_site_id = \(bind: plant)" }
            if let item = q.itemCode { s = s + " AND i.code = \(bind: item)" }
            return s
        }
        func col(_ key: String, _ label: String, _ format: String = "text") -> ReportDTO.Column { .init(key: key, label: req.t(label), format: format) }
        func units(_ v: Int64) -> String { FixedDecimal(units: v).description }
        func percent(_ part: Int, of whole: Int) -> String { whole > 0 ? String(part * 100 / whole) : "" }
        let limit = SQLQueryString(" LIMIT \(literal: maxRows + 1)")
        var columns: [ReportDTO.Column] = []
        var rows: [[String]] = []
        switch q.kind {
        case .orderProgress:
            struct R: Decodable {
                let code: String; let line_no: Int; let supplier: String; let item_code: String; let item_name: String; let uom: String
                let quantity: Int64; let due_date: String; let good: Int64; let accepted: Int64; let days_late: Int; let risk: String; let status: String
            }
            let found = try await sql.raw("""
                SELECT o.code, l.line_no, s.name AS supplier, i.code AS item_code, i.name AS item_name, i.uom, l.quantity, l.due_date,
                       CAST(COALESCE((SELECT SUM(p.good_quantity) FROM progress_reports p WHERE p.order_id = l.order_id AND p.line_no = l.line_no), 0) AS BIGINT) AS good,
                       CAST(COALESCE((SELECT SUM(r.accepted_quantity) FROM receipt_lines r WHERE r.order_id = l.order_id AND r.order_line_no = l.line_no), 0) AS BIGINT) AS accepted,
                       l.days_late, l.risk, o.status
                FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id JOIN organizations s ON s.id = o.supplier_id JOIN items i ON i.id = l.item_id
                WHERE o.status NOT IN ('draft', 'cancelled') AND l.state <> 'cancelled'
                """ + " AND l.due_date >= \(bind: q.filter.firstDay.description) AND l.due_date <= \(bind: q.filter.lastDay.description)"
                + filters("o.supplier_id") + " ORDER BY l.due_date, o.code, l.line_no" + limit).rows(decoding: R.self)
            columns = [col("order", "orders.code"), col("line", "report.col.line", "int"), col("supplier", "prices.supplier"), col("item", "material.item"),
                       col("unit", "report.col.unit"), col("quantity", "orders.quantity", "quantity"), col("due", "orders.dueDate"),
                       col("good", "report.col.good", "quantity"), col("accepted", "receipts.accepted", "quantity"), col("done", "report.col.done", "percent"),
                       col("daysLate", "late.daysLate", "int"), col("status", "field.status")]
            rows = found.map { r in
                [r.code, String(r.line_no), r.supplier, "\(r.item_code) \(r.item_name)", r.uom, units(r.quantity), r.due_date, units(r.good), units(r.accepted),
                 r.quantity > 0 ? String(min(100, r.good * 100 / r.quantity)) : "", Projection.Risk(rawValue: r.risk)?.isLate == true ? String(r.days_late) : "0",
                 req.t("order.status.\(r.status)")]
            }
        case .deliveryPerformance:
            struct R: Decodable { let supplier: String; let lines: Int; let on_time: Int; let received: Int64 }
            let found = try await sql.raw("""
                SELECT s.name AS supplier, COUNT(*) AS lines, COUNT(CASE WHEN g.receipt_day <= l.due_date THEN 1 END) AS on_time,
                       CAST(SUM(r.quantity) AS BIGINT) AS received
                FROM receipt_lines r JOIN goods_receipts g ON g.id = r.receipt_id
                JOIN order_lines l ON l.order_id = r.order_id AND l.line_no = r.order_line_no
                JOIN organizations s ON s.id = r.supplier_id JOIN items i ON i.id = r.item_id
                """ + " WHERE g.receipt_day >= \(bind: q.filter.firstDay.description) AND g.receipt_day <= \(bind: q.filter.lastDay.description)"
                + filters("r.supplier_id") + " GROUP BY s.id, s.name ORDER BY s.name" + limit).rows(decoding: R.self)
            columns = [col("supplier", "prices.supplier"), col("lines", "report.col.receiptLines", "int"), col("onTime", "report.col.onTime", "int"),
                       col("late", "report.col.late", "int"), col("onTimePercent", "report.col.onTimePercent", "percent")]
            rows = found.map { [$0.supplier, String($0.lines), String($0.on_time), String($0.lines - $0.on_time), percent($0.on_time, of: $0.lines)] }
        case .qualityBySupplier, .qualityByItem:
            let bySupplier = q.kind == .qualityBySupplier
            struct R: Decodable { let name: String; let lots: Int; let rejected_lots: Int; let accepted: Int64; let rejected: Int64 }
            let key: SQLQueryString = bySupplier ? "s.name AS name" : "i.code || ' ' || i.name AS name"
            let group: SQLQueryString = bySupplier ? " GROUP BY s.id, s.name ORDER BY s.name" : " GROUP BY i.id, i.code, i.name ORDER BY i.code"
            let found = try await sql.raw("SELECT " + key + """
                , COUNT(*) AS lots, COUNT(CASE WHEN n.rejected_quantity > 0 THEN 1 END) AS rejected_lots,
                       CAST(SUM(n.accepted_quantity) AS BIGINT) AS accepted, CAST(SUM(n.rejected_quantity) AS BIGINT) AS rejected
                FROM inspections n JOIN organizations s ON s.id = n.supplier_id JOIN items i ON i.id = n.item_id
                """ + " WHERE n.created_at >= \(bind: start) AND n.created_at < \(bind: end)" + filters("n.supplier_id") + group + limit)
                .rows(decoding: R.self)
            columns = [col("name", bySupplier ? "prices.supplier" : "material.item"), col("lots", "report.col.lots", "int"),
                       col("rejectedLots", "report.col.rejectedLots", "int"), col("accepted", "receipts.accepted", "quantity"),
                       col("rejected", "receipts.rejected", "quantity"), col("ppm", "report.col.ppm", "int"), col("passPercent", "report.col.passPercent", "percent")]
            rows = found.map { r in
                let a = FixedDecimal(units: r.accepted), x = FixedDecimal(units: r.rejected)
                let received = (try? a.adding(x)) ?? a
                return [r.name, String(r.lots), String(r.rejected_lots), a.description, x.description,
                        received > .zero ? String(ExceptionRules.ppm(rejected: x, received: received)) : "", percent(r.lots - r.rejected_lots, of: r.lots)]
            }
        case .qualityByDefect:
            struct R: Decodable { let code: String; let name: String; let n: Int64; let lots: Int }
            let found = try await sql.raw("""
                SELECT d.code, MIN(d.name) AS name, CAST(SUM(d.count) AS BIGINT) AS n, COUNT(DISTINCT d.inspection_id) AS lots
                FROM inspection_defects d JOIN items i ON i.id = d.item_id
                """ + " WHERE d.created_at >= \(bind: start) AND d.created_at < \(bind: end)" + filters("d.supplier_id") + " GROUP BY d.code" + limit)
                .rows(decoding: R.self)
            let names = Dictionary(found.map { ($0.code, $0.name) }, uniquingKeysWith: { a, _ in a })
            let lots = Dictionary(found.map { ($0.code, $0.lots) }, uniquingKeysWith: { a, _ in a })
            columns = [col("defect", "inspect.defects"), col("count", "report.col.count", "int"), col("share", "report.col.share", "percent"),
                       col("cumulative", "report.col.cumulative", "percent"), col("lots", "report.col.lots", "int")]
            rows = Pareto.bars(found.map { (key: $0.code, count: $0.n) }).map { b in
                ["\(b.key) \(names[b.key] ?? "")", String(b.count), String(b.percent), String(b.cumulativePercent), String(lots[b.key] ?? 0)]
            }
        case .heldMaterial:
            // Each supplier's balance per material as the ledger keeps it (`HeldValues`), shortfalls included.
            struct R: Decodable {
                let supplier: String; let item_code: String; let item_name: String; let uom: String; let cost_price: Int64?; let held: Int64
            }
            let found = try await sql.raw("""
                SELECT s.name AS supplier, i.code AS item_code, i.name AS item_name, i.uom, i.cost_price, h.held
                FROM ledger_held h JOIN organizations s ON s.id = h.supplier_id JOIN items i ON i.id = h.item_id WHERE h.held <> 0
                """ + filters("h.supplier_id")).rows(decoding: R.self)
            columns = [col("supplier", "prices.supplier"), col("item", "material.item"), col("unit", "report.col.unit"),
                       col("held", "material.held", "quantity"), col("costPrice", "report.col.costPrice", "money"), col("value", "report.col.value", "money")]
            for r in found {
                let quantity = FixedDecimal(units: r.held), cost = r.cost_price.map { FixedDecimal(units: $0) }
                let value = cost.flatMap { try? quantity.multiplied(by: $0, roundedToScale: 2) }
                rows.append([r.supplier, "\(r.item_code) \(r.item_name)", r.uom, quantity.description, cost?.description ?? "", value?.description ?? ""])
            }
            rows.sort { ($0[0], $0[1]) < ($1[0], $1[1]) }
        case .writeOffVariance:
            let w = try await MaterialReports.writeOff(p, start: start, end: end, label: "\(q.filter.from)…\(q.filter.to)", supplierID: supplier, app: req.application)
            // The items the filters allow, asked for by the filters alone: naming every material of
            // a long span's report would pass the databases' limits on bound parameters.
            var allowed: Set<UUID>?
            if q.plantID != nil || q.itemCode != nil {
                var items = Item.query(on: req.db)
                if let plant = q.plantID { items = items.filter(\.$defaultSiteID == plant) }
                if let code = q.itemCode { items = items.filter(\.$code == code) }
                allowed = Set(try await items.all(\.$id))
            }
            columns = [col("supplier", "prices.supplier"), col("item", "material.item"), col("unit", "report.col.unit"),
                       col("opening", "writeoff.col.opening", "quantity"), col("issued", "writeoff.col.issued", "quantity"),
                       col("consumed", "writeoff.col.consumed", "quantity"), col("allowedLoss", "writeoff.col.allowedLoss", "quantity"),
                       col("returned", "writeoff.col.returned", "quantity"), col("held", "material.held", "quantity"),
                       col("materialRejects", "writeoff.col.materialRejects", "quantity"),
                       col("supplierRejects", "writeoff.col.supplierRejects", "quantity"),
                       col("variance", "writeoff.col.variance", "quantity"), col("tolerance", "writeoff.col.tolerance", "quantity"),
                       col("beyond", "report.col.beyondTolerance")]
            rows = w.rows.filter { allowed?.contains($0.itemId) ?? true }.map { r in
                [r.supplierName, "\(r.itemCode) \(r.itemName)", r.unit, r.opening.description, r.issued.description, r.consumed.description,
                 r.allowedLoss.description, r.returned.description, r.held.description, r.materialRejects.description,
                 r.supplierRejects.description, r.variance.description, r.tolerance.description, r.beyondTolerance ? req.t("report.yes") : ""]
            }
        case .exceptionAging:
            let now = req.now
            let bounds = AgeBucket.allCases.map { now.addingTimeInterval(-Double($0.fromDays) * 86_400) }
            var counts: SQLQueryString = ""
            for (n, bucket) in AgeBucket.allCases.enumerated() {
                var c: SQLQueryString = "e.created_at <= \(bind: bounds[n])"
                if n + 1 < bounds.count { c = c + " AND e.created_at > \(bind: bounds[n + 1])" }
                counts = counts + "COUNT(CASE WHEN " + c + " THEN 1 END) AS \(unsafeRaw: "b_" + bucket.rawValue), "
            }
            let rowsFound = try await sql.raw("SELECT s.name AS supplier, " + counts + """
                COUNT(*) AS total,
                COUNT(CASE WHEN (e.responded_at IS NULL AND e.response_by < \(bind: now))
                             OR (e.responded_at IS NOT NULL AND e.resolve_by < \(bind: now)) THEN 1 END) AS overdue
                FROM exceptions e JOIN organizations s ON s.id = e.supplier_id LEFT JOIN items i ON i.id = e.item_id
                WHERE e.status = 'open'
                """ + filters("e.supplier_id") + " GROUP BY s.id, s.name ORDER BY total DESC, s.name" + limit).all()
            columns = [col("supplier", "prices.supplier")] + AgeBucket.allCases.map { col($0.rawValue, "report.age.\($0.rawValue)", "int") }
                + [col("total", "report.col.total", "int"), col("overdue", "report.col.overdue", "int")]
            rows = try rowsFound.map { r in
                [try r.decode(column: "supplier", as: String.self)]
                    + (try AgeBucket.allCases.map { String(try r.decode(column: "b_" + $0.rawValue, as: Int.self)) })
                    + [String(try r.decode(column: "total", as: Int.self)), String(try r.decode(column: "overdue", as: Int.self))]
            }
        }
        let truncated = rows.count > maxRows
        return ReportDTO(kind: q.kind.rawValue, from: q.kind.usesPeriod ? q.filter.from.description : nil, to: q.kind.usesPeriod ? q.filter.to.description : nil,
                         columns: columns, rows: Array(rows.prefix(maxRows)), truncated: truncated)
    }

    /// The table as a download: headers in the reader's language, values as they are.
    static func download(_ r: ReportDTO, req: Request, format: String) throws -> Response {
        let sheet = req.t("report.kind.\(r.kind)")
        return try SpreadsheetDownload.response([r.columns.map(\.label)] + r.rows, sheet: String(sheet.prefix(31)),
                                                filename: [r.kind, r.from, r.to].compactMap { $0 }.joined(separator: "_"), format: format)
    }
}

// MARK: - Saved reports

struct SavedReportDTO: Content {
    let id: UUID
    let name: String
    let kind: String
    let query: String
    let createdAt: Date
}

struct SavedReportInput: StrictInput {
    static let fields: Set<String> = ["name", "kind", "query"]
    var name: String
    var kind: String
    var query: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(name, "name", required: true, max: 80, into: &p)
        if ReportKind(rawValue: kind) == nil { p.append(FieldProblem("kind", "invalidValue")) }
        Check.text(query, "query", required: false, max: 500, into: &p)
        return p
    }
}

enum SavedReports {
    static let filterNames: Set<String> = ["from", "to", "plantId", "supplierId", "item"]

    /// Only the report's own filters are kept, so a saved link never carries anything else.
    static func clean(_ query: String) -> String {
        var c = URLComponents()
        c.query = query
        c.queryItems = (c.queryItems ?? []).filter { filterNames.contains($0.name) && !($0.value ?? "").isEmpty }
        return c.percentEncodedQuery ?? ""
    }

    static func list(_ p: Principal, on db: any Database) async throws -> [SavedReportDTO] {
        try await SavedReport.query(on: db).filter(\.$userID == p.userID).sort(\.$name).all()
            .map { SavedReportDTO(id: $0.id!, name: $0.name, kind: $0.kind, query: $0.query, createdAt: $0.createdAt) }
    }

    static func save(_ p: Principal, _ input: SavedReportInput, app: Application) async throws -> SavedReport {
        if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
        let name = input.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if try await SavedReport.query(on: app.database).filter(\.$userID == p.userID).filter(\.$name == name).count() > 0 {
            throw Problem.validation([FieldProblem("name", "nameTaken")])
        }
        return try await app.write(as: p.auditActor) { change in
            let r = SavedReport()
            r.id = UUID(); r.userID = p.userID; r.name = name; r.kind = input.kind; r.query = clean(input.query ?? ""); r.createdAt = change.now
            try await r.create(on: change.db)
            try await change.audit("saved_report", r.id, "create", after: ["name": name, "kind": r.kind, "query": r.query])
            return r
        }
    }

    static func delete(_ p: Principal, _ id: UUID, app: Application) async throws {
        guard let r = try await SavedReport.query(on: app.database).filter(\.$id == id).filter(\.$userID == p.userID).first() else { throw Problem.notFound }
        try await app.write(as: p.auditActor) { change in
            try await r.delete(on: change.db)
            try await change.audit("saved_report", r.id, "delete", before: ["name": r.name, "kind": r.kind, "query": r.query])
        }
    }
}

/// `GET /api/v1/reports/{kind}` (`?format=csv|xlsx` downloads), `/api/v1/saved-reports`.
struct ReportsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.heavy.get("reports", ":kind", use: report)
        let s = routes.grouped("saved-reports")
        s.get(use: saved)
        s.post(use: save)
        s.delete(":id", use: delete)
    }

    func report(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let q = try Reports.query(req, kind: try Reports.kind(req))
        if req.queryText("format") != nil {
            let format = try SpreadsheetDownload.format(req)
            return try Reports.download(try await Reports.run(p, q, req: req), req: req, format: format)
        }
        return try await Reports.run(p, q, req: req).encodeResponse(for: req)
    }

    func saved(req: Request) async throws -> ListResult<SavedReportDTO> {
        ListResult(items: try await SavedReports.list(try req.requirePrincipal(), on: req.db))
    }

    func save(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let r = try await SavedReports.save(p, try req.decodeStrict(SavedReportInput.self), app: req.application)
        return try await .created(SavedReportDTO(id: r.id!, name: r.name, kind: r.kind, query: r.query, createdAt: r.createdAt), for: req)
    }

    func delete(req: Request) async throws -> HTTPStatus {
        try await SavedReports.delete(try req.requirePrincipal(), try req.idParameter(), app: req.application)
        return .noContent
    }
}

/// `/reports` and `/reports/{kind}`: filters, the table, a chart where one helps, downloads,
/// and the person's saved reports.
struct ReportPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("reports") { req in req.redirect(to: "/reports/\(ReportKind.orderProgress.rawValue)") }
        routes.heavy.get("reports", ":kind", use: page)
        routes.post("reports", "saved", use: save)
        routes.post("reports", "saved", ":id", "delete", use: delete)
    }

    struct Tab: Encodable { let href: String; let label: String; let active: Bool }
    struct Cell: Encodable { let text: String; let format: String; let label: String }
    struct View: Encodable {
        let kind: String
        let tabs: [Tab]
        let report: ReportDTO?
        let cells: [[Cell]]
        let chart: String?
        let from: String
        let to: String
        let usesPeriod: Bool
        let item: String
        let plants: [Option]
        let suppliers: [Option]
        let isSupplier: Bool
        let query: String
        let saved: [SavedReportDTO]
        let errors: FormErrors
    }

    func render(_ req: Request, kind: ReportKind, problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        var report: ReportDTO?
        var failure = problem
        var q: Reports.Query?
        do {
            q = try Reports.query(req, kind: kind)
            report = try await Reports.run(p, q!, req: req)
        } catch let e as Problem where e.status == .badRequest {
            failure = e
        }
        let plants = try await Site.query(on: req.db).filter(\.$kind == "plant").filter(\.$active == true).sort(\.$code).all()
        let suppliers = p.isSupplier ? [] : try await Organization.query(on: req.db).filter(\.$kind == OrganizationKind.supplier.rawValue)
            .sort(\.$code).limit(500).all()
        let plantID = q?.plantID, supplierID = q?.supplierID
        let saved = try await SavedReports.list(p, on: req.db)
        let cells = (report?.rows ?? []).map { row in zip(row, report!.columns).map { Cell(text: $0, format: $1.format, label: $1.label) } }
        let query = SavedReports.clean(req.url.query ?? "")
        return try await req.renderForm("reports", titleKey: "report.title", View(
            kind: kind.rawValue,
            tabs: ReportKind.allCases.map { Tab(href: "/reports/\($0.rawValue)" + (query.isEmpty ? "" : "?" + query), label: req.t("report.kind.\($0.rawValue)"), active: $0 == kind) },
            report: report, cells: cells, chart: report.map { chart($0, req) } ?? nil,
            from: q?.filter.from.description ?? "", to: q?.filter.to.description ?? "", usesPeriod: kind.usesPeriod, item: q?.itemCode ?? "",
            plants: [Option(value: "", label: req.t("report.allPlants"), selected: plantID == nil)]
                + plants.map { Option(value: $0.id!.uuidString, label: $0.name, selected: $0.id == plantID) },
            suppliers: [Option(value: "", label: req.t("report.allSuppliers"), selected: supplierID == nil)]
                + suppliers.map { Option(value: $0.id!.uuidString, label: "\($0.name) (\($0.code))", selected: $0.id == supplierID) },
            isSupplier: p.isSupplier, query: query, saved: saved,
            errors: req.formErrors(failure)), problem: failure)
    }

    /// A chart where people would rather look than read: Pareto of defects, on-time and PPM by
    /// supplier, held value, exceptions by age.
    func chart(_ r: ReportDTO, _ req: Request) -> String? {
        func number(_ row: [String], _ key: String) -> Int64? {
            guard let i = r.columns.firstIndex(where: { $0.key == key }) else { return nil }
            return Int64(row[i]) ?? (try? FixedDecimal.parse(row[i]))?.units
        }
        let empty = req.t("dash.nothing")
        let title = req.t("report.kind.\(r.kind)")
        switch ReportKind(rawValue: r.kind) {
        case .qualityByDefect:
            return SVGChart.bars(r.rows.prefix(12).map { row in
                SVGChart.Bar(label: row[0], value: number(row, "count") ?? 0,
                             display: "\(row[1]) · \(row[2])% → Σ\(row[3])%", href: nil, tone: "bad")
            }, title: title, empty: empty)
        case .deliveryPerformance:
            return SVGChart.bars(r.rows.prefix(20).map { row in
                let v = number(row, "onTimePercent") ?? 0
                return SVGChart.Bar(label: row[0], value: v, display: row[4].isEmpty ? "—" : "\(row[4])%", href: nil, tone: v >= 95 ? "ok" : v >= 80 ? "warn" : "bad")
            }, title: title, empty: empty)
        case .qualityBySupplier, .qualityByItem:
            return SVGChart.bars(r.rows.prefix(20).map { row in
                SVGChart.Bar(label: row[0], value: number(row, "ppm") ?? 0, display: row[5].isEmpty ? "—" : "\(row[5]) PPM", href: nil, tone: "bad")
            }, title: title, empty: empty)
        case .heldMaterial:
            return SVGChart.bars(r.rows.sorted { (number($0, "value") ?? 0) > (number($1, "value") ?? 0) }.prefix(15).map { row in
                SVGChart.Bar(label: "\(row[0]) · \(row[1])", value: number(row, "value") ?? 0,
                             display: (try? FixedDecimal.parse(row[5]))?.yuan ?? "—", href: nil)
            }, title: title, empty: empty)
        case .exceptionAging:
            let totals = AgeBucket.allCases.map { b in r.rows.reduce(Int64(0)) { $0 + (number($1, b.rawValue) ?? 0) } }
            return SVGChart.bars(zip(AgeBucket.allCases, totals).map { b, n in
                SVGChart.Bar(label: req.t("report.age.\(b.rawValue)"), value: n, display: String(n), href: "/exceptions?status=open",
                             tone: b.fromDays >= 7 ? "bad" : b.fromDays >= 3 ? "warn" : "brand")
            }, title: title, empty: empty)
        default:
            return nil
        }
    }

    func page(req: Request) async throws -> Response {
        _ = try req.requirePrincipal()
        return try await render(req, kind: try Reports.kind(req))
    }

    struct SaveForm: Content { var name: String?; var kind: String?; var query: String? }

    func save(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let f = try req.content.decode(SaveForm.self)
        let kind = ReportKind(rawValue: f.kind ?? "") ?? .orderProgress
        let problem = try await attempt {
            _ = try await SavedReports.save(p, SavedReportInput(name: f.name ?? "", kind: kind.rawValue, query: f.query), app: req.application)
        }
        let query = SavedReports.clean(f.query ?? "")
        guard let problem else { return req.redirect(to: "/reports/\(kind.rawValue)?" + (query.isEmpty ? "" : query + "&") + "ok=saved") }
        return try await render(req, kind: kind, problem: problem)
    }

    func delete(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try await SavedReports.delete(p, try req.idParameter(), app: req.application)
        return req.redirect(to: "/reports?ok=saved")
    }
}
