import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Changing suppliers (更换供应商交接) as one transaction: the chosen open lines of A's orders are
/// split (A keeps what it delivered, what is in inspection and what is on its way), B is ordered
/// the rest at its own agreed price and asked to acknowledge, the material A holds moves to B or
/// back to the warehouse through the ledger, the items' documents are withdrawn from A (B sees
/// them through its order), and a checklist from the buyer's template waits for both sides'
/// sign-off. Either all of it happens or none.
struct CreateHandovers: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("handovers")
            .id()
            .field("code", .string, .required)
            .field("from_supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("to_supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("new_order_id", .uuid, .required, .references("outsourcing_orders", "id"))
            .field("reason", .string, .required)
            .field("status", .string, .required)
            .field("buyer_signed_by", .uuid)
            .field("buyer_signed_at", .datetime)
            .field("supplier_signed_by", .uuid)
            .field("supplier_signed_at", .datetime)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await createIndex(db, "handovers_from_idx", on: "handovers", "from_supplier_id", "created_at")
        try await db.schema("handover_lines")
            .id()
            .field("handover_id", .uuid, .required, .references("handovers", "id"))
            .field("from_order_id", .uuid, .required)
            .field("from_line_no", .int, .required)
            .field("to_line_no", .int, .required)
            .field("item_id", .uuid, .required)
            .field("quantity", .int64, .required)
            .create()
        try await db.schema("handover_items")
            .id()
            .field("handover_id", .uuid, .required, .references("handovers", "id"))
            .field("no", .int, .required)
            .field("text", .string, .required)
            .field("done_by", .uuid)
            .field("done_at", .datetime)
            .field("note", .string, .required)
            .unique(on: "handover_id", "no")
            .create()
        try await db.schema("handover_template_items")
            .id()
            .field("no", .int, .required)
            .field("text", .string, .required)
            .create()
    }
    func revert(on db: any Database) async throws {
        for t in ["handover_template_items", "handover_items", "handover_lines", "handovers"] { try await db.schema(t).delete() }
    }
}

struct HandoverInput: StrictInput {
    struct Line: Codable, Sendable { var orderId: UUID; var line: Int; var quantity: FixedDecimal? }
    struct Material: Codable, Sendable { var itemCode: String; var lot: String; var quantity: FixedDecimal; var destination: String }
    static let fields: Set<String> = ["fromSupplierId", "toSupplierId", "reason", "lines", "material"]
    var fromSupplierId: UUID
    var toSupplierId: UUID
    var reason: String
    var lines: [Line]
    var material: [Material]?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", max: 500, into: &p)
        if lines.isEmpty { p.append(FieldProblem("lines", "required")) }
        if lines.count > 200 { p.append(FieldProblem("lines", "tooMany", ["max": "200"])) }
        for (i, l) in lines.enumerated() {
            if let q = l.quantity { MaterialInputs.checkQuantity(q, "lines[\(i)].quantity", into: &p) }
        }
        if Set(lines.map { "\($0.orderId) \($0.line)" }).count != lines.count { p.append(FieldProblem("lines", "duplicateLine")) }
        let material = material ?? []
        if material.count > 200 { p.append(FieldProblem("material", "tooMany", ["max": "200"])) }
        for (i, m) in material.enumerated() {
            MaterialInputs.checkLot(m.lot, "material[\(i)].lot", into: &p)
            MaterialInputs.checkQuantity(m.quantity, "material[\(i)].quantity", into: &p)
            if !["supplier", "warehouse"].contains(m.destination) { p.append(FieldProblem("material[\(i)].destination", "invalidValue")) }
        }
        return p
    }
}

struct HandoverDTO: Content {
    struct Line: Content { let fromOrderId: UUID; let fromOrderCode: String; let fromLine: Int; let toLine: Int; let itemCode: String; let itemName: String; let unit: String; let quantity: FixedDecimal }
    struct Item: Content { let no: Int; let text: String; let done: Bool; let doneAt: Date?; let note: String }
    let id: UUID
    let code: String
    let fromSupplierId: UUID
    let fromSupplierCode: String
    let fromSupplierName: String
    let toSupplierId: UUID
    let toSupplierCode: String
    let toSupplierName: String
    let newOrderId: UUID
    let newOrderCode: String
    let reason: String
    let status: String
    let buyerSignedAt: Date?
    let supplierSignedAt: Date?
    let version: Int
    let createdAt: Date
    let lines: [Line]
    let checklist: [Item]
}

