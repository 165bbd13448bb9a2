import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// The figures behind a dashboard, read with aggregate SQL in the caller's scope (a supplier
/// sees only its own): five statements whatever the size of the data.
struct DashboardDTO: Content {
    struct Count: Content { let key: String; let count: Int }
    struct Held: Content { let supplierId: UUID; let supplierName: String; let value: FixedDecimal; let materials: Int }
    struct Month: Content {
        let month: String
        let lots: Int
        let passedLots: Int
        let accepted: FixedDecimal
        let rejected: FixedDecimal
        /// Rejected parts per million received (nil with nothing inspected).
        let ppm: Int64?
        /// Lots accepted without rejects, in percent (nil with nothing inspected).
        let passPercent: Int?
        /// Receipt lines received on or before their line's due day, in percent (nil with none).
        let onTimePercent: Int?
    }
    let ordersByStatus: [Count]
    /// fresh (first half of the answer time), aging, overdue.
    let answersAwaited: [Count]
    /// at_risk, late.
    let lateLines: [Count]
    /// overdue_response, awaiting_response, in_work, overdue_resolution.
    let openExceptions: [Count]
    let dueThisWeek: [Count]
    let materialHeld: [Held]
    let quality: [Month]
}

extension KeptCounts {
    /// Open lines of orders still worked on, per supplier and due day, for the dashboard's week:
    /// counted from the lines, the large data set's 116,000 lines due in a week took 18 ms of a
    /// buyer's dashboard. A line's supplier is set just after it is written (see
    /// `AddWorkbenchFigures`); until then it is not counted.
    static let openLinesByDueDay = KeptCounts(
        table: "order_lines", counts: "open_line_due_counts", keys: ["supplier_id", "due_date"],
        only: { row in "\(row).supplier_id IS NOT NULL AND \(row).state = 'open' AND \(row).order_status IN (\(AddWorkbenchFigures.live))" },
        reads: ["state", "order_status"], acrossFirstKey: true)
}

/// The lines due by day kept (`KeptCounts.openLinesByDueDay`). PostgreSQL keeps no sums over
/// suppliers (see `KeptCounts.acrossFirstKey`): there a buyer's week is read by day.
struct AddOpenLineDueCounts: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await KeptCounts.openLinesByDueDay.create(on: db)
        guard (db as! any SQLDatabase).dialect.name == "postgresql" else { return }
        try await createIndex(db, "open_line_due_counts_day_idx", on: KeptCounts.openLinesByDueDay.counts, "due_date")
    }

    func revert(on db: any Database) async throws {
        try await KeptCounts.openLinesByDueDay.drop(on: db)
    }
}

