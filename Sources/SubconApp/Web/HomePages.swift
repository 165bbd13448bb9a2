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

    /// A task as the page words it.
    struct TodoItemView {
        let code: String
        let detail: String
        let supplierName: String
        let link: String
        let overdue: Bool
    }

    /// A kind of task as the page words it.
    struct TodoGroupView {
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
        /// The to-do, the tiles, the notices and the roles, written by `todo`, `tiles`, `notices`
        /// and `roles` (see `HTML`).
        let todo: HTML
        let tiles: HTML
        let latest: HTML
        let anyLatest: Bool
        let roles: HTML
    }

    /// 待我处理: what this person's roles must act on now, most urgent first, each one tap from
    /// its action; then shortcuts for the day's work and the latest unread notices.
    func home(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let now = req.now
        let latest = try await Inbox.list(userID: p.userID, page: try PageRequest(req, defaultPer: 5), unreadOnly: true,
                                          locale: req.locale, catalog: req.subcon.catalog, on: req.application.keyedReads)
        let todo = try await TodoQueries.load(p, settings: req.subcon.settings, today: req.subcon.today(), on: req.application.keyedReads)
        var t = req.texts()
        let groups = TodoGroup.sorted(todo.groups, now: now).map { g in
            TodoGroupView(label: t("todo.\(g.kind.rawValue)"), count: g.count, age: Self.age(g.oldest, now: now, &t),
                          deadline: g.deadline, urgency: "\(g.urgency(now: now))", link: TodoQueries.listLink(g.kind),
                          items: todo.items.filter { $0.kind == g.kind }.map { i in
                              // A message's code is its event: shown by name.
                              TodoItemView(code: [.retryDelivery, .retryDeliverySupplier].contains(i.kind) ? t("event.\(i.code)") : i.code,
                                           detail: Self.detail(i, &t), supplierName: p.isSupplier ? "" : i.supplierName,
                                           link: TodoQueries.link(i), overdue: i.deadline.map { $0 < now } ?? false)
                          })
        }
        return try await req.renderPage("home", titleKey: "home.title", HomeView(
            todo: Self.todo(groups, texts: &t, time: DeadlineTime(req, now: now)),
            tiles: Self.shortcuts(p, &t).reduce(into: HTML()) { $0 += "<a class=\"tile\" href=\"\($1.href)\">\($1.label)</a>" },
            latest: Self.notices(latest.items, req: req), anyLatest: !latest.items.isEmpty,
            roles: p.roles.sorted().reduce(into: HTML()) { $0 += "<span class=\"tag\">\(t("role.\($1.rawValue)"))</span> " }))
    }

    /// A deadline as month, day and time, with its year when that is not this year's: a deadline
    /// missed two years ago read "12-18 07:57", as if it were next week's.
    struct DeadlineTime {
        let short: DatePattern, long: DatePattern, year: DatePattern, thisYear: String

        init(_ req: Request, now: Date) {
            short = req.datePattern("MM-dd HH:mm"); long = req.datePattern("yyyy-MM-dd HH:mm"); year = req.datePattern("yyyy")
            thisYear = year.string(from: now)
        }

        func string(from date: Date) -> String {
            year.string(from: date) == thisYear ? short.string(from: date) : long.string(from: date)
        }
    }

    /// The to-do's groups and their first tasks: what the template's loops wrote, in the same markup.
    static func todo(_ groups: [TodoGroupView], texts t: inout PageTexts, time: DeadlineTime) -> HTML {
        let total = groups.reduce(0) { $0 + $1.count }
        var html: HTML = """
            <h2 class="sr-only">\(t("home.todo"))</h2><p class="todo-summary">\(HTML.when(total > 0, "\(t("home.todoCount", ["n": String(total)]))"))</p>

            """
        guard !groups.isEmpty else {
            html += "<p class=\"all-clear\">\(t("home.allClear"))</p>"
            return html
        }
        let waiting = t("todo.waiting"), overdue = t("todo.overdue"), dueBy = t("todo.dueBy")
        html += "<ul class=\"todo-groups\">\n"
        for g in groups {
            let age: HTML = HTML.when(!g.age.isEmpty, "<span class=\"muted\">\(waiting) \(g.age)</span>")
            let deadline: HTML = g.deadline.map { d in
                let tag = g.urgency == "overdue" ? "bad" : g.urgency == "dueSoon" ? "warn" : "off"
                return " <span class=\"tag \(tag)\">\(g.urgency == "overdue" ? overdue : dueBy) \(time.string(from: d))</span>"
            } ?? HTML()
            html += """
                <li class="todo-group \(g.urgency)">
                  <div class="todo-head">
                    <a class="todo-label" href="\(g.link)">\(g.label)</a> <span class="todo-count">\(g.count)</span>
                    <span class="todo-meta">\(age)
                    \(deadline)</span>
                  </div>
                  <ul class="todo-items">

                """
            for i in g.items {
                html += """
                    <li><a href="\(i.link)"><span class="code">\(i.code)</span> \(i.detail)\(HTML.when(!i.supplierName.isEmpty, " <span class=\"muted\">\(i.supplierName)</span>"))</a>\
                    \(HTML.when(i.overdue, " <span class=\"tag bad\">\(overdue)</span>"))</li>
                    """
            }
            html += """

                \(HTML.when(g.count > g.items.count, "<li><a class=\"more\" href=\"\(g.link)\">\(t("todo.more", ["n": String(g.count)]))</a></li>"))
                  </ul>
                </li>

                """
        }
        html += "</ul>\n"
        return html
    }

    /// The latest unread notices: what the template's loop wrote, in the same markup.
    static func notices(_ items: [Inbox.Item], req: Request) -> HTML {
        let stamp = req.datePattern("yyyy-MM-dd'T'HH:mm:ssZ"), time = req.datePattern("yyyy-MM-dd HH:mm")
        return items.reduce(into: HTML()) { html, n in
            let message: HTML = n.link.map { "<a href=\"\($0)\">\(n.message)</a>" } ?? "\(n.message)"
            html += "<li>\(message) <time class=\"muted\" datetime=\"\(stamp.string(from: n.createdAt))\">\(time.string(from: n.createdAt))</time></li>"
        }
    }

    /// How long the oldest has waited, in words.
    static func age(_ since: Date?, now: Date, _ t: inout PageTexts) -> String {
        guard let since else { return "" }
        let hours = max(0, Int(now.timeIntervalSince(since) / 3600))
        return hours >= 48 ? t("todo.ageDays", ["n": String(hours / 24)]) : t("todo.ageHours", ["n": String(max(1, hours))])
    }

    static func detail(_ i: TodoQueries.Item, _ t: inout PageTexts) -> String {
        let d = i.detail ?? ""
        switch i.kind {
        case .answerRevision, .decideCounter: return t("orders.rev", ["n": d])
        case .explainDelay, .shipReady, .inspect, .confirmPlanChange: return t("material.lineNo", ["n": d])
        case .confirmMaterial: return t("material.kind.\(d)")
        case .answerException, .rework8D, .review8D: return t("exceptionType.\(d)")
        case .countStock: return ""
        case .reviewAction, .reviewActionSupplier: return t("review.dueOn", ["day": d])
        case .retryDelivery, .retryDeliverySupplier: return t("channel.kind.\(d)")
        case .acknowledgeDocument: return t("techDoc.revisionN", ["rev": d])
        case .confirmStatement, .answerDispute, .lockStatement, .receiveDelivery, .approveSupplementary: return d
        }
    }

    /// The day's usual starting points for the person's roles.
    static func shortcuts(_ p: Principal, _ t: inout PageTexts) -> [Shell.NavItem] {
        var links: [Shell.NavItem] = []
        func add(_ href: String, _ key: String) { links.append(.init(href: href, label: t(key), active: false)) }
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

    func inbox(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let page = try await Inbox.list(userID: p.userID, page: try PageRequest(req, defaultPer: 20), unreadOnly: false,
                                        locale: req.locale, catalog: req.subcon.catalog, on: req.application.keyedReads)
        let pager = Pager(page, req), csrf = p.csrfToken ?? "", time = req.datePattern("yyyy-MM-dd HH:mm")
        // Written in Swift, as the list pages: every person opens it.
        return try await req.renderPage(titleKey: "inbox.title") { t in
            let open = t("inbox.open"), markRead = t("inbox.markRead")
            var html: HTML = """
                <section class="card">
                  <form method="post" action="/inbox/read-all" class="inline right">
                    <input type="hidden" name="_csrf" value="\(csrf)">
                    <button type="submit">\(t("inbox.readAll"))</button>
                  </form>
                  <p><a href="/account/notifications">\(t("channel.preferences"))</a></p>

                """
            if page.items.isEmpty {
                html += "<p class=\"muted\">\(t("inbox.empty"))</p>\n"
            } else {
                html += "<ul class=\"list\">\n"
                for n in page.items {
                    html += """
                        <li class="\(n.read ? "read" : "unread")">
                          <span>\(n.message)</span>
                          <time class="muted">\(time.string(from: n.createdAt))</time>

                        """
                    if !n.read {
                        html += """
                            <form method="post" action="/inbox/\(n.id)/read" class="inline">
                              <input type="hidden" name="_csrf" value="\(csrf)">
                              <button type="submit" class="link">\(n.link == nil ? markRead : open)</button>
                            </form>

                            """
                    } else if let link = n.link {
                        html += "<a href=\"\(link)\">\(open)</a>\n"
                    }
                    html += "</li>\n"
                }
                html += "</ul>\n"
            }
            html += pager.html(&t)
            html += "</section>\n"
            return html
        }
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

    /// What `pager.leaf` writes, for pages written in Swift: nothing when there is one page.
    func html(_ t: inout PageTexts) -> HTML {
        guard pageCount > 1 else { return HTML() }
        let position = t("pager.position", ["page": String(page), "count": String(pageCount), "total": String(total)])
        return """
            <nav class="pager">
              \(previous.map { "<a href=\"\($0)\">&larr; \(t("pager.previous"))</a>" } ?? HTML())
              <span>\(position)</span>
              \(next.map { "<a href=\"\($0)\">\(t("pager.next")) &rarr;</a>" } ?? HTML())
            </nav>

            """
    }
}
