import Fluent
import Foundation
import SubconDomain
import Vapor

/// Delivery notes (the supplier's phone form, the warehouse's receiving form), receipts with
/// the outcome per line, and the write-off report.
struct DeliveryPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let d = routes.grouped("deliveries")
        d.get(use: list)
        d.get("new", use: newForm)
        d.on(.POST, body: .collect(maxSize: "10mb"), use: create)
        d.get(":id", use: show)
        d.post(":id", "receive", use: receive)
        d.post(":id", "cancel", use: cancel)
        d.on(.POST, ":id", "attach", body: .collect(maxSize: "10mb"), use: attach)

        let r = routes.grouped("receipts")
        r.get("new", use: newReceipt)
        r.post(use: createReceipt)
        r.get(":id", use: receipt)

        routes.heavy.get("write-off", use: writeOff)
        routes.heavy.get("write-off", "export", use: writeOffExport)
        routes.post("write-off", "propose", use: propose)
    }

    // MARK: Delivery notes

    /// The delivery notes, open ones by default, a page at a time; written in Swift from the
    /// first tag to the last.
    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let open = try req.boolQuery("open") ?? true
        let page = try await MaterialReports.notePage(p, open: open, page: try PageRequest(req, defaultPer: 50), on: req.application.reads)
        var rows = MaterialPages.Rows(req: req, isSupplier: p.isSupplier, canHandle: p.can(.handleMaterial))
        let notes = rows.notes(page.items, withQuantity: true), pager = Pager(page, req)
        return try await req.renderPage(titleKey: "deliveries.title") { t in
            // Both choices are markup: spelled as `HTML`, or the ternary would make them text and escape them.
            let other: HTML = open ? "<a href=\"/deliveries?open=false\">\(t("deliveries.showAll"))</a>" : "<a href=\"/deliveries\">\(t("deliveries.showOpen"))</a>"
            var html: HTML = """
                <section class="card">
                  <p class="links">\(other) · <a href="/material">\(t("material.title"))</a></p>
                  \(p.isSupplier ? "<p class=\"muted\">\(t("deliveries.supplierHint"))</p>" : HTML())

                """
            if page.items.isEmpty {
                html += "<p class=\"muted\">\(t("list.empty"))</p>"
            } else {
                html += .listTable(head: """
                    <th>\(t("deliveries.code"))</th><th>\(t("orders.code"))</th>\(p.isSupplier ? HTML() : "<th>\(t("prices.supplier"))</th>")\
                    <th>\(t("deliveries.shipDate"))</th><th class="num">\(t("material.quantity"))</th><th class="num">\(t("material.remaining"))</th>\
                    <th>\(t("field.status"))</th>
                    """, rows: notes)
                html += pager.html(&t)
            }
            html += "</section>"
            return html
        }
    }

    struct NewView: Encodable {
        struct Row: Encodable {
            let line: Int; let itemCode: String; let itemName: String; let unit: String; let dueDate: String; let ordered: FixedDecimal; let open: FixedDecimal
            /// What the form shows in the quantity and lot fields.
            let q: String; let l: String
        }
        let order: MaterialPages.OrderSummaryRef
        let rows: [Row]
        let today: String
        let values: [String: String]
        let errors: FormErrors
    }

    func renderNew(_ req: Request, _ order: OutsourcingOrder, values: [String: String], problem: Problem?) async throws -> Response {
        let states = try await DeliveryService.lineStates(order.id!, on: req.db)
        let items = try await OrderService.itemCodes(Set(states.values.map(\.line.itemID)), on: req.db)
        let rows = states.values.filter { $0.line.state == OrderLine.State.open.rawValue }.sorted { $0.line.number < $1.line.number }.map { s in
            let counted = (try? s.counted.adding(s.shippedOpen)) ?? s.counted
            let open = (try? s.ordered.subtracting(counted)).map { $0 > .zero ? $0 : .zero } ?? .zero
            return NewView.Row(line: s.line.number, itemCode: items[s.line.itemID]?.code ?? "", itemName: items[s.line.itemID]?.name ?? "", unit: items[s.line.itemID]?.uom ?? "",
                               dueDate: s.line.dueDate, ordered: s.ordered, open: open, q: values["q_\(s.line.number)"] ?? "",
                               l: values["l_\(s.line.number)"] ?? "")
        }
        return try await req.renderForm("delivery_new", titleKey: "deliveries.new", NewView(
            order: try await MaterialPages().orderRef(order, on: req.db), rows: rows, today: req.subcon.today().description, values: values,
            errors: req.formErrors(problem)), problem: problem)
    }

    func newForm(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let order = try await MaterialPages().order(req, p)
        try p.require(.fulfilOrders)
        return try await renderNew(req, order, values: [:], problem: nil)
    }

    struct NewForm: Content {
        var order: String?
        var shipDate: String?
        var note: String?
        var file: File?
    }

    /// Per line `q_N` and `l_N`; an optional file (certificate of analysis) goes with the note.
    /// The form is multipart when a file is chosen, so fields are read one by one by name.
    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.fulfilOrders)
        let form = try req.content.decode(NewForm.self)
        guard let orderID = form.order.flatMap(UUID.init(uuidString:)) else { throw Problem.notFound }
        let order = try await OrderService.find(p, orderID, on: req.db)
        let numbers = try await OrderLineRow.query(on: req.db).filter(\.$orderID == orderID).sort(\.$number).all().map(\.number)
        var values: [String: String] = ["shipDate": form.shipDate ?? "", "note": form.note ?? ""]
        for n in numbers {
            values["q_\(n)"] = (try? req.content.get(String.self, at: "q_\(n)")) ?? ""
            values["l_\(n)"] = (try? req.content.get(String.self, at: "l_\(n)")) ?? ""
        }
        var created: DeliveryNote?
        var lines: [DeliveryInput.Line] = []
        let problem = try await attempt {
            guard let ship = Day(form.shipDate ?? "") else { throw Problem.validation([FieldProblem("shipDate", "badDate")]) }
            for n in numbers {
                let text = (values["q_\(n)"] ?? "").trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                guard let q = try? FixedDecimal.parse(text) else { throw Problem.validation([FieldProblem("q_\(n)", "positiveDecimal")]) }
                lines.append(.init(line: n, quantity: q, lot: (values["l_\(n)"] ?? "").trimmingCharacters(in: .whitespaces)))
            }
            let input = DeliveryInput(orderId: orderID, shipDate: ship, note: form.note, lines: lines)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            // The file is checked before the note is written, so a bad file stores nothing.
            if let file = form.file, file.data.readableBytes > 0 {
                let data = Data(buffer: file.data)
                guard data.count <= DocumentService.maxBytes else { throw Problem.validation([FieldProblem("file", "fileTooLarge", ["max": "10 MB"])]) }
                guard let type = FileType.sniff(data), DeliveryService.attachmentTypes.contains(type) else {
                    throw Problem.validation([FieldProblem("file", "fileTypeNotAllowed", ["allowed": "pdf, jpeg, png, webp, xlsx, docx"])])
                }
            }
            let note = try await DeliveryService.createNote(p, input, app: req.application)
            if let file = form.file, file.data.readableBytes > 0 {
                _ = try await DeliveryService.attach(p, note.id!, filename: file.filename, data: Data(buffer: file.data), app: req.application)
            }
            created = note
        }
        if let created { return req.redirect(to: "/deliveries/\(created.id!)?ok=shipped") }
        return try await renderNew(req, order, values: values, problem: problem?.namingLineFields { i, field in
            lines.indices.contains(i) ? Self.formField(field, line: String(lines[i].line)) : nil
        })
    }

    struct DetailView: Encodable {
        let note: DeliveryNoteDTO
        let canReceive: Bool
        let canCancel: Bool
        let canAttach: Bool
        let values: [String: String]
        let errors: FormErrors
    }

    func render(_ req: Request, _ n: DeliveryNote, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let dto = try await DeliveryService.noteDTO(n, on: req.db)
        let open = ["shipped", "partially_received"].contains(n.status)
        return try await req.renderForm("delivery", titleKey: "deliveries.detail", titleParams: ["code": n.code], DetailView(
            note: dto, canReceive: open && p.can(.handleMaterial), canCancel: n.status == "shipped" && p.can(.fulfilOrders),
            canAttach: n.status != "cancelled" && (p.can(.fulfilOrders) || p.can(.handleMaterial)), values: values, errors: req.formErrors(problem)),
            problem: problem)
    }

    func load(_ req: Request) async throws -> DeliveryNote {
        try await DeliveryService.findNote(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func show(req: Request) async throws -> Response { try await render(req, try await load(req)) }

    /// `r_N` per note line: the quantity received now.
    func receive(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let n = try await load(req)
        let fields = try req.content.decode([String: String].self)
        var created: GoodsReceipt?
        let problem = try await attempt {
            try p.require(.handleMaterial)
            var lines: [ReceiptInput.Line] = []
            for (k, v) in fields where k.hasPrefix("r_") {
                guard let no = Int(k.dropFirst(2)) else { continue }
                let text = v.trimmingCharacters(in: .whitespaces)
                if text.isEmpty || text == "0" { continue }
                guard let q = try? FixedDecimal.parse(text) else { throw Problem.validation([FieldProblem("lines", "badLine", ["line": String(no)])]) }
                lines.append(.init(deliveryLine: no, line: nil, lot: nil, quantity: q))
            }
            let input = ReceiptInput(orderId: nil, deliveryNoteId: n.id, note: fields["note"], lines: lines.sorted { ($0.deliveryLine ?? 0) < ($1.deliveryLine ?? 0) })
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            created = try await DeliveryService.receive(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/receipts/\(created.id!)?ok=received") }
        return try await render(req, try await load(req), values: fields, problem: problem)
    }

    func cancel(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let n = try await load(req)
        let fields = try req.content.decode([String: String].self)
        let problem = try await attempt {
            _ = try await DeliveryService.cancelNote(p, n.id!, version: Int(fields["version"] ?? "") ?? -1, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/deliveries/\(n.id!)?ok=saved") }
        return try await render(req, try await load(req), problem: problem)
    }

    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let n = try await load(req)
        guard DeliveryService.mayAttach(p) else { throw Problem.forbidden }
        let problem = try await attempt {
            let file = try req.uploadedFile()
            _ = try await DeliveryService.attach(p, n.id!, filename: file.filename, data: file.data, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/deliveries/\(n.id!)?ok=created") }
        return try await render(req, n, problem: problem)
    }

    // MARK: Receipts

    struct NewReceiptView: Encodable {
        let order: MaterialPages.OrderSummaryRef
        let rows: [NewView.Row]
        let values: [String: String]
        let errors: FormErrors
    }

    func renderNewReceipt(_ req: Request, _ order: OutsourcingOrder, values: [String: String], problem: Problem?) async throws -> Response {
        let states = try await DeliveryService.lineStates(order.id!, on: req.db)
        let items = try await OrderService.itemCodes(Set(states.values.map(\.line.itemID)), on: req.db)
        let rows = states.values.filter { $0.line.state == OrderLine.State.open.rawValue }.sorted { $0.line.number < $1.line.number }.map { s in
            let open = (try? s.ordered.subtracting(s.counted)).map { $0 > .zero ? $0 : .zero } ?? .zero
            return NewView.Row(line: s.line.number, itemCode: items[s.line.itemID]?.code ?? "", itemName: items[s.line.itemID]?.name ?? "", unit: items[s.line.itemID]?.uom ?? "",
                               dueDate: s.line.dueDate, ordered: s.ordered, open: open, q: values["q_\(s.line.number)"] ?? "",
                               l: values["l_\(s.line.number)"] ?? "")
        }
        return try await req.renderForm("receipt_new", titleKey: "receipts.new", NewReceiptView(
            order: try await MaterialPages().orderRef(order, on: req.db), rows: rows, values: values, errors: req.formErrors(problem)), problem: problem)
    }

    func newReceipt(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let order = try await MaterialPages().order(req, p)
        try p.require(.handleMaterial)
        return try await renderNewReceipt(req, order, values: [:], problem: nil)
    }

    /// A direct receipt: per order line `q_N` and `l_N`.
    /// The input of a line's quantity or lot on the delivery and receipt forms (`q_N`, `l_N`;
    /// the material issue's N is the line and its component).
    static func formField(_ field: String, line: String) -> String? {
        switch field {
        case "quantity": "q_\(line)"
        case "lot": "l_\(line)"
        default: nil
        }
    }

    func createReceipt(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleMaterial)
        let fields = try req.content.decode([String: String].self)
        let order = try await MaterialPages().order(req, p)
        var created: GoodsReceipt?
        var lines: [ReceiptInput.Line] = []
        let problem = try await attempt {
            for (k, v) in fields where k.hasPrefix("q_") {
                guard let n = Int(k.dropFirst(2)) else { continue }
                let text = v.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                guard let q = try? FixedDecimal.parse(text) else { throw Problem.validation([FieldProblem(k, "positiveDecimal")]) }
                lines.append(.init(deliveryLine: nil, line: n, lot: (fields["l_\(n)"] ?? "").trimmingCharacters(in: .whitespaces), quantity: q))
            }
            lines.sort { ($0.line ?? 0) < ($1.line ?? 0) }
            let input = ReceiptInput(orderId: order.id, deliveryNoteId: nil, note: fields["note"], lines: lines)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            created = try await DeliveryService.receive(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/receipts/\(created.id!)?ok=received") }
        return try await renderNewReceipt(req, order, values: fields, problem: problem?.namingLineFields { i, field in
            lines.indices.contains(i) ? lines[i].line.flatMap { Self.formField(field, line: String($0)) } : nil
        })
    }

    struct StatementLink: Encodable { let no: Int; let statement: StatementSourceDTO }
    struct ReceiptView: Encodable {
        let receipt: ReceiptDTO; let canDecide: Bool; let values: [String: String]; let errors: FormErrors
        /// The statements each line went into (for those who see statements).
        let statements: [StatementLink]
    }

    func renderReceipt(_ req: Request, _ r: GoodsReceipt, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let lines = try await ReceiptLine.query(on: req.db).filter(\.$receiptID == r.id!).all()
        let numbers = Dictionary(uniqueKeysWithValues: lines.map { ($0.id!.uuidString, $0.number) })
        let links = try await StatementService.sources(p, type: "receipt_line", ids: lines.map { $0.id! }, on: req.db)
            .compactMap { s in numbers[s.sourceID].map { StatementLink(no: $0, statement: s.statement) } }
        return try await req.renderForm("receipt", titleKey: "receipts.detail", titleParams: ["code": r.code], ReceiptView(
            receipt: try await DeliveryService.receiptDTO(r, on: req.db), canDecide: p.can(.inspectGoods), values: values,
            errors: req.formErrors(problem), statements: links), problem: problem)
    }

    func receipt(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        return try await renderReceipt(req, try await DeliveryService.findReceipt(p, try req.idParameter(), on: req.db))
    }

    // MARK: Write-off

    struct WriteOffView: Encodable {
        /// The report with this page's rows only: those beyond tolerance first.
        let report: WriteOffReportDTO
        let pager: Pager
        let beyond: Int
        let deductions: [DeductionDTO]
        let supplier: SupplierFilter.Markup
        let supplierId: String
        let canPropose: Bool
        let isSupplier: Bool
        let errors: FormErrors
        let exportLink: String
        /// The statements that took proposals (by proposal id).
        let statements: [StatementLinkByID]
    }

    struct StatementLinkByID: Encodable { let id: String; let statement: StatementSourceDTO }

    func renderWriteOff(_ req: Request, problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let period = try MaterialAPI.period(req)
        let supplier = try await SupplierFilter.read(p, req: req, allLabel: req.t("material.allSuppliers"))
        let supplierID = supplier.supplierID
        let pageRequest = try PageRequest(req, defaultPer: 50)
        let figures = try await MaterialReports.writeOffFigures(p, period: period, supplierID: supplierID, app: req.application)
        // Every supplier's month is some 18,000 rows on a large installation (a 12 MB page). The
        // page shows fifty at a time, those beyond tolerance first, and names only those; the
        // export holds them all.
        let ordered = figures.beyondFirst
        let page = Page(items: try await MaterialReports.named(Array(ordered.dropFirst(pageRequest.offset).prefix(pageRequest.per)), on: req.db),
                        page: pageRequest.page, per: pageRequest.per, total: ordered.count)
        let deductions = try await MaterialReports.deductions(p, period: period, supplierID: supplierID, on: req.db)
        let taken = try await StatementService.sources(p, type: "write_off", ids: deductions.map(\.id), on: req.db)
            .map { StatementLinkByID(id: $0.sourceID, statement: $0.statement) }
        return try await req.renderForm("writeoff", titleKey: "writeoff.title", WriteOffView(
            report: figures.report(page.items),
            pager: Pager(page, req), beyond: figures.rows.count(where: \.beyondTolerance), deductions: deductions,
            // A code nobody has lists nothing, and there is nothing to propose for it.
            supplier: supplier.markup(req), supplierId: supplierID?.uuidString ?? "", canPropose: p.can(.proposeDeductions) && !supplier.unknownCode,
            isSupplier: p.isSupplier, errors: req.formErrors(problem),
            exportLink: "/write-off/export?period=\(period)" + supplier.query, statements: taken), problem: problem)
    }

    func writeOff(req: Request) async throws -> Response {
        do { return try await renderWriteOff(req) } catch let p as Problem where p.status == .badRequest {
            // The page again with the month and supplier chosen afresh, saying which field was wrong.
            req.url.query = nil
            let fields = p.fields.filter { $0.field != "period" }
            return try await renderWriteOff(req, problem: .validation(fields.isEmpty ? [FieldProblem("period", "badPeriod")] : fields))
        }
    }

    func writeOffExport(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let report = try await MaterialReports.writeOff(p, period: try MaterialAPI.period(req), supplierID: try req.uuidQuery("supplierId"), app: req.application)
        return try WriteOffExport.response(report, req: req)
    }

    func propose(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.proposeDeductions)
        let fields = try req.content.decode([String: String].self)
        let period = fields["period"] ?? ""
        let supplier = fields["supplierId"].flatMap(UUID.init(uuidString:))
        let problem = try await attempt {
            _ = try await MaterialReports.proposeDeductions(p, period: period, supplierID: supplier, app: req.application)
        }
        let query = "period=\(period)" + (supplier.map { "&supplierId=\($0)" } ?? "")
        guard let problem else { return req.redirect(to: "/write-off?\(query)&ok=saved") }
        return try await renderWriteOff(req, problem: problem)
    }
}