struct HandoverItemInput: StrictInput {
    static let fields: Set<String> = ["version", "done", "note"]
    var version: Int
    var done: Bool
    var note: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(note, "note", required: false, max: 500, into: &p)
        return p
    }
}

struct HandoverSignInput: StrictInput {
    static let fields: Set<String> = ["version"]
    var version: Int
}

struct HandoverTemplateInput: StrictInput {
    static let fields: Set<String> = ["items"]
    var items: [String]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if items.isEmpty { p.append(FieldProblem("items", "required")) }
        if items.count > 30 { p.append(FieldProblem("items", "tooMany", ["max": "30"])) }
        for (i, t) in items.enumerated() { Check.text(t, "items[\(i)]", max: 200, into: &p) }
        return p
    }
}

enum HandoverService {
    /// The checklist every handover starts with until the buyer keeps its own.
    static let defaultTemplateKeys = ["handover.check.material", "handover.check.drawings", "handover.check.exceptions", "handover.check.deductions"]

    static func template(_ req: Request) async throws -> [String] {
        struct Row: Decodable { let text: String }
        let rows = try await (req.db as! any SQLDatabase).raw("SELECT text FROM handover_template_items ORDER BY no").rows(decoding: Row.self)
        return rows.isEmpty ? defaultTemplateKeys.map { req.t($0) } : rows.map(\.text)
    }

