import Fluent
import Foundation
import SubconDomain
import Vapor

/// Statements and month-end counts over the API: both sides' actions, and what a finance system
/// polls (`/statements/changes?after=N`).
struct SettlementAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let s = routes.grouped("statements")
        s.get(use: list)
        s.post(use: generate)
        s.get("changes", use: changes)
        s.get("sources", use: sources)
        s.get(":id", use: show)
        s.heavy.get(":id", "diff", use: diff)
        s.heavy.get(":id", "export", use: export)
        s.post(":id", "refresh") { req in try await Self.act(req, .prepareStatements) { p, id, app in
            try await StatementService.refresh(p, id, try req.decodeStrict(VersionInput.self), app: app) } }
        s.post(":id", "send") { req in try await Self.transition(req, .send, .prepareStatements) }
        s.post(":id", "confirm") { req in try await Self.transition(req, .confirm, .answerStatements) }
        s.post(":id", "revise") { req in try await Self.transition(req, .revise, .prepareStatements) }
        s.post(":id", "lock") { req in try await Self.transition(req, .lock, .lockStatements) }
        s.post(":id", "dispute") { req in try await Self.act(req, .answerStatements) { p, id, app in
            try await StatementService.dispute(p, id, try req.decodeStrict(DisputeInput.self), app: app) } }
        s.post(":id", "adjustments") { req in try await Self.act(req, .prepareStatements) { p, id, app in
            try await StatementService.addAdjustment(p, id, try req.decodeStrict(AdjustmentInput.self), app: app) } }
        s.post(":id", "lines", ":lineId", "answer") { req in try await Self.act(req, .prepareStatements) { p, id, app in
            try await StatementService.answerLine(p, id, lineID: try req.idParameter("lineId"), try req.decodeStrict(LineAnswerInput.self), app: app) } }
        s.post(":id", "lines", ":lineId", "remove") { req in try await Self.act(req, .prepareStatements) { p, id, app in
            try await StatementService.removeAdjustment(p, id, lineID: try req.idParameter("lineId"), try req.decodeStrict(VersionInput.self), app: app) } }
        s.on(.POST, ":id", "lines", ":lineId", "attachments", body: .collect(maxSize: "11mb"), use: attach)

        let c = routes.grouped("stock-counts")
        c.get(use: counts)
        c.get("sheet", use: sheet)
        c.post(use: count)
        c.post("close", use: close)
    }

    static func filter(_ req: Request) throws -> StatementService.Filter {
        StatementService.Filter(status: req.queryText("status"), period: req.queryText("period"),
                                supplierID: try req.uuidQuery("supplierId"))
    }

    func list(req: Request) async throws -> Page<StatementSummaryDTO> {
        try await StatementService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), on: req.application.reads)
    }

    func generate(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.prepareStatements)
        let s = try await StatementService.generate(p, try req.decodeStrict(GenerateStatementInput.self), app: req.application)
        return try await Self.streamed(req, try await StatementService.header(p, s.id!, revision: nil, app: req.application), status: .created)
    }

    /// `?after=<cursor>&limit=100` (cursor 0 starts from the beginning).
    func changes(req: Request) async throws -> StatementFeedDTO {
        let p = try req.requirePrincipal()
        try p.require(.viewStatements)
        let after = try req.intQuery("after", default: 0, range: 0...Int(Int32.max))
        let limit = try req.intQuery("limit", default: 100, range: 1...500)
        return try await StatementService.feed(p, after: Int64(after), limit: limit, on: req.application.reads)
    }

    /// `?type=receipt_line|exception|write_off|late_delivery&id=…`: the statements a record went into.
    func sources(req: Request) async throws -> [StatementSourceDTO] {
        let p = try req.requirePrincipal()
        try p.require(.viewStatements)
        let type = req.queryText("type") ?? ""
        guard ["receipt_line", "exception", "write_off", "late_delivery", "reject"].contains(type) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("type", "notOneOf", ["allowed": "receipt_line, exception, write_off, late_delivery, reject"])])
        }
        guard let id = try req.uuidQuery("id") else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("id", "required")]) }
        return try await StatementService.sources(p, type: type, id: id, on: req.db)
    }

    func show(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        return try await Self.streamed(req, try await StatementService.header(p, try req.idParameter(), revision: try req.revisionQuery(), app: req.application))
    }

    /// The statement with its lines streamed in batches: what showing it and every action on it
    /// answer. A busy supplier's month of 57,000 lines built as one answer took 250 MB of server
    /// memory per request; in batches it takes that of 2,000 lines. Checks and the header come
    /// first, so a refusal is still a plain problem.
    static func streamed(_ req: Request, _ head: StatementDTO, status: HTTPStatus = .ok) async throws -> Response {
        let split = try JSONArrayStream(head: head, arrayKey: "lines", encoder: .custom(dates: .iso8601))
        let batchSize = max(1, req.subcon.settings.streamedBatch)
        // Lines are read batch by batch while the answer goes out; a dispute answered in between
        // may show in a later batch (each line is shown as it is at its read).
        return try JSONArrayStream.response(req, status: status) { writer in
            var stream = split
            try await writer.write(.buffer(stream.opening))
            var after = 0
            while true {
                let batch = try await StatementService.lines(of: head, after: after, limit: batchSize, on: req.db, reads: req.application.reads)
                if let chunk = try stream.encode(batch) { try await writer.write(.buffer(chunk)) }
                guard batch.count == batchSize, let last = batch.last else { break }
                after = last.no
            }
            try await writer.write(.buffer(stream.closing))
        }
    }

    func diff(req: Request) async throws -> StatementDiffDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let s = try await StatementService.load(p, id, version: nil, on: req.db)
        let to = try req.intQuery("to", default: s.revision, range: 1...s.revision)
        let from = try req.intQuery("from", default: max(1, to - 1), range: 1...s.revision)
        return try await StatementService.diff(p, id, from: from, to: to, app: req.application)
    }

    /// `?format=xlsx|csv` (and `revision`).
    func export(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        let format = req.queryText("format") ?? "xlsx"
        guard ["xlsx", "csv"].contains(format) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("format", "invalidValue")]) }
        let revision = try req.revisionQuery()
        return try await StatementExport.file(req, try await StatementService.detail(p, id, revision: revision, app: req.application), format: format)
    }

    static func transition(_ req: Request, _ action: StatementLifecycle.Action, _ permission: Action) async throws -> Response {
        try await act(req, permission) { p, id, app in
            try await StatementService.transition(p, id, action, version: try req.decodeStrict(VersionInput.self).version, app: app)
        }
    }

    /// The record first (another supplier's is a 404), then the permission, then the body.
    static func act(_ req: Request, _ permission: Action,
                    _ body: (Principal, UUID, Application) async throws -> Statement) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(permission)
        let s = try await body(p, id, req.application)
        return try await streamed(req, try await StatementService.header(p, s.id!, revision: nil, app: req.application))
    }

    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await StatementService.load(p, id, version: nil, on: req.db)
        try p.require(.answerStatements)
        guard StatementService.party(p) == .supplier else { throw Problem.forbidden }
        let lineID = try req.idParameter("lineId")
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await StatementService.attach(p, id, lineID: lineID, data: Data(buffer: body),
                                                    filename: req.queryText("filename") ?? "attachment", app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }

    static func periodQuery(_ req: Request, default: SettlementPeriod) throws -> SettlementPeriod {
        guard let text = req.queryText("period"), !text.isEmpty else { return `default` }
        guard let p = SettlementPeriod(text) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("period", "badPeriod")]) }
        return p
    }

    static func lastPeriod(_ req: Request) -> SettlementPeriod {
        req.subcon.settings.statementCalendar.period(of: req.subcon.today()).previous
    }

    func counts(req: Request) async throws -> [StockCountStatusDTO] {
        let p = try req.requirePrincipal()
        return try await StockCountService.statuses(p, period: try Self.periodQuery(req, default: Self.lastPeriod(req)), on: req.db)
    }

    func sheet(req: Request) async throws -> StockCountSheetDTO {
        let p = try req.requirePrincipal()
        return try await StockCountService.sheet(p, supplierID: try req.uuidQuery("supplierId"),
                                                 period: try Self.periodQuery(req, default: Self.lastPeriod(req)), on: req.db)
    }

    func count(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.countStock)
        return try await .created(try await StockCountService.count(p, try req.decodeStrict(StockCountInput.self), app: req.application), for: req)
    }

    func close(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.closeStockCounts)
        return try await .created(try await StockCountService.close(p, try req.decodeStrict(CloseStockCountInput.self), app: req.application), for: req)
    }
}

