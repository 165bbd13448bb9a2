import Fluent
import Foundation
import SubconDomain
import Vapor

/// Invoices and payments over the API: the supplier registers, finance decides and pays, an ERP
/// polls `/invoices/changes?after=N` and downloads the list.
struct InvoiceAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let i = routes.grouped("invoices")
        i.get(use: list)
        i.get("changes", use: changes)
        i.get("aging", use: aging)
        i.get("export", use: export)
        i.get(":id", use: show)
        i.post(":id", "accept") { req in try await Self.decide(req, accept: true) }
        i.post(":id", "reject") { req in try await Self.decide(req, accept: false) }
        i.post(":id", "payments", use: pay)
        i.on(.POST, ":id", "attachments", body: .collect(maxSize: "11mb"), use: attach)
        let s = routes.grouped("statements", ":id", "invoices")
        s.get(use: statementInvoicing)
        s.post(use: register)
    }

    static func filter(_ req: Request) throws -> InvoiceService.Filter {
        InvoiceService.Filter(status: req.queryText("status").flatMap { $0.isEmpty ? nil : $0 },
                              supplierID: try req.uuidQuery("supplierId"), statementID: try req.uuidQuery("statementId"))
    }

    func list(req: Request) async throws -> Page<InvoiceDTO> {
        try await InvoiceService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), on: req.db)
    }

    /// `?after=<cursor>&limit=100` (cursor 0 starts from the beginning).
    func changes(req: Request) async throws -> InvoiceFeedDTO {
        let p = try req.requirePrincipal()
        let after = try req.intQuery("after", default: 0, range: 0...Int(Int32.max))
        let limit = try req.intQuery("limit", default: 100, range: 1...500)
        return try await InvoiceService.feed(p, after: Int64(after), limit: limit, on: req.db)
    }

    func aging(req: Request) async throws -> AgingDTO {
        try await InvoiceService.aging(try req.requirePrincipal(), app: req.application)
    }

    /// `?format=xlsx|csv` and the list's filters: every invoice that matches, with its payments' sum.
    func export(req: Request) async throws -> Response { try await InvoiceExport.download(req) }

    func show(req: Request) async throws -> InvoiceDTO {
        try await InvoiceService.detail(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func statementInvoicing(req: Request) async throws -> StatementInvoicingDTO {
        try await InvoiceService.statementInvoicing(try req.requirePrincipal(), statement: try req.idParameter(), app: req.application)
    }

    /// The statement first (another supplier's is a 404), then the permission, then the body.
    func register(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(.registerInvoices)
        // The supplier's own paper: not registered by the buyer's side, even the admin.
        guard p.isSupplier else { throw Problem.forbidden }
        let i = try await InvoiceService.register(p, statement: id, try req.decodeStrict(InvoiceInput.self), app: req.application)
        return try await .created(try await InvoiceService.detail(p, i.id!, on: req.db), for: req)
    }

    static func decide(_ req: Request, accept: Bool) async throws -> InvoiceDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await InvoiceService.load(p, id, version: nil, on: req.db)
        try p.require(.settleInvoices)
        _ = try await InvoiceService.decide(p, id, accept: accept, try req.decodeStrict(InvoiceDecisionInput.self), app: req.application)
        return try await InvoiceService.detail(p, id, on: req.db)
    }

    func pay(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await InvoiceService.load(p, id, version: nil, on: req.db)
        try p.require(.settleInvoices)
        _ = try await InvoiceService.pay(p, id, try req.decodeStrict(PaymentInput.self), app: req.application)
        return try await .created(try await InvoiceService.detail(p, id, on: req.db), for: req)
    }

    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await InvoiceService.load(p, id, version: nil, on: req.db)
        try p.require(.registerInvoices)
        guard p.isSupplier else { throw Problem.forbidden }
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await InvoiceService.attach(p, id, data: Data(buffer: body), filename: req.queryText("filename") ?? "invoice",
                                                  app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }
}

/// The invoices as a spreadsheet for the ERP: one row per invoice, amounts as plain decimals.
enum InvoiceExport {
    static let maxRows = 10_000

    static func rows(_ items: [InvoiceDTO], catalog: Catalog, locale: AppLocale) -> [[String]] {
        func t(_ key: String) -> String { catalog.text(key, locale) }
        var rows: [[String]] = [[t("invoice.col.supplierCode"), t("invoice.col.supplier"), t("invoice.col.statement"), t("invoice.col.period"),
                                 t("invoice.col.number"), t("invoice.col.code"), t("invoice.col.issueDate"), t("invoice.col.net"),
                                 t("invoice.col.taxPercent"), t("invoice.col.tax"), t("invoice.col.gross"), t("field.status"),
                                 t("invoice.col.flags"), t("invoice.col.paid"), t("invoice.col.reason")]]
        for i in items {
            rows.append([i.supplierCode, i.supplierName, i.statementCode, i.period, i.number, i.invoiceCode, i.issueDate, i.net.description,
                         i.taxPercent.description, i.tax.description, i.gross.description, t("invoice.status.\(i.status)"),
                         i.flags.map { t("invoice.flag.\($0)") }.joined(separator: "; "), i.paid.description, i.decisionReason])
        }
        return rows
    }

    /// The same file for the API and the page.
    static func download(_ req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.viewStatements)
        let format = req.queryText("format") ?? "xlsx"
        guard ["xlsx", "csv"].contains(format) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("format", "invalidValue")]) }
        let page = try await InvoiceService.list(p, filter: try InvoiceAPI.filter(req), page: PageRequest(page: 1, per: maxRows), on: req.db)
        return try SpreadsheetDownload.response(rows(page.items, catalog: req.subcon.catalog, locale: req.locale), sheet: "invoices",
                                                filename: "invoices-\(req.subcon.today())", format: format)
    }
}
