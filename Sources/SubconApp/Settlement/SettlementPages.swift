import Fluent
import Foundation
import SubconDomain
import Vapor

/// Statement pages for both sides (list, one statement with the actions its state allows, a
/// printable A4 page, the files), and the month-end count (the supplier's sheet, phone first;
/// the buyer's overview of who has counted).
struct SettlementPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let s = routes.grouped("statements")
        s.get(use: list)
        s.post(use: generate)
        s.heavy.get(":id", use: show)
        s.heavy.get(":id", "print", use: printable)
        s.heavy.get(":id", "export", use: export)
        for action in ["send", "confirm", "revise", "lock", "refresh"] {
            s.post(":id", PathComponent(stringLiteral: action)) { req in try await self.transition(req, action) }
        }
        s.post(":id", "dispute", use: dispute)
        s.post(":id", "adjustments", use: adjust)
        s.post(":id", "lines", ":lineId", "answer", use: answer)
        s.post(":id", "lines", ":lineId", "remove", use: remove)
        s.on(.POST, ":id", "lines", ":lineId", "attach", body: .collect(maxSize: "11mb"), use: attach)
        let c = routes.grouped("stock-count")
        c.get(use: stockCount)
        c.post(use: count)
        c.post("close", use: close)
    }

    // MARK: List

    /// The statement list's page, written in Swift from the first tag to the last; with the form
    /// to generate one for those who may, shown again with its problems beside the fields.
    struct ListView {
        /// The table's rows, written by `rows` (see `HTML`).
        let rows: HTML
        let empty: Bool
        let pager: Pager
        let statuses: [Option]
        /// The supplier filter (nothing for a supplier), whose choices the form to generate offers too.
        let supplier: SupplierFilter
        let period: String
        let canGenerate: Bool
        let canCount: Bool
        let defaultPeriod: String
        let errors: FormErrors
        let values: [String: String]
        let csrf: String

        /// The page's body: the form to generate a statement, the filters, the table and the pager.
        func html(_ t: inout PageTexts) -> HTML {
            var html = HTML()
            func fieldError(_ field: String) -> HTML { errors.fields[field].map { "<span class=\"err\">\($0)</span>" } ?? HTML() }
            let supplierLabel = t("statement.supplier"), periodLabel = t("statement.period"), generate = t("statement.generate")
            if canGenerate {
                html += """
                    <section class="card">
                      <h2>\(generate)</h2>
                      \(errors.general.map { "<p class=\"alert\" role=\"alert\">\($0)</p>" } ?? HTML())
                      <form method="post" action="/statements" class="form row">
                        <input type="hidden" name="_csrf" value="\(csrf)">
                        <label class="grow">\(supplierLabel)
                    """
                // A statement is for one supplier: the filter's "all suppliers" is no choice here,
                // and the one chosen (or the code typed) is the one the form was sent with, not the filter's.
                let choices = supplier.options.filter { !$0.value.isEmpty }.map { Option(value: $0.value, label: $0.label, selected: $0.value == values["supplierId"]) }
                html += SupplierChoice(byCode: supplier.byCode, options: choices, code: values["supplierCode"] ?? "").input(&t)
                html += """

                          \(fieldError("supplierId"))</label>
                        <label>\(periodLabel)<input name="period" value="\(values["period"] ?? defaultPeriod)" placeholder="YYYY-MM" \
                    pattern="[0-9]{4}-[0-9]{2}" maxlength="7" required>
                          \(fieldError("period"))</label>
                        <button type="submit" class="primary">\(generate)</button>
                      </form>
                      <p class="muted">\(t("statement.generateHint"))</p>
                    </section>

                    """
            }
            html += """
                <section class="card">
                  <form method="get" action="/statements" class="form row">
                    <label>\(t("field.status"))<select name="status" data-autosubmit>
                """
            html += Option.html(statuses)
            html += "</select></label>\n    "
            html += supplier.field(&t, autosubmit: true)
            html += """

                    <label>\(periodLabel)<input name="period" value="\(period)" placeholder="YYYY-MM" maxlength="7"></label>
                    <button type="submit">\(t("action.search"))</button>
                    \(canCount ? "<a class=\"button\" href=\"/stock-count\">\(t("count.title"))</a>" : HTML())
                  </form>

                """
            html += supplier.message(&t)
            if empty {
                html += "<p class=\"muted\">\(t("list.empty"))</p>"
            } else {
                html += .listTable(head: """
                    <th>\(t("statement.code"))</th><th>\(supplierLabel)</th><th>\(periodLabel)</th><th>\(t("field.status"))</th>\
                    <th class="num">\(t("statement.net"))</th><th class="num">\(t("statement.gross"))</th>
                    """, rows: rows)
            }
            html += pager.html(&t)
            html += "</section>"
            return html
        }
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.viewStatements)
        return try await renderList(req, problem: nil, values: [:])
    }

    func renderList(_ req: Request, problem: Problem?, values: [String: String]) async throws -> View {
        let p = try req.requirePrincipal()
        var filter = try SettlementAPI.filter(req)
        // The suppliers to choose from, or a code beyond the drop-down's limit, read off the driver.
        let supplier = try await SupplierFilter.read(p, req: req, allLabel: req.t("prices.allSuppliers"))
        if !p.isSupplier { filter.supplierID = supplier.supplierID }
        let page = try await StatementService.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50), on: req.application.reads)
        let statuses = [Option(value: "", label: req.t("statement.allStatuses"), selected: (filter.status ?? "").isEmpty)]
            + StatementLifecycle.State.allCases.map { Option(value: $0.rawValue, label: req.t("statement.status.\($0.rawValue)"), selected: filter.status == $0.rawValue) }
        let current = req.subcon.settings.statementCalendar.period(of: req.subcon.today())
        let view = ListView(
            rows: Self.rows(page.items, req: req), empty: page.items.isEmpty, pager: Pager(page, req), statuses: statuses, supplier: supplier,
            period: filter.period ?? "",
            canGenerate: p.can(.prepareStatements), canCount: p.can(.countStock) || p.can(.closeStockCounts),
            defaultPeriod: current.previous.description, errors: req.formErrors(problem), values: values, csrf: p.csrfToken ?? "")
        return try await req.renderPage(titleKey: "statement.title") { view.html(&$0) }
    }

    /// The statement list's rows (see `HTML`).
    static func rows(_ statements: [StatementSummaryDTO], req: Request) -> HTML {
        var t = req.texts()
        let code = t("statement.code"), supplier = t("statement.supplier"), period = t("statement.period"), status = t("field.status")
        let net = t("statement.net"), gross = t("statement.gross")
        var html = HTML()
        for r in statements {
            html += """
                <tr><td data-label="\(code)"><a class="nowrap" href="/statements/\(r.id)">\(r.code)</a></td>
                <td data-label="\(supplier)">\(r.supplierName) <span class="muted nowrap">\(r.supplierCode)</span></td>
                <td data-label="\(period)" class="nowrap">\(r.period)</td>
                <td data-label="\(status)"><span class="tag st-\(r.status)">\(t("statement.status." + r.status))</span>\
                \(HTML.when(r.revision > 1, " <span class=\"tag\">\(t("statement.rev", ["n": String(r.revision)]))</span>"))</td>
                <td data-label="\(net)" class="num nowrap">\(r.net.yuan)</td>
                <td data-label="\(gross)" class="num nowrap"><strong>\(r.gross.yuan)</strong></td></tr>

                """
        }
        return html
    }


    struct GenerateForm: Content { var supplierId: String?; var supplierCode: String?; var period: String? }

    func generate(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.prepareStatements)
        let form = try req.content.decode(GenerateForm.self)
        var created: Statement?
        let problem = try await attempt {
            let id = try await SupplierChoice.chosen(id: form.supplierId, code: form.supplierCode, req: req)
            created = try await StatementService.generate(p, GenerateStatementInput(supplierId: id, period: (form.period ?? "").trimmingCharacters(in: .whitespaces)),
                                                          app: req.application)
        }
        if let created { return req.redirect(to: "/statements/\(created.id!)?ok=created") }
        let response = try await renderList(req, problem: problem, values: ["supplierId": form.supplierId ?? "", "supplierCode": form.supplierCode ?? "",
                                                                            "period": form.period ?? ""]).encodeResponse(for: req)
        response.status = problem?.status ?? .ok
        return response
    }

    // MARK: One statement

    struct LineView: Encodable {
        let line: StatementLineDTO
        /// Deductions show as negative amounts.
        let signed: FixedDecimal
        let link: String?
        let removable: Bool
        let answerable: Bool
        /// The first line of its kind: the table starts a group there.
        let first: Bool
        /// Quantity and unit price mean something for goods, write-off variances and per-piece
        /// penalties; a fixed sum or an adjustment has neither.
        var showsQuantity: Bool { StatementExport.showsQuantity(line) }
        var showsUnitPrice: Bool { StatementExport.showsUnitPrice(line) }

        enum CodingKeys: String, CodingKey { case line, signed, link, removable, answerable, first, showsQuantity, showsUnitPrice }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(line, forKey: .line); try c.encode(signed, forKey: .signed); try c.encodeIfPresent(link, forKey: .link)
            try c.encode(removable, forKey: .removable); try c.encode(answerable, forKey: .answerable); try c.encode(first, forKey: .first)
            try c.encode(showsQuantity, forKey: .showsQuantity); try c.encode(showsUnitPrice, forKey: .showsUnitPrice)
        }
    }

    struct DetailView: Encodable {
        let s: StatementDTO
        let lines: [LineView]
        let deductionsNegative: FixedDecimal
        let isCurrent: Bool
        /// Edit (adjustments) and send: the same moments.
        let canEdit: Bool
        let canAnswerSupplier: Bool
        /// The supplier may add evidence to the lines it disputes.
        let canAttach: Bool
        let canAnswerLines: Bool
        let canRevise: Bool
        /// Disputed lines still without the buyer's answer (revising waits for them).
        let unanswered: Int
        let canLock: Bool
        let canRefresh: Bool
        let diff: StatementDiffDTO?
        let countStatus: StockCountStatusDTO?
        let errors: FormErrors
        let form: String
        let values: [String: String]
        let printView: Bool
        /// Lines of the supplier's last locked statement, which an adjustment may correct.
        let lockedLines: [Option]
        /// A locked statement's invoices and payments.
        let invoicing: StatementInvoicingDTO?
        let canRegisterInvoice: Bool
    }

    static func negative(_ d: FixedDecimal) -> FixedDecimal { FixedDecimal(units: -d.units) }

    func detailView(_ req: Request, id: UUID, problem: Problem?, form: String = "", values: [String: String] = [:], printView: Bool = false) async throws -> DetailView {
        let p = try req.requirePrincipal()
        let revision = try req.revisionQuery()
        let s = try await StatementService.detail(p, id, revision: revision, app: req.application)
        let isCurrent = s.revision == s.currentRevision
        let state = StatementLifecycle.State(rawValue: s.status) ?? .draft
        let party = StatementService.party(p)
        let unanswered = s.lines.filter { $0.disputed && $0.answer == nil }.count
        /// What the lifecycle allows this person now (an older revision is only read).
        func may(_ action: StatementLifecycle.Action) -> Bool {
            isCurrent && StatementLifecycle.may(party, action, in: state, unanswered: unanswered)
        }
        let receipts = try await receiptIDs(s.lines.filter { $0.sourceType == "receipt_line" || $0.sourceType == "late_delivery" }.compactMap { UUID(uuidString: $0.sourceId) }, on: req.db)
        var seen: Set<String> = []
        func view(_ l: StatementLineDTO) -> LineView {
            let link: String? = switch l.sourceType {
            case "exception": "/exceptions/\(l.sourceId)"
            case "receipt_line", "late_delivery": UUID(uuidString: l.sourceId).flatMap { receipts[$0] }.map { "/receipts/\($0)" }
            case "write_off": "/write-off?period=\(l.originPeriod)"
            case "reject": "/rejects"
            default: nil
            }
            return LineView(line: l, signed: l.kind == "deduction" ? Self.negative(l.amount) : l.amount, link: link,
                            removable: l.sourceType == "manual" && may(.edit), answerable: l.disputed && may(.answer),
                            first: seen.insert(l.kind).inserted)
        }
        var diff: StatementDiffDTO?
        if s.revision > 1 { diff = try await StatementService.diff(p, id, from: s.revision - 1, to: s.revision, app: req.application) }
        var lockedLines: [Option] = []
        if may(.edit),
           let locked = try await Statement.query(on: req.db).filter(\.$supplierID == s.supplierId).filter(\.$status == "locked")
               .sort(\.$period, .descending).first() {
            lockedLines = try await StatementService.currentLines(locked, on: req.db).map {
                Option(value: $0.id!.uuidString, label: "\(locked.code) #\($0.number) · \($0.reference) · \(FixedDecimal(units: $0.amount).yuan)",
                       selected: values["refersTo"] == $0.id!.uuidString)
            }
        }
        var count: StockCountStatusDTO?
        if !printView, let period = SettlementPeriod(s.period), p.can(.countStock) || p.can(.closeStockCounts) || p.can(.viewStatements) {
            count = try await StockCountService.statuses(p, period: period, supplierID: s.supplierId, on: req.db).first
        }
        // A locked statement is invoiced and paid; the page shows how far (not on paper).
        let invoicing = state == .locked && !printView ? try await InvoiceService.statementInvoicing(p, statement: id, app: req.application) : nil
        return DetailView(
            s: s, lines: ["goods", "deduction", "adjustment"].flatMap { k in s.lines.filter { $0.kind == k } }.map(view),
            deductionsNegative: Self.negative(s.deductions), isCurrent: isCurrent,
            canEdit: may(.edit), canAnswerSupplier: may(.confirm), canAttach: isCurrent && party == .supplier && StatementService.takesEvidence(state),
            canAnswerLines: may(.answer), canRevise: may(.revise), unanswered: unanswered, canLock: may(.lock),
            canRefresh: may(.edit) && state == .draft, diff: diff, countStatus: count, errors: req.formErrors(problem), form: form,
            values: values, printView: printView, lockedLines: lockedLines, invoicing: invoicing,
            canRegisterInvoice: invoicing != nil && isCurrent && p.isSupplier && p.can(.registerInvoices))
    }

    /// Receipt lines → their receipts, for links (one query).
    func receiptIDs(_ lines: [UUID], on db: any Database) async throws -> [UUID: UUID] {
        guard !lines.isEmpty else { return [:] }
        return Dictionary(try await ReceiptLine.query(on: db).filter(\.$id ~~ lines).all().map { ($0.id!, $0.receiptID) }) { a, _ in a }
    }

    func render(_ req: Request, id: UUID, problem: Problem?, form: String = "", values: [String: String] = [:]) async throws -> Response {
        let view = try await detailView(req, id: id, problem: problem, form: form, values: values)
        return try await req.renderForm("statement", titleKey: "statement.heading", titleParams: ["code": view.s.code], view, problem: problem)
    }

    func show(req: Request) async throws -> Response {
        try await render(req, id: try req.idParameter(), problem: nil)
    }

    func printable(req: Request) async throws -> View {
        let view = try await detailView(req, id: try req.idParameter(), problem: nil, printView: true)
        return try await req.renderPage("statement_print", titleKey: "statement.heading", titleParams: ["code": view.s.code], view)
    }

    func export(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let format = req.queryText("format") ?? "xlsx"
        guard ["xlsx", "csv"].contains(format) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("format", "invalidValue")]) }
        let revision = try req.revisionQuery()
        return try await StatementExport.file(req, try await StatementService.detail(p, try req.idParameter(), revision: revision, app: req.application), format: format)
    }

    // MARK: Actions

    struct VersionForm: Content { var version: String? }

    /// Runs an action on the statement; a problem re-shows the page with it, next to the form it came from.
    func act(_ req: Request, form: String, values: [String: String] = [:], permission: Action,
             _ body: (Principal, UUID, Int) async throws -> Void) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(permission)
        let version = try req.content.decode(VersionForm.self).version.flatMap(Int.init) ?? -1
        let problem = try await attempt { try await body(p, id, version) }
        guard let problem else { return req.redirect(to: "/statements/\(id)?ok=saved") }
        return try await render(req, id: id, problem: problem, form: form, values: problem.status == .conflict ? [:] : values)
    }

    func transition(_ req: Request, _ action: String) async throws -> Response {
        // "refresh" is an edit of a draft, not a change of state.
        let a = StatementLifecycle.Action(rawValue: action) ?? .edit
        let permission: Action = switch a {
        case .confirm: .answerStatements
        case .lock: .lockStatements
        default: .prepareStatements
        }
        return try await act(req, form: action, permission: permission) { p, id, version in
            if a == .edit {
                _ = try await StatementService.refresh(p, id, VersionInput(version: version), app: req.application)
            } else {
                _ = try await StatementService.transition(p, id, a, version: version, app: req.application)
            }
        }
    }

    /// The supplier ticks the lines it disputes: `d_<line>` on, `c_<line>` its comment, `f_<line>` its figure.
    func dispute(req: Request) async throws -> Response {
        let fields = try req.content.decode([String: String].self)
        return try await act(req, form: "dispute", values: fields, permission: .answerStatements) { p, id, version in
            var lines: [DisputeInput.Line] = []
            var problems: [FieldProblem] = []
            for (key, value) in fields where key.hasPrefix("d_") && value == "on" {
                let raw = String(key.dropFirst(2))
                guard let lineID = UUID(uuidString: raw) else { continue }
                var figure: FixedDecimal?
                if let text = fields["f_\(raw)"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                    figure = try? FixedDecimal.parse(text)
                    if figure == nil { problems.append(FieldProblem("f_\(raw)", "nonNegativeDecimal")) }
                }
                lines.append(.init(lineId: lineID, comment: fields["c_\(raw)"] ?? "", supplierFigure: figure))
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            do {
                _ = try await StatementService.dispute(p, id, DisputeInput(version: version, lines: lines), app: req.application)
            } catch var problem as Problem {
                // Name the form's fields rather than the API's array positions.
                problem.fields = problem.fields.map { f in
                    guard let i = f.field.split(separator: "[").dropFirst().first.flatMap({ Int($0.prefix { $0.isNumber }) }), i < lines.count else { return f }
                    let raw = lines[i].lineId.uuidString
                    return FieldProblem(f.field.hasSuffix("comment") ? "c_\(raw)" : f.field.hasSuffix("supplierFigure") ? "f_\(raw)" : "d_\(raw)", f.code, f.params)
                }
                throw problem
            }
        }
    }

    /// Evidence for a disputed line (a photo of the count, a delivery note), from the phone.
    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(.answerStatements)
        // Evidence is the supplier's; the buyer's side (even the admin) answers in words.
        guard StatementService.party(p) == .supplier else { throw Problem.forbidden }
        let lineID = try req.idParameter("lineId")
        let problem = try await attempt {
            let file = try req.uploadedFile()
            _ = try await StatementService.attach(p, id, lineID: lineID, data: file.data, filename: file.filename, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/statements/\(id)?ok=created") }
        return try await render(req, id: id, problem: problem, form: "attach-\(lineID)")
    }

    struct AdjustForm: Content { var amount: String?; var reason: String?; var refersTo: String? }

    func adjust(req: Request) async throws -> Response {
        let f = try req.content.decode(AdjustForm.self)
        return try await act(req, form: "adjust", values: ["amount": f.amount ?? "", "reason": f.reason ?? "", "refersTo": f.refersTo ?? ""],
                             permission: .prepareStatements) { p, id, version in
            guard let amount = try? FixedDecimal.parse((f.amount ?? "").trimmingCharacters(in: .whitespaces)) else {
                throw Problem.validation([FieldProblem("amount", (f.amount ?? "").isEmpty ? "required" : "decimalText")])
            }
            let ref = (f.refersTo ?? "").trimmingCharacters(in: .whitespaces)
            var refersTo: UUID?
            if !ref.isEmpty {
                guard let r = UUID(uuidString: ref) else { throw Problem.validation([FieldProblem("refersTo", "notALockedLine")]) }
                refersTo = r
            }
            _ = try await StatementService.addAdjustment(p, id, AdjustmentInput(version: version, amount: amount, reason: f.reason ?? "", refersToLineId: refersTo),
                                                         app: req.application)
        }
    }

    struct AnswerForm: Content { var answer: String?; var reason: String?; var amount: String? }

    func answer(req: Request) async throws -> Response {
        let f = try req.content.decode(AnswerForm.self)
        let lineID = try req.idParameter("lineId")
        return try await act(req, form: "answer-\(lineID)", values: ["answer": f.answer ?? "", "reason": f.reason ?? "", "amount": f.amount ?? ""],
                             permission: .prepareStatements) { p, id, version in
            var amount: FixedDecimal?
            if f.answer == "correct" {
                guard let a = try? FixedDecimal.parse((f.amount ?? "").trimmingCharacters(in: .whitespaces)) else {
                    throw Problem.validation([FieldProblem("amount", (f.amount ?? "").isEmpty ? "required" : "nonNegativeDecimal")])
                }
                amount = a
            }
            _ = try await StatementService.answerLine(p, id, lineID: lineID, LineAnswerInput(version: version, answer: f.answer ?? "", reason: f.reason, amount: amount),
                                                      app: req.application)
        }
    }

    func remove(req: Request) async throws -> Response {
        let lineID = try req.idParameter("lineId")
        return try await act(req, form: "adjust", permission: .prepareStatements) { p, id, version in
            _ = try await StatementService.removeAdjustment(p, id, lineID: lineID, VersionInput(version: version), app: req.application)
        }
    }

    // MARK: Month-end count

    struct CountView: Encodable {
        let period: String
        let periods: [Option]
        let sheet: StockCountSheetDTO?
        let statuses: [StockCountStatusDTO]
        let canCount: Bool
        let canClose: Bool
        let errors: FormErrors
        let values: [String: String]
    }

    func renderCount(_ req: Request, problem: Problem?, values: [String: String] = [:]) async throws -> Response {
        let p = try req.requirePrincipal()
        guard p.can(.countStock) || p.can(.closeStockCounts) else { throw Problem.forbidden }
        let current = req.subcon.settings.statementCalendar.period(of: req.subcon.today())
        let period = try SettlementAPI.periodQuery(req, default: values["period"].flatMap(SettlementPeriod.init) ?? current)
        let periods = [current, current.previous, current.previous.previous].map {
            Option(value: $0.description, label: $0.description, selected: $0 == period)
        }
        let sheet = p.isSupplier ? try await StockCountService.sheet(p, supplierID: nil, period: period, on: req.db) : nil
        let statuses = p.isSupplier ? [] : try await StockCountService.statuses(p, period: period, on: req.db)
        return try await req.renderForm("stock_count", titleKey: "count.title", CountView(
            period: period.description, periods: periods, sheet: sheet, statuses: statuses, canCount: p.isSupplier && p.can(.countStock),
            canClose: p.can(.closeStockCounts), errors: req.formErrors(problem), values: values), problem: problem)
    }

    func stockCount(req: Request) async throws -> Response { try await renderCount(req, problem: nil) }

    /// `period`, and per sheet line `n_<i>` = counted, `k_<i>` = "itemId|lot".
    func count(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.countStock)
        let fields = try req.content.decode([String: String].self)
        let period = fields["period"] ?? ""
        let problem = try await attempt {
            var lines: [StockCountInput.Line] = []
            var problems: [FieldProblem] = []
            for (key, value) in fields where key.hasPrefix("k_") {
                let i = key.dropFirst(2)
                let parts = value.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let item = UUID(uuidString: String(parts[0])) else { continue }
                let text = (fields["n_\(i)"] ?? "").trimmingCharacters(in: .whitespaces)
                guard let counted = try? FixedDecimal.parse(text), counted >= .zero else {
                    problems.append(FieldProblem("n_\(i)", text.isEmpty ? "required" : "nonNegativeDecimal")); continue
                }
                lines.append(.init(itemId: item, lot: String(parts[1]), counted: counted))
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await StockCountService.count(p, StockCountInput(period: period, supplierId: nil, lines: lines), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/stock-count?period=\(SettlementPeriod(period)?.description ?? "")&ok=counted") }
        return try await renderCount(req, problem: problem, values: fields)
    }

    struct CloseForm: Content { var supplierId: String?; var period: String?; var reason: String? }

    func close(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.closeStockCounts)
        let f = try req.content.decode(CloseForm.self)
        let problem = try await attempt {
            guard let id = f.supplierId.flatMap(UUID.init(uuidString:)) else { throw Problem.validation([FieldProblem("supplierId", "required")]) }
            _ = try await StockCountService.close(p, CloseStockCountInput(supplierId: id, period: f.period ?? "", reason: f.reason ?? ""), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/stock-count?period=\(SettlementPeriod(f.period ?? "")?.description ?? "")&ok=saved") }
        return try await renderCount(req, problem: problem, values: ["period": f.period ?? "", "reason": f.reason ?? "", "supplierId": f.supplierId ?? ""])
    }
}
