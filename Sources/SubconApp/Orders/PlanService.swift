import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct PlanLineDTO: Content {
    let number: Int
    let itemId: UUID
    let itemCode: String
    let itemName: String
    let quantity: FixedDecimal
    let dueDate: String
    /// Who the release proposed and why: each outsourced operation's supplier and the reason
    /// (`routing_default`, `preferred` — graded A last month, `lowest_price`).
    let suppliers: [SupplierChoiceDTO]
}

struct SupplierChoiceDTO: Content {
    let supplierCode: String
    let operation: String?
    let reason: String
}

struct PlanDTO: Content {
    struct OrderRef: Content { let id: UUID; let code: String; let supplierCode: String; let status: String }
    struct ChangeProposalDTO: Content {
        let id: UUID; let planLine: Int; let orderId: UUID; let orderCode: String; let orderLine: Int
        let quantity: FixedDecimal; let dueDate: String; let status: String
    }
    let id: UUID
    let code: String
    let plantId: UUID
    let plantCode: String
    let period: String
    let status: String
    let note: String
    let version: Int
    let createdAt: Date
    let releasedAt: Date?
    let lines: [PlanLineDTO]
    let orders: [OrderRef]
    let changeProposals: [ChangeProposalDTO]
}

struct PlanLineInput: Codable, Sendable {
    var itemCode: String
    var quantity: FixedDecimal
    var dueDate: Day
}

struct NewPlanInput: StrictInput {
    static let fields: Set<String> = ["code", "plantId", "period", "note", "lines"]
    var code: String?
    var plantId: UUID
    var period: String
    var note: String?
    var lines: [PlanLineInput]
    func validate() -> [FieldProblem] {
        var p = PlanInputs.check(lines)
        if let code, !code.isEmpty { Check.code(code, "code", into: &p) }
        Check.text(period, "period", max: 40, into: &p)
        Check.text(note, "note", required: false, max: 1000, into: &p)
        return p
    }
}

struct PlanPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "period", "note", "lines"]
    var version: Int
    var period: String?
    var note: String?
    var lines: [PlanLineInput]?
    func validate() -> [FieldProblem] {
        var p = lines.map(PlanInputs.check) ?? []
        Check.text(period, "period", required: false, max: 40, into: &p)
        Check.text(note, "note", required: false, max: 1000, into: &p)
        return p
    }
}

struct PlanLineChangeInput: StrictInput {
    static let fields: Set<String> = ["version", "quantity", "dueDate"]
    var version: Int
    var quantity: FixedDecimal
    var dueDate: Day
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if quantity <= .zero { p.append(FieldProblem("quantity", "positiveDecimal")) }
        if quantity >= OrderLines.maxQuantity { p.append(FieldProblem("quantity", "tooLarge")) }
        return p
    }
}

enum PlanInputs {
    static func check(_ lines: [PlanLineInput]) -> [FieldProblem] {
        var p: [FieldProblem] = []
        if lines.isEmpty { p.append(FieldProblem("lines", "required")) }
        if lines.count > 500 { p.append(FieldProblem("lines", "tooMany", ["max": "500"])) }
        for (i, l) in lines.enumerated() {
            if l.quantity <= .zero { p.append(FieldProblem("lines[\(i)].quantity", "positiveDecimal")) }
            if l.quantity >= OrderLines.maxQuantity { p.append(FieldProblem("lines[\(i)].quantity", "tooLarge")) }
        }
        return p
    }
}

struct ReleaseResultDTO: Content {
    struct Unassigned: Content { let planLine: Int; let itemCode: String; let operation: String? }
    let plan: PlanDTO
    let orders: [PlanDTO.OrderRef]
    /// Outsourced lines or operations no qualified supplier holds a valid price for.
    let unassigned: [Unassigned]
}

/// Production plans: drafts, release (proposing draft orders per supplier for the planner to
/// review and release), changes after release (proposing order revisions), closing.
enum PlanService {
    static func find(_ id: UUID, on db: any Database) async throws -> ProductionPlan {
        guard let plan = try await ProductionPlan.find(id, on: db) else { throw Problem.notFound }
        return plan
    }

    /// Plans are the manufacturer's: suppliers see the orders, never the plan behind them.
    static func requireView(_ p: Principal) throws {
        guard !p.isSupplier else { throw Problem.notFound }
    }

