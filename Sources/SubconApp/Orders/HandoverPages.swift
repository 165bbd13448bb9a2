import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Handovers on pages: from a supplier's page the buyer picks the open lines (with what remains
/// of each) and the material it holds, chooses the new supplier by name, and confirms once; the
/// checklist is then ticked and signed by both sides.
struct HandoverPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let h = routes.grouped("handovers")
        h.get(use: list)
        h.post("template", use: saveTemplate)
        h.get("new", use: newForm)
        h.post("new", use: create)
        h.get(":id", use: show)
        h.post(":id", "checklist", ":no", use: tick)
        h.post(":id", "sign", use: sign)
    }

    // MARK: List and template

    struct ListView: Encodable {
        let rows: [HandoverDTO]
        let pager: Pager
        let canHandOver: Bool
        let template: String
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let page = try await HandoverService.list(p, page: try PageRequest(req, defaultPer: 50), on: req.db)
        let canHandOver = p.can(.handOverSuppliers)
        return try await req.renderPage("handovers", titleKey: "handover.title", ListView(
            rows: page.items, pager: Pager(page, req), canHandOver: canHandOver,
            template: canHandOver ? try await HandoverService.template(req).joined(separator: "\n") : ""))
    }

    struct TemplateForm: Content { var items: String? }

    func saveTemplate(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handOverSuppliers)
        let f = try req.content.decode(TemplateForm.self)
        let items = (f.items ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let input = HandoverTemplateInput(items: items)
        let problems = input.validate()
        if !problems.isEmpty {
            let page = try await HandoverService.list(p, page: PageRequest(page: 1, per: 50), on: req.db)
            let problem = Problem.validation(problems.map { FieldProblem("items", $0.code, $0.params) })
            return try await req.renderForm("handovers", titleKey: "handover.title", ListView(rows: page.items, pager: Pager(page, req), canHandOver: true,
                                                                                              template: f.items ?? ""), problem: problem)
        }
        try await HandoverService.setTemplate(p, input, app: req.application)
        return req.redirect(to: "/handovers?ok=saved")
    }

    // MARK: New

    struct LineRow: Encodable {
        let key: String; let orderId: UUID; let orderCode: String; let line: Int; let itemCode: String; let itemName: String; let unit: String
        let ordered: FixedDecimal; let received: FixedDecimal; let inTransit: FixedDecimal; let remaining: FixedDecimal; let dueDate: String
        let picked: Bool; let quantity: String
    }
    struct MaterialRow: Encodable {
        let index: Int; let itemCode: String; let itemName: String; let unit: String; let lot: String; let held: FixedDecimal
        let quantity: String; let destination: String
    }
    struct Source: Encodable { let id: UUID; let code: String; let name: String }
    struct NewView: Encodable {
        let from: Source
        let targets: [Option]
        let lines: [LineRow]
        /// More lines match than the form shows.
        let more: Bool
        let filter: String
        let material: [MaterialRow]
        let reason: String
        let errors: FormErrors
    }

    struct OpenLine: Decodable {
        let order_id: UUID; let code: String; let line_no: Int; let item_code: String; let item_name: String; let uom: String
        let quantity: Int64; let due_date: String; let counted: Int64?; let in_transit: Int64?
    }

    /// How many lines the form shows at once; a supplier with thousands is narrowed by order or item.
    static let formLines = 200

    /// A's open lines with what was received and what is on its way, in one statement.
    static func openLines(_ supplier: UUID, filter: String = "", on db: any Database) async throws -> [OpenLine] {
        let q = filter.trimmingCharacters(in: .whitespaces)
        let like = "%" + q.uppercased().replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
        let narrowed: SQLQueryString = q.isEmpty ? "" : " AND (UPPER(o.code) LIKE \(bind: like) OR UPPER(i.code) LIKE \(bind: like) OR i.name LIKE \(bind: "%" + q + "%"))"
        return try await (db as! any SQLDatabase).raw("""
            SELECT o.id AS order_id, o.code, l.line_no, i.code AS item_code, i.name AS item_name, i.uom, l.quantity, l.due_date,
                   (SELECT CAST(SUM(r.quantity - r.rejected_quantity) AS BIGINT) FROM receipt_lines r WHERE r.order_id = o.id AND r.order_line_no = l.line_no) AS counted,
                   (SELECT CAST(SUM(n.quantity - n.received_quantity) AS BIGINT) FROM delivery_note_lines n JOIN delivery_notes d ON d.id = n.note_id
                     WHERE d.order_id = o.id AND n.order_line_no = l.line_no AND d.status IN ('shipped', 'partially_received')) AS in_transit
            FROM outsourcing_orders o JOIN order_lines l ON l.order_id = o.id JOIN items i ON i.id = l.item_id
            WHERE o.supplier_id = \(bind: supplier) AND o.status IN (\(literals: Handover.fromStatuses.map(\.rawValue).sorted(), joinedBy: ", ")) AND l.state = 'open'
            """ + narrowed + " ORDER BY o.code, l.line_no LIMIT \(literal: formLines + 1)").rows(decoding: OpenLine.self)
    }

    func render(_ req: Request, from: Organization, values: [String: String], problem: Problem?) async throws -> Response {
        let filter = values["filter"] ?? req.queryText("filter") ?? ""
        let found = try await Self.openLines(from.id!, filter: filter, on: req.db)
        let open = Array(found.prefix(Self.formLines))
        let sql = req.db as! any SQLDatabase
        // Whom it may go to: other suppliers that may receive orders, by name.
        struct Target: Decodable { let id: UUID; let code: String; let name: String }
        let targets = try await sql.raw("""
            SELECT o.id, o.code, o.name FROM organizations o JOIN supplier_profiles s ON s.organization_id = o.id
            WHERE o.kind = 'supplier' AND o.active = \(true) AND o.id <> \(bind: from.id!)
              AND s.status IN (\(literals: SupplierStatus.mayReceiveOrders.map(\.rawValue).sorted(), joinedBy: ", "))
            ORDER BY o.code
            """).rows(decoding: Target.self)
        let chosen = values["to"] ?? ""
        let lines = open.map { l -> LineRow in
            let state = Handover.LineState(ordered: FixedDecimal(units: l.quantity), received: FixedDecimal(units: l.counted ?? 0),
                                           inTransit: FixedDecimal(units: max(0, l.in_transit ?? 0)), open: true)
            let key = "\(l.order_id.uuidString)_\(l.line_no)"
            return LineRow(key: key, orderId: l.order_id, orderCode: l.code, line: l.line_no, itemCode: l.item_code, itemName: l.item_name, unit: l.uom,
                           ordered: state.ordered, received: state.received, inTransit: state.inTransit, remaining: state.remaining, dueDate: l.due_date,
                           picked: values["p_\(key)"] != nil, quantity: values["q_\(key)"] ?? state.remaining.description)
        }
        // What it holds of the components of those orders.
        let components = try await OrderRequirementRow.query(on: req.db).filter(\.$orderID ~~ Set(open.map(\.order_id))).all().map(\.componentID)
        let balances = try await Ledger.balances(suppliers: [from.id!], items: Array(Set(components)), on: req.db)
        let items = try await OrderService.itemCodes(Set(balances.keys.map(\.itemID)), on: req.db)
        let material = balances.filter { $0.value.held > .zero }.sorted { $0.key < $1.key }.enumerated().map { i, kv in
            MaterialRow(index: i, itemCode: items[kv.key.itemID]?.code ?? "", itemName: items[kv.key.itemID]?.name ?? "", unit: items[kv.key.itemID]?.uom ?? "",
                        lot: kv.key.lot, held: kv.value.held, quantity: values["mq_\(i)"] ?? kv.value.held.description, destination: values["md_\(i)"] ?? "none")
        }
        return try await req.renderForm("handover_new", titleKey: "handover.new", titleParams: ["supplier": from.name], NewView(
            from: Source(id: from.id!, code: from.code, name: from.name), targets: [Option(value: "", label: req.t("handover.chooseTarget"), selected: chosen.isEmpty)]
                + targets.map { Option(value: $0.id.uuidString, label: "\($0.name) (\($0.code))", selected: chosen == $0.id.uuidString) },
            lines: lines, more: found.count > Self.formLines, filter: filter, material: material, reason: values["reason"] ?? "", errors: req.formErrors(problem)), problem: problem)
    }

    func source(_ req: Request, _ raw: String?) async throws -> Organization {
        guard let id = raw.flatMap(UUID.init(uuidString:)), let org = try await Organization.find(id, on: req.db), org.organizationKind == .supplier else {
            throw Problem.notFound
        }
        return org
    }

    func newForm(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handOverSuppliers)
        // A handover starts from the supplier's page; without one, choose it there.
        guard let from = req.queryText("from") else { return req.redirect(to: "/admin/organizations") }
        return try await render(req, from: try await source(req, from), values: [:], problem: nil)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handOverSuppliers)
        let values = try req.content.decode([String: String].self)
        guard let fromID = values["from"].flatMap(UUID.init(uuidString:)), let from = try await Organization.find(fromID, on: req.db),
              from.organizationKind == .supplier else { throw Problem.validation([FieldProblem("from", "unknownSupplier")]) }
        var created: UUID?
        let problem = try await attempt {
            var lines: [HandoverInput.Line] = []
            var problems: [FieldProblem] = []
            for key in values.keys.filter({ $0.hasPrefix("p_") }).sorted() {
                let rest = key.dropFirst(2)
                let parts = rest.split(separator: "_")
                guard parts.count == 2, let order = UUID(uuidString: String(parts[0])), let line = Int(parts[1]) else { continue }
                let text = (values["q_\(rest)"] ?? "").trimmingCharacters(in: .whitespaces)
                guard let q = try? FixedDecimal.parse(text), q > .zero else { problems.append(FieldProblem("q_\(rest)", "positiveDecimal")); continue }
                lines.append(.init(orderId: order, line: line, quantity: q))
            }
            if lines.isEmpty && problems.isEmpty { problems.append(FieldProblem("lines", "chooseLines")) }
            var material: [HandoverInput.Material] = []
            for key in values.keys.filter({ $0.hasPrefix("md_") }).sorted() {
                let i = key.dropFirst(3)
                guard let destination = values[key], destination != "none", let ident = values["mi_\(i)"] else { continue }
                let parts = ident.split(separator: "|", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                let text = (values["mq_\(i)"] ?? "").trimmingCharacters(in: .whitespaces)
                guard let q = try? FixedDecimal.parse(text) else { problems.append(FieldProblem("mq_\(i)", "positiveDecimal")); continue }
                if q > .zero { material.append(.init(itemCode: parts[0], lot: parts[1], quantity: q, destination: destination)) }
            }
            guard let to = values["to"].flatMap(UUID.init(uuidString:)) else { throw Problem.validation(problems + [FieldProblem("to", "required")]) }
            if !problems.isEmpty { throw Problem.validation(problems) }
            created = try await HandoverService.handOver(p, HandoverInput(fromSupplierId: from.id!, toSupplierId: to, reason: values["reason"] ?? "",
                                                                         lines: lines, material: material), app: req.application)
        }
        if let problem { return try await render(req, from: from, values: values, problem: problem) }
        return req.redirect(to: "/handovers/\(created!)?ok=created")
    }

    // MARK: One handover

    struct DetailView: Encodable {
        let h: HandoverDTO
        let canTick: Bool
        let canSignBuyer: Bool
        let canSignSupplier: Bool
        let isSupplier: Bool
        let openItems: Int
        let errors: FormErrors
    }

    func render(_ req: Request, id: UUID, problem: Problem?) async throws -> Response {
        let p = try req.requirePrincipal()
        let h = try await HandoverService.detail(p, id, on: req.db)
        let open = h.checklist.filter { !$0.done }.count
        let buyer = !p.isSupplier && p.can(.handOverSuppliers)
        return try await req.renderForm("handover", titleKey: "handover.heading", titleParams: ["code": h.code], DetailView(
            h: h, canTick: buyer && h.buyerSignedAt == nil && h.status == "open",
            canSignBuyer: buyer && h.buyerSignedAt == nil && h.status == "open",
            canSignSupplier: p.isSupplier && p.can(.answerOrders) && h.supplierSignedAt == nil && h.status == "open",
            isSupplier: p.isSupplier, openItems: open, errors: req.formErrors(problem)), problem: problem)
    }

    func show(req: Request) async throws -> Response { try await render(req, id: try req.idParameter(), problem: nil) }

    struct TickForm: Content { var version: String?; var done: String?; var note: String? }

    func tick(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await HandoverService.load(p, id, on: req.db)
        try p.require(.handOverSuppliers)
        guard let no = req.parameters.get("no").flatMap(Int.init) else { throw Problem.notFound }
        let f = try req.content.decode(TickForm.self)
        let problem = try await attempt {
            try await HandoverService.tick(p, id, no: no, HandoverItemInput(version: f.version.flatMap(Int.init) ?? -1, done: f.done == "true", note: f.note),
                                           app: req.application)
        }
        guard let problem else { return req.redirect(to: "/handovers/\(id)?ok=saved#checklist") }
        return try await render(req, id: id, problem: problem)
    }

    struct SignForm: Content { var version: String? }

    func sign(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await HandoverService.load(p, id, on: req.db)
        if p.isSupplier { try p.require(.answerOrders) } else { try p.require(.handOverSuppliers) }
        let f = try req.content.decode(SignForm.self)
        let problem = try await attempt {
            try await HandoverService.sign(p, id, HandoverSignInput(version: f.version.flatMap(Int.init) ?? -1), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/handovers/\(id)?ok=signed") }
        return try await render(req, id: id, problem: problem)
    }
}