    static func setTemplate(_ p: Principal, _ input: HandoverTemplateInput, app: Application) async throws {
        try p.require(.handOverSuppliers)
        let items = input.items.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            try await sql.delete(from: "handover_template_items").run()
            for (i, text) in items.enumerated() {
                try await sql.insert(into: "handover_template_items").columns("id", "no", "text").values(SQLBind(UUID()), SQLBind(i + 1), SQLBind(text)).run()
            }
            try await change.audit("handover_template", nil, "update", after: ["items": items.joined(separator: "; ")])
        }
    }

    static func problem(_ r: Handover.Refusal, index: Int) -> Problem {
        switch r {
        case .sameSupplier: .validation([FieldProblem("toSupplierId", "sameSupplier")])
        case .targetNotQualified(let s): .validation([FieldProblem("toSupplierId", "supplierNotQualified", ["status": s.rawValue])])
        case .orderNotOpen(let s): .conflict("problem.handover.orderNotOpen", ["status": s.rawValue], fields: [FieldProblem("lines[\(index)].orderId", "orderNotOpen")])
        case .lineNotOpen: .validation([FieldProblem("lines[\(index)].line", "lineNotOpen")])
        case .nothingToMove: .validation([FieldProblem("lines[\(index)].quantity", "nothingToMove")])
        case .moreThanRemains(let rest): .validation([FieldProblem("lines[\(index)].quantity", "moreThanRemains", ["remaining": rest.description])])
        }
    }

    /// The whole handover, or nothing.
    static func handOver(_ p: Principal, _ input: HandoverInput, app: Application) async throws -> UUID {
        try p.require(.handOverSuppliers)
        let problems = input.validate()
        if !problems.isEmpty { throw Problem.validation(problems) }
        guard let from = try await Organization.find(input.fromSupplierId, on: app.database), from.organizationKind == .supplier else {
            throw Problem.validation([FieldProblem("fromSupplierId", "unknownSupplier")])
        }
        guard let to = try await Organization.find(input.toSupplierId, on: app.database), to.organizationKind == .supplier, to.active else {
            throw Problem.validation([FieldProblem("toSupplierId", "unknownSupplier")])
        }
        let status = try await SupplierProfile.query(on: app.database).filter(\.$organization.$id == to.id!).first()?.supplierStatus ?? .prospect
        do throws(Handover.Refusal) { try Handover.checkTarget(sameAsSource: from.id == to.id, status: status) } catch { throw problem(error, index: 0) }
        var orders: [UUID: OutsourcingOrder] = [:]
        for (i, l) in input.lines.enumerated() where orders[l.orderId] == nil {
            guard let o = try await OutsourcingOrder.find(l.orderId, on: app.database), o.supplierID == from.id else {
                throw Problem.validation([FieldProblem("lines[\(i)].orderId", "unknownOrder")])
            }
            orders[l.orderId] = o
        }
        let items = try await MaterialService.items(byCode: (input.material ?? []).map { $0.itemCode.trimmingCharacters(in: .whitespaces) },
                                                    field: { "material[\($0)].itemCode" }, on: app.database)
        let material = Array(zip(items, input.material ?? []))
        let today = app.subcon.today()
        let reason = input.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        let orderIDs = Array(orders.keys)
        let checklist = try await { () async throws -> [String] in
            struct Row: Decodable { let text: String }
            let rows = try await (app.database as! any SQLDatabase).raw("SELECT text FROM handover_template_items ORDER BY no").rows(decoding: Row.self)
            return rows.isEmpty ? defaultTemplateKeys.map { app.subcon.catalog.text($0, p.preferredLocale ?? .zhHans) } : rows.map(\.text)
        }()

        return try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            for id in orderIDs.sorted(by: { $0.uuidString < $1.uuidString }) { try await DeliveryService.lockOrder(id, in: change) }
            for id in [from.id!, to.id!].sorted(by: { $0.uuidString < $1.uuidString }) { try await Ledger.lock(supplier: id, in: change) }

            // What moves, line by line, as the records stand inside the transaction.
            struct Move { let index: Int; let order: OutsourcingOrder; let line: OrderLineRow; let split: Handover.Split }
            var moves: [Move] = []
            var states: [UUID: [Int: DeliveryService.LineState]] = [:]
            for (i, l) in input.lines.enumerated() {
                guard let o = try await OutsourcingOrder.find(l.orderId, on: change.db) else {
                    throw Problem.validation([FieldProblem("lines[\(i)].orderId", "unknownOrder")])
                }
                if states[o.id!] == nil { states[o.id!] = try await DeliveryService.lineStates(o.id!, on: change.db) }
                guard let s = states[o.id!]?[l.line] else { throw Problem.validation([FieldProblem("lines[\(i)].line", "unknownLine", ["line": String(l.line)])]) }
                let state = Handover.LineState(ordered: s.ordered, received: s.counted, inTransit: s.shippedOpen, open: s.line.state == OrderLine.State.open.rawValue)
                do throws(Handover.Refusal) {
                    moves.append(Move(index: i, order: o, line: s.line, split: try Handover.split(state, order: o.orderStatus, quantity: l.quantity)))
                } catch { throw problem(error, index: i) }
            }

            // B's order for the rest, at B's agreed prices, released for B to acknowledge.
            let itemRows = try await Item.query(on: change.db).filter(\.$id ~~ Set(moves.map(\.line.itemID))).all()
            let codes = Dictionary(uniqueKeysWithValues: itemRows.map { ($0.id!, $0.code) })
            let inputs = moves.map { m in
                OrderLineInput(line: nil, itemCode: codes[m.line.itemID] ?? "", operation: m.line.operation, quantity: m.split.moved,
                               dueDate: Day(m.line.dueDate) ?? today, unitPrice: nil, cancelled: nil)
            }
            let resolved: [(line: OrderLine, itemID: UUID)]
            do { resolved = try await OrderService.resolve(inputs, supplierID: to.id!, today: today, on: change.db) } catch let p as Problem {
                // Named by the handover's lines, not by the new order's.
                throw Problem.validation(p.fields.map { f in FieldProblem(f.field.replacingOccurrences(of: ".unitPrice", with: ".orderId")
                    .replacingOccurrences(of: ".itemCode", with: ".orderId"), f.code, f.params) })
            }
            let sourceCodes = Array(Set(moves.map(\.order.code))).sorted()
            let planID = Set(moves.map(\.order.planID)).count == 1 ? moves.first?.order.planID : nil
            let newOrder = try await OrderService.createDraft(p, supplierID: to.id!, note: "\(from.code) \(sourceCodes.joined(separator: ", ")) → \(to.code): \(reason)",
                                                              lines: resolved, currency: moves.first?.order.currency ?? "CNY", planID: planID, in: change)
            _ = try await OrderService.releaseInChange(p, newOrder, lines: resolved.map(\.line), reason: reason, today: today, in: change)

            // A's orders: each moved line keeps what A delivered; an order left with nothing is cancelled.
            for (orderID, group) in Dictionary(grouping: moves, by: { $0.order.id! }) {
                let o = group[0].order
                let old = try await OrderService.lines(orderID, on: change.db)
                let kept = Dictionary(uniqueKeysWithValues: group.map { ($0.line.number, $0.split.kept) })
                let rows = try await OrderLineRow.query(on: change.db).filter(\.$orderID == orderID).all()
                let ids = Dictionary(uniqueKeysWithValues: rows.map { ($0.number, $0.itemID) })
                let new = old.map { l -> (line: OrderLine, itemID: UUID) in
                    guard let k = kept[l.number] else { return (l, ids[l.number]!) }
                    return (OrderLine(number: l.number, item: l.item, operation: l.operation, quantity: k > .zero ? k : l.quantity, dueDate: l.dueDate,
                                      unitPrice: l.unitPrice, state: k > .zero ? l.state : .cancelled), ids[l.number]!)
                }
                if new.allSatisfy({ $0.line.state == .cancelled }) {
                    try await change.updateVersioned(OutsourcingOrder.schema, id: orderID, expected: o.version,
                                                     sets: ["status": OrderStatus.cancelled.rawValue, "updated_at": change.now])
                    try await sql.update(OrderLineRow.schema).set("state", to: OrderLine.State.cancelled.rawValue).where("order_id", .equal, orderID).run()
                    try await change.audit("order", orderID, "handover", before: ["status": o.status], after: ["status": OrderStatus.cancelled.rawValue, "to": to.code])
                    o.status = OrderStatus.cancelled.rawValue; o.version += 1
                } else {
                    // A started on it: the smaller order is imposed. Still awaiting A's answer: A answers the new revision.
                    _ = try await OrderService.applyRevision(p, o, old: old, new: new, reason: reason, status: o.orderStatus, today: today,
                                                            imposed: o.orderStatus != .released, in: change)
                    try await DeliveryService.moveOrder(o, in: change)
                }
                try await OrderService.notifySupplier(o, "order.handed_over", "notice.orderHandedOver", in: change, params: ["to": to.name])
            }

            // The material A holds goes where the buyer chose, through the ledger (held amounts checked).
            let fromOrder = Set(moves.map(\.order.id!)).count == 1 ? moves.first?.order.id : nil
            let toB = material.filter { $0.1.destination == "supplier" }.map { ($0.0, TransferInput.Line(itemCode: $0.1.itemCode, lot: $0.1.lot, quantity: $0.1.quantity)) }
            if !toB.isEmpty {
                _ = try await MaterialService.transferInChange(p, from: from, to: to, fromOrderID: fromOrder, toOrderID: newOrder.id, reason: reason, lines: toB, in: change)
            }
            let back = material.filter { $0.1.destination == "warehouse" }.map { ($0.0, MovementInput.Line(itemCode: $0.1.itemCode, lot: $0.1.lot, quantity: $0.1.quantity, line: nil)) }
            if !back.isEmpty {
                _ = try await MaterialService.moveInChange(p, kind: .returned, supplierID: from.id!, orderID: fromOrder, condition: "good", reason: reason,
                                                           lines: back, in: change)
            }

            // The moved items' documents are no longer A's to see (B sees them through its order),
            // unless A still makes the item on another order.
            let movedItems = Set(moves.map(\.line.itemID))
            let handedOver = Set(moves.map(\.order.id!))
            for item in movedItems {
                let other = try await sql.raw("""
                    SELECT COUNT(*) AS n FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id
                    WHERE l.item_id = \(bind: item) AND o.supplier_id = \(bind: from.id!) AND l.state = 'open'
                      AND o.status IN (\(literals: DocumentSharing.sharingStatuses.map(\.rawValue), joinedBy: ", ")) AND o.id NOT IN (\(binds: Array(handedOver)))
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
                guard other == 0 else { continue }
                try await sql.delete(from: "tech_document_grants").where("item_id", .equal, item).where("supplier_id", .equal, from.id!).run()
                try await sql.insert(into: "tech_document_grants").columns("id", "item_id", "supplier_id", "state", "reason", "set_by", "set_at")
                    .values(SQLBind(UUID()), SQLBind(item), SQLBind(from.id!), SQLBind(DocumentSharing.Grant.withheld.rawValue),
                            SQLBind("→ \(to.code): \(reason)"), SQLBind(p.userID), SQLBind(change.now)).run()
            }

            // The record and its checklist.
            let id = UUID()
            let month = change.now.formatted(.iso8601.year().month().dateSeparator(.omitted))
            let code = "HO\(month)-\(String(format: "%04d", try await Sequences.next("handover-\(month)", on: change.db)))"
            try await sql.insert(into: "handovers").columns("id", "code", "from_supplier_id", "to_supplier_id", "new_order_id", "reason", "status", "version", "created_by", "created_at")
                .values(SQLBind(id), SQLBind(code), SQLBind(from.id!), SQLBind(to.id!), SQLBind(newOrder.id!), SQLBind(reason), SQLBind("open"), SQLBind(1),
                        SQLBind(p.userID), SQLBind(change.now)).run()
            for (m, r) in zip(moves, resolved) {
                try await sql.insert(into: "handover_lines").columns("id", "handover_id", "from_order_id", "from_line_no", "to_line_no", "item_id", "quantity")
                    .values(SQLBind(UUID()), SQLBind(id), SQLBind(m.order.id!), SQLBind(m.line.number), SQLBind(r.line.number), SQLBind(r.itemID), SQLBind(m.split.moved.units)).run()
            }
            for (i, text) in checklist.enumerated() {
                try await sql.insert(into: "handover_items").columns("id", "handover_id", "no", "text", "note")
                    .values(SQLBind(UUID()), SQLBind(id), SQLBind(i + 1), SQLBind(text), SQLBind("")).run()
            }
            try await change.audit("handover", id, "create", after: [
                "code": code, "from": from.code, "to": to.code, "new_order": newOrder.code, "reason": reason,
                "lines": moves.map { "\($0.order.code)/\($0.line.number) \($0.split.moved)" }.joined(separator: "; "),
                "material": material.map { "\($0.0.code) \($0.1.lot) \($0.1.quantity) → \($0.1.destination)" }.joined(separator: "; ")])
            return id
        }
    }

    // MARK: Reading

    struct Head: Decodable {
        let id: UUID; let code: String; let from_supplier_id: UUID; let to_supplier_id: UUID; let new_order_id: UUID; let reason: String; let status: String
        let buyer_signed_at: Date?; let supplier_signed_at: Date?; let version: Int; let created_at: Date
        let from_code: String; let from_name: String; let to_code: String; let to_name: String; let order_code: String
    }

    static let headSQL = """
        SELECT h.id, h.code, h.from_supplier_id, h.to_supplier_id, h.new_order_id, h.reason, h.status, h.buyer_signed_at, h.supplier_signed_at, h.version,
               h.created_at, a.code AS from_code, a.name AS from_name, b.code AS to_code, b.name AS to_name, o.code AS order_code
        FROM handovers h JOIN organizations a ON a.id = h.from_supplier_id JOIN organizations b ON b.id = h.to_supplier_id
        JOIN outsourcing_orders o ON o.id = h.new_order_id
        """

    /// A handover is the buyer's and the handing-over supplier's; anyone else gets a 404.
    static func load(_ p: Principal, _ id: UUID, on db: any Database) async throws -> Head {
        guard let h = try await (db as! any SQLDatabase).raw("\(unsafeRaw: headSQL) WHERE h.id = \(bind: id)").firstRow(decoding: Head.self),
              p.scope.includes(organizationID: h.from_supplier_id) else { throw Problem.notFound }
        guard p.isSupplier || p.can(.handOverSuppliers) || p.can(.manageOrders) else { throw Problem.forbidden }
        return h
    }

    static func detail(_ p: Principal, _ id: UUID, on db: any Database) async throws -> HandoverDTO {
        let h = try await load(p, id, on: db)
        let sql = db as! any SQLDatabase
        struct L: Decodable { let from_order_id: UUID; let order_code: String; let from_line_no: Int; let to_line_no: Int; let item_code: String; let item_name: String; let uom: String; let quantity: Int64 }
        let lines = try await sql.raw("""
            SELECT l.from_order_id, o.code AS order_code, l.from_line_no, l.to_line_no, i.code AS item_code, i.name AS item_name, i.uom, l.quantity
            FROM handover_lines l JOIN outsourcing_orders o ON o.id = l.from_order_id JOIN items i ON i.id = l.item_id
            WHERE l.handover_id = \(bind: id) ORDER BY l.to_line_no
            """).rows(decoding: L.self)
        struct I: Decodable { let no: Int; let text: String; let done_at: Date?; let note: String }
        let items = try await sql.raw("SELECT no, text, done_at, note FROM handover_items WHERE handover_id = \(bind: id) ORDER BY no").rows(decoding: I.self)
        return HandoverDTO(id: h.id, code: h.code, fromSupplierId: h.from_supplier_id, fromSupplierCode: h.from_code, fromSupplierName: h.from_name,
                           toSupplierId: h.to_supplier_id, toSupplierCode: h.to_code, toSupplierName: h.to_name, newOrderId: h.new_order_id,
                           newOrderCode: p.isSupplier ? "" : h.order_code, reason: h.reason, status: h.status, buyerSignedAt: h.buyer_signed_at,
                           supplierSignedAt: h.supplier_signed_at, version: h.version, createdAt: h.created_at,
                           lines: lines.map { .init(fromOrderId: $0.from_order_id, fromOrderCode: $0.order_code, fromLine: $0.from_line_no, toLine: $0.to_line_no,
                                                    itemCode: $0.item_code, itemName: $0.item_name, unit: $0.uom, quantity: FixedDecimal(units: $0.quantity)) },
                           checklist: items.map { .init(no: $0.no, text: $0.text, done: $0.done_at != nil, doneAt: $0.done_at, note: $0.note) })
    }

    static func list(_ p: Principal, page: PageRequest, on db: any Database) async throws -> Page<HandoverDTO> {
        guard p.isSupplier || p.can(.handOverSuppliers) || p.can(.manageOrders) else { throw Problem.forbidden }
        let sql = db as! any SQLDatabase
        let scope: SQLQueryString = p.scope.supplierID.map { "WHERE h.from_supplier_id = \(bind: $0)" } ?? ""
        let total = try await sql.raw("SELECT COUNT(*) AS n FROM handovers h " + scope).first()?.decode(column: "n", as: Int.self) ?? 0
        let ids = try await sql.raw("SELECT h.id FROM handovers h " + scope + " ORDER BY h.created_at DESC, h.id LIMIT \(literal: page.per) OFFSET \(literal: page.offset)")
            .all().map { try $0.decode(column: "id", as: UUID.self) }
        var items: [HandoverDTO] = []
        for id in ids { items.append(try await detail(p, id, on: db)) }
        return Page(items: items, page: page.page, per: page.per, total: total)
    }

    // MARK: Checklist and sign-off

    static func tick(_ p: Principal, _ id: UUID, no: Int, _ input: HandoverItemInput, app: Application) async throws {
        let h = try await load(p, id, on: app.database)
        try p.require(.handOverSuppliers)
        guard h.status == "open", h.buyer_signed_at == nil else { throw Problem.conflict("problem.handover.signed") }
        try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned("handovers", id: id, expected: input.version, sets: [:])
            let sql = change.db as! any SQLDatabase
            let updated = try await sql.update("handover_items")
                .set("done_by", to: input.done ? p.userID : nil).set("done_at", to: input.done ? change.now : nil)
                .set("note", to: (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
                .where("handover_id", .equal, id).where("no", .equal, no).returning("id").all()
            guard !updated.isEmpty else { throw Problem.notFound }
            try await change.audit("handover", id, "checklist", after: ["item": String(no), "done": String(input.done), "note": input.note])
        }
    }

    /// The buyer signs once every item is done; the handing-over supplier signs for its side.
    /// With both, the handover is closed.
    static func sign(_ p: Principal, _ id: UUID, _ input: HandoverSignInput, app: Application) async throws {
        let h = try await load(p, id, on: app.database)
        if p.isSupplier { try p.require(.answerOrders) } else { try p.require(.handOverSuppliers) }
        guard h.status == "open" else { throw Problem.conflict("problem.handover.signed") }
        if !p.isSupplier {
            let open = try await (app.database as! any SQLDatabase).raw("SELECT COUNT(*) AS n FROM handover_items WHERE handover_id = \(bind: id) AND done_at IS NULL")
                .first()?.decode(column: "n", as: Int.self) ?? 0
            guard open == 0 else { throw Problem.conflict("problem.handover.itemsOpen", ["n": String(open)]) }
        }
        try await app.write(as: p.auditActor) { change in
            let side = p.isSupplier ? "supplier" : "buyer"
            let bothSigned = p.isSupplier ? h.buyer_signed_at != nil : h.supplier_signed_at != nil
            var sets: [String: any Encodable & Sendable] = ["\(side)_signed_by": p.userID, "\(side)_signed_at": change.now]
            if bothSigned { sets["status"] = "closed" }
            try await change.updateVersioned("handovers", id: id, expected: input.version, sets: sets)
            try await change.audit("handover", id, "sign", after: ["side": side, "status": bothSigned ? "closed" : "open"])
        }
    }
}
