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

enum Dashboard {
    static func figures(_ p: Principal, settings: Settings, now: Date, today: Day, on db: any Database) async throws -> DashboardDTO {
        let sql = db as! any SQLDatabase
        func scope(_ column: String) -> SQLQueryString {
            p.scope.supplierID.map { " AND \(unsafeRaw: column) = \(bind: $0)" } ?? ""
        }
        struct StatusRow: Decodable { let status: String; let n: Int }
        let byStatus = try await sql.raw("SELECT status, COUNT(*) AS n FROM outsourcing_orders o WHERE o.status NOT IN ('closed', 'cancelled')"
                                         + scope("o.supplier_id") + " GROUP BY status").all(decoding: StatusRow.self)
        let order = OrderStatus.allCases.map(\.rawValue)
        let answer = TimeInterval(settings.responseClock.answerHours) * 3600
        let half = now.addingTimeInterval(-answer / 2), due = now.addingTimeInterval(-answer)
        let live = LineLateness.liveOrderStatuses
        struct Figures: Decodable {
            let ans_fresh: Int; let ans_aging: Int; let ans_overdue: Int; let at_risk: Int; let late: Int
            let exc_overdue: Int; let exc_waiting: Int; let exc_working: Int; let exc_late: Int
        }
        let pending: SQLQueryString = "SELECT COUNT(*) FROM order_revisions r JOIN outsourcing_orders o ON o.id = r.order_id WHERE r.status = 'pending'" + scope("o.supplier_id")
        let lines: SQLQueryString = "SELECT COUNT(*) FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id WHERE l.state = 'open' AND o.status IN (\(binds: live))" + scope("o.supplier_id")
        let open: SQLQueryString = "SELECT COUNT(*) FROM exceptions e WHERE e.status = 'open'" + scope("e.supplier_id")
        let f = try await sql.raw("SELECT (" + pending + " AND r.released_at >= \(bind: half)) AS ans_fresh, ("
            + pending + " AND r.released_at < \(bind: half) AND r.released_at >= \(bind: due)) AS ans_aging, ("
            + pending + " AND r.released_at < \(bind: due)) AS ans_overdue, ("
            + lines + " AND l.risk = 'at_risk') AS at_risk, (" + lines + " AND l.risk = 'late') AS late, ("
            + open + " AND e.responded_at IS NULL AND e.response_by < \(bind: now)) AS exc_overdue, ("
            + open + " AND e.responded_at IS NULL AND (e.response_by IS NULL OR e.response_by >= \(bind: now))) AS exc_waiting, ("
            + open + " AND e.responded_at IS NOT NULL AND (e.resolve_by IS NULL OR e.resolve_by >= \(bind: now))) AS exc_working, ("
            + open + " AND e.responded_at IS NOT NULL AND e.resolve_by < \(bind: now)) AS exc_late").first(decoding: Figures.self)!

        let week = (0..<7).map { today.adding(days: $0).description }
        struct DayRow: Decodable { let day: String; let n: Int }
        let dueRows = try await sql.raw("SELECT l.due_date AS day, COUNT(*) AS n FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id "
            + "WHERE l.state = 'open' AND o.status IN (\(binds: live)) AND l.due_date >= \(bind: week[0]) AND l.due_date <= \(bind: week[6])"
            + scope("o.supplier_id") + " GROUP BY l.due_date").all(decoding: DayRow.self)

        // Held material per supplier × material, valued at the material's cost price; the
        // balance per kind is the ledger's rule, not re-stated here.
        struct HeldRow: Decodable { let supplier_id: UUID; let item_id: UUID; let kind: String; let q: Int64 }
        let heldRows = try await sql.raw("SELECT m.supplier_id, m.item_id, m.kind, m.quantity AS q FROM ledger_item_totals m WHERE 1 = 1"
            + scope("m.supplier_id")).all(decoding: HeldRow.self)
        struct CostRow: Decodable { let id: UUID; let cost_price: Int64? }
        let itemIDs = Array(Set(heldRows.map(\.item_id)))
        let costs = itemIDs.isEmpty ? [:] : Dictionary(uniqueKeysWithValues: try await sql.raw(
            "SELECT id, cost_price FROM items WHERE id IN (\(binds: itemIDs))").all(decoding: CostRow.self).map { ($0.id, $0.cost_price ?? 0) })
        var held: [UUID: (value: FixedDecimal, materials: Int)] = [:]
        for (pair, quantity) in Ledger.held(heldRows.map { ($0.supplier_id, $0.item_id, $0.kind, $0.q) }) where quantity > .zero {
            let value = (try? quantity.multiplied(by: FixedDecimal(units: costs[pair.item] ?? 0), roundedToScale: 2)) ?? .zero
            var entry = held[pair.supplier] ?? (.zero, 0)
            entry.value = (try? entry.value.adding(value)) ?? entry.value
            entry.materials += 1
            held[pair.supplier] = entry
        }
        let top = held.sorted { ($0.value.value, $0.value.materials) > ($1.value.value, $1.value.materials) }.prefix(8)
        struct NameRow: Decodable { let id: UUID; let name: String }
        let names = top.isEmpty ? [:] : Dictionary(uniqueKeysWithValues: try await sql.raw(
            "SELECT id, name FROM organizations WHERE id IN (\(binds: top.map(\.key)))").all(decoding: NameRow.self).map { ($0.id, $0.name) })
        let topHeld = top.map { DashboardDTO.Held(supplierId: $0.key, supplierName: names[$0.key] ?? "", value: $0.value.value, materials: $0.value.materials) }


        // Six calendar months of inspections, bounded in the installation's time zone.
        let calendar = settings.calendar
        let thisMonth = calendar.date(from: DateComponents(year: today.year, month: today.month, day: 1))!
        let bounds = (0...6).map { calendar.date(byAdding: .month, value: $0 - 5, to: thisMonth)! }
        var columns: [SQLQueryString] = []
        for n in 0..<6 {
            let within: SQLQueryString = "created_at >= \(bind: bounds[n]) AND created_at < \(bind: bounds[n + 1])"
            columns.append("COUNT(CASE WHEN " + within + " THEN 1 END) AS l\(unsafeRaw: String(n))")
            columns.append("COUNT(CASE WHEN " + within + " AND rejected_quantity = 0 THEN 1 END) AS p\(unsafeRaw: String(n))")
            columns.append("CAST(COALESCE(SUM(CASE WHEN " + within + " THEN accepted_quantity END), 0) AS BIGINT) AS a\(unsafeRaw: String(n))")
            columns.append("CAST(COALESCE(SUM(CASE WHEN " + within + " THEN rejected_quantity END), 0) AS BIGINT) AS r\(unsafeRaw: String(n))")
        }
        var select: SQLQueryString = "SELECT "
        for (n, c) in columns.enumerated() { select = select + (n == 0 ? "" : ", ") + c }
        let qrow = try await sql.raw(select + " FROM inspections WHERE created_at >= \(bind: bounds[0])" + scope("supplier_id")).first()
        // On-time delivery per month: receipts on or before their line's due day, by receipt day.
        let days = bounds.map { d -> String in
            let c = calendar.dateComponents([.year, .month, .day], from: d)
            return Day(year: c.year!, month: c.month!, day: c.day!)!.description
        }
        var delivery: [SQLQueryString] = []
        for n in 0..<6 {
            let within: SQLQueryString = "g.receipt_day >= \(bind: days[n]) AND g.receipt_day < \(bind: days[n + 1])"
            delivery.append("COUNT(CASE WHEN " + within + " THEN 1 END) AS d\(unsafeRaw: String(n))")
            delivery.append("COUNT(CASE WHEN " + within + " AND g.receipt_day <= l.due_date THEN 1 END) AS t\(unsafeRaw: String(n))")
        }
        var deliverySelect: SQLQueryString = "SELECT "
        for (n, c) in delivery.enumerated() { deliverySelect = deliverySelect + (n == 0 ? "" : ", ") + c }
        // From the receipts of these months (their day's index) to their lines: CROSS JOIN keeps
        // SQLite from scanning every receipt line first.
        let drow = try await sql.raw(deliverySelect + """
             FROM goods_receipts g CROSS JOIN receipt_lines r CROSS JOIN order_lines l
            WHERE r.receipt_id = g.id AND l.order_id = r.order_id AND l.line_no = r.order_line_no
            """ + " AND g.receipt_day >= \(bind: days[0])" + scope("g.supplier_id")).first()
        var months: [DashboardDTO.Month] = []
        for n in 0..<6 {
            let lots = try qrow?.decode(column: "l\(n)", as: Int.self) ?? 0
            let passed = try qrow?.decode(column: "p\(n)", as: Int.self) ?? 0
            let a = FixedDecimal(units: try qrow?.decode(column: "a\(n)", as: Int64.self) ?? 0)
            let r = FixedDecimal(units: try qrow?.decode(column: "r\(n)", as: Int64.self) ?? 0)
            let c = calendar.dateComponents([.year, .month], from: bounds[n])
            let received = (try? a.adding(r)) ?? a
            let deliveries = try drow?.decode(column: "d\(n)", as: Int.self) ?? 0
            let onTime = try drow?.decode(column: "t\(n)", as: Int.self) ?? 0
            months.append(.init(month: String(format: "%04d-%02d", c.year!, c.month!), lots: lots, passedLots: passed, accepted: a, rejected: r,
                                ppm: received > .zero ? ExceptionRules.ppm(rejected: r, received: received) : nil,
                                passPercent: lots > 0 ? passed * 100 / lots : nil,
                                onTimePercent: deliveries > 0 ? onTime * 100 / deliveries : nil))
        }
        return DashboardDTO(
            ordersByStatus: byStatus.sorted { (order.firstIndex(of: $0.status) ?? 99) < (order.firstIndex(of: $1.status) ?? 99) }.map { .init(key: $0.status, count: $0.n) },
            answersAwaited: [.init(key: "fresh", count: f.ans_fresh), .init(key: "aging", count: f.ans_aging), .init(key: "overdue", count: f.ans_overdue)],
            lateLines: [.init(key: "at_risk", count: f.at_risk), .init(key: "late", count: f.late)],
            openExceptions: [.init(key: "overdue_response", count: f.exc_overdue), .init(key: "awaiting_response", count: f.exc_waiting),
                             .init(key: "in_work", count: f.exc_working), .init(key: "overdue_resolution", count: f.exc_late)],
            dueThisWeek: week.map { d in .init(key: d, count: dueRows.first { $0.day == d }?.n ?? 0) },
            materialHeld: topHeld, quality: months)
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
            Tile(label: req.t("dash.exceptionsOverdue"), value: String(overdueExceptions), href: "/exceptions?status=open", tone: overdueExceptions > 0 ? "bad" : ""),
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
            SVGChart.Bar(label: req.t("dash.exception.\($0.key)"), value: Int64($0.count), display: String($0.count), href: "/exceptions?status=open",
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
