import Fluent
import Foundation
import SubconDomain
import Vapor

struct WriteOffRunInput: StrictInput {
    static let fields: Set<String> = ["period", "supplierId"]
    var period: String
    var supplierId: UUID?
    func validate() -> [FieldProblem] {
        SettlementPeriod(period) == nil ? [FieldProblem("period", "badPeriod")] : []
    }
}

struct ListResult<T: Content>: Content { let items: [T] }

/// `/api/v1/material…`, `/deliveries…`, `/receipts…`, `/write-off…`, `/deductions`.
struct MaterialAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let m = routes.grouped("material")
        m.get("documents", use: documents)
        m.get("documents", ":id", use: document)
        m.post("issues", use: issue)
        m.post("documents", ":id", "approve", use: approve)
        m.post("documents", ":id", "refuse", use: refuse)
        m.post("documents", ":id", "confirm", use: confirm)
        m.post("returns", use: returnMaterial)
        m.post("scrap", use: scrap)
        m.post("adjustments", use: adjust)
        m.post("transfers", use: transfer)
        m.get("stock", use: stock)
        m.get("due-to-issue", use: dueToIssue)
        m.get("due-to-arrive", use: dueToArrive)
        m.get("trace", use: trace)
        routes.get("orders", ":id", "material", use: orderMaterial)

        let d = routes.grouped("deliveries")
        d.get(use: notes)
        d.post(use: createNote)
        d.get(":id", use: note)
        d.on(.POST, ":id", "attachments", body: .collect(maxSize: "10mb"), use: attach)
        d.post(":id", "cancel", use: cancelNote)

        let r = routes.grouped("receipts")
        r.get(use: receipts)
        r.post(use: receive)
        r.get(":id", use: receipt)

        routes.get("write-off", use: writeOff)
        routes.heavy.get("write-off", "export", use: writeOffExport)
        routes.post("write-off", "proposals", use: propose)
        routes.get("deductions", use: deductions)
    }

    // MARK: Material documents

    func documents(req: Request) async throws -> KeysetPage<DocumentSummaryDTO> {
        let p = try req.requirePrincipal()
        let kind = req.queryText("kind")
        if let kind, !kind.isEmpty, MaterialKind(rawValue: kind) == nil {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("kind", "invalidValue")])
        }
        let page = try KeysetRequest(req)
        let orderID = try req.uuidQuery("orderId"), status = req.queryText("status")
        let rows = try await MaterialReports.documents(p, orderID: orderID, kind: kind, status: status,
                                                       supplierID: try req.uuidQuery("supplierId"), limit: page.rowsToRead, after: page.after,
                                                       on: MaterialReports.documentReads(req.application, orderID: orderID, kind: kind, status: status))
        return KeysetPage(rows: rows, limit: page.limit, key: MaterialReports.cursor)
    }

    func document(req: Request) async throws -> MaterialDocumentDTO {
        let p = try req.requirePrincipal()
        return try await MaterialService.dto(try await MaterialService.find(p, try req.idParameter(), on: req.modelReads), on: req.modelReads)
    }

    func created(_ req: Request, _ d: MaterialDocument) async throws -> Response {
        try await .created(try await MaterialService.dto(d, on: req.modelReads), for: req)
    }

    func issue(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleMaterial)
        return try await created(req, try await MaterialService.issue(p, try req.decodeStrict(IssueInput.self), app: req.application))
    }

    func approve(req: Request) async throws -> MaterialDocumentDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await MaterialService.find(p, id, on: req.modelReads)
        try p.require(.approveSupplementaryIssue)
        return try await MaterialService.dto(try await MaterialService.approve(p, id, try req.decodeStrict(ApprovalInput.self), approve: true, app: req.application), on: req.modelReads)
    }

    func refuse(req: Request) async throws -> MaterialDocumentDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await MaterialService.find(p, id, on: req.modelReads)
        try p.require(.approveSupplementaryIssue)
        return try await MaterialService.dto(try await MaterialService.approve(p, id, try req.decodeStrict(ApprovalInput.self), approve: false, app: req.application), on: req.modelReads)
    }

    func confirm(req: Request) async throws -> MaterialDocumentDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await MaterialService.find(p, id, on: req.modelReads)
        try p.require(.fulfilOrders)
        return try await MaterialService.dto(try await MaterialService.confirm(p, id, try req.decodeStrict(ConfirmInput.self), app: req.application), on: req.modelReads)
    }

    func movement(_ req: Request, _ kind: MaterialKind) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(kind == .scrap ? .fulfilOrders : .handleMaterial)
        return try await created(req, try await MaterialService.move(p, kind: kind, try req.decodeStrict(MovementInput.self), app: req.application))
    }

    func returnMaterial(req: Request) async throws -> Response { try await movement(req, .returned) }
    func scrap(req: Request) async throws -> Response { try await movement(req, .scrap) }
    func adjust(req: Request) async throws -> Response { try await movement(req, .adjustment) }

    func transfer(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleMaterial)
        return try await created(req, try await MaterialService.transfer(p, try req.decodeStrict(TransferInput.self), app: req.application))
    }

    func stock(req: Request) async throws -> Page<StockRowDTO> {
        let p = try req.requirePrincipal()
        return try await MaterialReports.stock(p, supplierID: try req.uuidQuery("supplierId"), itemCode: req.queryText("itemCode"),
                                               lot: req.queryText("lot"), page: try PageRequest(req), on: req.application.reads)
    }

    func dueToIssue(req: Request) async throws -> KeysetPage<DueToIssueDTO> {
        let p = try req.requirePrincipal(), page = try KeysetRequest(req)
        let rows = try await MaterialReports.dueToIssue(p, limit: page.rowsToRead, after: page.after, on: req.application.keyedReads)
        return KeysetPage(rows: rows, limit: page.limit, key: MaterialReports.cursor)
    }

    func dueToArrive(req: Request) async throws -> KeysetPage<DueToArriveDTO> {
        let p = try req.requirePrincipal(), page = try KeysetRequest(req)
        let rows = try await MaterialReports.dueToArrive(p, limit: page.rowsToRead, after: page.after, on: req.application.keyedReads)
        return KeysetPage(rows: rows, limit: page.limit, key: MaterialReports.cursor)
    }

    func trace(req: Request) async throws -> TraceDTO {
        let p = try req.requirePrincipal()
        guard let item = req.queryText("item"), !item.isEmpty else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("item", "required")])
        }
        guard let lot = req.queryText("lot"), !lot.isEmpty else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("lot", "required")])
        }
        return try await MaterialReports.trace(p, itemCode: item, lot: lot, on: req.db)
    }

    func orderMaterial(req: Request) async throws -> OrderMaterialDTO {
        let p = try req.requirePrincipal()
        return try await MaterialReports.orderMaterial(p, try await OrderService.find(p, try req.idParameter(), on: req.db), app: req.application)
    }

    // MARK: Deliveries

    func notes(req: Request) async throws -> KeysetPage<NoteSummaryDTO> {
        let p = try req.requirePrincipal(), page = try KeysetRequest(req)
        let rows = try await MaterialReports.notes(p, orderID: try req.uuidQuery("orderId"), open: try req.boolQuery("open") ?? false,
                                                   limit: page.rowsToRead, after: page.after, on: req.application.reads)
        return KeysetPage(rows: rows, limit: page.limit, key: MaterialReports.cursor)
    }

    func note(req: Request) async throws -> DeliveryNoteDTO {
        let p = try req.requirePrincipal()
        return try await DeliveryService.noteDTO(try await DeliveryService.findNote(p, try req.idParameter(), on: req.modelReads), on: req.modelReads)
    }

    func createNote(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.fulfilOrders)
        let n = try await DeliveryService.createNote(p, try req.decodeStrict(DeliveryInput.self), app: req.application)
        return try await .created(try await DeliveryService.noteDTO(n, on: req.modelReads), for: req)
    }

    /// The file is the body; `?filename=` names it.
    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await DeliveryService.findNote(p, id, on: req.modelReads)
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await DeliveryService.attach(p, id, filename: req.queryText("filename") ?? "attachment", data: Data(buffer: body),
                                                   app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }

    func cancelNote(req: Request) async throws -> DeliveryNoteDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await DeliveryService.findNote(p, id, on: req.modelReads)
        try p.require(.fulfilOrders)
        let n = try await DeliveryService.cancelNote(p, id, version: try req.decodeStrict(VersionInput.self).version, app: req.application)
        return try await DeliveryService.noteDTO(n, on: req.modelReads)
    }

    // MARK: Receipts

    func receipts(req: Request) async throws -> KeysetPage<ReceiptSummaryDTO> {
        let p = try req.requirePrincipal(), page = try KeysetRequest(req)
        let rows = try await MaterialReports.receipts(p, orderID: try req.uuidQuery("orderId"), awaiting: try req.boolQuery("awaiting") ?? false,
                                                      limit: page.rowsToRead, after: page.after, on: req.application.reads)
        return KeysetPage(rows: rows, limit: page.limit, key: MaterialReports.cursor)
    }

    func receipt(req: Request) async throws -> ReceiptDTO {
        let p = try req.requirePrincipal()
        return try await DeliveryService.receiptDTO(try await DeliveryService.findReceipt(p, try req.idParameter(), on: req.modelReads), on: req.modelReads)
    }

    func receive(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleMaterial)
        let r = try await DeliveryService.receive(p, try req.decodeStrict(ReceiptInput.self), app: req.application)
        return try await .created(try await DeliveryService.receiptDTO(r, on: req.modelReads), for: req)
    }

    // MARK: Write-off

    /// Every supplier's month is 17,000 rows on the large data set: computed and sent in a
    /// heavy-read turn, the rows encoded 2,000 at a time (encoded whole they took 7.8 MB of JSON
    /// and several times that on its way).
    func writeOff(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let period = try MaterialAPI.period(req), supplierID = try req.uuidQuery("supplierId")
        _ = try MaterialReports.month(period, timeZone: req.subcon.settings.timeZone)  // a bad period is a 400, not a cut-off answer
        let app = req.application, batch = max(1, req.subcon.settings.streamedBatch)
        return try JSONArrayStream.response(req) { writer in
            let report = try await MaterialReports.writeOff(p, period: period, supplierID: supplierID, app: app)
            let head = WriteOffReportDTO(period: report.period, from: report.from, to: report.to, tolerancePercent: report.tolerancePercent, rows: [])
            var stream = try JSONArrayStream(head: head, arrayKey: "rows", encoder: .custom(dates: .iso8601))
            try await writer.write(.buffer(stream.opening))
            for start in stride(from: 0, to: report.rows.count, by: batch) {
                if let chunk = try stream.encode(report.rows[start..<min(start + batch, report.rows.count)]) {
                    try await writer.write(.buffer(chunk))
                }
            }
            try await writer.write(.buffer(stream.closing))
        }
    }

    static func period(_ req: Request) throws -> String {
        guard let period = req.queryText("period"), !period.isEmpty else {
            let today = req.subcon.today()
            return String(format: "%04d-%02d", today.year, today.month)
        }
        return period
    }

    func writeOffExport(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let report = try await MaterialReports.writeOff(p, period: try MaterialAPI.period(req), supplierID: try req.uuidQuery("supplierId"), app: req.application)
        return try WriteOffExport.response(report, req: req)
    }

    func propose(req: Request) async throws -> ListResult<DeductionDTO> {
        let p = try req.requirePrincipal()
        try p.require(.proposeDeductions)
        let input = try req.decodeStrict(WriteOffRunInput.self)
        return ListResult(items: try await MaterialReports.proposeDeductions(p, period: input.period, supplierID: input.supplierId, app: req.application))
    }

    func deductions(req: Request) async throws -> ListResult<DeductionDTO> {
        let p = try req.requirePrincipal()
        return ListResult(items: try await MaterialReports.deductions(p, period: req.queryText("period"), supplierID: try req.uuidQuery("supplierId"),
                                                                      on: req.db))
    }
}

/// The write-off report as a workbook, headers in the reader's language.
enum WriteOffExport {
    static func response(_ report: WriteOffReportDTO, req: Request) throws -> Response {
        let header = ["supplier", "supplierName", "item", "itemName", "unit", "opening", "issued", "consumed", "allowedLoss", "returned", "held",
                      "materialRejects", "supplierRejects", "variance", "tolerance", "beyondTolerance"].map { req.t("writeoff.col.\($0)") }
        let rows = report.rows.map { r in
            [r.supplierCode, r.supplierName, r.itemCode, r.itemName, r.unit, r.opening.description, r.issued.description, r.consumed.description,
             r.allowedLoss.description, r.returned.description, r.held.description, r.materialRejects.description, r.supplierRejects.description,
             r.variance.description, r.tolerance.description, r.beyondTolerance ? req.t("common.yes") : ""]
        }
        let data = try XLSX.write([header] + rows, sheetName: report.period)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"write-off-\(report.period).xlsx\"")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}