    static func dto(_ plan: ProductionPlan, on db: any Database) async throws -> PlanDTO {
        let lines = try await PlanLineRow.query(on: db).filter(\.$planID == plan.id!).sort(\.$number).all()
        let items = try await OrderService.itemCodes(Set(lines.map(\.itemID)), on: db)
        let plant = try await Site.find(plan.plantID, on: db)
        let orders = try await OutsourcingOrder.query(on: db).filter(\.$planID == plan.id!).sort(\.$code).all()
        let suppliers = Dictionary(uniqueKeysWithValues: try await Organization.query(on: db).filter(\.$id ~~ Set(orders.map(\.supplierID))).all()
            .map { ($0.id!, $0.code) })
        let proposals = try await PlanChangeProposal.query(on: db).filter(\.$planID == plan.id!).sort(\.$createdAt).all()
        let codes = Dictionary(uniqueKeysWithValues: orders.map { ($0.id!, $0.code) })
        return PlanDTO(
            id: plan.id!, code: plan.code, plantId: plan.plantID, plantCode: plant?.code ?? "", period: plan.period, status: plan.status,
            note: plan.note, version: plan.version, createdAt: plan.createdAt, releasedAt: plan.releasedAt,
            lines: lines.map { PlanLineDTO(number: $0.number, itemId: $0.itemID, itemCode: items[$0.itemID]?.code ?? "", itemName: items[$0.itemID]?.name ?? "",
                                           quantity: FixedDecimal(units: $0.quantity), dueDate: $0.dueDate,
                                           suppliers: Self.choices($0.supplierChoice)) },
            orders: orders.map { .init(id: $0.id!, code: $0.code, supplierCode: suppliers[$0.supplierID] ?? "", status: $0.status) },
            changeProposals: proposals.map { .init(id: $0.id!, planLine: $0.planLineNumber, orderId: $0.orderID, orderCode: codes[$0.orderID] ?? "",
                                                   orderLine: $0.orderLineNumber, quantity: FixedDecimal(units: $0.quantity), dueDate: $0.dueDate, status: $0.status) })
    }