extension Request {
    /// `?revision=n`: an earlier version of a statement.
    func revisionQuery() throws -> Int? {
        try queryText("revision").map { text -> Int in
            guard let n = Int(text) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("revision", "wrongType", ["expected": "integer"])]) }
            return n
        }
    }
}

/// The statement as a spreadsheet or CSV: a header block, the lines, the totals.
enum StatementExport {
    static func showsQuantity(_ l: StatementLineDTO) -> Bool {
        l.kind == "goods" || l.sourceType == "write_off" || (l.sourceType == "exception" && l.quantity != .zero)
    }
    static func showsUnitPrice(_ l: StatementLineDTO) -> Bool { l.kind == "goods" || l.sourceType == "write_off" }

    static func rows(_ s: StatementDTO, catalog: Catalog, locale: AppLocale) -> [[String]] {
        func t(_ key: String) -> String { catalog.text(key, locale) }
        var rows: [[String]] = [
            [t("statement.code"), s.code], [t("statement.buyer"), s.buyerName], [t("statement.supplier"), "\(s.supplierCode) \(s.supplierName)"],
            [t("statement.period"), "\(s.period) (\(s.from) — \(s.to))"], [t("statement.revision"), String(s.revision)],
            [t("field.status"), t("statement.status.\(s.status)")], [],
            [t("statement.col.no"), t("statement.col.kind"), t("statement.col.reference"), t("statement.col.item"), t("statement.col.quantity"),
             t("statement.col.unitPrice"), t("statement.col.amount"), t("statement.col.note")],
        ]
        for l in s.lines {
            var note: [String] = []
            if l.late { note.append(t("statement.late") + " " + l.originPeriod) }
            if l.sourceType == "late_delivery" { note.append(catalog.text("statement.daysLate", locale, ["n": l.quantity.description])) }
            if let o = l.occurrence { note.append(catalog.text("statement.occurrence", locale, ["n": String(o)])) }
            if l.waived { note.append(t("statement.waived")) }
            if !l.reason.isEmpty, l.kind == "adjustment" { note.append(l.reason) }
            rows.append([String(l.no), t("statement.kind.\(l.kind)"), l.reference, [l.itemCode, l.itemName].compactMap { $0 }.joined(separator: " "),
                         showsQuantity(l) ? l.quantity.description : "", showsUnitPrice(l) ? l.unitPrice.description : "",
                         (l.kind == "deduction" ? "-" : "") + l.amount.description, note.joined(separator: "; ")])
        }
        rows += [[], [t("statement.goods"), s.goods.description], [t("statement.deductions"), "-" + s.deductions.description],
                 [t("statement.adjustments"), s.adjustments.description], [t("statement.net"), s.net.description],
                 [t("statement.tax") + " \(s.taxPercent)%", s.tax.description], [t("statement.gross"), s.gross.description],
                 [t("statement.grossInWords"), s.grossInWords]]
        return rows
    }

    static func file(_ req: Request, _ s: StatementDTO, format: String) async throws -> Response {
        try SpreadsheetDownload.response(rows(s, catalog: req.subcon.catalog, locale: req.locale), sheet: s.period,
                                         filename: "\(s.code)-R\(s.revision)", format: format)
    }
}
