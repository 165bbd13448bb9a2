import Fluent
import Foundation
import SubconDomain
import Vapor

/// Invoices on pages: the supplier registers one from its locked statement (often on the phone,
/// with a photo of the paper invoice), finance accepts or rejects it and records payments, and
/// both see what is still outstanding.
struct InvoicePages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let i = routes.grouped("invoices")
        i.get(use: list)
        i.get("aging", use: aging)
        i.get("export", use: export)
        i.get(":id", use: show)
        i.post(":id", "accept") { req in try await self.decide(req, accept: true) }
        i.post(":id", "reject") { req in try await self.decide(req, accept: false) }
        i.post(":id", "payments", use: pay)
        i.on(.POST, ":id", "attach", body: .collect(maxSize: "11mb"), use: attach)
        let s = routes.grouped("statements", ":id", "invoices", "new")
        s.get(use: newInvoice)
        s.post(use: register)
    }

    // MARK: List

    struct ListView: Encodable {
        let rows: [InvoiceDTO]
        let pager: Pager
        let statuses: [Option]
        let status: String
        let canSeeAging: Bool
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.viewStatements)
        let filter = try InvoiceAPI.filter(req)
        let page = try await InvoiceService.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50), on: req.db)
        let status = filter.status ?? ""
        let statuses = [Option(value: "", label: req.t("invoice.allStatuses"), selected: status.isEmpty)]
            + InvoiceLifecycle.State.allCases.map { Option(value: $0.rawValue, label: req.t("invoice.status.\($0.rawValue)"), selected: status == $0.rawValue) }
        return try await req.renderPage("invoices", titleKey: "invoice.title", ListView(
            rows: page.items, pager: Pager(page, req), statuses: statuses, status: status, canSeeAging: !p.isSupplier))
    }

    func export(req: Request) async throws -> Response { try await InvoiceExport.download(req) }

    struct AgingView: Encodable {
        let a: AgingDTO
        /// One bar per age band, on the scale of the largest.
        let chart: [Bar]
        let rows: [Row]
        struct Bar: Encodable { let label: String; let amount: FixedDecimal; let percent: Int }
        struct Cell: Encodable { let label: String; let amount: FixedDecimal }
        struct Row: Encodable { let supplierId: UUID; let supplierCode: String; let supplierName: String; let statements: Int; let outstanding: FixedDecimal; let cells: [Cell] }
    }

    func aging(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        // The buyer's view of what it owes; for a supplier there is no such page.
        guard !p.isSupplier else { throw Problem.notFound }
        try p.require(.viewStatements)
        let a = try await InvoiceService.aging(p, app: req.application)
        let names = PaymentStatus.AgeBucket.allCases.map(\.rawValue)
        let top = max(names.map { a.buckets[$0]?.units ?? 0 }.max() ?? 0, 1)
        let chart = names.map { n in
            AgingView.Bar(label: req.t("invoice.age.\(n)"), amount: a.buckets[n] ?? .zero, percent: Int((a.buckets[n]?.units ?? 0) * 100 / top))
        }
        let rows = a.suppliers.map { r in
            AgingView.Row(supplierId: r.supplierId, supplierCode: r.supplierCode, supplierName: r.supplierName, statements: r.statements,
                          outstanding: r.outstanding, cells: names.map { AgingView.Cell(label: req.t("invoice.age.\($0)"), amount: r.buckets[$0] ?? .zero) })
        }
        return try await req.renderPage("invoice_aging", titleKey: "invoice.aging", AgingView(a: a, chart: chart, rows: rows))
    }

    // MARK: One invoice

    struct DetailView: Encodable {
        let i: InvoiceDTO
        let invoicing: StatementInvoicingDTO
        let canDecide: Bool
        let canPay: Bool
        let canAttach: Bool
        /// What may still be paid on this invoice (its gross less what was paid, capped by the statement).
        let payable: FixedDecimal
        let today: String
        let errors: FormErrors
        let form: String
        let values: [String: String]
    }

    func render(_ req: Request, id: UUID, problem: Problem?, form: String = "", values: [String: String] = [:]) async throws -> Response {
        let p = try req.requirePrincipal()
        let i = try await InvoiceService.detail(p, id, on: req.db)
        let invoicing = try await InvoiceService.statementInvoicing(p, statement: i.statementId, app: req.application)
        let state = InvoiceLifecycle.State(rawValue: i.status) ?? .registered
        let left = PaymentStatus.payable(invoice: .init(gross: i.gross, state: state, paid: i.paid), statementOutstanding: invoicing.outstanding)
        return try await req.renderForm("invoice", titleKey: "invoice.heading", titleParams: ["number": i.number], DetailView(
            i: i, invoicing: invoicing, canDecide: p.can(.settleInvoices) && state == .registered,
            canPay: p.can(.settleInvoices) && state == .accepted && left > .zero,
            canAttach: p.isSupplier && p.can(.registerInvoices) && state == .registered, payable: left,
            today: req.subcon.today().description, errors: req.formErrors(problem), form: form, values: values), problem: problem)
    }

    func show(req: Request) async throws -> Response { try await render(req, id: try req.idParameter(), problem: nil) }

    struct DecideForm: Content { var version: String?; var reason: String? }

    func decide(_ req: Request, accept: Bool) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await InvoiceService.load(p, id, version: nil, on: req.db)
        try p.require(.settleInvoices)
        let f = try req.content.decode(DecideForm.self)
        let problem = try await attempt {
            _ = try await InvoiceService.decide(p, id, accept: accept, InvoiceDecisionInput(version: f.version.flatMap(Int.init) ?? -1, reason: f.reason),
                                                app: req.application)
        }
        guard let problem else { return req.redirect(to: "/invoices/\(id)?ok=saved") }
        return try await render(req, id: id, problem: problem, form: "decide", values: ["reason": f.reason ?? ""])
    }

    struct PayForm: Content { var version: String?; var amount: String?; var paidOn: String?; var reference: String? }

    func pay(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await InvoiceService.load(p, id, version: nil, on: req.db)
        try p.require(.settleInvoices)
        let f = try req.content.decode(PayForm.self)
        let values = ["amount": f.amount ?? "", "paidOn": f.paidOn ?? "", "reference": f.reference ?? ""]
        let problem = try await attempt {
            let text = (f.amount ?? "").trimmingCharacters(in: .whitespaces)
            guard let amount = try? FixedDecimal.parse(text) else { throw Problem.validation([FieldProblem("amount", text.isEmpty ? "required" : "positiveDecimal")]) }
            _ = try await InvoiceService.pay(p, id, PaymentInput(version: f.version.flatMap(Int.init) ?? -1, amount: amount, paidOn: f.paidOn ?? "",
                                                                 reference: f.reference), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/invoices/\(id)?ok=saved") }
        return try await render(req, id: id, problem: problem, form: "pay", values: problem.status == .conflict ? [:] : values)
    }

    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await InvoiceService.load(p, id, version: nil, on: req.db)
        try p.require(.registerInvoices)
        // The invoice is the supplier's paper; the buyer's side (even the admin) does not add to it.
        guard p.isSupplier else { throw Problem.forbidden }
        let problem = try await attempt {
            let file = try req.uploadedFile()
            _ = try await InvoiceService.attach(p, id, data: file.data, filename: file.filename, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/invoices/\(id)?ok=created") }
        return try await render(req, id: id, problem: problem, form: "attach")
    }

    // MARK: Registering

    struct NewView: Encodable {
        let invoicing: StatementInvoicingDTO
        let rates: [Option]
        let errors: FormErrors
        let values: [String: String]
    }

    func renderNew(_ req: Request, statement id: UUID, problem: Problem?, values: [String: String]) async throws -> Response {
        let p = try req.requirePrincipal()
        let invoicing = try await InvoiceService.statementInvoicing(p, statement: id, app: req.application)
        // What is left to invoice, as the form's suggestion: net, tax and gross that add up.
        var v = values
        if v.isEmpty {
            v["taxPercent"] = invoicing.taxPercent.description
            if invoicing.differenceNet > .zero { v["net"] = invoicing.differenceNet.description; v["tax"] = max(invoicing.differenceTax, .zero).description }
            v["issueDate"] = req.subcon.today().description
        }
        let rates = InvoiceMatching.vatRates.map { Option(value: $0.description, label: "\($0)%", selected: v["taxPercent"] == $0.description) }
        return try await req.renderForm("invoice_new", titleKey: "invoice.register", NewView(
            invoicing: invoicing, rates: rates, errors: req.formErrors(problem), values: v), problem: problem)
    }

    func newInvoice(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let s = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(.registerInvoices)
        guard p.isSupplier else { throw Problem.forbidden }
        guard s.state == .locked else { return req.redirect(to: "/statements/\(id)") }
        return try await renderNew(req, statement: id, problem: nil, values: [:])
    }

    struct RegisterForm: Content {
        var number: String?; var invoiceCode: String?; var issueDate: String?; var net: String?; var taxPercent: String?; var tax: String?; var gross: String?
    }

    func register(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(.registerInvoices)
        guard p.isSupplier else { throw Problem.forbidden }
        let f = try req.content.decode(RegisterForm.self)
        let values = ["number": f.number ?? "", "invoiceCode": f.invoiceCode ?? "", "issueDate": f.issueDate ?? "", "net": f.net ?? "",
                      "taxPercent": f.taxPercent ?? "", "tax": f.tax ?? "", "gross": f.gross ?? ""]
        var created: Invoice?
        let problem = try await attempt {
            var problems: [FieldProblem] = []
            func amount(_ name: String, _ text: String?) -> FixedDecimal {
                let t = (text ?? "").trimmingCharacters(in: .whitespaces)
                guard let a = try? FixedDecimal.parse(t) else { problems.append(FieldProblem(name, t.isEmpty ? "required" : "decimalText")); return .zero }
                return a
            }
            let net = amount("net", f.net), rate = amount("taxPercent", f.taxPercent), tax = amount("tax", f.tax)
            // The gross may be left empty on a phone: it is net + tax.
            let gross = (f.gross ?? "").trimmingCharacters(in: .whitespaces).isEmpty ? ((try? net.adding(tax)) ?? .zero) : amount("gross", f.gross)
            if !problems.isEmpty { throw Problem.validation(problems) }
            let input = InvoiceInput(number: f.number ?? "", invoiceCode: f.invoiceCode, issueDate: (f.issueDate ?? "").trimmingCharacters(in: .whitespaces),
                                     net: net, taxPercent: rate, tax: tax, gross: gross)
            let checks = input.validate()
            if !checks.isEmpty { throw Problem.validation(checks) }
            created = try await InvoiceService.register(p, statement: id, input, app: req.application)
        }
        if let problem { return try await renderNew(req, statement: id, problem: problem, values: values) }
        return req.redirect(to: "/invoices/\(created!.id!)?ok=created")
    }
}
