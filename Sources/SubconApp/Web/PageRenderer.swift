import Fluent
import Foundation
import SubconDomain
import Vapor

/// What every page shows around its content: navigation for the person's roles, the unread
/// count, the language switch, the CSRF token for forms.
///
/// The frame around the content (head, header, menu, language switch) is written in Swift:
/// Leaf resolved the menu's thirty-odd links, each with its `#if`, through dictionaries of
/// `LeafData` on every page, after encoding them into those dictionaries. The layout template
/// puts `before` and `after` around its `#import("content")`; the remaining fields are what the
/// pages' own templates read.
struct Shell: Encodable {
    struct NavItem: Encodable { let href: String; let label: String; let active: Bool }
    /// An area of the menu (订单, 物料 …): its pages, or one link when it has only one.
    struct NavGroup {
        let label: String
        let items: [NavItem]
        var active: Bool { items.contains(where: \.active) }
        var single: NavItem? { items.count == 1 ? items[0] : nil }
    }

    let signedIn: Bool
    let userName: String?
    let organizationName: String?
    let csrf: String?
    let timeZone: String
    /// The page up to its content, and from its content to the end.
    let before: HTML
    let after: HTML
}

extension Shell {
    /// The menu by area, holding only what the person's roles may open. At 1024 px the areas
    /// fit one line; each opens to its pages.
    static func navigation(for p: Principal, path: String, text: (String) -> String) -> [NavGroup] {
        var groups: [NavGroup] = []
        var pending: [NavItem] = []
        func item(_ href: String, _ key: String) {
            let active = href == "/" ? path == "/" : path == href || path.hasPrefix(href + "/") || path.hasPrefix(href + "?")
            pending.append(.init(href: href, label: text(key), active: active))
        }
        func group(_ key: String) {
            if !pending.isEmpty { groups.append(.init(label: text(key), items: pending)) }
            pending = []
        }
        item("/", "nav.home")
        group("nav.home")
        item("/dashboard", "nav.dashboard")
        item("/reports", "nav.reports")
        group("nav.dashboard")
        if p.isSupplier { item("/work", "nav.work") }
        item("/orders", "nav.orders")
        item("/late-lines", "nav.lateLines")
        if !p.isSupplier { item("/plans", "nav.plans") }
        if p.can(.handOverSuppliers) || (p.isSupplier && p.can(.answerOrders)) { item("/handovers", "nav.handovers") }
        group("nav.group.orders")
        item("/material", "nav.material")
        item("/write-off", "nav.writeOff")
        if p.can(.countStock) || p.can(.closeStockCounts) { item("/stock-count", "nav.stockCount") }
        group("nav.group.material")
        if InspectionService.mayReadWorkList(p) { item("/inspections", "nav.inspections") }
        if p.can(.raiseExceptions) || p.can(.handleExceptions) || p.can(.answerExceptions) { item("/exceptions", "nav.exceptions") }
        if p.can(.inspectGoods) || p.can(.configureQuality) || p.can(.handleExceptions) { item("/quality", "nav.quality") }
        if p.can(.viewQualityFigures) { item("/rejects", "nav.rejects") }
        if p.can(.viewScorecards) { item("/scorecards", "nav.scorecards") }
        group("nav.group.quality")
        if p.can(.viewStatements) { item("/statements", "nav.statements"); item("/invoices", "nav.invoices") }
        group("nav.group.settlement")
        if p.can(.viewMasterData) { item("/items", "nav.items") }
        // Suppliers see their own agreements, read-only.
        if p.can(.viewMasterData) || p.isSupplier { item("/prices", "nav.prices") }
        if p.can(.viewTechnicalDocuments) { item("/technical-documents", "nav.techDocs") }
        if p.can(.editMasterData) { item("/imports", "nav.imports") }
        if !p.isSupplier && p.can(.viewDirectory) { item("/admin/organizations", "nav.organizations") }
        group("nav.group.masterData")
        if p.can(.administerInstallation) || p.can(.manageOwnOrganizationUsers) { item("/admin/users", "nav.users") }
        if p.can(.verifyAuditChain) { item("/admin/audit", "nav.audit") }
        if p.can(.manageChannels) { item("/channels", "nav.channels") }
        item("/inbox", "nav.inbox")
        item("/account", "nav.account")
        group("nav.group.system")
        return groups
    }
}

struct ViewContext<D: Encodable>: Encodable {
    let locale: String
    let title: String
    let shell: Shell
    let data: D
}

