import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

// MARK: - API shapes

struct DeliveryLineDTO: Content {
    let no: Int
    let orderLine: Int
    let itemCode: String
    let itemName: String
    let lot: String
    let quantity: FixedDecimal
    let receivedQuantity: FixedDecimal
    let remaining: FixedDecimal
}

struct DeliveryNoteDTO: Content {
    let id: UUID
    let code: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let orderId: UUID
    let orderCode: String
    let shipDate: String
    let status: String
    let note: String
    let version: Int
    let createdAt: Date
    let lines: [DeliveryLineDTO]
    let attachments: [DocumentDTO]
}

struct ReceiptLineDTO: Content {
    let no: Int
    let orderLine: Int
    let itemCode: String
    let itemName: String
    let lot: String
    let quantity: FixedDecimal
    let status: String
    let acceptedQuantity: FixedDecimal
    let rejectedQuantity: FixedDecimal
    let decidedAt: Date?
    let version: Int
    /// The incoming inspection that decided it (nil while it waits).
    let inspectionId: UUID?
}

struct ReceiptDTO: Content {
    let id: UUID
    let code: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let orderId: UUID
    let orderCode: String
    let deliveryNoteId: UUID?
    let deliveryNoteCode: String?
    let note: String
    let createdAt: Date
    let lines: [ReceiptLineDTO]
}

struct DeliveryInput: StrictInput {
    struct Line: Codable, Sendable { var line: Int; var quantity: FixedDecimal; var lot: String }
    static let fields: Set<String> = ["orderId", "shipDate", "note", "lines"]
    var orderId: UUID
    var shipDate: Day
    var note: String?
    var lines: [Line]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(note, "note", required: false, max: 1000, into: &p)
        MaterialInputs.checkCount(lines.count, into: &p)
        for (i, l) in lines.enumerated() {
            MaterialInputs.checkLot(l.lot, "lines[\(i)].lot", into: &p)
            MaterialInputs.checkQuantity(l.quantity, "lines[\(i)].quantity", into: &p)
        }
        return p
    }
}

struct ReceiptInput: StrictInput {
    struct Line: Codable, Sendable {
        /// Against a delivery note: its line number; lot and order line come from the note.
        var deliveryLine: Int?
        /// Direct receipts: the order line and the lot.
        var line: Int?
        var lot: String?
        var quantity: FixedDecimal
    }
    static let fields: Set<String> = ["orderId", "deliveryNoteId", "note", "lines"]
    var orderId: UUID?
    var deliveryNoteId: UUID?
    var note: String?
    var lines: [Line]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(note, "note", required: false, max: 1000, into: &p)
        if orderId == nil && deliveryNoteId == nil { p.append(FieldProblem("orderId", "required")) }
        MaterialInputs.checkCount(lines.count, into: &p)
        for (i, l) in lines.enumerated() {
            MaterialInputs.checkQuantity(l.quantity, "lines[\(i)].quantity", into: &p)
            if deliveryNoteId == nil {
                if l.line == nil { p.append(FieldProblem("lines[\(i)].line", "required")) }
                MaterialInputs.checkLot(l.lot ?? "", "lines[\(i)].lot", into: &p)
            } else if l.deliveryLine == nil {
                p.append(FieldProblem("lines[\(i)].deliveryLine", "required"))
            }
        }
        return p
    }
}

// MARK: - The service

/// Delivery notes from the supplier and goods receipts at the manufacturer's gate, with the
/// over-receipt tolerance; the outcome of each received line (accepted / rejected) counts as
/// delivered, consumes the components it used, and moves the order on.
enum DeliveryService {
    static func findNote(_ p: Principal, _ id: UUID, on db: any Database) async throws -> DeliveryNote {
        try await p.scope.find(DeliveryNote.self, id, on: db)
    }

    static func findReceipt(_ p: Principal, _ id: UUID, on db: any Database) async throws -> GoodsReceipt {
        try await p.scope.find(GoodsReceipt.self, id, on: db)
    }