enum Dashboard {
    static func figures(_ p: Principal, settings: Settings, now: Date, today: Day, on db: any Database) async throws -> DashboardDTO {
        let sql = db as! any SQLDatabase
        func scope(_ column: String) -> SQLQueryString {
            p.scope.supplierID.map { " AND \(unsafeRaw: column) = \(bind: $0)" } ?? ""
        }
        // Orders by status, late lines by risk and lines due by day from the kept counts; the rest from kept figures and partial indexes
        // (see `AddWorkbenchFigures`), whose conditions are repeated here word for word.
        struct StatusRow: Decodable { let status: String; let n: Int }
        let byStatus = try await sql.raw("SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM order_counts WHERE status NOT IN ('closed', 'cancelled') AND "
                                         + KeptCounts.orders.condition(["supplier_id": p.scope.supplierID], on: sql)
                                         + " GROUP BY status HAVING SUM(n) > 0").rows(decoding: StatusRow.self)
        let order = OrderStatus.allCases.map(\.rawValue)
        let answer = TimeInterval(settings.responseClock.answerHours) * 3600
        let half = now.addingTimeInterval(-answer / 2), due = now.addingTimeInterval(-answer)
        struct Figures: Decodable {
            let ans_fresh: Int; let ans_aging: Int; let ans_overdue: Int; let at_risk: Int; let late: Int
            let exc_overdue: Int; let exc_waiting: Int; let exc_working: Int; let exc_answered: Int
        }
        // The overdue answers as all those waiting (kept) less the recent ones: counted directly,
        // they were the 50,000 oldest of the large data set's waiting revisions (5 ms). The kept
        // count leaves out a revision without its supplier, so the recent ones do too.
        let pending: SQLQueryString = "SELECT COUNT(*) FROM order_revisions r WHERE r.status = 'pending' AND r.supplier_id IS NOT NULL" + scope("r.supplier_id")
        let waiting = KeptCounts.pendingRevisions.expression(["supplier_id": p.scope.supplierID], on: sql)
        func lines(_ risk: Projection.Risk) -> SQLQueryString {
            "SELECT " + KeptCounts.lateLinesByRisk.expression(["supplier_id": p.scope.supplierID, "risk": risk.rawValue], on: sql)
        }
        let open: SQLQueryString = "SELECT COUNT(*) FROM exceptions e WHERE e.status = 'open'" + scope("e.supplier_id")
        // Waiting for an answer in time as the sum of its two ranges of the deadlines index; the
        // overdue ones as all those unanswered (kept) less those. Counted directly, the overdue
        // were 35,586 index entries of the large data set (2.3 ms) and the waiting, whose OR is no
        // range, all 35,834 unanswered (3 ms): half of the buyer's dashboard.
        let inTime: SQLQueryString = ExceptionService.awaitingResponseParts(now: now).map { "(" + open + " AND " + $0 + ")" }.joined(separator: " + ")
        let f = try await sql.raw("SELECT (" + pending + " AND r.released_at >= \(bind: half)) AS ans_fresh, ("
            + pending + " AND r.released_at < \(bind: half) AND r.released_at >= \(bind: due)) AS ans_aging, ("
            + "SELECT " + waiting + " - (" + pending + " AND r.released_at >= \(bind: due))) AS ans_overdue, ("
            + lines(.atRisk) + ") AS at_risk, (" + lines(.late) + ") AS late, ("
            + "SELECT " + KeptCounts.unansweredExceptions.expression(["supplier_id": p.scope.supplierID], on: sql) + " - (" + inTime + ")) AS exc_overdue, ("
            + "SELECT " + inTime + ") AS exc_waiting, ("
            + open + " AND " + ExceptionService.condition(.inWork, now: now) + ") AS exc_working, ("
            // Late ones as the answered less those in time: asked directly, SQLite walked every open
            // exception past its deadline through the table (9 ms) instead of the deadlines index.
            + open + " AND e.responded_at IS NOT NULL) AS exc_answered").firstRow(decoding: Figures.self)!

        let week = (0..<7).map { today.adding(days: $0).description }
        struct DayRow: Decodable { let day: String; let n: Int }
        let dueRows = try await sql.raw("SELECT due_date AS day, CAST(SUM(n) AS BIGINT) AS n FROM \(ident: KeptCounts.openLinesByDueDay.counts) WHERE "
            + KeptCounts.openLinesByDueDay.condition(["supplier_id": p.scope.supplierID], on: sql)
            + " AND due_date >= \(bind: week[0]) AND due_date <= \(bind: week[6]) GROUP BY due_date").rows(decoding: DayRow.self)

        // Held material per supplier, the most valuable first, from the kept balances and values.
        struct HeldRow: Decodable { let supplier_id: UUID; let name: String; let value: Int64; let materials: Int }
        let held = try await sql.raw("SELECT x.supplier_id, g.name, x.value, x.materials FROM (SELECT h.supplier_id, CAST(SUM(h.value) AS BIGINT) AS value, "
            + "COUNT(*) AS materials FROM ledger_held h WHERE h.held > 0" + scope("h.supplier_id")
            + " GROUP BY h.supplier_id ORDER BY value DESC, materials DESC LIMIT 8) x JOIN organizations g ON g.id = x.supplier_id ORDER BY x.value DESC, x.materials DESC")
            .rows(decoding: HeldRow.self)
        let topHeld = held.map { DashboardDTO.Held(supplierId: $0.supplier_id, supplierName: $0.name, value: FixedDecimal(units: $0.value), materials: $0.materials) }

        // Six calendar months by the month of receipt, from the kept monthly figures.
        let months = (0..<6).map { n -> String in
            var y = today.year, m = today.month - 5 + n
            if m < 1 { m += 12; y -= 1 }
            return String(format: "%04d-%02d", y, m)
        }
        struct MonthRow: Decodable { let month: String; let lots: Int; let passed: Int; let accepted: Int64; let rejected: Int64; let deliveries: Int; let on_time: Int }
        let monthRows = try await sql.raw("SELECT month, " + SQLQueryString(AddWorkbenchFigures.figures.map { "CAST(SUM(\($0)) AS BIGINT) AS \($0)" }.joined(separator: ", "))
            + " FROM supplier_months WHERE month >= \(bind: months[0]) AND month <= \(bind: months[5])" + scope("supplier_id") + " GROUP BY month")
            .rows(decoding: MonthRow.self)
        let quality = months.map { month -> DashboardDTO.Month in
            let r = monthRows.first { $0.month == month }
            let a = FixedDecimal(units: r?.accepted ?? 0), rejected = FixedDecimal(units: r?.rejected ?? 0)
            let lots = r?.lots ?? 0, passed = r?.passed ?? 0, deliveries = r?.deliveries ?? 0
            let received = (try? a.adding(rejected)) ?? a
            return .init(month: month, lots: lots, passedLots: passed, accepted: a, rejected: rejected,
                         ppm: received > .zero ? ExceptionRules.ppm(rejected: rejected, received: received) : nil,
                         passPercent: lots > 0 ? passed * 100 / lots : nil,
                         onTimePercent: deliveries > 0 ? (r?.on_time ?? 0) * 100 / deliveries : nil)
        }
        return DashboardDTO(
            ordersByStatus: byStatus.sorted { (order.firstIndex(of: $0.status) ?? 99) < (order.firstIndex(of: $1.status) ?? 99) }.map { .init(key: $0.status, count: $0.n) },
            answersAwaited: [.init(key: "fresh", count: f.ans_fresh), .init(key: "aging", count: f.ans_aging), .init(key: "overdue", count: f.ans_overdue)],
            lateLines: [.init(key: "at_risk", count: f.at_risk), .init(key: "late", count: f.late)],
            openExceptions: [.init(key: ExceptionDeadlineState.overdueResponse.rawValue, count: f.exc_overdue),
                             .init(key: ExceptionDeadlineState.awaitingResponse.rawValue, count: f.exc_waiting),
                             .init(key: ExceptionDeadlineState.inWork.rawValue, count: f.exc_working),
                             .init(key: ExceptionDeadlineState.overdueResolution.rawValue, count: f.exc_answered - f.exc_working)],
            dueThisWeek: week.map { d in .init(key: d, count: dueRows.first { $0.day == d }?.n ?? 0) },
            materialHeld: topHeld, quality: quality)
    }
}