    private static func resolveLines(_ input: [PlanLineInput], on db: any Database) async throws -> [(PlanLineInput, Item)] {
        let items = try await ImportService.items(input.map { $0.itemCode.trimmingCharacters(in: .whitespaces) }, on: db)
        var problems: [FieldProblem] = []
        var out: [(PlanLineInput, Item)] = []
        for (i, l) in input.enumerated() {
            let code = l.itemCode.trimmingCharacters(in: .whitespaces)
            guard let item = items[code], item.active else { problems.append(FieldProblem("lines[\(i)].itemCode", "unknownItem", ["code": code])); continue }
            out.append((l, item))
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        return out
    }

    private static func writeLines(_ planID: UUID, _ lines: [(PlanLineInput, Item)], on db: any Database) async throws {
        try await PlanLineRow.query(on: db).filter(\.$planID == planID).delete()
        for (i, (l, item)) in lines.enumerated() {
            let r = PlanLineRow()
            r.planID = planID; r.number = i + 1; r.itemID = item.id!; r.quantity = l.quantity.units; r.dueDate = l.dueDate.description
            try await r.create(on: db)
        }
    }

    static func snapshot(_ plan: ProductionPlan, _ lines: [(PlanLineInput, Item)]) -> [String: String?] {
        var s = plan.auditSnapshot
        s["lines"] = lines.map { "\($0.1.code) \($0.0.quantity) \($0.0.dueDate)" }.joined(separator: "; ")
        return s
    }

    static func create(_ p: Principal, _ input: NewPlanInput, app: Application) async throws -> ProductionPlan {
        try p.require(.managePlans)
        guard let plant = try await Site.find(input.plantId, on: app.database), plant.kind == SiteKind.plant.rawValue else {
            throw Problem.validation([FieldProblem("plantId", "unknownPlant")])
        }
        let lines = try await resolveLines(input.lines, on: app.database)
        if let code = input.code, !code.isEmpty, try await ProductionPlan.query(on: app.database).filter(\.$code == code).count() > 0 {
            throw Problem.conflict("problem.conflict.codeTaken", fields: [FieldProblem("code", "taken")])
        }
        return try await app.write(as: p.auditActor) { change in
            let plan = ProductionPlan()
            plan.id = UUID()
            if let code = input.code, !code.isEmpty { plan.code = code } else {
                let month = change.now.formatted(.iso8601.year().month().dateSeparator(.omitted))
                plan.code = "JH\(month)-\(String(format: "%03d", try await Sequences.next("plan-\(month)", on: change.db)))"
            }
            plan.plantID = plant.id!; plan.period = input.period; plan.status = PlanStatus.draft.rawValue; plan.note = input.note ?? ""
            plan.version = 1; plan.createdBy = p.userID; plan.createdAt = change.now
            try await plan.create(on: change.db)
            try await writeLines(plan.id!, lines, on: change.db)
            try await change.audit("plan", plan.id, "create", after: snapshot(plan, lines))
            return plan
        }
    }

    static func update(_ p: Principal, _ id: UUID, _ input: PlanPatchInput, app: Application) async throws -> ProductionPlan {
        try p.require(.managePlans)
        let plan = try await find(id, on: app.database)
        guard plan.version == input.version else { throw Problem.staleVersion(current: plan.version) }
        guard plan.status == PlanStatus.draft.rawValue else { throw Problem.conflict("problem.plan.notDraft") }
        var resolved: [(PlanLineInput, Item)]?
        if let l = input.lines { resolved = try await resolveLines(l, on: app.database) }
        let lines = resolved
        return try await app.write(as: p.auditActor) { change in
            let before = plan.auditSnapshot
            if let v = input.period { plan.period = v }
            if let v = input.note { plan.note = v }
            try await change.updateVersioned(ProductionPlan.schema, id: id, expected: input.version, sets: ["period": plan.period, "note": plan.note])
            plan.version += 1
            if let lines { try await writeLines(id, lines, on: change.db) }
            try await change.audit("plan", id, "update", before: before, after: lines.map { snapshot(plan, $0) } ?? plan.auditSnapshot)
            return plan
        }
    }

    /// Draft → released, proposing one draft order per supplier for the outsourced lines and
    /// operations (see `OrderProposal.make`). The planner reviews and releases those orders.
    static func release(_ p: Principal, _ id: UUID, version: Int, app: Application) async throws -> ReleaseResultDTO {
        try p.require(.managePlans)
        let plan = try await find(id, on: app.database)
        guard plan.version == version else { throw Problem.staleVersion(current: plan.version) }
        guard PlanStatus(rawValue: plan.status)?.canMove(to: .released) == true else {
            throw Problem.conflict("problem.plan.transition", ["from": plan.status, "to": PlanStatus.released.rawValue])
        }
        let rows = try await PlanLineRow.query(on: app.database).filter(\.$planID == id).sort(\.$number).all()
        let items = try await OrderService.itemCodes(Set(rows.map(\.itemID)), on: app.database)
        let planLines = rows.map { PlanLine(number: $0.number, item: items[$0.itemID]!.code, quantity: FixedDecimal(units: $0.quantity), dueDate: Day($0.dueDate)!) }
        let (routings, agreements, statuses, supplierIDs) = try await proposalInputs(itemIDs: Array(items.keys), on: app.database)
        let today = app.subcon.today()
        // Suppliers graded A last month come first among those with a valid price.
        let preferredIDs = try await ScorecardService.preferred(on: app.database, today: today)
        let preferred = Set(supplierIDs.filter { preferredIDs.contains($0.value) }.map(\.key))
        let (proposed, unassigned) = OrderProposal.make(planLines, routings: routings, agreements: agreements, supplierStatus: statuses,
                                                        preferred: preferred, on: today)
        var choices: [Int: [String]] = [:]
        for order in proposed { for l in order.lines { choices[l.planLine, default: []].append("\(order.supplier)|\(l.operation ?? "")|\(l.reason.rawValue)") } }
        let chosen = choices
        let lineIDs = Dictionary(uniqueKeysWithValues: rows.map { ($0.number, $0.id!) })
        let itemIDs = Dictionary(uniqueKeysWithValues: items.values.map { ($0.code, $0.id!) })
        try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(ProductionPlan.schema, id: id, expected: version,
                                             sets: ["status": PlanStatus.released.rawValue, "released_at": change.now])
            plan.status = PlanStatus.released.rawValue; plan.version += 1; plan.releasedAt = change.now
            for (number, list) in chosen.sorted(by: { $0.key < $1.key }) {
                try await (change.db as! any SQLDatabase).update("production_plan_lines").set("supplier_choice", to: list.joined(separator: ";"))
                    .where("plan_id", .equal, id).where("line_no", .equal, number).run()
            }
            for order in proposed {
                let lines = order.lines.enumerated().map { i, l in
                    (line: OrderLine(number: i + 1, item: l.item, operation: l.operation, quantity: l.quantity, dueDate: l.dueDate, unitPrice: l.unitPrice),
                     itemID: itemIDs[l.item]!)
                }
                let links = Dictionary(uniqueKeysWithValues: order.lines.enumerated().map { i, l in (i + 1, lineIDs[l.planLine]!) })
                _ = try await OrderService.createDraft(p, supplierID: supplierIDs[order.supplier]!, note: "", lines: lines,
                                                       currency: order.lines.first?.currency ?? "CNY", planID: id, planLines: links, in: change)
            }
            try await change.audit("plan", id, "release", before: ["status": PlanStatus.draft.rawValue],
                                   after: ["status": plan.status, "orders": String(proposed.count), "unassigned": String(unassigned.count),
                                           "choices": chosen.sorted(by: { $0.key < $1.key }).map { "\($0.key): \($0.value.joined(separator: ", "))" }.joined(separator: "; ")])
        }
        let dto = try await dto(plan, on: app.database)
        return ReleaseResultDTO(plan: dto, orders: dto.orders,
                                unassigned: unassigned.map { .init(planLine: $0.planLine, itemCode: $0.item, operation: $0.operation) })
    }