extension Shell {
    /// The page's frame in the person's language: `before` ends with the page's heading,
    /// `after` starts by closing `<main>`.
    static func frame(locale: AppLocale, title: String, principal: Principal?, csrf: String?, unread: Int, nav: [NavGroup],
                      flash: String?, path: String, catalog: Catalog, texts: inout PageTexts) -> (before: HTML, after: HTML) {
        let signedIn = principal != nil
        let app = texts("app.name")
        var before: HTML = """
            <!doctype html>
            <html lang="\(locale.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · \(app)</title>
            <link rel="icon" href="/favicon.svg" type="image/svg+xml">
            <link rel="stylesheet" href="/css/app.css">
            <script src="/js/app.js" defer></script>
            </head>
            <body>
            <header class="top">
              <a class="brand" href="/">\(app)</a>

            """
        if signedIn {
            let badge = unread > Inbox.badgeLimit ? "\(Inbox.badgeLimit)+" : String(unread)
            before += """
                  <a class="bell" href="/inbox" title="\(texts("nav.inbox"))"><span aria-hidden="true">&#9993;</span>\(HTML.when(unread > 0, "<span class=\"badge\" id=\"unread\">\(badge)</span>"))</a>
                  <button class="menu-toggle" type="button" data-toggle="nav" aria-label="\(texts("nav.menu"))">&#9776;</button>

                """
        }
        before += "</header>\n"
        if signedIn {
            before += "<nav id=\"nav\" class=\"nav\" aria-label=\"\(texts("nav.menu"))\">\n  "
            for g in nav {
                let area: HTML = g.active ? "area active" : "area"
                if let single = g.single {
                    before += "<a class=\"\(area)\" href=\"\(single.href)\">\(single.label)</a>"
                } else {
                    before += "<details class=\"\(area)\"><summary>\(g.label)</summary><div class=\"drop\">"
                    for item in g.items {
                        before += "<a href=\"\(item.href)\"\(HTML.when(item.active, " class=\"active\" aria-current=\"page\""))>\(item.label)</a>"
                    }
                    before += "</div></details>"
                }
            }
            let user = principal?.displayName ?? "", org = principal?.organizationName ?? ""
            before += """

                  <span class="who" title="\(user) · \(org)">\(user)<span class="org"> · \(org)</span></span>
                  <form method="post" action="/logout" class="inline">
                    <input type="hidden" name="_csrf" value="\(csrf ?? "")">
                    <button class="link" type="submit">\(texts("nav.logout"))</button>
                  </form>
                </nav>

                """
        }
        before += "<main>\n"
        if let flash { before += "<p class=\"flash\" role=\"status\">\(flash)</p>" }
        before += "\n<h1>\(title)</h1>\n"
        var after: HTML = "</main>\n<footer class=\"foot\">\n  "
        for l in AppLocale.allCases {
            // Each language named in its own words.
            let label = catalog.text("locale.\(l.rawValue)", l)
            after += l == locale ? "<strong>\(label)</strong> " : "<a href=\"/lang/\(l.rawValue)?next=\(path)\">\(label)</a> "
        }
        after += "\n</footer>\n</body>\n</html>"
        return (before, after)
    }
}

extension Request {
    func renderPage<D: Encodable>(_ template: String, titleKey: String, titleParams: [String: String] = [:], _ data: D) async throws -> View {
        let locale = self.locale  // parsed from the cookies and headers on each use
        var texts = PageTexts(catalog: subcon.catalog, locale: locale)
        let page = try await frame(titleKey: titleKey, titleParams: titleParams, locale: locale, texts: &texts)
        let shell = Shell(signedIn: principal != nil, userName: principal?.displayName, organizationName: principal?.organizationName,
                          csrf: page.csrf, timeZone: subcon.settings.timeZone, before: page.frame.before, after: page.frame.after)
        let context = ViewContext(locale: locale.rawValue, title: page.title, shell: shell, data: data)
        return try await view.render(template, context)
    }

    /// A page written in Swift from the first tag to the last: the frame `renderPage` puts
    /// around a template, and the body between. For the busiest list pages, whose templates
    /// cost Leaf's serializer and the encoding of their data about a sixth of a request.
    func renderPage(titleKey: String, titleParams: [String: String] = [:], body: (inout PageTexts) throws -> HTML) async throws -> View {
        let locale = self.locale
        var texts = PageTexts(catalog: subcon.catalog, locale: locale)
        let page = try await frame(titleKey: titleKey, titleParams: titleParams, locale: locale, texts: &texts)
        var html = page.frame.before
        html += try body(&texts)
        html += "\n"
        html += page.frame.after
        html += "\n"
        return View(data: ByteBuffer(string: html.text))
    }

