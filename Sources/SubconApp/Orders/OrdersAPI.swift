import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct OrderSummaryDTO: Content {
    let id: UUID
    let code: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let status: String
    let revision: Int
    let version: Int
    let openLines: Int
    let nextDue: String?
    /// An open line is projected late or past due (the stored projection, as the order page shows it).
    let projectedLate: Bool
    /// The most days late among its open lines.
    let daysLate: Int
    let createdAt: Date
    let awaitingAnswer: Bool
    let answerDeadline: Date?
    let overdue: Bool
}

extension OrderSummaryDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) throws {
        o("id", id); o("code", code); o("supplierId", supplierId); o("supplierCode", supplierCode); o("supplierName", supplierName)
        o("status", status); o("revision", revision); o("version", version); o("openLines", openLines); o("nextDue", nextDue)
        o("projectedLate", projectedLate); o("daysLate", daysLate); o("createdAt", createdAt); o("awaitingAnswer", awaitingAnswer)
        o("answerDeadline", answerDeadline); o("overdue", overdue)
    }
}

struct PlanSummaryDTO: Content {
    let id: UUID; let code: String; let plantCode: String; let period: String; let status: String; let lines: Int; let orders: Int; let createdAt: Date
}

/// Order lists read with one SQL query (joins and sub-selects), not model by model.
enum OrderList {
    struct Filter {
        var supplierID: UUID?
        var status: OrderStatus?
        var dueFrom: Day?
        var dueTo: Day?
        var overdue = false
        var awaiting = false
        var search: String?
        var planID: UUID?
        /// Orders with an open line projected late or past due.
        var late = false
    }

    struct Row: ReadByPosition {
        let id: UUID; let code: String; let supplier_id: UUID; let supplier_code: String; let supplier_name: String
        let status: String; let revision: Int; let version: Int; let created_at: Date; let pending_since: Date?
        let open_lines: Int; let next_due: String?; let days_late: Int?

        static let columnNames = ["id", "code", "supplier_id", "supplier_code", "supplier_name", "status", "revision", "version",
                                  "created_at", "pending_since", "open_lines", "next_due", "days_late"]
        init(_ r: inout ColumnReader) throws {
            id = try r.value(); code = try r.value(); supplier_id = try r.value(); supplier_code = try r.value(); supplier_name = try r.value()
            status = try r.value(); revision = try r.value(); version = try r.value(); created_at = try r.value(); pending_since = try r.optional()
            open_lines = try r.value(); next_due = try r.optional(); days_late = try r.optional()
        }
    }