    static func choices(_ stored: String?) -> [SupplierChoiceDTO] {
        (stored ?? "").split(separator: ";").compactMap { part in
            let f = part.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 3 else { return nil }
            return SupplierChoiceDTO(supplierCode: f[0], operation: f[1].isEmpty ? nil : f[1], reason: f[2])
        }
    }

    /// Routings, agreements (codes) and supplier statuses for the proposal, for these items.
    static func proposalInputs(itemIDs: [UUID], on db: any Database) async throws
        -> ([String: [RoutingOperation]], [PriceAgreement], [String: SupplierStatus], [String: UUID]) {
        let items = try await OrderService.itemCodes(Set(itemIDs), on: db)
        var routings: [String: [RoutingOperation]] = [:]
        let headers = try await RoutingHeader.query(on: db).filter(\.$item.$id ~~ itemIDs).with(\.$operations) { $0.with(\.$defaultSupplier) }.all()
        for h in headers {
            guard let code = items[h.$item.id]?.code else { continue }
            routings[code] = h.operations.map {
                RoutingOperation(sequence: $0.sequence, code: $0.code, name: $0.name, mode: RoutingOperation.Mode(rawValue: $0.mode) ?? .inHouse,
                                 defaultSupplier: $0.defaultSupplier?.code)
            }
        }
        let suppliers = try await Organization.query(on: db).filter(\.$kind == OrganizationKind.supplier.rawValue).filter(\.$active == true).all()
        let codes = Dictionary(uniqueKeysWithValues: suppliers.map { ($0.id!, $0.code) })
        let profiles = try await SupplierProfile.query(on: db).all()
        var statuses: [String: SupplierStatus] = [:]
        for pr in profiles { if let c = codes[pr.$organization.id] { statuses[c] = pr.supplierStatus } }
        let agreements = try await PriceAgreementRow.query(on: db).filter(\.$item.$id ~~ itemIDs).all().compactMap { row -> PriceAgreement? in
            guard let item = items[row.$item.id]?.code, let supplier = codes[row.$supplier.id] else { return nil }
            var a = row.domain(itemCode: item)
            a.supplier = supplier
            return a
        }
        return (routings, agreements, statuses, Dictionary(uniqueKeysWithValues: suppliers.map { ($0.code, $0.id!) }))
    }

