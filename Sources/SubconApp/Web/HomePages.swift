import Fluent
import Foundation
import SubconDomain
import Vapor

struct HomePages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get(use: home)
        routes.get("inbox", use: inbox)
        routes.post("inbox", ":id", "read", use: read)
        routes.post("inbox", "read-all", use: readAll)
    }

    struct TodoItemView: Encodable {
        let code: String
        let detail: String
        let supplierName: String
        let link: String
        let deadline: Date?
        let overdue: Bool
    }

    struct TodoGroupView: Encodable {
        let kind: String
        let label: String
        let count: Int
        let age: String
        let deadline: Date?
        /// overdue, dueSoon or waiting (a CSS class).
        let urgency: String
        let link: String
        let items: [TodoItemView]
    }

    struct HomeView: Encodable {
        let todo: [TodoGroupView]
        let todoTotal: Int
        let isSupplier: Bool
        let roles: [String]
        let latest: [Inbox.Item]
        let links: [Shell.NavItem]
    }

    /// 待我处理: what this person's roles must act on now, most urgent first, each one tap from
    /// its action; then shortcuts for the day's work and the latest unread notices.
    func home(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let now = req.now
        let latest = try await Inbox.list(userID: p.userID, page: try PageRequest(req, defaultPer: 5), unreadOnly: true,
                                          locale: req.locale, catalog: req.subcon.catalog, on: req.application.keyedReads)
        let todo = try await TodoQueries.load(p, settings: req.subcon.settings, today: req.subcon.today(), on: req.application.reads)
        let groups = TodoGroup.sorted(todo.groups, now: now).map { g in
            TodoGroupView(kind: g.kind.rawValue, label: req.t("todo.\(g.kind.rawValue)"), count: g.count, age: Self.age(g.oldest, now: now, req),
                          deadline: g.deadline, urgency: "\(g.urgency(now: now))", link: TodoQueries.listLink(g.kind),
                          items: todo.items.filter { $0.kind == g.kind }.map { i in
                              // A message's code is its event: shown by name.
                              TodoItemView(code: [.retryDelivery, .retryDeliverySupplier].contains(i.kind) ? req.t("event.\(i.code)") : i.code,
                                           detail: Self.detail(i, req), supplierName: p.isSupplier ? "" : i.supplierName,
                                           link: TodoQueries.link(i), deadline: i.deadline, overdue: i.deadline.map { $0 < now } ?? false)
                          })
        }
        return try await req.renderPage("home", titleKey: "home.title",
                                        HomeView(todo: groups, todoTotal: groups.reduce(0) { $0 + $1.count }, isSupplier: p.isSupplier,
                                                 roles: p.roles.sorted().map { req.t("role.\($0.rawValue)") },
                                                 latest: latest.items, links: Self.shortcuts(p, req)))
    }

    /// How long the oldest has waited, in words.
    static func age(_ since: Date?, now: Date, _ req: Request) -> String {
        guard let since else { return "" }
        let hours = max(0, Int(now.timeIntervalSince(since) / 3600))
        return hours >= 48 ? req.t("todo.ageDays", ["n": String(hours / 24)]) : req.t("todo.ageHours", ["n": String(max(1, hours))])
    }

    static func detail(_ i: TodoQueries.Item, _ req: Request) -> String {
        let d = i.detail ?? ""
        switch i.kind {
        case .answerRevision, .decideCounter: return req.t("orders.rev", ["n": d])
        case .explainDelay, .shipReady, .inspect, .confirmPlanChange: return req.t("material.lineNo", ["n": d])
        case .confirmMaterial: return req.t("material.kind.\(d)")
        case .answerException, .rework8D, .review8D: return req.t("exceptionType.\(d)")
        case .countStock: return ""
        case .reviewAction, .reviewActionSupplier: return req.t("review.dueOn", ["day": d])
        case .retryDelivery, .retryDeliverySupplier: return req.t("channel.kind.\(d)")
        case .acknowledgeDocument: return req.t("techDoc.revisionN", ["rev": d])
        case .confirmStatement, .answerDispute, .lockStatement, .receiveDelivery, .approveSupplementary: return d
        }
    }

    /// The day's usual starting points for the person's roles.
    static func shortcuts(_ p: Principal, _ req: Request) -> [Shell.NavItem] {
        var links: [Shell.NavItem] = []
        func add(_ href: String, _ key: String) { links.append(.init(href: href, label: req.t(key), active: false)) }
        if p.isSupplier {
            if p.can(.fulfilOrders) { add("/work", "home.tile.report"); add("/deliveries", "home.tile.ship"); add("/material", "home.tile.material") }
            add("/late-lines", "nav.lateLines")
            if p.can(.countStock) { add("/stock-count", "nav.stockCount") }
            if p.can(.viewStatements) { add("/statements", "nav.statements") }
            if p.can(.registerInvoices) { add("/invoices", "nav.invoices") }
            if p.can(.viewScorecards), let own = p.scope.supplierID { add("/scorecards/\(own)", "nav.scorecards") }
            if p.can(.viewTechnicalDocuments) { add("/technical-documents", "nav.techDocs") }
        } else {
            add("/dashboard", "nav.dashboard")
            if p.can(.manageOrders) { add("/orders/new", "orders.new") }
            add("/orders", "nav.orders")
            add("/late-lines", "nav.lateLines")
            if p.can(.handleMaterial) { add("/deliveries", "home.tile.receive") }
            if InspectionService.mayReadWorkList(p) { add("/inspections", "nav.inspections") }
            if p.can(.viewStatements) { add("/statements", "nav.statements") }
            if p.can(.settleInvoices) { add("/invoices?status=registered", "nav.invoices") }
        }
        return links
    }

    struct InboxView: Encodable {
        let items: [Inbox.Item]
        let pager: Pager
    }

    func inbox(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let page = try await Inbox.list(userID: p.userID, page: try PageRequest(req, defaultPer: 20), unreadOnly: false,
                                        locale: req.locale, catalog: req.subcon.catalog, on: req.application.keyedReads)
        return try await req.renderPage("inbox", titleKey: "inbox.title", InboxView(items: page.items, pager: Pager(page, req)))
    }

    func read(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        try await Inbox.markRead(userID: p.userID, itemID: id, now: req.now, on: req.db)
        let link = try await InboxItem.find(id, on: req.db)?.link
        return req.redirect(to: LoginPages.safeNext(link ?? "/inbox"))
    }

    func readAll(req: Request) async throws -> Response {
        try await Inbox.markRead(userID: try req.requirePrincipal().userID, itemID: nil, now: req.now, on: req.db)
        return req.redirect(to: "/inbox")
    }
}

/// Previous/next links for a paginated list, keeping the other query parameters.
struct Pager: Encodable {
    let page: Int
    let pageCount: Int
    let total: Int
    let previous: String?
    let next: String?

    init<T>(_ p: Page<T>, _ req: Request) {
        page = p.page; pageCount = p.pageCount; total = p.total
        func link(_ n: Int) -> String {
            var comps = URLComponents(string: req.url.string) ?? URLComponents()
            var items = (comps.queryItems ?? []).filter { $0.name != "page" && $0.name != "ok" }
            items.append(URLQueryItem(name: "page", value: String(n)))
            comps.queryItems = items
            return (comps.path.isEmpty ? req.url.path : comps.path) + "?" + (comps.percentEncodedQuery ?? "")
        }
        previous = p.page > 1 ? link(p.page - 1) : nil
        next = p.page < p.pageCount ? link(p.page + 1) : nil
    }
}