    static func list(_ p: Principal, _ f: Filter, page: PageRequest, app: Application) async throws -> Page<OrderSummaryDTO> {
        let sql = app.reads
        let clock = app.subcon.settings.responseClock
        let now = app.subcon.clock.now()
        let cutoff = now.addingTimeInterval(-TimeInterval(clock.answerHours) * 3600)
        var conditions: [SQLQueryString] = []
        if let id = p.scope.supplierID ?? f.supplierID { conditions.append("o.supplier_id = \(bind: id)") }
        if let s = f.status { conditions.append("o.status = \(bind: s.rawValue)") }
        if let id = f.planID { conditions.append("o.plan_id = \(bind: id)") }
        if f.late {
            // The order's stored lateness (a partial index holds only the late orders). The status
            // is compared as an expression so that SQLite walks that index, not every live order
            // by the status index (130 ms → 0.3 ms a page).
            conditions.append("o.days_late IS NOT NULL AND (o.status || '') IN (\(binds: LineLateness.liveOrderStatuses))")
        }
        // "Awaiting an answer" is exactly "has a pending revision": the join below says it.
        let ordersFiltered = !conditions.isEmpty || f.dueFrom != nil || f.dueTo != nil || !(f.search ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        if f.overdue { conditions.append("r.released_at < \(bind: cutoff)") }
        if f.dueFrom != nil || f.dueTo != nil {
            var due: SQLQueryString = "EXISTS (SELECT 1 FROM order_lines d WHERE d.order_id = o.id AND d.state = 'open'"
            if let from = f.dueFrom { due = due + " AND d.due_date >= \(bind: from.description)" }
            if let to = f.dueTo { due = due + " AND d.due_date <= \(bind: to.description)" }
            conditions.append(due + ")")
        }
        // The codes the trigram index finds, read once as a common table that the page and its
        // total both name (two statements read them twice: 0.2 ms of SQLite's time each).
        var searchMatches: SQLQueryString?
        if let q = f.search?.trimmingCharacters(in: .whitespaces), !q.isEmpty {
            // The order's code from its trigram index, or the orders of suppliers whose code or
            // name holds the text (the suppliers from theirs; their orders by the supplier index).
            let pattern = ListQuery.containsPattern(q)
            var code = ListQuery.like("o.code", pattern)
            let counts = app.subcon.trigramCounts
            if let matches = try await SubstringSearch.orders.matches(q, on: sql, counts: counts) {
                searchMatches = matches
                code = SubstringSearch.among(ListQuery.searchHits, alias: "o", on: sql)
            }
            let suppliers: SQLQueryString = try await SubstringSearch.organizations.condition(q, on: sql, counts: counts).map { "SELECT id FROM organizations WHERE " + $0 }
                ?? "SELECT id FROM organizations WHERE " + ListQuery.like("code", pattern) + " OR " + ListQuery.like("name", pattern)
            if sql.dialect.name == "sqlite" {
                conditions.append("(" + code + " OR o.supplier_id IN (" + suppliers + "))")
            } else {
                // The suppliers found first, and their ids given to the page's statement: PostgreSQL
                // then knows how many orders they hold. Given a subquery, it expected two thousand
                // and walked every order newest first (49 ms) instead of reading the hundred the
                // code's index found.
                let ids = try await sql.raw(suppliers).all().map { try $0.decode(column: "id", as: UUID.self) }
                // One array, however many suppliers the text names (a list of binds has a limit).
                conditions.append(ids.isEmpty ? code : "(" + code + " OR o.supplier_id = ANY(\(bind: ids)))")
            }
        }
        var whereClause: SQLQueryString = ""
        for (i, c) in conditions.enumerated() { whereClause = whereClause + (i == 0 ? " WHERE " : " AND ") + c }
        // Count and page join only what the filters need: waiting lists start from the pending
        // revisions (in release order by their index), the rest from the orders (newest first).
        let waiting = f.awaiting || f.overdue
        let filtered: SQLQueryString = !waiting ? " FROM outsourcing_orders o"
            : ordersFiltered ? " FROM order_revisions r JOIN outsourcing_orders o ON o.id = r.order_id AND r.status = 'pending'"
            // SQLite would take the (status, released_at) index and sort each run of equal times.
            : sql.dialect.name == "sqlite" ? " FROM order_revisions r INDEXED BY order_revisions_waiting_page_idx" : " FROM order_revisions r"
        if waiting && !ordersFiltered { whereClause = whereClause + (conditions.isEmpty ? " WHERE " : " AND ") + "r.status = 'pending'" }
        // Scope and status alone are answered by the kept counters; any other filter is counted.
        // Late orders and orders waiting for an answer, of a supplier or of all, are kept too
        // (`KeptCounts.lateOrders`, `.pendingRevisions`).
        let kept = f.planID == nil && f.dueFrom == nil && f.dueTo == nil && (f.search ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        let scope = p.scope.supplierID ?? f.supplierID
        // A kept total is read in the page's statement.
        let keptTotal: (counts: KeptCounts, equal: [String: (any Encodable & Sendable)?])? = kept && !waiting && !f.late
            ? (.orders, ["supplier_id": scope, "status": f.status?.rawValue])
            : kept && !waiting && f.status == nil ? (.lateOrders, ["supplier_id": scope])
            : kept && f.awaiting && !f.overdue && !f.late && f.status == nil ? (.pendingRevisions, ["supplier_id": scope])
            : nil
        // One statement: the page's ids in order (a sort over narrow rows, with the sort keys kept
        // for the outer order), then the columns and the per-order aggregates for those ids only.
        // It was two, the second binding the 50 ids twice: PostgreSQL planned that IN list for
        // longer than it ran, and each statement is a round trip there. CROSS JOIN keeps SQLite
        // from scanning every order line for the aggregate (it is an inner join to PostgreSQL).
        // Waiting lists go oldest release first (the revisions' status index gives that order);
        // everything else newest first (the orders' created_at indexes).
        let pageColumns: SQLQueryString = waiting && !ordersFiltered ? "SELECT r.order_id AS id, r.released_at AS k1, r.order_id AS k2"
            : waiting ? "SELECT o.id, r.released_at AS k1, o.code AS k2" : "SELECT o.id, o.created_at AS k1, o.code AS k2"
        let (innerOrder, outerOrder): (SQLQueryString, SQLQueryString) = waiting
            ? (ordersFiltered ? " ORDER BY r.released_at, o.code" : " ORDER BY r.released_at, r.order_id", " ORDER BY p.k1, p.k2")
            : (" ORDER BY o.created_at DESC, o.code DESC", " ORDER BY p.k1 DESC, p.k2 DESC")
        // Some lists have one best plan whatever their values: every order, or one status's, or
        // one supplier's, backwards along the matching created_at index; the waiting list along
        // the pending revisions' index. On PostgreSQL these are prepared statements (see
        // `PreparedReads`): planning them each time cost as much as running them (page 100 of
        // every order planned for 0.9–1 ms and ran for 2.8). The offset is a value, so that one
        // text serves every page; the page's size stays in the text, because a generic plan for
        // an unknown LIMIT expects a tenth of the table and joins every order line by hash
        // (800 ms instead of 3).
        let bySupplierOnly = (p.scope.supplierID ?? f.supplierID) != nil && conditions.count == 1 && !waiting
        let byStatusOnly = f.status != nil && conditions.count == 1 && !waiting
        // Every late order: backwards along the late orders' own index (`AddLateOrderPageIndex`).
        let lateOnly = f.late && conditions.count == 1 && !waiting
        let onePlan = waiting ? !ordersFiltered && !f.overdue : !ordersFiltered || bySupplierOnly || byStatusOnly || lateOnly
        let limit: SQLQueryString = onePlan ? " LIMIT \(literal: page.per) OFFSET \(bind: page.offset)"
                                            : " LIMIT \(literal: page.per) OFFSET \(literal: page.offset)"
        func statement(total: SQLQueryString?) -> SQLQueryString {
            (searchMatches.map { "WITH \(ident: ListQuery.searchHits) AS MATERIALIZED (" + $0 + "), " } ?? "WITH ")
            + "page AS MATERIALIZED (" + pageColumns + filtered + whereClause + innerOrder + limit + ") " + """
            SELECT o.id, o.code, o.supplier_id, s.code AS supplier_code, s.name AS supplier_name, o.status, o.revision, o.version,
                   o.created_at, r.released_at AS pending_since,
                   COALESCE(a.open_lines, 0) AS open_lines, a.next_due, a.days_late\(total.map { ", " + $0 } ?? "")
              FROM page p CROSS JOIN outsourcing_orders o JOIN organizations s ON s.id = o.supplier_id
              LEFT JOIN order_revisions r ON r.order_id = o.id AND r.status = 'pending'
              LEFT JOIN (SELECT l.order_id, COUNT(*) AS open_lines, MIN(l.due_date) AS next_due,
                                MAX(CASE WHEN l.risk IN (\(binds: Projection.Risk.lateValues)) THEN l.days_late END) AS days_late
                           FROM page q CROSS JOIN order_lines l WHERE l.order_id = q.id AND l.state = 'open' GROUP BY l.order_id) a ON a.order_id = o.id
             WHERE o.id = p.id
            """ + outerOrder
        }
        let reads = onePlan ? app.keyedReads : sql
        let (rows, total): ([Row], Int)
        func count() async throws -> Int {
            let hits: SQLQueryString = searchMatches.map { "WITH \(ident: ListQuery.searchHits) AS MATERIALIZED (" + $0 + ") " } ?? ""
            return try await sql.raw(hits + "SELECT COUNT(*) AS n" + filtered + whereClause).first()?.decode(column: "n", as: Int.self) ?? 0
        }
        if let keptTotal {
            (rows, total) = try await keptTotal.counts.pageAndTotal(keptTotal.equal, decoding: Row.self, on: reads) { statement(total: $0) }
        } else if searchMatches != nil {
            // The total beside the page; an empty page has no row to carry it.
            let raw = try await reads.raw(statement(total: "(SELECT COUNT(*)" + filtered + whereClause + ") AS list_total")).all()
            rows = try RowDecoding.rows(raw, as: Row.self)
            if let first = raw.first { total = try first.decode(column: "list_total", as: Int.self) } else { total = try await count() }
        } else {
            total = try await count()
            rows = try await reads.raw(statement(total: nil)).rows(decoding: Row.self)
        }
        return Page(items: rows.map { r in
            let deadline = r.pending_since.map { $0.addingTimeInterval(TimeInterval(clock.answerHours) * 3600) }
            return OrderSummaryDTO(id: r.id, code: r.code, supplierId: r.supplier_id, supplierCode: r.supplier_code, supplierName: r.supplier_name,
                                   status: r.status, revision: r.revision, version: r.version, openLines: r.open_lines, nextDue: r.next_due,
                                   projectedLate: LineLateness.liveOrderStatuses.contains(r.status) && r.days_late != nil, daysLate: r.days_late ?? 0,
                                   createdAt: r.created_at, awaitingAnswer: r.status == OrderStatus.released.rawValue,
                                   answerDeadline: deadline, overdue: deadline.map { now > $0 } ?? false)
        }, page: page.page, per: page.per, total: total)
    }

    static func filter(_ req: Request) throws -> Filter {
        func day(_ name: String) throws -> Day? {
            guard let t = req.queryText(name), !t.isEmpty else { return nil }
            guard let d = Day(t) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "badDate")]) }
            return d
        }
        var status: OrderStatus?
        if let t = req.queryText("status"), !t.isEmpty {
            guard let s = OrderStatus(rawValue: t) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("status", "invalidValue")]) }
            status = s
        }
        return Filter(supplierID: try req.uuidQuery("supplierId"), status: status, dueFrom: try day("dueFrom"), dueTo: try day("dueTo"),
                      overdue: try req.boolQuery("overdue") ?? false, awaiting: try req.boolQuery("awaiting") ?? false,
                      search: req.queryText("q"), planID: try req.uuidQuery("planId"), late: try req.boolQuery("late") ?? false)
    }

    static func plans(_ p: Principal, status: PlanStatus?, page: PageRequest, on db: any Database) async throws -> Page<PlanSummaryDTO> {
        try PlanService.requireView(p)
        let sql = db as! any SQLDatabase
        let whereClause: SQLQueryString = status.map { "WHERE pl.status = \(bind: $0.rawValue)" } ?? ""
        let total = try await sql.raw("SELECT COUNT(*) AS n FROM production_plans pl " + whereClause).first()?.decode(column: "n", as: Int.self) ?? 0
        struct Row: Decodable {
            let id: UUID; let code: String; let plant_code: String; let period: String; let status: String; let lines: Int; let orders: Int; let created_at: Date
        }
        let rows = try await sql.raw("""
            SELECT pl.id, pl.code, st.code AS plant_code, pl.period, pl.status, pl.created_at,
                   (SELECT COUNT(*) FROM production_plan_lines l WHERE l.plan_id = pl.id) AS lines,
                   (SELECT COUNT(*) FROM outsourcing_orders o WHERE o.plan_id = pl.id) AS orders
            FROM production_plans pl JOIN sites st ON st.id = pl.plant_id
            """ + " " + whereClause + " ORDER BY pl.created_at DESC, pl.code DESC LIMIT \(literal: page.per) OFFSET \(literal: page.offset)")
            .rows(decoding: Row.self)
        return Page(items: rows.map { PlanSummaryDTO(id: $0.id, code: $0.code, plantCode: $0.plant_code, period: $0.period, status: $0.status,
                                                     lines: $0.lines, orders: $0.orders, createdAt: $0.created_at) },
                    page: page.page, per: page.per, total: total)
    }
}