    /// A released plan line changes: draft orders follow at once; orders the supplier has seen get
    /// a proposed revision for the planner to confirm.
    static func changeLine(_ p: Principal, _ id: UUID, line number: Int, _ input: PlanLineChangeInput, app: Application) async throws -> PlanDTO {
        try p.require(.managePlans)
        let plan = try await find(id, on: app.database)
        guard plan.version == input.version else { throw Problem.staleVersion(current: plan.version) }
        guard plan.status == PlanStatus.released.rawValue else { throw Problem.conflict("problem.plan.notReleased") }
        guard let row = try await PlanLineRow.query(on: app.database).filter(\.$planID == id).filter(\.$number == number).first() else { throw Problem.notFound }
        let linked = try await OrderLineRow.query(on: app.database).filter(\.$planLineID == row.id!).all()
        let orders = Dictionary(uniqueKeysWithValues: try await OutsourcingOrder.query(on: app.database).filter(\.$id ~~ Set(linked.map(\.orderID))).all().map { ($0.id!, $0) })
        try await app.write(as: p.auditActor) { change in
            let before: [String: String?] = ["line": String(number), "quantity": FixedDecimal(units: row.quantity).description, "due_date": row.dueDate]
            try await change.updateVersioned(ProductionPlan.schema, id: id, expected: input.version, sets: [:])
            plan.version += 1
            row.quantity = input.quantity.units; row.dueDate = input.dueDate.description
            try await row.save(on: change.db)
            for l in linked {
                guard let order = orders[l.orderID], l.state == OrderLine.State.open.rawValue else { continue }
                if order.orderStatus == .draft {
                    l.quantity = input.quantity.units; l.dueDate = input.dueDate.description
                    try await l.save(on: change.db)
                } else if order.orderStatus.acceptsRevision {
                    try await PlanChangeProposal.query(on: change.db).filter(\.$orderID == order.id!).filter(\.$orderLineNumber == l.number)
                        .filter(\.$status == "pending").set(\.$status, to: "dismissed").update()
                    let proposal = PlanChangeProposal()
                    proposal.planID = id; proposal.planLineNumber = number; proposal.orderID = order.id!; proposal.orderLineNumber = l.number
                    proposal.quantity = input.quantity.units; proposal.dueDate = input.dueDate.description; proposal.status = "pending"
                    proposal.createdAt = change.now
                    try await proposal.create(on: change.db)
                }
            }
            try await change.audit("plan", id, "change_line", before: before,
                                   after: ["line": String(number), "quantity": input.quantity.description, "due_date": input.dueDate.description])
        }
        return try await dto(plan, on: app.database)
    }

    /// The planner confirms the proposed revision of one order (all its pending proposals at once).
    static func confirmProposals(_ p: Principal, _ planID: UUID, orderID: UUID, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        _ = try await find(planID, on: app.database)
        let order = try await OrderService.find(p, orderID, on: app.database)
        let pending = try await PlanChangeProposal.query(on: app.database).filter(\.$planID == planID).filter(\.$orderID == orderID)
            .filter(\.$status == "pending").all()
        guard !pending.isEmpty else { throw Problem.conflict("problem.plan.noProposal") }
        let old = try await OrderService.lines(orderID, on: app.database)
        let byLine = Dictionary(pending.map { ($0.orderLineNumber, $0) }, uniquingKeysWith: { a, _ in a })
        let new = old.map { l -> OrderLine in
            guard let pr = byLine[l.number] else { return l }
            var n = l
            n.quantity = FixedDecimal(units: pr.quantity); n.dueDate = Day(pr.dueDate)!
            return n
        }
        if case let problems = OrderLines.check(new, replacing: old), !problems.isEmpty { throw OrderService.linesProblem(problems) }
        let itemIDs = try await ImportService.items(new.map(\.item), on: app.database).mapValues { $0.id! }
        let today = app.subcon.today()
        return try await app.write(as: p.auditActor) { change in
            let updated = try await OrderService.applyRevision(p, order, old: old, new: new.map { ($0, itemIDs[$0.item]!) },
                                                              reason: "plan change", status: .released, today: today, in: change)
            try await PlanChangeProposal.query(on: change.db).filter(\.$id ~~ pending.map { $0.id! }).set(\.$status, to: "confirmed").update()
            return updated
        }
    }

    static func dismissProposal(_ p: Principal, _ planID: UUID, proposalID: UUID, app: Application) async throws {
        try p.require(.managePlans)
        guard let pr = try await PlanChangeProposal.find(proposalID, on: app.database), pr.planID == planID, pr.status == "pending" else { throw Problem.notFound }
        try await app.write(as: p.auditActor) { change in
            pr.status = "dismissed"
            try await pr.save(on: change.db)
            try await change.audit("plan", planID, "dismiss_proposal", before: ["proposal": proposalID.uuidString, "status": "pending"],
                                   after: ["status": "dismissed"])
        }
    }

    static func close(_ p: Principal, _ id: UUID, version: Int, app: Application) async throws -> ProductionPlan {
        try p.require(.managePlans)
        let plan = try await find(id, on: app.database)
        guard plan.version == version else { throw Problem.staleVersion(current: plan.version) }
        guard PlanStatus(rawValue: plan.status)?.canMove(to: .closed) == true else {
            throw Problem.conflict("problem.plan.transition", ["from": plan.status, "to": PlanStatus.closed.rawValue])
        }
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(ProductionPlan.schema, id: id, expected: version, sets: ["status": PlanStatus.closed.rawValue])
            plan.status = PlanStatus.closed.rawValue; plan.version += 1
            try await change.audit("plan", id, "close", before: ["status": PlanStatus.released.rawValue], after: ["status": plan.status])
            return plan
        }
    }
}