    /// Per open order line: ordered, counted (received and not rejected), accepted, and shipped
    /// on delivery notes but not received yet.
    struct LineState {
        let line: OrderLineRow
        var counted: FixedDecimal = .zero
        var accepted: FixedDecimal = .zero
        var awaitingInspection: FixedDecimal = .zero
        var shippedOpen: FixedDecimal = .zero
        var ordered: FixedDecimal { FixedDecimal(units: line.quantity) }
    }

    static func lineStates(_ orderID: UUID, on db: any Database) async throws -> [Int: LineState] {
        let lines = try await OrderLineRow.query(on: db).filter(\.$orderID == orderID).all()
        var out = Dictionary(uniqueKeysWithValues: lines.map { ($0.number, LineState(line: $0)) })
        struct R: Decodable { let order_line_no: Int; let counted: Int64; let accepted: Int64; let waiting: Int64 }
        let sql = db as! any SQLDatabase
        for r in try await sql.raw("""
            SELECT order_line_no, CAST(SUM(quantity - rejected_quantity) AS BIGINT) AS counted, CAST(SUM(accepted_quantity) AS BIGINT) AS accepted,
                   CAST(SUM(CASE WHEN status = 'awaiting_inspection' THEN quantity ELSE 0 END) AS BIGINT) AS waiting
            FROM receipt_lines WHERE order_id = \(bind: orderID) GROUP BY order_line_no
            """).rows(decoding: R.self) {
            out[r.order_line_no]?.counted = FixedDecimal(units: r.counted)
            out[r.order_line_no]?.accepted = FixedDecimal(units: r.accepted)
            out[r.order_line_no]?.awaitingInspection = FixedDecimal(units: r.waiting)
        }
        struct S: Decodable { let order_line_no: Int; let open: Int64 }
        for r in try await sql.raw("""
            SELECT l.order_line_no, CAST(SUM(l.quantity - l.received_quantity) AS BIGINT) AS open FROM delivery_note_lines l
            JOIN delivery_notes n ON n.id = l.note_id WHERE n.order_id = \(bind: orderID) AND n.status IN ('shipped', 'partially_received')
            GROUP BY l.order_line_no
            """).rows(decoding: S.self) {
            out[r.order_line_no]?.shippedOpen = FixedDecimal(units: max(0, r.open))
        }
        return out
    }

    static func overReceipt(_ r: Receiving.Refusal, field: String, line: Int) -> Problem {
        switch r {
        case .overReceipt(let remaining): .validation([FieldProblem(field, "overReceipt", ["line": String(line), "remaining": remaining.description])])
        case .nonPositive: .validation([FieldProblem(field, "positiveDecimal")])
        case .overflow: .validation([FieldProblem(field, "tooLarge")])
        }
    }

    static func lockOrder(_ id: UUID, in change: Change) async throws {
        guard change.postgres else { return }
        try await (change.db as! any SQLDatabase).raw("SELECT id FROM outsourcing_orders WHERE id = \(bind: id) FOR UPDATE").run()
    }

    // MARK: Delivery notes