    /// The page's frame: its head, navigation (with the unread notices' badge) and footer.
    private func frame(titleKey: String, titleParams: [String: String], locale: AppLocale, texts: inout PageTexts) async throws
        -> (frame: (before: HTML, after: HTML), title: String, csrf: String?) {
        let catalog = subcon.catalog
        var csrf = principal?.csrfToken
        if principal == nil {
            csrf = cookies[SessionCookie.preCSRF]?.string
        }
        var unread = 0
        var nav: [Shell.NavGroup] = []
        let path = url.path
        if let p = principal {
            unread = try await Inbox.unreadCount(userID: p.userID, on: application.keyedReads)
            nav = Shell.navigation(for: p, path: path) { texts($0) }
        }
        let title = catalog.text(titleKey, locale, titleParams)
        let frame = Shell.frame(locale: locale, title: title, principal: principal, csrf: csrf, unread: unread, nav: nav,
                                flash: queryText("ok").map { catalog.text("flash.\($0)", locale) }, path: path, catalog: catalog, texts: &texts)
        return (frame, title, csrf)
    }

    /// A form page re-shown with the problems next to the fields, answered with the problem's status.
    func renderForm<D: Encodable>(_ template: String, titleKey: String, titleParams: [String: String] = [:], _ data: D,
                                  problem: Problem?) async throws -> Response {
        let response = try await renderPage(template, titleKey: titleKey, titleParams: titleParams, data).encodeResponse(for: self)
        if let problem { response.status = problem.status }
        return response
    }

    func t(_ key: String, _ params: [String: String] = [:]) -> String { subcon.catalog.text(key, locale, params) }

    /// Field problems as `field → message` for inline display, plus a message for the form as a whole.
    func formErrors(_ problem: Problem?) -> FormErrors {
        guard let problem else { return FormErrors(general: nil, fields: [:]) }
        var fields: [String: String] = [:]
        for f in problem.fields { fields[f.field] = t("error.\(f.code)", f.params) }
        return FormErrors(general: t(problem.detailKey, problem.params), fields: fields)
    }
}

/// One choice of a `<select>` on a page.
struct Option: Encodable {
    let value: String
    let label: String
    var selected = false

    /// The choices as `<option>` elements, for pages written in Swift.
    static func html(_ options: [Option]) -> HTML {
        var html = HTML()
        for o in options { html += "<option value=\"\(o.value)\"\(HTML.when(o.selected, " selected"))>\(o.label)</option>" }
        return html
    }
}

struct FormErrors: Encodable {
    let general: String?
    let fields: [String: String]
    /// Every field message in field order, for forms whose fields are not fixed (order lines).
    var list: [String] { fields.sorted { $0.key < $1.key }.map(\.value) }
    /// The same with the field each message belongs to: the page's script puts each message
    /// beside its input (without script they stay listed at the top of the form).
    struct Item: Encodable { let field: String; let message: String }
    var items: [Item] { fields.sorted { $0.key < $1.key }.map { Item(field: $0.key, message: $0.value) } }

    enum CodingKeys: String, CodingKey { case general, fields, list, items }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(general, forKey: .general)
        try c.encode(fields, forKey: .fields)
        try c.encode(list, forKey: .list)
        try c.encode(items, forKey: .items)
    }
}

/// Runs a form action; a problem the person can fix comes back as a value to re-show the form with.
func attempt(_ body: () async throws -> Void) async throws -> Problem? {
    do {
        try await body()
        return nil
    } catch let p as Problem where p.status != .unauthorized && p.status != .notFound && p.status != .forbidden && p.kind != "csrf" {
        return p
    }
}

extension Request {
    /// The one file of an upload form (field `file`); an empty choice is an inline form error.
    func uploadedFile() throws -> (filename: String, data: Data) {
        struct FileForm: Content { var file: File? }
        guard let file = try content.decode(FileForm.self).file, file.data.readableBytes > 0 else {
            throw Problem.validation([FieldProblem("file", "fileEmpty")])
        }
        return (file.filename, Data(buffer: file.data))
    }
}
