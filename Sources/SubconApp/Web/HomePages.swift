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

    struct HomeView: Encodable {
        /// For suppliers: orders and revisions waiting for their answer, first thing on the page.
        /// For buyers: the same list across suppliers (overdue first).
        let toAnswer: [OrderSummaryDTO]
        let toAnswerTotal: Int
        let isSupplier: Bool
        let roles: [String]
        let latest: [Inbox.Item]
        let links: [Shell.NavItem]
        /// Lines projected late (open delay exceptions), newest first.
        let delays: [ExceptionSummaryDTO]
    }

    func home(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let latest = try await Inbox.list(userID: p.userID, page: try PageRequest(req, defaultPer: 5), unreadOnly: true,
                                          locale: req.locale, catalog: req.subcon.catalog, on: req.db)
        var links: [Shell.NavItem] = []
        if p.can(.administerInstallation) || p.can(.manageOwnOrganizationUsers) {
            links.append(.init(href: "/admin/users", label: req.t("nav.users"), active: false))
        }
        if !p.isSupplier { links.append(.init(href: "/admin/organizations", label: req.t("nav.organizations"), active: false)) }
        links.append(.init(href: "/account", label: req.t("nav.account"), active: false))
        let waiting = try await OrderList.list(p, OrderList.Filter(awaiting: true), page: try PageRequest(req, defaultPer: 10), app: req.application)
        let delays = try await p.scope.query(ExceptionCase.self, on: req.db).filter(\.$type == "delay").filter(\.$status == "open")
            .sort(\.$createdAt, .descending).limit(10).all().map(ExceptionService.summary)
        return try await req.renderPage("home", titleKey: "home.title",
                                        HomeView(toAnswer: waiting.items, toAnswerTotal: waiting.total, isSupplier: p.isSupplier, roles: p.roles.sorted().map { req.t("role.\($0.rawValue)") },
                                                 latest: latest.items, links: links, delays: delays))
    }

    struct InboxView: Encodable {
        let items: [Inbox.Item]
        let pager: Pager
    }

    func inbox(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let page = try await Inbox.list(userID: p.userID, page: try PageRequest(req, defaultPer: 20), unreadOnly: false,
                                        locale: req.locale, catalog: req.subcon.catalog, on: req.db)
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