    static func createNote(_ p: Principal, _ input: DeliveryInput, app: Application) async throws -> DeliveryNote {
        let order = try await OrderService.find(p, input.orderId, on: app.modelReads)
        try p.require(.fulfilOrders)
        guard p.organizationID == order.supplierID else { throw Problem.forbidden }
        guard MaterialService.workingStatuses.contains(order.orderStatus) else {
            throw Problem.conflict("problem.material.orderNotWorking", ["status": order.status])
        }
        let tolerance = app.subcon.settings.overReceiptPercent
        return try await app.write(as: p.auditActor) { change in
            try await lockOrder(order.id!, in: change)
            var states = try await lineStates(order.id!, on: change.db)
            for (i, l) in input.lines.enumerated() {
                guard let s = states[l.line], s.line.state == OrderLine.State.open.rawValue else {
                    throw Problem.validation([FieldProblem("lines[\(i)].line", "unknownLine", ["line": String(l.line)])])
                }
                // Shipped and not yet received counts too: a note cannot announce more than the
                // line may still take.
                let counted = (try? s.counted.adding(s.shippedOpen)) ?? s.counted
                do throws(Receiving.Refusal) { try Receiving.check(incoming: l.quantity, ordered: s.ordered, counted: counted, tolerancePercent: tolerance) } catch {
                    throw overReceipt(error, field: "lines[\(i)].quantity", line: l.line)
                }
                states[l.line]?.shippedOpen = (try? s.shippedOpen.adding(l.quantity)) ?? s.shippedOpen
            }
            try await TechDocService.checkAcknowledged(supplier: order.supplierID, order: order.id!,
                                                       items: Array(Set(input.lines.compactMap { states[$0.line]?.line.itemID })), on: change.db)
            let n = DeliveryNote()
            n.id = UUID(); n.code = try await MaterialService.code("delivery", prefix: "SH", in: change); n.supplierID = order.supplierID
            n.orderID = order.id!; n.shipDate = input.shipDate.description; n.status = "shipped"; n.note = input.note ?? ""; n.version = 1
            n.createdBy = p.userID; n.createdAt = change.now
            try await n.create(on: change.db)
            for (i, l) in input.lines.enumerated() {
                let row = DeliveryNoteLine()
                row.noteID = n.id!; row.number = i + 1; row.orderLineNumber = l.line; row.itemID = states[l.line]!.line.itemID
                row.lot = l.lot; row.quantity = l.quantity.units; row.receivedQuantity = 0
                try await row.create(on: change.db)
            }
            try await ShipReadiness.refresh(order.id!, on: change.db as! any SQLDatabase)
            try await change.audit("delivery_note", n.id, "create", after: [
                "code": n.code, "order": order.code, "ship_date": n.shipDate,
                "lines": input.lines.map { "\($0.line) \($0.lot) \($0.quantity)" }.joined(separator: "; ")])
            let people = try await OrderService.manufacturerPeople(with: .warehouse, on: change.db) + OrderService.buyers(order, on: change.db)
            try await change.notify("delivery.shipped", recipients: Array(Set(people)), messageKey: "notice.deliveryShipped",
                                    params: ["code": n.code, "order": order.code, "date": n.shipDate], link: "/deliveries/\(n.id!)")
            return n
        }
    }

    static let attachmentTypes: Set<FileType> = [.pdf, .jpeg, .png, .webp, .officeZip]

    /// The supplier's people (a CoA with the shipment) and the warehouse (papers found at receipt).
    static func mayAttach(_ p: Principal) -> Bool { p.can(.fulfilOrders) || p.can(.handleMaterial) }

    static func attach(_ p: Principal, _ id: UUID, filename: String, data: Data, app: Application) async throws -> Document {
        let n = try await findNote(p, id, on: app.modelReads)
        guard mayAttach(p) else { throw Problem.forbidden }
        return try await app.write(as: p.auditActor) { change in
            let doc = try await DocumentService.store(data, filename: filename, allowed: attachmentTypes, owner: n.supplierID, entity: "delivery_note",
                                                      entityID: id.uuidString, by: p.userID, in: change)
            try await change.audit("delivery_note", id, "attach", after: ["file": doc.filename, "sha256": doc.sha256])
            return doc
        }
    }