/// `GET /api/v1/dashboard`.
struct DashboardAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("dashboard") { req async throws -> DashboardDTO in
            try await Dashboard.figures(try req.requirePrincipal(), settings: req.subcon.settings, now: req.now, today: req.subcon.today(), on: req.db)
        }
    }
}

/// `GET /api/v1/todo`: the caller's to-do list (待我处理) as the home page shows it, most urgent
/// first, each group with its first few tasks and the address of each.
struct TodoAPI: RouteCollection {
    struct Task: Content { let id: UUID; let code: String; let detail: String?; let supplierName: String?; let deadline: Date?; let day: String?; let link: String }
    struct Group: Content {
        let kind: String; let label: String; let count: Int; let oldest: Date?; let deadline: Date?; let urgency: String; let link: String; let tasks: [Task]
    }
    struct List: Content { let total: Int; let groups: [Group] }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("todo") { req async throws -> List in
            let p = try req.requirePrincipal()
            var perKind = 3
            if let raw = req.queryText("perKind"), !raw.isEmpty {
                guard let v = Int(raw), (0...50).contains(v) else {
                    throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("perKind", "outOfRange", ["min": "0", "max": "50"])])
                }
                perKind = v
            }
            let todo = try await TodoQueries.load(p, settings: req.subcon.settings, today: req.subcon.today(), perKind: perKind, on: req.application.keyedReads)
            let groups = TodoGroup.sorted(todo.groups, now: req.now).map { g in
                Group(kind: g.kind.rawValue, label: req.t("todo.\(g.kind.rawValue)"), count: g.count, oldest: g.oldest, deadline: g.deadline,
                      urgency: "\(g.urgency(now: req.now))", link: TodoQueries.listLink(g.kind),
                      tasks: todo.items.filter { $0.kind == g.kind }.map {
                          Task(id: $0.id, code: $0.code, detail: $0.detail, supplierName: p.isSupplier ? nil : $0.supplierName,
                               deadline: $0.deadline, day: $0.day, link: TodoQueries.link($0))
                      })
            }
            return List(total: groups.reduce(0) { $0 + $1.count }, groups: groups)
        }
    }
}