struct OrdersAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let o = routes.grouped("orders")
        o.get(use: list)
        o.post(use: create)
        o.get(":id", use: show)
        o.patch(":id", use: updateDraft)
        o.post(":id", "release", use: release)
        o.post(":id", "revisions", use: revise)
        o.post(":id", "answers", use: answer)
        o.post(":id", "decisions", use: decide)
        o.post(":id", "cancel", use: cancel)
        o.post(":id", "start", use: start)

        let p = routes.grouped("plans")
        p.get(use: plans)
        p.post(use: createPlan)
        p.get(":id", use: showPlan)
        p.patch(":id", use: updatePlan)
        p.post(":id", "release", use: releasePlan)
        p.post(":id", "close", use: closePlan)
        p.patch(":id", "lines", ":line", use: changePlanLine)
        p.post(":id", "orders", ":order", "confirm-changes", use: confirmChanges)
    }

    func show(_ req: Request, _ order: OutsourcingOrder) async throws -> OrderDTO {
        try await OrderService.dto(try req.requirePrincipal(), order, app: req.application)
    }

    func list(req: Request) async throws -> Page<OrderSummaryDTO> {
        try await OrderList.list(try req.requirePrincipal(), try OrderList.filter(req), page: try PageRequest(req), app: req.application)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageOrders)
        let order = try await OrderService.create(p, try req.decodeStrict(NewOrderInput.self), app: req.application)
        return try await .created(try await show(req, order), for: req)
    }

    func show(req: Request) async throws -> OrderDTO {
        try await OrderService.detail(try req.requirePrincipal(), try req.idParameter(), app: req.application)
    }

    /// Finds the order in the caller's scope first (404 beats 403), then checks the permission.
    func guarded(_ req: Request, _ action: Action) async throws -> (Principal, UUID) {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await OrderService.find(p, id, on: req.modelReads)
        try p.require(action)
        return (p, id)
    }

    func updateDraft(req: Request) async throws -> OrderDTO {
        let (p, id) = try await guarded(req, .manageOrders)
        return try await show(req, try await OrderService.updateDraft(p, id, try req.decodeStrict(DraftOrderPatchInput.self), app: req.application))
    }

    func release(req: Request) async throws -> OrderDTO {
        let (p, id) = try await guarded(req, .manageOrders)
        return try await show(req, try await OrderService.release(p, id, version: try req.decodeStrict(VersionInput.self).version, app: req.application))
    }

    func revise(req: Request) async throws -> Response {
        let (p, id) = try await guarded(req, .manageOrders)
        let order = try await OrderService.revise(p, id, try req.decodeStrict(ReviseInput.self), app: req.application)
        return try await .created(try await show(req, order), for: req)
    }

    func answer(req: Request) async throws -> OrderDTO {
        let (p, id) = try await guarded(req, .answerOrders)
        return try await show(req, try await OrderService.answer(p, id, try req.decodeStrict(AnswerInput.self), app: req.application))
    }

    func decide(req: Request) async throws -> OrderDTO {
        let (p, id) = try await guarded(req, .manageOrders)
        return try await show(req, try await OrderService.decide(p, id, try req.decodeStrict(DecisionInput.self), app: req.application))
    }

    func cancel(req: Request) async throws -> OrderDTO {
        let (p, id) = try await guarded(req, .manageOrders)
        return try await show(req, try await OrderService.cancel(p, id, try req.decodeStrict(CancelInput.self), app: req.application))
    }

    func start(req: Request) async throws -> OrderDTO {
        let (p, id) = try await guarded(req, .answerOrders)
        return try await show(req, try await OrderService.startProduction(p, id, version: try req.decodeStrict(VersionInput.self).version, app: req.application))
    }

    // MARK: Plans

    func plans(req: Request) async throws -> Page<PlanSummaryDTO> {
        var status: PlanStatus?
        if let t = req.queryText("status"), !t.isEmpty {
            guard let s = PlanStatus(rawValue: t) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("status", "invalidValue")]) }
            status = s
        }
        return try await OrderList.plans(try req.requirePrincipal(), status: status, page: try PageRequest(req), on: req.db)
    }

    func plan(_ req: Request) async throws -> (Principal, ProductionPlan) {
        let p = try req.requirePrincipal()
        try PlanService.requireView(p)
        return (p, try await PlanService.find(try req.idParameter(), on: req.db))
    }

    func createPlan(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.managePlans)
        let plan = try await PlanService.create(p, try req.decodeStrict(NewPlanInput.self), app: req.application)
        return try await .created(try await PlanService.dto(plan, on: req.db), for: req)
    }

    func showPlan(req: Request) async throws -> PlanDTO {
        try await PlanService.dto(try await plan(req).1, on: req.db)
    }

    func updatePlan(req: Request) async throws -> PlanDTO {
        let (p, plan) = try await plan(req)
        try p.require(.managePlans)
        return try await PlanService.dto(try await PlanService.update(p, plan.id!, try req.decodeStrict(PlanPatchInput.self), app: req.application), on: req.db)
    }

    func releasePlan(req: Request) async throws -> ReleaseResultDTO {
        let (p, plan) = try await plan(req)
        try p.require(.managePlans)
        return try await PlanService.release(p, plan.id!, version: try req.decodeStrict(VersionInput.self).version, app: req.application)
    }

    func closePlan(req: Request) async throws -> PlanDTO {
        let (p, plan) = try await plan(req)
        try p.require(.managePlans)
        return try await PlanService.dto(try await PlanService.close(p, plan.id!, version: try req.decodeStrict(VersionInput.self).version, app: req.application), on: req.db)
    }

    func changePlanLine(req: Request) async throws -> PlanDTO {
        let (p, plan) = try await plan(req)
        try p.require(.managePlans)
        guard let line = req.parameters.get("line").flatMap(Int.init) else { throw Problem.notFound }
        return try await PlanService.changeLine(p, plan.id!, line: line, try req.decodeStrict(PlanLineChangeInput.self), app: req.application)
    }

    func confirmChanges(req: Request) async throws -> OrderDTO {
        let (p, plan) = try await plan(req)
        try p.require(.manageOrders)
        let orderID = try req.idParameter("order")
        return try await show(req, try await PlanService.confirmProposals(p, plan.id!, orderID: orderID, app: req.application))
    }
}