    static func cancelNote(_ p: Principal, _ id: UUID, version: Int, app: Application) async throws -> DeliveryNote {
        let n = try await findNote(p, id, on: app.modelReads)
        try p.require(.fulfilOrders)
        guard n.version == version else { throw Problem.staleVersion(current: n.version) }
        guard n.status == "shipped" else { throw Problem.conflict("problem.delivery.notCancellable", ["status": n.status]) }
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(DeliveryNote.schema, id: id, expected: version, sets: ["status": "cancelled"])
            n.status = "cancelled"; n.version += 1
            try await ShipReadiness.refresh(n.orderID, on: change.db as! any SQLDatabase)
            try await change.audit("delivery_note", id, "cancel", before: ["status": "shipped"], after: ["status": "cancelled"])
            return n
        }
    }

    // MARK: Receipts

    static func receive(_ p: Principal, _ input: ReceiptInput, app: Application) async throws -> GoodsReceipt {
        try p.require(.handleMaterial)
        var note: DeliveryNote?
        var orderID = input.orderId
        if let nid = input.deliveryNoteId {
            guard let n = try await DeliveryNote.find(nid, on: app.modelReads) else { throw Problem.validation([FieldProblem("deliveryNoteId", "unknownDeliveryNote")]) }
            if let oid = orderID, oid != n.orderID { throw Problem.validation([FieldProblem("orderId", "notTheNotesOrder")]) }
            guard ["shipped", "partially_received"].contains(n.status) else { throw Problem.conflict("problem.delivery.notOpen", ["status": n.status]) }
            note = n; orderID = n.orderID
        }
        guard let oid = orderID, let order = try await OutsourcingOrder.find(oid, on: app.modelReads) else {
            throw Problem.validation([FieldProblem("orderId", "unknownOrder")])
        }
        guard MaterialService.workingStatuses.contains(order.orderStatus) else {
            throw Problem.conflict("problem.material.orderNotWorking", ["status": order.status])
        }
        let tolerance = app.subcon.settings.overReceiptPercent
        let theNote = note
        return try await app.write(as: p.auditActor) { change in
            try await lockOrder(order.id!, in: change)
            var states = try await lineStates(order.id!, on: change.db)
            let noteLines = try await theNote.asyncMap { n in
                Dictionary(uniqueKeysWithValues: try await DeliveryNoteLine.query(on: change.db).filter(\.$noteID == n.id!).all().map { ($0.number, $0) })
            } ?? [:]
            var received: [(line: Int, lot: String, quantity: FixedDecimal, noteLine: DeliveryNoteLine?)] = []
            for (i, l) in input.lines.enumerated() {
                var number = l.line ?? 0, lot = l.lot ?? ""
                var noteLine: DeliveryNoteLine?
                if theNote != nil {
                    guard let nl = noteLines[l.deliveryLine ?? -1] else {
                        throw Problem.validation([FieldProblem("lines[\(i)].deliveryLine", "unknownLine", ["line": String(l.deliveryLine ?? 0)])])
                    }
                    let open = nl.quantity - nl.receivedQuantity
                    if l.quantity.units > open {
                        throw Problem.validation([FieldProblem("lines[\(i)].quantity", "moreThanShipped", ["remaining": FixedDecimal(units: max(0, open)).description])])
                    }
                    number = nl.orderLineNumber; lot = nl.lot; noteLine = nl
                    nl.receivedQuantity += l.quantity.units
                }
                guard let s = states[number], s.line.state == OrderLine.State.open.rawValue else {
                    throw Problem.validation([FieldProblem("lines[\(i)].line", "unknownLine", ["line": String(number)])])
                }
                do throws(Receiving.Refusal) { try Receiving.check(incoming: l.quantity, ordered: s.ordered, counted: s.counted, tolerancePercent: tolerance) } catch {
                    throw overReceipt(error, field: "lines[\(i)].quantity", line: number)
                }
                states[number]?.counted = (try? s.counted.adding(l.quantity)) ?? s.counted
                received.append((number, lot, l.quantity, noteLine))
            }
            let r = GoodsReceipt()
            r.id = UUID(); r.code = try await MaterialService.code("receipt", prefix: "SR", in: change); r.supplierID = order.supplierID
            r.orderID = order.id!; r.deliveryNoteID = theNote?.id; r.note = input.note ?? ""; r.createdBy = p.userID; r.createdAt = change.now
            r.receiptDay = change.today.description
            try await r.create(on: change.db)
            var created: [ReceiptLine] = []
            for (i, x) in received.enumerated() {
                let row = ReceiptLine()
                row.receiptID = r.id!; row.number = i + 1; row.supplierID = order.supplierID; row.orderID = order.id!; row.orderLineNumber = x.line
                row.itemID = states[x.line]!.line.itemID; row.lot = x.lot; row.quantity = x.quantity.units; row.status = "awaiting_inspection"
                row.acceptedQuantity = 0; row.rejectedQuantity = 0; row.version = 1; row.receivedAt = change.now
                try await row.create(on: change.db)
                try await x.noteLine?.save(on: change.db)
                created.append(row)
            }
            if let n = theNote {
                let all = try await DeliveryNoteLine.query(on: change.db).filter(\.$noteID == n.id!).all()
                let status = all.allSatisfy { $0.receivedQuantity >= $0.quantity } ? "received" : "partially_received"
                try await change.updateVersioned(DeliveryNote.schema, id: n.id!, expected: n.version, sets: ["status": status])
            }
            try await change.audit("goods_receipt", r.id, "create", after: [
                "code": r.code, "order": order.code, "delivery_note": theNote?.code,
                "lines": received.map { "\($0.line) \($0.lot) \($0.quantity)" }.joined(separator: "; ")])
            if let n = theNote { try await change.settleNotices(["delivery.shipped"], link: "/deliveries/\(n.id!)", forUsersOf: p.organizationID) }
            try await InspectionService.acceptExempt(r, created, by: p.userID, in: change)
            try await change.notify("receipt.awaitingInspection", recipients: try await OrderService.manufacturerPeople(with: .quality, on: change.db),
                                    messageKey: "notice.receiptAwaitingInspection", params: ["code": r.code, "order": order.code], link: "/receipts/\(r.id!)")
            try await OrderService.notifySupplier(order, "receipt.created", "notice.goodsReceived", in: change, params: ["receipt": r.code])
            return r
        }
    }

    /// The outcome of a received line, as incoming inspection decided it: accepted goods count
    /// as delivered and consume their components; the order moves on. Runs inside the caller's
    /// change, which holds the order's lock.
    static func recordOutcome(_ r: GoodsReceipt, _ line: ReceiptLine, status: String, accepted: FixedDecimal, rejected: FixedDecimal,
                              expectedVersion: Int, by user: UUID, in change: Change) async throws {
        try await Ledger.lock(supplier: r.supplierID, in: change)
        try await change.updateVersioned(ReceiptLine.schema, id: line.id!, expected: expectedVersion, sets: [
            "status": status, "accepted_quantity": accepted.units, "rejected_quantity": rejected.units,
            "decided_by": user, "decided_at": change.now])
        let reqs = try await MaterialService.requirements(r.orderID, on: change.db).filter { $0.line == line.orderLineNumber }
        try await consume(r, line, accepted: accepted, requirements: reqs, by: user, in: change)
        guard let order = try await OutsourcingOrder.find(r.orderID, on: change.db) else { throw Problem.notFound }
        try await moveOrder(order, in: change)
        try await change.audit("goods_receipt", r.id, "decide", before: ["line \(line.number)": "awaiting_inspection"],
                               after: ["line \(line.number)": status, "accepted": accepted.description, "rejected": rejected.description])
        try await OrderService.notifySupplier(order, "receipt.decided", "notice.receiptDecided.\(status)", in: change,
                                              params: ["receipt": r.code, "accepted": accepted.description, "rejected": rejected.description])
    }

    /// Consumption = accepted × quantity per, for each component the manufacturer supplied,
    /// booked on the supplier's lots of that component (see `Consumption.allocate`).
    static func consume(_ r: GoodsReceipt, _ line: ReceiptLine, accepted: FixedDecimal, requirements: [MaterialService.Requirement],
                        by user: UUID, in change: Change) async throws {
        guard accepted > .zero, !requirements.isEmpty else { return }
        let held = try await Ledger.lotsToConsume(supplier: r.supplierID, items: requirements.map { $0.component.id! }, in: change)
        for req in requirements {
            let (consumed, allowance) = try Consumption.of(accepted: accepted, quantityPer: req.quantityPer, scrapPercent: req.scrapPercent)
            let lots = held[req.component.id!]
            for (i, part) in Consumption.allocate(consumed, held: lots?.held ?? [], lastLot: lots?.lastLot).enumerated() {
                // The allowance goes with the first part, so it is rounded once per receipt line.
                try await Ledger.record(.consumed, supplier: r.supplierID, item: req.component.id!, lot: part.lot, quantity: part.quantity,
                                        allowance: i == 0 ? allowance : .zero, order: r.orderID, line: line.orderLineNumber,
                                        receiptLine: line.id, by: user, in: change)
            }
        }
    }

    /// Accepted quantities decide whether the order is partially delivered or delivered.
    static func moveOrder(_ order: OutsourcingOrder, in change: Change) async throws {
        let states = try await lineStates(order.id!, on: change.db).values.filter { $0.line.state == OrderLine.State.open.rawValue }
        guard let target = Receiving.deliveryStatus(states.map { ($0.ordered, $0.accepted) }), target != order.orderStatus,
              order.orderStatus.canMove(to: target) else { return }
        try await change.updateVersioned(OutsourcingOrder.schema, id: order.id!, expected: order.version, sets: ["status": target.rawValue, "updated_at": change.now])
        try await change.audit("order", order.id, "deliver", before: ["status": order.status], after: ["status": target.rawValue])
        order.status = target.rawValue; order.version += 1
    }

    // MARK: Reading

    static func noteDTO(_ n: DeliveryNote, on db: any Database) async throws -> DeliveryNoteDTO {
        let lines = try await DeliveryNoteLine.query(on: db).filter(\.$noteID == n.id!).sort(\.$number).all()
        let items = try await OrderService.itemCodes(Set(lines.map(\.itemID)), on: db)
        let supplier = try await Organization.find(n.supplierID, on: db)
        let order = try await OutsourcingOrder.find(n.orderID, on: db)
        let docs = try await DocumentService.list(entity: "delivery_note", ids: [n.id!.uuidString], on: db)
        return DeliveryNoteDTO(
            id: n.id!, code: n.code, supplierId: n.supplierID, supplierCode: supplier?.code ?? "", supplierName: supplier?.name ?? "",
            orderId: n.orderID, orderCode: order?.code ?? "", shipDate: n.shipDate, status: n.status, note: n.note, version: n.version,
            createdAt: n.createdAt,
            lines: lines.map { l in
                DeliveryLineDTO(no: l.number, orderLine: l.orderLineNumber, itemCode: items[l.itemID]?.code ?? "", itemName: items[l.itemID]?.name ?? "",
                                lot: l.lot, quantity: FixedDecimal(units: l.quantity), receivedQuantity: FixedDecimal(units: l.receivedQuantity),
                                remaining: FixedDecimal(units: max(0, l.quantity - l.receivedQuantity)))
            },
            attachments: docs.map(DocumentDTO.init))
    }

    static func receiptDTO(_ r: GoodsReceipt, on db: any Database) async throws -> ReceiptDTO {
        let lines = try await ReceiptLine.query(on: db).filter(\.$receiptID == r.id!).sort(\.$number).all()
        let items = try await OrderService.itemCodes(Set(lines.map(\.itemID)), on: db)
        let supplier = try await Organization.find(r.supplierID, on: db)
        let order = try await OutsourcingOrder.find(r.orderID, on: db)
        let note = try await r.deliveryNoteID.asyncMap { try await DeliveryNote.find($0, on: db) } ?? nil
        let inspections = try await Inspection.query(on: db).filter(\.$receiptID == r.id!).all()
        return ReceiptDTO(
            id: r.id!, code: r.code, supplierId: r.supplierID, supplierCode: supplier?.code ?? "", supplierName: supplier?.name ?? "",
            orderId: r.orderID, orderCode: order?.code ?? "", deliveryNoteId: r.deliveryNoteID, deliveryNoteCode: note?.code, note: r.note,
            createdAt: r.createdAt,
            lines: lines.map { l in
                ReceiptLineDTO(no: l.number, orderLine: l.orderLineNumber, itemCode: items[l.itemID]?.code ?? "", itemName: items[l.itemID]?.name ?? "",
                               lot: l.lot, quantity: FixedDecimal(units: l.quantity), status: l.status,
                               acceptedQuantity: FixedDecimal(units: l.acceptedQuantity), rejectedQuantity: FixedDecimal(units: l.rejectedQuantity),
                               decidedAt: l.decidedAt, version: l.version, inspectionId: inspections.first { $0.receiptLineID == l.id }?.id)
            })
    }
}