/// `/dashboard`: the same figures as tiles and charts, each clicking through to its list.
struct DashboardPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("dashboard", use: page)
    }

    struct Tile: Encodable { let label: String; let value: String; let href: String; let tone: String }
    struct Chart: Encodable { let title: String; let svg: String; let href: String }
    struct View: Encodable { let tiles: [Tile]; let charts: [Chart] }

    func page(req: Request) async throws -> Vapor.View {
        let p = try req.requirePrincipal()
        let d = try await Dashboard.figures(p, settings: req.subcon.settings, now: req.now, today: req.subcon.today(), on: req.db)
        func count(_ list: [DashboardDTO.Count], _ key: String) -> Int { list.first { $0.key == key }?.count ?? 0 }
        let awaiting = d.answersAwaited.reduce(0) { $0 + $1.count }
        let late = d.lateLines.reduce(0) { $0 + $1.count }
        let overdueExceptions = count(d.openExceptions, "overdue_response") + count(d.openExceptions, "overdue_resolution")
        let week = d.dueThisWeek.reduce(0) { $0 + $1.count }
        let tiles = [
            Tile(label: req.t(p.isSupplier ? "dash.toAnswer" : "dash.awaiting"), value: String(awaiting), href: "/orders?awaiting=true",
                 tone: count(d.answersAwaited, "overdue") > 0 ? "bad" : ""),
            Tile(label: req.t("dash.lateLines"), value: String(late), href: "/late-lines", tone: late > 0 ? "warn" : ""),
            Tile(label: req.t("dash.exceptionsOverdue"), value: String(overdueExceptions), href: "/exceptions?deadline=overdue", tone: overdueExceptions > 0 ? "bad" : ""),
            Tile(label: req.t("dash.dueThisWeek"), value: String(week), href: "/orders?dueFrom=\(d.dueThisWeek.first?.key ?? "")&dueTo=\(d.dueThisWeek.last?.key ?? "")", tone: ""),
        ]
        var charts: [Chart] = []
        let empty = req.t("dash.nothing")
        func chart(_ key: String, _ href: String, _ bars: [SVGChart.Bar]) {
            charts.append(Chart(title: req.t(key), svg: SVGChart.bars(bars, title: req.t(key), empty: empty), href: href))
        }
        chart("dash.ordersByStatus", "/orders", d.ordersByStatus.map {
            SVGChart.Bar(label: req.t("order.status.\($0.key)"), value: Int64($0.count), display: String($0.count), href: "/orders?status=\($0.key)")
        })
        chart("dash.answersAwaited", "/orders?awaiting=true", d.answersAwaited.map {
            SVGChart.Bar(label: req.t("dash.answer.\($0.key)"), value: Int64($0.count), display: String($0.count),
                         href: $0.key == "overdue" ? "/orders?overdue=true" : "/orders?awaiting=true", tone: $0.key == "overdue" ? "bad" : $0.key == "aging" ? "warn" : "brand")
        }.filter { $0.value > 0 })
        chart("dash.lateLinesChart", "/late-lines", d.lateLines.map {
            SVGChart.Bar(label: req.t("risk.\($0.key)"), value: Int64($0.count), display: String($0.count), href: "/late-lines", tone: $0.key == "late" ? "bad" : "warn")
        }.filter { $0.value > 0 })
        chart("dash.exceptions", "/exceptions?status=open", d.openExceptions.map {
            SVGChart.Bar(label: req.t("dash.exception.\($0.key)"), value: Int64($0.count), display: String($0.count), href: "/exceptions?deadline=\($0.key)",
                         tone: $0.key.hasPrefix("overdue") ? "bad" : "brand")
        }.filter { $0.value > 0 })
        chart("dash.dueWeek", "/orders", d.dueThisWeek.map {
            SVGChart.Bar(label: String($0.key.dropFirst(5)), value: Int64($0.count), display: String($0.count), href: "/orders?dueFrom=\($0.key)&dueTo=\($0.key)")
        })
        chart("dash.materialHeld", "/material", d.materialHeld.map {
            SVGChart.Bar(label: $0.supplierName, value: $0.value.units, display: $0.value.yuan + " · " + req.t("dash.materials", ["n": String($0.materials)]),
                         href: "/material?supplierId=\($0.supplierId)")
        })
        charts.append(Chart(title: req.t("dash.ppm"), svg: SVGChart.line(d.quality.map {
            SVGChart.Point(label: String($0.month.dropFirst(2)), value: $0.ppm, display: $0.ppm.map { FixedDecimal(units: $0 * FixedDecimal.unit).grouped } ?? "")
        }, title: req.t("dash.ppm"), empty: empty), href: "/quality"))
        charts.append(Chart(title: req.t("dash.onTime"), svg: SVGChart.line(d.quality.map {
            SVGChart.Point(label: String($0.month.dropFirst(2)), value: $0.onTimePercent.map(Int64.init), display: $0.onTimePercent.map { "\($0)%" } ?? "")
        }, title: req.t("dash.onTime"), empty: empty), href: "/reports/delivery-performance"))
        charts.append(Chart(title: req.t("dash.passRate"), svg: SVGChart.line(d.quality.map {
            SVGChart.Point(label: String($0.month.dropFirst(2)), value: $0.passPercent.map(Int64.init), display: $0.passPercent.map { "\($0)%" } ?? "")
        }, title: req.t("dash.passRate"), empty: empty), href: "/quality"))
        return try await req.renderPage("dashboard", titleKey: "dash.title", View(tiles: tiles, charts: charts))
    }
}
