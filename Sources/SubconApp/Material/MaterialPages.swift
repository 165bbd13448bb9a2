import Fluent
import Foundation
import SubconDomain
import Vapor

/// Material pages: the warehouse's work lists, issue and movement forms, a document with the
/// supplier's confirmation and the purchaser's approval, supplier-held stock, lot traceability.
struct MaterialPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let m = routes.grouped("material")
        m.get(use: hub)
        m.get("issue", use: issueForm)
        m.post("issue", use: issue)
        m.get("documents", ":id", use: document)
        m.post("documents", ":id", "confirm", use: confirm)
        m.post("documents", ":id", "approve", use: approve)
        m.post("documents", ":id", "refuse", use: refuse)
        m.get("move", use: moveForm)
        m.post("move", use: move)
        m.get("stock", use: stock)
        m.get("trace", use: trace)
    }

    // MARK: Hub

    /// The rows of the material hub's lists (and of the notes page), each list written in one pass.
    struct Rows {
        var t: PageTexts
        let isSupplier: Bool
        let canHandle: Bool
        let time: DatePattern
        let shortTime: DatePattern

        init(req: Request, isSupplier: Bool, canHandle: Bool) {
            t = req.texts()
            self.isSupplier = isSupplier
            self.canHandle = canHandle
            time = req.datePattern("yyyy-MM-dd HH:mm")
            shortTime = req.datePattern("MM-dd HH:mm")
        }

        func quantity(_ q: FixedDecimal, _ unit: String, strong: Bool = false) -> HTML {
            strong ? "<strong>\(q.grouped)</strong> <span class=\"muted\">\(unit)</span>" : "\(q.grouped) <span class=\"muted\">\(unit)</span>"
        }

        func orderCell(_ label: String, _ id: UUID, _ code: String, line: Int?) -> HTML {
            let lineNo: HTML = line.map { " <span class=\"muted nowrap\">\(t("material.lineNo", ["n": String($0)]))</span>" } ?? HTML()
            return "<td data-label=\"\(label)\"><a class=\"nowrap\" href=\"/orders/\(id)\">\(code)</a>\(lineNo)</td>"
        }

        func supplierCell(_ label: String, _ name: String, _ code: String) -> HTML {
            "<td data-label=\"\(label)\">\(name) <span class=\"muted nowrap\">\(code)</span></td>"
        }

        mutating func dueToIssue(_ rows: [DueToIssueDTO]) -> HTML {
            let order = t("orders.code"), supplier = t("prices.supplier"), due = t("orders.dueDate"), component = t("material.component")
            let gross = t("material.gross"), issued = t("material.issued"), remaining = t("material.remaining"), issue = t("material.issueAction")
            var html = HTML()
            for r in rows {
                html += """
                    <tr>\(orderCell(order, r.orderId, r.orderCode, line: r.line))
                    \(supplierCell(supplier, r.supplierName, r.supplierCode))
                    <td data-label="\(due)" class="nowrap">\(r.dueDate)</td>
                    <td data-label="\(component)"><span class="nowrap">\(r.componentCode)</span> <span class="muted">\(r.componentName)</span></td>
                    <td data-label="\(gross)" class="num nowrap">\(quantity(r.gross, r.uom))</td>
                    <td data-label="\(issued)" class="num nowrap">\(quantity(r.issued, r.uom))</td>
                    <td data-label="\(remaining)" class="num nowrap">\(quantity(r.remaining, r.uom, strong: true))</td>
                    <td>\(HTML.when(canHandle, "<a class=\"button\" href=\"/material/issue?order=\(r.orderId)\">\(issue)</a>"))</td></tr>

                    """
            }
            return html
        }

        /// The notes' rows, of the hub (what remains) and of the notes page (the quantity too).
        mutating func notes(_ rows: [NoteSummaryDTO], withQuantity: Bool = false) -> HTML {
            let note = t("deliveries.code"), order = t("orders.code"), supplier = t("prices.supplier"), ship = t("deliveries.shipDate")
            let shipped = t("material.quantity"), remaining = t("material.remaining"), status = t("field.status")
            var html = HTML()
            for n in rows {
                let quantity: HTML = withQuantity ? "<td data-label=\"\(shipped)\" class=\"num nowrap\">\(self.quantity(n.quantity, n.unit ?? ""))</td>" : HTML()
                html += """
                    <tr><td data-label="\(note)"><a class="nowrap" href="/deliveries/\(n.id)">\(n.code)</a></td>
                    \(orderCell(order, n.orderId, n.orderCode, line: nil))
                    \(isSupplier ? HTML() : supplierCell(supplier, n.supplierName, n.supplierCode))
                    <td data-label="\(ship)" class="nowrap">\(n.shipDate)</td>
                    \(quantity)<td data-label="\(remaining)" class="num nowrap">\(self.quantity(n.remaining, n.unit ?? ""))</td>
                    <td data-label="\(status)"><span class="tag">\(t("delivery.status." + n.status))</span></td></tr>

                    """
            }
            return html
        }

        mutating func dueToArrive(_ rows: [DueToArriveDTO]) -> HTML {
            let order = t("orders.code"), supplier = t("prices.supplier"), due = t("orders.dueDate"), item = t("material.item")
            let ordered = t("orders.quantity"), open = t("material.open"), ship = t("deliveries.ship"), receive = t("receipts.receiveDirect")
            var html = HTML()
            for r in rows {
                let action: HTML = isSupplier ? "<a class=\"button primary\" href=\"/deliveries/new?order=\(r.orderId)\">\(ship)</a>"
                    : canHandle ? "<a class=\"button\" href=\"/receipts/new?order=\(r.orderId)\">\(receive)</a>" : HTML()
                html += """
                    <tr>\(orderCell(order, r.orderId, r.orderCode, line: r.line))
                    \(isSupplier ? HTML() : supplierCell(supplier, r.supplierName, r.supplierCode))
                    <td data-label="\(due)" class="nowrap">\(r.dueDate)</td>
                    <td data-label="\(item)"><span class="nowrap">\(r.itemCode)</span> <span class="muted">\(r.itemName)</span></td>
                    <td data-label="\(ordered)" class="num nowrap">\(quantity(r.ordered, r.uom))</td>
                    <td data-label="\(open)" class="num nowrap">\(quantity(r.open, r.uom, strong: true))</td>
                    <td>\(action)</td></tr>

                    """
            }
            return html
        }

        mutating func recent(_ rows: [DocumentSummaryDTO]) -> HTML {
            let code = t("material.code"), kind = t("material.kind"), supplier = t("prices.supplier"), order = t("orders.code")
            let status = t("field.status"), date = t("material.date"), awaiting = t("material.awaitingConfirmation")
            var html = HTML()
            for d in rows {
                let state: HTML = d.awaitingConfirmation ? "<span class=\"tag warn\">\(awaiting)</span>" : "<span class=\"tag\">\(t("material.status." + d.status))</span>"
                html += """
                    <tr><td data-label="\(code)"><a class="nowrap" href="/material/documents/\(d.id)">\(d.code)</a></td>
                    <td data-label="\(kind)">\(t("material.kind." + d.kind))</td>
                    \(supplierCell(supplier, d.supplierName, d.supplierCode))
                    <td data-label="\(order)" class="nowrap">\(d.orderCode ?? "")</td>
                    <td data-label="\(status)">\(state)</td>
                    <td data-label="\(date)" class="nowrap">\(time.string(from: d.createdAt))</td></tr>

                    """
            }
            return html
        }

        /// The supplier's documents to confirm, each with its kind, order and time.
        mutating func toConfirm(_ docs: [DocumentSummaryDTO]) -> HTML {
            var html = HTML()
            for d in docs {
                let order: HTML = d.orderCode.map { "<span class=\"muted\">\($0)</span>" } ?? HTML()
                html += "<li><a class=\"nowrap\" href=\"/material/documents/\(d.id)\">\(d.code)</a> <span class=\"tag\">\(t("material.kind." + d.kind))</span> \(order) <span class=\"muted nowrap\">\(shortTime.string(from: d.createdAt))</span></li>"
            }
            return html
        }

        func pendingApproval(_ docs: [DocumentSummaryDTO]) -> HTML {
            var html = HTML()
            for d in docs {
                html += "<li><a class=\"nowrap\" href=\"/material/documents/\(d.id)\">\(d.code)</a> <span class=\"muted\">\(d.supplierName) · \(d.orderCode ?? "")</span></li>"
            }
            return html
        }

        /// Open material discrepancies, each leading to its exception (to be answered there) and
        /// to the document it was raised on; one the system raised speaks the reader's language.
        mutating func discrepancies(_ exceptions: [ExceptionSummaryDTO]) -> HTML {
            let document = t("material.discrepancyDocument")
            var html = HTML()
            for e in exceptions {
                let what: HTML = e.source == "material_document" ? "<a class=\"nowrap\" href=\"/material/documents/\(e.sourceId)\">\(document)</a>" : "\(e.title)"
                let description = e.words.map { t($0.description, $0.params) } ?? e.description
                html += "<li><a class=\"tag bad\" href=\"/exceptions/\(e.id)\">\(e.code)</a> \(what) <span class=\"muted pre\">\(description)</span></li>"
            }
            return html
        }

        func awaitingInspection(_ receipts: [ReceiptSummaryDTO]) -> HTML {
            var html = HTML()
            for r in receipts {
                html += "<li><a class=\"nowrap\" href=\"/receipts/\(r.id)\">\(r.code)</a> <span class=\"muted\">\(r.supplierName) \(r.supplierCode) · \(r.orderCode)</span> <span class=\"tag warn\">\(t("material.linesAwaiting", ["n": String(r.awaiting)]))</span></li>"
            }
            return html
        }
    }

    /// The hub's long lists that can be opened whole (`/material?list=…`). The delivery notes on
    /// their way have a page of their own (`/deliveries`).
    enum HubList: String {
        case issue, arrive, inspect

        /// Issuing components and inspecting receipts are the manufacturer's; a supplier's hub
        /// has only the lines it is to deliver.
        func isOpen(to p: Principal) -> Bool { !p.isSupplier || self == .arrive }
        var titleKey: String {
            switch self {
            case .issue: "material.dueToIssue"
            case .arrive: "material.dueToArrive"
            case .inspect: "material.awaitingInspection"
            }
        }
    }

    /// Rows of each long list on the hub: its first, most urgent ones, and a link to the rest.
    /// Six lists of fifty made a buyer's hub 93 KB, most of it below the first screen.
    static let hubRows = 10
    /// Rows of a page of one list opened whole, walked from page to page by the last row's key.
    static let wholeRows = 50

    /// The material hub: what waits for the person (documents to confirm or approve,
    /// discrepancies, components to issue, notes on their way, receipts to inspect, lines to
    /// arrive) and the latest documents; or, with `list`, one of the long lists whole. Written in
    /// Swift from the first tag to the last.
    func hub(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let reads = req.application.reads
        let kind = req.queryText("kind").flatMap { MaterialKind(rawValue: $0)?.rawValue }
        var whole: HubList?
        if let list = req.queryText("list") {
            guard let l = HubList(rawValue: list), l.isOpen(to: p) else {
                throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("list", "invalidValue")])
            }
            whole = l
        }
        let onHub = whole == nil
        /// Whether the page shows a long list: on the hub, each the person has; opened whole, that one.
        func shows(_ list: HubList) -> Bool { list.isOpen(to: p) && (onHub || whole == list) }
        /// Rows to read of a list the page shows: one more than the hub (or the page) shows, to
        /// know whether there are more.
        let rowsToRead = (onHub ? Self.hubRows : Self.wholeRows) + 1, after = onHub ? nil : try KeysetRequest.cursor(req)
        let recent = onHub ? try await MaterialReports.documents(p, orderID: nil, kind: kind, status: nil, supplierID: nil, limit: 30,
                                                                 on: MaterialReports.documentReads(req.application, orderID: nil, kind: kind, status: nil)) : []
        let dueToIssue = shows(.issue) ? try await MaterialReports.dueToIssue(p, limit: rowsToRead, after: after, on: req.application.keyedReads) : []
        let dueToArrive = shows(.arrive) ? try await MaterialReports.dueToArrive(p, limit: rowsToRead, after: after, on: req.application.keyedReads) : []
        let openNotes = onHub ? try await MaterialReports.notes(p, orderID: nil, open: true, limit: rowsToRead, on: reads) : []
        let awaitingInspection = shows(.inspect)
            ? try await MaterialReports.receipts(p, orderID: nil, awaiting: true, limit: rowsToRead, after: after, on: reads) : []
        let pendingApproval = onHub ? try await MaterialReports.documents(p, orderID: nil, kind: "supplementary", status: "pending_approval", supplierID: nil,
                                                                          limit: 50, on: reads) : []
        let toConfirm = p.isSupplier && onHub ? try await MaterialReports.documents(p, orderID: nil, kind: nil, status: "done", supplierID: nil, unconfirmed: true,
                                                                                    limit: 200, on: reads).filter(\.awaitingConfirmation) : []
        let discrepancies = onHub ? try await MaterialReports.openDiscrepancies(p, on: req.modelReads) : []
        var rows = Rows(req: req, isSupplier: p.isSupplier, canHandle: p.can(.handleMaterial))
        let isSupplier = p.isSupplier, canHandle = p.can(.handleMaterial)

        /// A long list's rows as the page shows them, and the link to the rest when there is more:
        /// on the hub, to the list opened whole; opened whole, to its next page (and back to its first).
        func shown<T: Sendable>(_ all: [T], more: String, key: (T) -> ListCursor) -> (rows: [T], more: HTML) {
            guard whole != nil else {
                guard all.count > Self.hubRows else { return (all, HTML()) }
                return (Array(all.prefix(Self.hubRows)), "<p class=\"links\"><a href=\"\(more)\">\(req.t("material.showAll")) &rarr;</a></p>")
            }
            let shown = KeysetPage(rows: all, limit: Self.wholeRows, key: key)
            guard after != nil || shown.next != nil else { return (shown.items, HTML()) }
            let first: HTML = after == nil ? "<span></span>" : "<a href=\"\(more)\">&larr; \(req.t("pager.first"))</a>"
            let next: HTML = shown.next.map { "<a href=\"\(more)&amp;after=\($0)\">\(req.t("pager.next")) &rarr;</a>" } ?? HTML()
            return (shown.items, "<nav class=\"pager\">\(first)\(next)</nav>\n")
        }
        let issue = shown(dueToIssue, more: "/material?list=issue", key: MaterialReports.cursor)
        let arrive = shown(dueToArrive, more: "/material?list=arrive", key: MaterialReports.cursor)
        let notes = shown(openNotes, more: "/deliveries", key: MaterialReports.cursor)
        let inspect = shown(awaitingInspection, more: "/material?list=inspect", key: MaterialReports.cursor)

        return try await req.renderPage(titleKey: whole?.titleKey ?? "material.title") { t in
            var html = HTML()
            if whole != nil {
                html += "<p class=\"links\"><a href=\"/material\">&larr; \(t("material.title"))</a></p>\n"
            } else {
                var moves = HTML()
                if canHandle {
                    moves = "<p class=\"actions\">"
                    for move in ["return", "transfer", "adjustment"] {
                        moves += "<a class=\"button\" href=\"/material/move?kind=\(move)\">\(t("material.move." + move))</a>\(HTML.when(move != "adjustment", " "))"
                    }
                    moves += "</p>"
                }
                html += """
                    <section class="card">
                      <p class="links"><a href="/material/stock">\(t("material.stockTitle"))</a> · <a href="/deliveries">\(t("deliveries.title"))</a> · \
                    <a href="/material/trace">\(t("material.traceTitle"))</a> · <a href="/write-off">\(t("writeoff.title"))</a></p>
                      \(moves)
                      \(isSupplier ? "<p class=\"actions\"><a class=\"button\" href=\"/material/move?kind=scrap\">\(t("material.move.scrap"))</a></p>" : HTML())
                    </section>

                    """
                for (key, any, items, attention) in [("material.toConfirm", !toConfirm.isEmpty, rows.toConfirm(toConfirm), true),
                                                     ("material.pendingApproval", !pendingApproval.isEmpty, rows.pendingApproval(pendingApproval), true),
                                                     ("material.discrepancies", !discrepancies.isEmpty, rows.discrepancies(discrepancies), false)] where any {
                    html += """
                        <section class="card\(HTML.when(attention, " attention"))">
                          <h2>\(t(key))</h2>
                          <ul class="list">\(items)</ul>
                        </section>

                        """
                }
            }
            /// A section's heading: none for a list opened whole, which the page's title names.
            func heading(_ key: String) -> HTML { whole == nil ? "<h2>\(t(key))</h2>\n  " : HTML() }
            /// A section holding a table, its empty note, and what follows it.
            func table(_ titleKey: String, keep: Bool, intro: HTML = HTML(), head: HTML, rows: HTML, empty: Bool, after: HTML) {
                html += "<section class=\"card\"\(HTML.when(keep, " data-keep"))>\n  \(heading(titleKey))\(intro)"
                if empty {
                    html += "<p class=\"muted\">\(t("list.empty"))</p>"
                } else {
                    html += .listTable(head: head, rows: rows)
                }
                html += "\n\(after)</section>\n"
            }
            let supplierHead: HTML = isSupplier ? HTML() : "<th>\(t("prices.supplier"))</th>"
            if shows(.issue) {
                table("material.dueToIssue", keep: true, head: """
                    <th>\(t("orders.code"))</th><th>\(t("prices.supplier"))</th><th>\(t("orders.dueDate"))</th><th>\(t("material.component"))</th>\
                    <th class="num">\(t("material.gross"))</th><th class="num">\(t("material.issued"))</th><th class="num">\(t("material.remaining"))</th><th></th>
                    """, rows: rows.dueToIssue(issue.rows), empty: issue.rows.isEmpty, after: issue.more)
            }
            if onHub {
                table("material.openNotes", keep: false, head: """
                    <th>\(t("deliveries.code"))</th><th>\(t("orders.code"))</th>\(supplierHead)<th>\(t("deliveries.shipDate"))</th>\
                    <th class="num">\(t("material.remaining"))</th><th>\(t("field.status"))</th>
                    """, rows: rows.notes(notes.rows), empty: notes.rows.isEmpty, after: notes.more)
            }
            if shows(.inspect) {
                html += "<section class=\"card\">\n  \(heading("material.awaitingInspection"))"
                html += inspect.rows.isEmpty ? "<p class=\"muted\">\(t("list.empty"))</p>"
                    : "<ul class=\"list\">\(rows.awaitingInspection(inspect.rows))</ul>"
                html += "\n\(inspect.more)</section>\n"
            }
            if shows(.arrive) {
                table("material.dueToArrive", keep: true, head: """
                    <th>\(t("orders.code"))</th>\(supplierHead)<th>\(t("orders.dueDate"))</th><th>\(t("material.item"))</th>\
                    <th class="num">\(t("orders.quantity"))</th><th class="num">\(t("material.open"))</th><th></th>
                    """, rows: rows.dueToArrive(arrive.rows), empty: arrive.rows.isEmpty, after: arrive.more)
            }
            if onHub {
                var form: HTML = """
                    <form method="get" action="/material" class="form row">
                        <label>\(t("material.kind"))<select name="kind" data-autosubmit>\
                    <option value=""\(HTML.when(kind == nil, " selected"))>\(t("material.allKinds"))</option>
                    """
                form += Option.html(MaterialKind.allCases.map {
                    Option(value: $0.rawValue, label: t("material.kind.\($0.rawValue)"), selected: kind == $0.rawValue)
                })
                form += """
                    </select></label>
                        <noscript><button type="submit">\(t("action.search"))</button></noscript>
                      </form>

                    """
                table("material.recent", keep: false, intro: form, head: """
                    <th>\(t("material.code"))</th><th>\(t("material.kind"))</th><th>\(t("prices.supplier"))</th><th>\(t("orders.code"))</th>\
                    <th>\(t("field.status"))</th><th>\(t("material.date"))</th>
                    """, rows: rows.recent(recent), empty: recent.isEmpty, after: HTML())
            }
            return html
        }
    }

    // MARK: Issue

    struct IssueView: Encodable {
        struct Row: Encodable { let key: String; let line: Int; let componentCode: String; let componentName: String; let unit: String
                                let gross: FixedDecimal; let issued: FixedDecimal; let remaining: FixedDecimal
                                /// What the form shows in the lot and quantity fields.
                                let lot: String; let quantity: String }
        let order: OrderSummaryRef
        let rows: [Row]
        let values: [String: String]
        let errors: FormErrors
    }

    struct OrderSummaryRef: Encodable { let id: UUID; let code: String; let supplierCode: String; let supplierName: String }

    func orderRef(_ o: OutsourcingOrder, on db: any Database) async throws -> OrderSummaryRef {
        let s = try await Organization.find(o.supplierID, on: db)
        return OrderSummaryRef(id: o.id!, code: o.code, supplierCode: s?.code ?? "", supplierName: s?.name ?? "")
    }

    func renderIssue(_ req: Request, _ order: OutsourcingOrder, values: [String: String], problem: Problem?) async throws -> Response {
        let reqs = try await MaterialService.requirements(order.id!, on: req.db)
        let rows = reqs.map { r in
            let key = "\(r.line)_\(r.component.code)"
            return IssueView.Row(key: key, line: r.line, componentCode: r.component.code, componentName: r.component.name,
                                 unit: r.component.uom, gross: r.gross, issued: r.issued, remaining: r.remaining, lot: values["l_\(key)"] ?? "",
                                 quantity: problem == nil ? (r.remaining > .zero ? r.remaining.description : "") : values["q_\(key)"] ?? "")
        }
        return try await req.renderForm("material_issue", titleKey: "material.issueTitle", titleParams: ["code": order.code],
                                        IssueView(order: try await orderRef(order, on: req.db), rows: rows, values: values, errors: req.formErrors(problem)),
                                        problem: problem)
    }

    func order(_ req: Request, _ p: Principal, field: String = "order") async throws -> OutsourcingOrder {
        guard let id = (req.queryText(field) ?? (try? req.content.get(String.self, at: field))).flatMap(UUID.init(uuidString:)) else {
            throw Problem.notFound
        }
        return try await OrderService.find(p, id, on: req.db)
    }

    func issueForm(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleMaterial)
        return try await renderIssue(req, try await order(req, p), values: [:], problem: nil)
    }

    /// Per requirement `l_KEY` (lot) and `q_KEY` (quantity); empty quantities are skipped.
    func issue(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleMaterial)
        let fields = try req.content.decode([String: String].self)
        let order = try await order(req, p)
        var created: MaterialDocument?
        var keys: [String] = []
        let problem = try await attempt {
            let reqs = try await MaterialService.requirements(order.id!, on: req.db)
            var lines: [IssueInput.Line] = []
            for r in reqs {
                let key = "\(r.line)_\(r.component.code)"
                let text = (fields["q_\(key)"] ?? "").trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                guard let q = try? FixedDecimal.parse(text) else { throw Problem.validation([FieldProblem("q_\(key)", "positiveDecimal")]) }
                keys.append(key)
                lines.append(.init(line: r.line, componentCode: r.component.code, lot: (fields["l_\(key)"] ?? "").trimmingCharacters(in: .whitespaces), quantity: q))
            }
            let input = IssueInput(orderId: order.id!, reason: fields["reason"], lines: lines)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            created = try await MaterialService.issue(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/material/documents/\(created.id!)?ok=created") }
        return try await renderIssue(req, order, values: fields, problem: problem?.namingLineFields { i, field in
            keys.indices.contains(i) ? DeliveryPages.formField(field, line: keys[i]) : nil
        })
    }

    // MARK: A document

    struct DocumentView: Encodable {
        let doc: MaterialDocumentDTO
        /// Lines the supplier has not confirmed yet.
        let pending: [MaterialLineDTO]
        let canConfirm: Bool
        let canApprove: Bool
        let values: [String: String]
        let errors: FormErrors
    }

    func renderDocument(_ req: Request, _ d: MaterialDocument, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let dto = try await MaterialService.dto(d, on: req.db)
        return try await req.renderForm("material_document", titleKey: "material.documentTitle", titleParams: ["code": d.code], DocumentView(
            doc: dto, pending: dto.lines.filter { $0.confirmedQuantity == nil }, canConfirm: dto.awaitingConfirmation && p.can(.fulfilOrders) && p.organizationID == d.supplierID,
            canApprove: d.status == "pending_approval" && p.can(.approveSupplementaryIssue), values: values, errors: req.formErrors(problem)),
            problem: problem)
    }

    func load(_ req: Request) async throws -> MaterialDocument {
        try await MaterialService.find(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func document(req: Request) async throws -> Response { try await renderDocument(req, try await load(req)) }

    func act(_ req: Request, done: String = "saved", _ body: (Principal, MaterialDocument, [String: String]) async throws -> Void) async throws -> Response {
        let p = try req.requirePrincipal()
        let d = try await load(req)
        let fields = try req.content.decode([String: String].self)
        let problem = try await attempt { try await body(p, d, fields) }
        guard let problem else { return req.redirect(to: "/material/documents/\(d.id!)?ok=\(done)") }
        return try await renderDocument(req, try await load(req), values: problem.status == .conflict ? [:] : fields, problem: problem)
    }

    /// `c_N` per line: the quantity that arrived.
    func confirm(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.fulfilOrders)
        return try await act(req, done: "confirmed") { p, d, f in
            let lines = try await MaterialDocumentLine.query(on: req.db).filter(\.$documentID == d.id!).all()
            var out: [ConfirmInput.Line] = []
            for l in lines where l.confirmedQuantity == nil {
                guard let q = try? FixedDecimal.parse((f["c_\(l.number)"] ?? "").trimmingCharacters(in: .whitespaces)) else {
                    throw Problem.validation([FieldProblem("lines", "confirmEveryLine", ["no": String(l.number)])])
                }
                out.append(.init(no: l.number, quantity: q))
            }
            let input = ConfirmInput(version: Int(f["version"] ?? "") ?? -1, lines: out, note: f["note"])
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await MaterialService.confirm(p, d.id!, input, app: req.application)
        }
    }

    func approve(req: Request) async throws -> Response { try await decide(req, approve: true) }
    func refuse(req: Request) async throws -> Response { try await decide(req, approve: false) }

    func decide(_ req: Request, approve: Bool) async throws -> Response {
        try await act(req) { p, d, f in
            let input = ApprovalInput(version: Int(f["version"] ?? "") ?? -1, note: f["note"])
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await MaterialService.approve(p, d.id!, input, approve: approve, app: req.application)
        }
    }

    // MARK: Returns, scrap, corrections, transfers

    /// One lot the supplier holds, offered on the form so nothing has to be typed as a code.
    struct HeldLot: Encodable {
        let index: Int
        let itemCode: String
        let itemName: String
        let unit: String
        let lot: String
        let held: FixedDecimal
        let quantity: String
    }

    struct MoveView: Encodable {
        let kind: String
        let isSupplier: Bool
        let held: [HeldLot]
        let suppliers: [Option]
        let toSuppliers: [Option]
        let values: [String: String]
        let errors: FormErrors
    }

    static let moveKinds: [MaterialKind] = [.returned, .scrap, .adjustment, .transfer]

    func kind(_ text: String?) throws -> MaterialKind {
        guard let k = text.flatMap(MaterialKind.init(rawValue:)), Self.moveKinds.contains(k) else { throw Problem.notFound }
        return k
    }

    func renderMove(_ req: Request, _ kind: MaterialKind, values: [String: String], problem: Problem?) async throws -> Response {
        let p = try req.requirePrincipal()
        var suppliers: [Organization] = []
        if !p.isSupplier {
            suppliers = try await Organization.query(on: req.db).filter(\.$kind == OrganizationKind.supplier.rawValue).filter(\.$active == true)
                .sort(\.$code).limit(500).all()
        }
        func options(_ field: String) -> [Option] {
            [Option(value: "", label: "—", selected: (values[field] ?? "").isEmpty)]
                + suppliers.map { Option(value: $0.id!.uuidString, label: "\($0.code) · \($0.name)", selected: values[field] == $0.id!.uuidString) }
        }
        // What the supplier holds now (the supplier itself, or the one chosen for a return or
        // correction): the lots to choose from, quantities typed beside them.
        var held: [HeldLot] = []
        let holder = p.scope.supplierID ?? values[kind == .transfer ? "fromSupplierId" : "supplierId"].flatMap(UUID.init(uuidString:))
        if let holder {
            let balances = try await Ledger.balances(suppliers: [holder], on: req.db).filter { $0.value.held > .zero }
            let items = try await OrderService.itemCodes(Set(balances.keys.map(\.itemID)), on: req.db)
            held = balances.map { (k: $0.key, b: $0.value) }
                .sorted { (items[$0.k.itemID]?.code ?? "", $0.k.lot) < (items[$1.k.itemID]?.code ?? "", $1.k.lot) }
                .prefix(200).enumerated().map { n, e in
                    HeldLot(index: n, itemCode: items[e.k.itemID]?.code ?? "", itemName: items[e.k.itemID]?.name ?? "", unit: items[e.k.itemID]?.uom ?? "",
                            lot: e.k.lot, held: e.b.held, quantity: values["h_\(n)"] ?? "")
                }
        }
        return try await req.renderForm("material_move", titleKey: "material.move.\(kind.rawValue)", MoveView(
            kind: kind.rawValue, isSupplier: p.isSupplier, held: held, suppliers: options(kind == .transfer ? "fromSupplierId" : "supplierId"),
            toSuppliers: options("toSupplierId"), values: values, errors: req.formErrors(problem)), problem: problem)
    }

    func moveForm(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let k = try kind(req.queryText("kind"))
        try p.require(k == .scrap ? .fulfilOrders : .handleMaterial)
        var values: [String: String] = [:]
        if let s = req.queryText("supplier") { values[k == .transfer ? "fromSupplierId" : "supplierId"] = s }
        if let item = req.queryText("item"), let lot = req.queryText("lot") { values["lines"] = "\(item) \(lot) " }
        return try await renderMove(req, k, values: values, problem: nil)
    }

    /// Lines typed one per row: `ITEM LOT QUANTITY`.
    static func parseLines(_ text: String) throws -> [(item: String, lot: String, quantity: FixedDecimal)] {
        var out: [(String, String, FixedDecimal)] = []
        var problems: [FieldProblem] = []
        for (i, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let parts = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
            if parts.isEmpty { continue }
            guard parts.count == 3, let q = try? FixedDecimal.parse(parts[2]) else {
                problems.append(FieldProblem("lines", "badMaterialLine", ["line": String(i + 1)])); continue
            }
            out.append((parts[0], parts[1], q))
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        if out.isEmpty { throw Problem.validation([FieldProblem("lines", "required")]) }
        return out
    }

    func move(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let fields = try req.content.decode([String: String].self)
        let k = try kind(fields["kind"])
        try p.require(k == .scrap ? .fulfilOrders : .handleMaterial)
        var created: MaterialDocument?
        let problem = try await attempt {
            // Quantities typed beside the held lots, then any lines typed by hand.
            var picked: [(item: String, lot: String, quantity: FixedDecimal)] = []
            for (key, value) in fields where key.hasPrefix("h_") && !value.trimmingCharacters(in: .whitespaces).isEmpty {
                let n = key.dropFirst(2)
                guard let item = fields["hi_\(n)"], let lot = fields["hl_\(n)"] else { continue }
                guard let q = try? FixedDecimal.parse(value.trimmingCharacters(in: .whitespaces)), q > .zero else {
                    throw Problem.validation([FieldProblem("h_\(n)", "positiveDecimal")])
                }
                picked.append((item, lot, q))
            }
            let typed = (fields["lines"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let lines = picked.sorted { ($0.item, $0.lot) < ($1.item, $1.lot) } + (typed.isEmpty && !picked.isEmpty ? [] : try Self.parseLines(typed))
            func uuid(_ f: String) -> UUID? { fields[f].flatMap(UUID.init(uuidString:)) }
            if k == .transfer {
                guard let from = uuid("fromSupplierId") else { throw Problem.validation([FieldProblem("fromSupplierId", "required")]) }
                guard let to = uuid("toSupplierId") else { throw Problem.validation([FieldProblem("toSupplierId", "required")]) }
                let input = TransferInput(fromSupplierId: from, toSupplierId: to, reason: fields["reason"] ?? "",
                                          lines: lines.map { .init(itemCode: $0.item, lot: $0.lot, quantity: $0.quantity) })
                if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
                created = try await MaterialService.transfer(p, input, app: req.application)
            } else {
                let input = MovementInput(supplierId: uuid("supplierId"), orderId: nil, condition: fields["condition"], reason: fields["reason"],
                                          lines: lines.map { .init(itemCode: $0.item, lot: $0.lot, quantity: $0.quantity) })
                created = try await MaterialService.move(p, kind: k, input, app: req.application)
            }
        }
        if let created { return req.redirect(to: "/material/documents/\(created.id!)?ok=created") }
        return try await renderMove(req, k, values: fields, problem: problem)
    }

    // MARK: Stock and traceability

    /// Supplier-held stock, fifty rows a page: written in Swift (in Leaf, with its labels looked
    /// up per cell, it answered 468 pages a second on the large data set, a tenth of the API's).
    func stock(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let supplier = try await SupplierFilter.read(p, req: req, allLabel: req.t("material.allSuppliers"))
        let item = req.queryText("itemCode") ?? "", lot = req.queryText("lot") ?? ""
        let page = try await MaterialReports.stock(p, supplierID: supplier.supplierID, itemCode: item, lot: lot, page: try PageRequest(req), on: req.application.reads)
        let canHandle = p.can(.handleMaterial)
        let pager = Pager(page, req)
        return try await req.renderPage(titleKey: "material.stockTitle") { t in
            let supplierLabel = t("prices.supplier"), itemLabel = t("material.item"), lotLabel = t("material.lot")
            let inTransit = t("material.inTransit"), held = t("material.held")
            var html: HTML = """
                <section class="card">
                  <form method="get" action="/material/stock" class="form row">
                    \(supplier.field(&t))
                    <label>\(itemLabel)<input name="itemCode" value="\(item)"></label>
                    <label>\(lotLabel)<input name="lot" value="\(lot)"></label>
                    <button type="submit">\(t("action.search"))</button>
                  </form>
                  \(supplier.message(&t))
                  <p class="muted">\(t("material.stockHint"))</p>

                """
            if page.items.isEmpty {
                html += "<p class=\"muted\">\(t("list.empty"))</p>"
            } else {
                let returnText = t("material.move.return"), transferText = t("material.move.transfer")
                html += """
                    <div class="scroll"><table class="stack">
                        <thead><tr>\(HTML.when(!p.isSupplier, "<th>\(supplierLabel)</th>"))<th>\(itemLabel)</th><th>\(lotLabel)</th>\
                    <th class="num">\(inTransit)</th><th class="num">\(held)</th>\(HTML.when(canHandle, "<th></th>"))</tr></thead>
                        <tbody>
                    """
                for r in page.items {
                    let movable = StockBalance(inTransit: r.inTransit, held: r.held).canMoveOut
                    let query: HTML = "supplier=\(r.supplierId)&item=\(r.itemCode)&lot=\(r.lot)"
                    html += """
                        <tr>\(HTML.when(!p.isSupplier, "<td data-label=\"\(supplierLabel)\"><span class=\"nowrap\">\(r.supplierCode)</span> <span class=\"muted\">\(r.supplierName)</span></td>"))
                        <td data-label="\(itemLabel)"><span class="nowrap">\(r.itemCode)</span> <span class="muted">\(r.itemName)</span></td>
                        <td data-label="\(lotLabel)"><a class="nowrap" href="/material/trace?item=\(r.itemCode)&lot=\(r.lot)">\(r.lot.isEmpty ? "—" : r.lot)</a></td>
                        <td data-label="\(inTransit)" class="num">\(r.inTransit.grouped)</td>
                        <td data-label="\(held)" class="num"><strong>\(r.held.grouped)</strong> \(r.unit)</td>
                        \(HTML.when(canHandle, "<td class=\"nowrap\">\(HTML.when(movable, "<a href=\"/material/move?kind=return&\(query)\">\(returnText)</a> · <a href=\"/material/move?kind=transfer&\(query)\">\(transferText)</a>"))</td>"))</tr>

                        """
                }
                html += "</tbody>\n  </table></div>\n"
                html += pager.html(&t)
            }
            html += "</section>\n"
            return html
        }
    }

    struct TraceView: Encodable { let item: String; let lot: String; let trace: TraceDTO?; let errors: FormErrors }

    func trace(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let item = (req.queryText("item") ?? "").trimmingCharacters(in: .whitespaces)
        let lot = (req.queryText("lot") ?? "").trimmingCharacters(in: .whitespaces)
        var result: TraceDTO?
        var problem: Problem?
        if !item.isEmpty && !lot.isEmpty {
            problem = try await attempt { result = try await MaterialReports.trace(p, itemCode: item, lot: lot, on: req.db) }
        }
        return try await req.renderForm("material_trace", titleKey: "material.traceTitle",
                                        TraceView(item: item, lot: lot, trace: result, errors: req.formErrors(problem)), problem: problem)
    }
}
