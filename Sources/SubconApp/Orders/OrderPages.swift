import Fluent
import Foundation
import SubconDomain
import Vapor

/// Order pages for both sides: the buyer's list, new order, detail with revise / decide /
/// cancel; the supplier's answer form (phone first) and start of production; a printable order.
struct OrderPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let o = routes.grouped("orders")
        o.get(use: list)
        o.get("new", use: newForm)
        o.post(use: create)
        o.get(":id", use: show)
        o.get(":id", "print", use: printable)
        o.post(":id", "release", use: release)
        o.post(":id", "revise", use: revise)
        o.post(":id", "answer", use: answer)
        o.post(":id", "decide", use: decide)
        o.post(":id", "cancel", use: cancel)
        o.post(":id", "start", use: start)
    }


    struct ListView {
        /// The table's rows, written by `rows(_:…)`.
        let rows: HTML
        let empty: Bool
        let pager: Pager
        let q: String
        /// Kept when a link filtered by supplier; suppliers are otherwise found by the search box
        /// (a select of thousands of suppliers helps nobody).
        let supplierId: String
        let statuses: [Option]
        let dueFrom: String
        let dueTo: String
        let overdue: Bool
        let awaiting: Bool
        let late: Bool
        let canCreate: Bool
        let isSupplier: Bool
        /// Any filter beyond the search box is set: show them open.
        let filtered: Bool

        /// The page's body: search, filters, the table and the pager.
        func html(_ t: inout PageTexts) -> HTML {
            let search = t("action.search")
            var html: HTML = """
                <section class="card" data-live="/events">
                  <form method="get" action="/orders" class="form row">
                    <label class="grow">\(search)<input type="search" name="q" value="\(q)" placeholder="\(t("orders.searchHint"))"></label>
                    <button type="submit">\(search)</button>
                    \(canCreate ? "<a class=\"button primary\" href=\"/orders/new\">\(t("orders.new"))</a>" : HTML())
                    <details class="filters"\(HTML.when(filtered, " open"))><summary>\(t("orders.filters"))</summary><div class="form row">
                    \(supplierId.isEmpty ? HTML() : "<input type=\"hidden\" name=\"supplierId\" value=\"\(supplierId)\">")
                    <label>\(t("field.status"))<select name="status">
                """
            html += Option.html(statuses)
            html += """
                </select></label>
                    <label>\(t("orders.dueFrom"))<input type="date" name="dueFrom" value="\(dueFrom)"></label>
                    <label>\(t("orders.dueTo"))<input type="date" name="dueTo" value="\(dueTo)"></label>
                    <label class="check"><input type="checkbox" name="awaiting" value="true"\(HTML.when(awaiting, " checked"))> \(t("orders.awaiting"))</label>
                    <label class="check"><input type="checkbox" name="overdue" value="true"\(HTML.when(overdue, " checked"))> \(t("orders.overdue"))</label>
                    <label class="check"><input type="checkbox" name="late" value="true"\(HTML.when(late, " checked"))> \(t("orders.lateFilter"))</label>
                    </div></details>
                  </form>

                """
            if empty {
                html += "<p class=\"muted\">\(t("list.empty"))</p>"
            } else {
                html += .listTable(head: """
                    <th>\(t("orders.code"))</th>\(isSupplier ? HTML() : "<th>\(t("prices.supplier"))</th>")<th>\(t("field.status"))</th>\
                    <th class="num">\(t("orders.lines"))</th><th>\(t("orders.nextDue"))</th><th>\(t("orders.answerBy"))</th>
                    """, rows: rows)
            }
            html += pager.html(&t)
            html += "</section>"
            return html
        }
    }

    /// The order list's rows (see `HTML`).
    static func rows(_ orders: [OrderSummaryDTO], isSupplier: Bool, req: Request) -> HTML {
        var t = req.texts()
        let code = t("orders.code"), supplier = t("prices.supplier"), status = t("field.status"), lines = t("orders.lines")
        let nextDue = t("orders.nextDue"), answerBy = t("orders.answerBy"), overdueTag = t("orders.overdueTag")
        let time = req.datePattern("MM-dd HH:mm")
        var html = HTML()
        for o in orders {
            html += """
                <tr\(HTML.when(o.overdue, " class=\"late\""))><td data-label="\(code)"><a class="nowrap" href="/orders/\(o.id)">\(o.code)</a> \
                <span class="muted nowrap">\(t("orders.rev", ["n": String(o.revision)]))</span></td>
                """
            if !isSupplier {
                html += "<td data-label=\"\(supplier)\"><span class=\"nowrap\">\(o.supplierCode)</span> <span class=\"muted\">\(o.supplierName)</span></td>"
            }
            html += """
                <td data-label="\(status)"><span class="tag order-\(o.status)">\(t("order.status." + o.status))</span></td>
                <td data-label="\(lines)" class="num">\(o.openLines)</td>
                <td data-label="\(nextDue)" class="nowrap">\(o.nextDue ?? "")\
                \(HTML.when(o.projectedLate, " <span class=\"tag risk-late\">\(t("work.daysLate", ["n": String(o.daysLate)]))</span>"))</td>
                <td data-label="\(answerBy)">
                """
            if let deadline = o.answerDeadline {
                html += "<span class=\"nowrap\">\(time.string(from: deadline))</span>\(HTML.when(o.overdue, " <span class=\"tag bad\">\(overdueTag)</span>"))"
            } else {
                html += "—"
            }
            html += "</td></tr>\n"
        }
        return html
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let f = try OrderList.filter(req)
        let page = try await OrderList.list(p, f, page: try PageRequest(req, defaultPer: 50), app: req.application)
        let view = ListView(
            rows: Self.rows(page.items, isSupplier: p.isSupplier, req: req), empty: page.items.isEmpty, pager: Pager(page, req), q: f.search ?? "",
            supplierId: f.supplierID?.uuidString ?? "",
            statuses: [Option(value: "", label: req.t("orders.allStatuses"), selected: f.status == nil)]
                + OrderStatus.allCases.map { Option(value: $0.rawValue, label: req.t("order.status.\($0.rawValue)"), selected: f.status == $0) },
            dueFrom: f.dueFrom?.description ?? "", dueTo: f.dueTo?.description ?? "", overdue: f.overdue, awaiting: f.awaiting,
            late: f.late, canCreate: p.can(.manageOrders), isSupplier: p.isSupplier,
            filtered: f.supplierID != nil || f.status != nil || f.dueFrom != nil || f.dueTo != nil || f.overdue || f.awaiting || f.late)
        return try await req.renderPage(titleKey: "orders.title") { view.html(&$0) }
    }

    // MARK: New

    struct NewView: Encodable { let supplier: HTML; let values: [String: String]; let errors: FormErrors }

    func renderNew(_ req: Request, values: [String: String], problem: Problem?) async throws -> Response {
        // Only suppliers that may receive orders are offered; a code typed beyond the drop-down's
        // limit is checked by `OrderService.create`, as the API's id is.
        let supplier = try await SupplierChoice.read(values: values, req: req, offering: .mayReceiveOrders)
        return try await req.renderForm("order_new", titleKey: "orders.new", NewView(
            supplier: supplier.markup(req), values: values, errors: req.formErrors(problem)), problem: problem)
    }

    func newForm(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.manageOrders)
        return try await renderNew(req, values: [:], problem: nil)
    }

    /// Lines typed one per row: `ITEM[/OPERATION] quantity YYYY-MM-DD [unit price]`.
    static func parseLines(_ text: String) throws -> [OrderLineInput] {
        var out: [OrderLineInput] = []
        var problems: [FieldProblem] = []
        for (i, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let parts = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
            if parts.isEmpty { continue }
            guard parts.count == 3 || parts.count == 4, let qty = try? FixedDecimal.parse(parts[1]), let due = Day(parts[2]) else {
                problems.append(FieldProblem("lines", "badLine", ["line": String(i + 1)])); continue
            }
            var price: FixedDecimal?
            if parts.count == 4 {
                guard let p = try? FixedDecimal.parse(parts[3]) else { problems.append(FieldProblem("lines", "badLine", ["line": String(i + 1)])); continue }
                price = p
            }
            let subject = parts[0].split(separator: "/", maxSplits: 1).map(String.init)
            out.append(OrderLineInput(itemCode: subject[0], operation: subject.count > 1 ? subject[1] : nil, quantity: qty, dueDate: due, unitPrice: price))
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        if out.isEmpty { throw Problem.validation([FieldProblem("lines", "required")]) }
        return out
    }

    struct NewForm: Content { var supplierId: String?; var supplierCode: String?; var lines: String?; var note: String? }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageOrders)
        let form = try req.content.decode(NewForm.self)
        var created: OutsourcingOrder?
        let problem = try await attempt {
            let supplierID = try await SupplierChoice.chosen(id: form.supplierId, code: form.supplierCode, req: req)
            let input = NewOrderInput(supplierId: supplierID, note: form.note, lines: try Self.parseLines(form.lines ?? ""))
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            created = try await OrderService.create(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/orders/\(created.id!)?ok=created") }
        return try await renderNew(req, values: ["supplierId": form.supplierId ?? "", "supplierCode": form.supplierCode ?? "", "lines": form.lines ?? "", "note": form.note ?? ""], problem: problem)
    }

    // MARK: Detail

    /// A line of the current revision as the answer form shows it: what changed is marked.
    struct LineView: Encodable {
        let line: OrderLineDTO
        let changed: [String]
        /// The previous value of each changed field, to show beside the new one.
        let was: [String: String]
        let added: Bool
        let answer: AnswerDTO?
        let needsDecision: Bool
    }

    struct DetailView: Encodable {
        let order: OrderDTO
        let lines: [LineView]
        let canManage: Bool
        let canAnswer: Bool
        let canStart: Bool
        let canDecide: Bool
        let canRevise: Bool
        let canCancel: Bool
        let isDraft: Bool
        let errors: FormErrors
        let form: String?
        let values: [String: String]
        let printView: Bool
        /// Material, deliveries and receipts once the order is out of draft.
        let material: OrderMaterialDTO?
        let canIssue: Bool
        let canShip: Bool
        let canReceive: Bool
        let progress: OrderProgressDTO?
        /// Delivered, closed or cancelled: its lines' dates are when they finished, not projections.
        let isFinished: Bool
        let timeline: [TimelineEntryDTO]
        let canReport: Bool
    }

    func render(_ req: Request, _ order: OutsourcingOrder, problem: Problem? = nil, form: String? = nil, values: [String: String] = [:],
                template: String = "order") async throws -> Response {
        let p = try req.requirePrincipal()
        let dto = try await OrderService.dto(p, order, app: req.application)
        let current = dto.revisions.first { $0.number == dto.revision }
        let changes = Dictionary(uniqueKeysWithValues: (current?.changes ?? []).map { ($0.line, $0) })
        let round = current?.answers.map(\.round).max()
        let latest = Dictionary((current?.answers ?? []).filter { $0.round == round }.map { ($0.line, $0) }, uniquingKeysWith: { a, _ in a })
        let status = order.orderStatus
        let lines = dto.lines.map { l in
            LineView(line: l, changed: changes[l.number]?.fields.map(\.field) ?? [],
                     was: Dictionary((changes[l.number]?.fields ?? []).map { ($0.field, $0.before) }, uniquingKeysWith: { a, _ in a }), added: changes[l.number]?.kind == "added" && dto.revision > 1,
                     answer: latest[l.number], needsDecision: status == .changeProposed && (latest[l.number].map { $0.answer != "accept" } ?? false))
        }
        let mine = p.isSupplier && p.organizationID == order.supplierID
        let view = DetailView(order: dto, lines: lines, canManage: p.can(.manageOrders),
                              canAnswer: mine && p.can(.answerOrders) && status == .released,
                              canStart: mine && p.can(.answerOrders) && status.canMove(to: .inProduction),
                              canDecide: p.can(.manageOrders) && status == .changeProposed,
                              canRevise: p.can(.manageOrders) && status.acceptsRevision,
                              canCancel: p.can(.manageOrders) && status.canMove(to: .cancelled),
                              isDraft: status == .draft, errors: req.formErrors(problem), form: form, values: values, printView: template == "order_print",
                              material: status == .draft || template == "order_print" ? nil : try await MaterialReports.orderMaterial(p, order, app: req.application),
                              canIssue: p.can(.handleMaterial) && MaterialService.workingStatuses.contains(status),
                              canShip: mine && p.can(.fulfilOrders) && MaterialService.workingStatuses.contains(status),
                              canReceive: p.can(.handleMaterial) && MaterialService.workingStatuses.contains(status),
                              progress: status == .draft || template == "order_print" ? nil : try await ProgressService.dto(order, app: req.application),
                              isFinished: !status.isOpen,
                              timeline: status == .draft || template == "order_print" ? [] : try await ProgressService.timeline(order, on: req.db),
                              canReport: mine && p.can(.fulfilOrders) && MaterialService.workingStatuses.contains(status))
        return try await req.renderForm(template, titleKey: "orders.detail", titleParams: ["code": order.code], view, problem: problem)
    }

    func load(_ req: Request) async throws -> OutsourcingOrder {
        try await OrderService.find(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func show(req: Request) async throws -> Response { try await render(req, try await load(req)) }

    func printable(req: Request) async throws -> Response { try await render(req, try await load(req), template: "order_print") }

    /// Runs an action from a form on the order page; a fixable problem re-shows the page with it,
    /// and a stale version shows what is stored now.
    func act(_ req: Request, form: String, values: [String: String] = [:], _ body: (Principal, OutsourcingOrder) async throws -> Void) async throws -> Response {
        let p = try req.requirePrincipal()
        let order = try await load(req)
        let problem = try await attempt { try await body(p, order) }
        // The supplier's answer gets a page that says what happens next.
        guard let problem else { return req.redirect(to: "/orders/\(order.id!)?ok=\(form == "answer" ? "answered" : "saved")") }
        return try await render(req, try await load(req), problem: problem, form: form, values: problem.status == .conflict ? [:] : values)
    }

    struct VersionForm: Content { var version: String? }

    func version(_ req: Request) throws -> Int {
        guard let v = try req.content.decode(VersionForm.self).version.flatMap(Int.init) else { throw Problem.validation([FieldProblem("version", "required")]) }
        return v
    }

    func release(req: Request) async throws -> Response {
        try await act(req, form: "release") { p, o in
            try p.require(.manageOrders)
            _ = try await OrderService.release(p, o.id!, version: try version(req), app: req.application)
        }
    }

    func start(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.answerOrders)
        return try await act(req, form: "start") { p, o in
            _ = try await OrderService.startProduction(p, o.id!, version: try version(req), app: req.application)
        }
    }

    func cancel(req: Request) async throws -> Response {
        struct F: Content { var version: String?; var reason: String? }
        let f = try req.content.decode(F.self)
        return try await act(req, form: "cancel", values: ["reason": f.reason ?? ""]) { p, o in
            try p.require(.manageOrders)
            let input = CancelInput(version: f.version.flatMap(Int.init) ?? -1, reason: f.reason ?? "")
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await OrderService.cancel(p, o.id!, input, app: req.application)
        }
    }

    /// The revise form: each current line with quantity, date, price and a cancel box, plus new
    /// lines typed as on the new-order form.
    func revise(req: Request) async throws -> Response {
        let fields = try req.content.decode([String: String].self)
        return try await act(req, form: "revise", values: fields) { p, o in
            try p.require(.manageOrders)
            let current = try await OrderService.lines(o.id!, on: req.db)
            var lines: [OrderLineInput] = []
            var problems: [FieldProblem] = []
            for l in current {
                let n = l.number
                if l.state == .cancelled {
                    lines.append(OrderLineInput(line: n, itemCode: l.item, operation: l.operation, quantity: l.quantity, dueDate: l.dueDate, unitPrice: l.unitPrice, cancelled: true))
                    continue
                }
                guard let q = try? FixedDecimal.parse(fields["q_\(n)"] ?? ""), let d = Day(fields["d_\(n)"] ?? ""),
                      let price = try? FixedDecimal.parse(fields["p_\(n)"] ?? "") else {
                    problems.append(FieldProblem("lines", "badLine", ["line": String(n)])); continue
                }
                lines.append(OrderLineInput(line: n, itemCode: l.item, operation: l.operation, quantity: q, dueDate: d, unitPrice: price,
                                            cancelled: fields["c_\(n)"] == "true"))
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            if let added = fields["newLines"], !added.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { lines += try Self.parseLines(added) }
            let input = ReviseInput(version: Int(fields["version"] ?? "") ?? -1, reason: fields["reason"] ?? "", lines: lines)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            if o.orderStatus == .draft {
                // A draft has no history to keep: its lines are simply replaced (and renumbered).
                let draftLines = lines.filter { $0.cancelled != true }.map { l -> OrderLineInput in var l = l; l.line = nil; return l }
                _ = try await OrderService.updateDraft(p, o.id!, DraftOrderPatchInput(version: input.version, note: nil, lines: draftLines),
                                                      app: req.application)
            } else {
                _ = try await OrderService.revise(p, o.id!, input, app: req.application)
            }
        }
    }

    /// The supplier's answer: per line `a_N` = accept | counter | reject, with `q_N`, `d_N`, `r_N`.
    func answer(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.answerOrders)
        let fields = try req.content.decode([String: String].self)
        return try await act(req, form: "answer", values: fields) { p, o in
            let current = try await OrderService.lines(o.id!, on: req.db)
            var lines: [AnswerInput.Line] = []
            for l in current where l.state == .open {
                let n = l.number
                // "Accept all": one tap on a phone for a revision the supplier agrees with.
                let kind = fields["all"] == "accept" ? "accept" : fields["a_\(n)"] ?? ""
                var qty: FixedDecimal?, due: Day?
                if kind == "counter" {
                    if let t = fields["q_\(n)"], !t.isEmpty {
                        guard let v = try? FixedDecimal.parse(t) else { throw Problem.validation([FieldProblem("lines", "lineQuantity", ["line": String(n)])]) }
                        qty = v
                    }
                    if let t = fields["d_\(n)"], !t.isEmpty {
                        guard let v = Day(t) else { throw Problem.validation([FieldProblem("lines", "badDate")]) }
                        due = v
                    }
                }
                lines.append(.init(line: n, answer: kind.isEmpty ? "missing" : kind, quantity: qty, dueDate: due, reason: fields["r_\(n)"]))
            }
            if let missing = lines.first(where: { $0.answer == "missing" }) {
                throw Problem.validation([FieldProblem("lines", "answerMissing", ["line": String(missing.line)])])
            }
            let input = AnswerInput(revision: Int(fields["revision"] ?? "") ?? -1, lines: lines)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await OrderService.answer(p, o.id!, input, app: req.application)
        }
    }

    /// The buyer's decision: per line `x_N` = accept | decline.
    func decide(req: Request) async throws -> Response {
        let fields = try req.content.decode([String: String].self)
        return try await act(req, form: "decide", values: fields) { p, o in
            try p.require(.manageOrders)
            let decisions = fields.compactMap { k, v -> DecisionInput.Line? in
                guard k.hasPrefix("x_"), let n = Int(k.dropFirst(2)) else { return nil }
                return .init(line: n, decision: v)
            }.sorted { $0.line < $1.line }
            let input = DecisionInput(version: Int(fields["version"] ?? "") ?? -1, decisions: decisions)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await OrderService.decide(p, o.id!, input, app: req.application)
        }
    }
}
