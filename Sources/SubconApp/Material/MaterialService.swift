import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

// MARK: - API shapes

struct MaterialLineDTO: Content {
    let no: Int
    let orderLine: Int?
    let itemId: UUID
    let itemCode: String
    let itemName: String
    let unit: String
    let lot: String
    let quantity: FixedDecimal
    let confirmedQuantity: FixedDecimal?
    let confirmedAt: Date?
}

struct MaterialDocumentDTO: Content {
    let id: UUID
    let code: String
    let kind: String
    let status: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let toSupplierId: UUID?
    let toSupplierCode: String?
    let orderId: UUID?
    let orderCode: String?
    let condition: String?
    let reason: String
    let version: Int
    let createdAt: Date
    let decidedAt: Date?
    let decisionNote: String
    /// Issues the supplier still has to confirm.
    let awaitingConfirmation: Bool
    let lines: [MaterialLineDTO]
    let exceptions: [ExceptionSummaryDTO]
}

struct IssueInput: StrictInput {
    struct Line: Codable, Sendable {
        /// The order line whose requirement this serves.
        var line: Int
        var componentCode: String
        var lot: String
        var quantity: FixedDecimal
    }
    static let fields: Set<String> = ["orderId", "reason", "lines"]
    var orderId: UUID
    /// Needed when anything goes beyond the requirement (a supplementary issue).
    var reason: String?
    var lines: [Line]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", required: false, max: 500, into: &p)
        MaterialInputs.checkCount(lines.count, into: &p)
        for (i, l) in lines.enumerated() {
            MaterialInputs.checkLot(l.lot, "lines[\(i)].lot", into: &p)
            MaterialInputs.checkQuantity(l.quantity, "lines[\(i)].quantity", into: &p)
        }
        return p
    }
}

/// Returns, scrap reports and counted corrections: lines of supplier-held material.
struct MovementInput: StrictInput {
    struct Line: Codable, Sendable {
        var itemCode: String
        var lot: String
        /// Positive; adjustments may be negative.
        var quantity: FixedDecimal
        var line: Int?
    }
    static let fields: Set<String> = ["supplierId", "orderId", "condition", "reason", "lines"]
    var supplierId: UUID?
    var orderId: UUID?
    /// Returns: good or defective.
    var condition: String?
    var reason: String?
    var lines: [Line]
    func validate(kind: MaterialKind) -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", required: kind != .returned, max: 500, into: &p)
        if kind == .returned, !["good", "defective"].contains(condition ?? "") { p.append(FieldProblem("condition", "invalidValue")) }
        MaterialInputs.checkCount(lines.count, into: &p)
        for (i, l) in lines.enumerated() {
            MaterialInputs.checkLot(l.lot, "lines[\(i)].lot", into: &p)
            if kind == .adjustment {
                if l.quantity == .zero { p.append(FieldProblem("lines[\(i)].quantity", "nonZero")) }
                if l.quantity.magnitudeAtLeast(OrderLines.maxQuantity) { p.append(FieldProblem("lines[\(i)].quantity", "tooLarge")) }
            } else {
                MaterialInputs.checkQuantity(l.quantity, "lines[\(i)].quantity", into: &p)
            }
        }
        return p
    }
    func validate() -> [FieldProblem] { [] }
}

struct TransferInput: StrictInput {
    struct Line: Codable, Sendable { var itemCode: String; var lot: String; var quantity: FixedDecimal }
    static let fields: Set<String> = ["fromSupplierId", "toSupplierId", "fromOrderId", "toOrderId", "reason", "lines"]
    var fromSupplierId: UUID
    var toSupplierId: UUID
    var fromOrderId: UUID?
    var toOrderId: UUID?
    var reason: String
    var lines: [Line]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", max: 500, into: &p)
        if fromSupplierId == toSupplierId { p.append(FieldProblem("toSupplierId", "sameSupplier")) }
        MaterialInputs.checkCount(lines.count, into: &p)
        for (i, l) in lines.enumerated() {
            MaterialInputs.checkLot(l.lot, "lines[\(i)].lot", into: &p)
            MaterialInputs.checkQuantity(l.quantity, "lines[\(i)].quantity", into: &p)
        }
        return p
    }
}

struct ConfirmInput: StrictInput {
    struct Line: Codable, Sendable { var no: Int; var quantity: FixedDecimal }
    static let fields: Set<String> = ["version", "lines", "note"]
    var version: Int
    var lines: [Line]
    var note: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(note, "note", required: false, max: 500, into: &p)
        MaterialInputs.checkCount(lines.count, into: &p)
        for (i, l) in lines.enumerated() where l.quantity < .zero || l.quantity >= OrderLines.maxQuantity {
            p.append(FieldProblem("lines[\(i)].quantity", l.quantity < .zero ? "negative" : "tooLarge"))
        }
        return p
    }
}

struct ApprovalInput: StrictInput {
    static let fields: Set<String> = ["version", "note"]
    var version: Int
    var note: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(note, "note", required: false, max: 500, into: &p)
        return p
    }
}

enum MaterialInputs {
    static func checkCount(_ n: Int, into p: inout [FieldProblem]) {
        if n == 0 { p.append(FieldProblem("lines", "required")) }
        if n > 200 { p.append(FieldProblem("lines", "tooMany", ["max": "200"])) }
    }
    static func checkLot(_ lot: String, _ field: String, into p: inout [FieldProblem]) {
        Check.code(lot, field, max: 60, into: &p)
    }
    static func checkQuantity(_ q: FixedDecimal, _ field: String, into p: inout [FieldProblem]) {
        if q <= .zero { p.append(FieldProblem(field, "positiveDecimal")) }
        if q >= OrderLines.maxQuantity { p.append(FieldProblem(field, "tooLarge")) }
    }
}

extension FixedDecimal {
    func magnitudeAtLeast(_ limit: FixedDecimal) -> Bool { units.magnitude >= limit.units.magnitude }
}

/// One supplier × item × lot in the app's terms.
struct LedgerKey: Hashable, Comparable {
    let supplierID: UUID
    let itemID: UUID
    let lot: String
    static func < (a: LedgerKey, b: LedgerKey) -> Bool {
        (a.supplierID.uuidString, a.itemID.uuidString, a.lot) < (b.supplierID.uuidString, b.itemID.uuidString, b.lot)
    }
}

// MARK: - The ledger

/// Reads of the supplier-held stock ledger: sums per key and kind, turned into balances by the
/// domain rules.
enum Ledger {
    struct SumRow: Decodable { let supplier_id: UUID; let item_id: UUID; let lot: String; let kind: String; let q: Int64; let a: Int64 }

    /// Movement sums per key and kind (one pseudo-movement each), optionally up to a time or of
    /// one order. All-time sums come from the running totals; the others from the movements.
    static func sums(suppliers: [UUID]? = nil, items: [UUID]? = nil, lot: String? = nil, before: Date? = nil, orderID: UUID? = nil,
                     on db: any Database) async throws -> [SumRow] {
        var conditions: [SQLQueryString] = []
        if let s = suppliers { conditions.append(s.isEmpty ? "1 = 0" : "supplier_id IN (\(binds: s))") }
        if let i = items { conditions.append(i.isEmpty ? "1 = 0" : "item_id IN (\(binds: i))") }
        if let lot { conditions.append("lot = \(bind: lot)") }
        if let before { conditions.append("created_at < \(bind: before)") }
        if let orderID { conditions.append("order_id = \(bind: orderID)") }
        var whereClause: SQLQueryString = ""
        for (i, c) in conditions.enumerated() { whereClause = whereClause + (i == 0 ? " WHERE " : " AND ") + c }
        if before == nil && orderID == nil {
            return try await (db as! any SQLDatabase).raw("SELECT supplier_id, item_id, lot, kind, quantity AS q, allowance AS a FROM ledger_totals"
                                                          + whereClause).rows(decoding: SumRow.self)
        }
        return try await (db as! any SQLDatabase).raw("""
            SELECT supplier_id, item_id, lot, kind, CAST(SUM(quantity) AS BIGINT) AS q, CAST(SUM(allowance) AS BIGINT) AS a
            FROM material_movements
            """ + whereClause + " GROUP BY supplier_id, item_id, lot, kind").rows(decoding: SumRow.self)
    }

    /// Recomputes the running totals from the movements (the migration that adds them, and bulk
    /// loads that bypass `record`).
    static func rebuildTotals(on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM ledger_totals").run()
        try await sql.raw("DELETE FROM ledger_item_totals").run()
        try await sql.raw("""
            INSERT INTO ledger_totals (supplier_id, item_id, lot, kind, quantity, allowance)
            SELECT supplier_id, item_id, lot, kind, CAST(SUM(quantity) AS BIGINT), CAST(SUM(allowance) AS BIGINT)
            FROM material_movements GROUP BY supplier_id, item_id, lot, kind
            """).run()
        try await sql.raw("""
            INSERT INTO ledger_item_totals (supplier_id, item_id, kind, quantity, allowance)
            SELECT supplier_id, item_id, kind, CAST(SUM(quantity) AS BIGINT), CAST(SUM(allowance) AS BIGINT)
            FROM ledger_totals GROUP BY supplier_id, item_id, kind
            """).run()
    }

    static func movements(_ rows: [SumRow]) -> [LedgerKey: [Movement]] {
        var out: [LedgerKey: [Movement]] = [:]
        for r in rows {
            guard let kind = MovementKind(rawValue: r.kind) else { continue }
            let key = LedgerKey(supplierID: r.supplier_id, itemID: r.item_id, lot: r.lot)
            out[key, default: []].append(Movement(key: StockKey(supplier: r.supplier_id.uuidString, item: r.item_id.uuidString, lot: r.lot),
                                                  kind: kind, quantity: FixedDecimal(units: r.q), allowance: FixedDecimal(units: r.a)))
        }
        return out
    }

    static func balances(suppliers: [UUID]? = nil, items: [UUID]? = nil, lot: String? = nil, on db: any Database) async throws -> [LedgerKey: StockBalance] {
        var out: [LedgerKey: StockBalance] = [:]
        for (key, ms) in movements(try await sums(suppliers: suppliers, items: items, lot: lot, on: db)) {
            out[key] = try StockLedger.balance(ms)
        }
        return out
    }

    /// What `Consumption.allocate` needs of a supplier's lots of each item: those it holds some of,
    /// and the last lot by name it ever had. Every lot's balance was read before, and a
    /// supplier's used-up lots of a material grow with its history (601 of the workflow's raw
    /// material on the large data set: 0.52 ms a receipt decision, now 0.01 ms); its lots in
    /// stock do not. The lots held come from `lot_balances`, kept in the movements'
    /// transactions. The last lot is the greatest name in code point order, as Swift orders
    /// names (`COLLATE "C"` on PostgreSQL; SQLite compares the UTF-8 bytes, which is the same
    /// order).
    static func lotsToConsume(supplier: UUID, items: [UUID], in change: Change)
        async throws -> [UUID: (held: [(lot: String, held: FixedDecimal)], lastLot: String?)] {
        guard !items.isEmpty else { return [:] }
        struct Row: Decodable { let item_id: UUID; let lot: String; let held: Int64; let last: Int }
        let collate: SQLQueryString = change.postgres ? #" COLLATE "C""# : ""
        // The last lot of each item one at a time: SQLite then reads it at the end of the
        // index's range (8 µs), where MAX(…) GROUP BY walked the whole range (80 µs).
        var q: SQLQueryString = """
            SELECT item_id, lot, held, 0 AS last FROM lot_balances
             WHERE supplier_id = \(bind: supplier) AND item_id IN (\(binds: items)) AND held > 0
            """
        for item in Set(items).sorted(by: { $0.uuidString < $1.uuidString }) {
            q = q + " UNION ALL SELECT * FROM (SELECT item_id, lot, 0 AS held, 1 AS last FROM ledger_totals"
                + " WHERE supplier_id = \(bind: supplier) AND item_id = \(bind: item) ORDER BY lot" + collate + " DESC LIMIT 1) AS last_lot"
        }
        var out: [UUID: (held: [(lot: String, held: FixedDecimal)], lastLot: String?)] = [:]
        for r in try await (change.db as! any SQLDatabase).raw(q).rows(decoding: Row.self) {
            if r.last == 1 { out[r.item_id, default: ([], nil)].lastLot = r.lot } else { out[r.item_id, default: ([], nil)].held.append((r.lot, FixedDecimal(units: r.held))) }
        }
        return out
    }

    /// On PostgreSQL, writers of one supplier's ledger take turns (SQLite already has one writer
    /// at a time), so a balance checked inside the transaction is still the balance at commit.
    static func lock(supplier id: UUID, in change: Change) async throws {
        guard change.postgres else { return }
        try await (change.db as! any SQLDatabase).raw("SELECT id FROM organizations WHERE id = \(bind: id) FOR UPDATE").run()
    }

    static func record(_ kind: MovementKind, supplier: UUID, item: UUID, lot: String, quantity: FixedDecimal, allowance: FixedDecimal = .zero,
                       order: UUID? = nil, line: Int? = nil, document: UUID? = nil, receiptLine: UUID? = nil, by user: UUID,
                       at time: Date? = nil, in change: Change) async throws {
        let m = MaterialMovement()
        m.supplierID = supplier; m.itemID = item; m.lot = lot; m.kind = kind.rawValue; m.quantity = quantity.units
        m.allowance = allowance.units; m.orderID = order; m.orderLineNumber = line; m.documentID = document; m.receiptLineID = receiptLine
        m.createdBy = user; m.createdAt = time ?? change.now
        try await m.create(on: change.db)
        try await (change.db as! any SQLDatabase).raw("""
            INSERT INTO ledger_totals (supplier_id, item_id, lot, kind, quantity, allowance)
            VALUES (\(bind: supplier), \(bind: item), \(bind: lot), \(bind: kind.rawValue), \(bind: quantity.units), \(bind: allowance.units))
            ON CONFLICT (supplier_id, item_id, lot, kind)
            DO UPDATE SET quantity = ledger_totals.quantity + excluded.quantity, allowance = ledger_totals.allowance + excluded.allowance
            """).run()
        try await (change.db as! any SQLDatabase).raw("""
            INSERT INTO ledger_item_totals (supplier_id, item_id, kind, quantity, allowance)
            VALUES (\(bind: supplier), \(bind: item), \(bind: kind.rawValue), \(bind: quantity.units), \(bind: allowance.units))
            ON CONFLICT (supplier_id, item_id, kind)
            DO UPDATE SET quantity = ledger_item_totals.quantity + excluded.quantity, allowance = ledger_item_totals.allowance + excluded.allowance
            """).run()
        try await LotBalances.move(kind, supplier: supplier, item: item, lot: lot, quantity: quantity.units, on: change.db as! any SQLDatabase)
        if kind.heldSign != 0 {
            try await HeldValues.move(supplier: supplier, item: item, delta: Int64(kind.heldSign) * quantity.units, on: change.db as! any SQLDatabase)
        }
    }

    static func refusalProblem(_ r: StockLedger.Refusal, field: String, item: String, lot: String) -> Problem {
        switch r {
        case .moreThanHeld(let a): .validation([FieldProblem(field, "moreThanHeld", ["item": item, "lot": lot, "available": a.description])])
        case .moreThanInTransit(let a): .validation([FieldProblem(field, "moreThanIssued", ["item": item, "lot": lot, "available": a.description])])
        case .nonPositive: .validation([FieldProblem(field, "positiveDecimal")])
        case .sameSupplier: .validation([FieldProblem("toSupplierId", "sameSupplier")])
        case .overflow: .validation([FieldProblem(field, "tooLarge")])
        }
    }
}

// MARK: - The service

/// Material documents: issues against the requirements, supplementary issues with approval,
/// the supplier's confirmation (a difference raises a discrepancy), returns, scrap, counted
/// corrections and transfers between suppliers. Each takes effect as ledger movements in the
/// same transaction as the document, its audit rows and its notifications.
enum MaterialService {
    /// Order states in which material may be issued and goods shipped and received.
    static let workingStatuses = OrderStatus.working
    /// The same, as an SQL list of literals (for statements and the partial indexes that must
    /// name it in the same words).
    static let workingStatusList = workingStatuses.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")

    static func find(_ p: Principal, _ id: UUID, on db: any Database) async throws -> MaterialDocument {
        guard let d = try await MaterialDocument.find(id, on: db) else { throw Problem.notFound }
        // A transfer belongs to both suppliers; everything else to one.
        if let mine = p.scope.supplierID, d.supplierID != mine && d.toSupplierID != mine { throw Problem.notFound }
        return d
    }

    static func code(_ kind: String, prefix: String, in change: Change) async throws -> String {
        let month = change.now.formatted(.iso8601.year().month().dateSeparator(.omitted))
        return "\(prefix)\(month)-\(String(format: "%04d", try await Sequences.next("\(kind)-\(month)", on: change.db)))"
    }

    static func items(byCode codes: [String], field: (Int) -> String, on db: any Database) async throws -> [Item] {
        let found = try await ImportService.items(Array(Set(codes)), on: db)
        var problems: [FieldProblem] = []
        var out: [Item] = []
        for (i, c) in codes.enumerated() {
            if let item = found[c] { out.append(item) } else { problems.append(FieldProblem(field(i), "unknownItem", ["code": c])) }
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        return out
    }

    static func supplier(_ id: UUID, field: String, on db: any Database) async throws -> Organization {
        guard let s = try await Organization.find(id, on: db), s.organizationKind == .supplier else {
            throw Problem.validation([FieldProblem(field, "unknownSupplier")])
        }
        return s
    }

    /// The requirements the manufacturer supplies, per (order line, component), with what has
    /// been issued so far against each.
    struct Requirement {
        let line: Int
        let component: Item
        let quantityPer: FixedDecimal
        let scrapPercent: FixedDecimal
        let gross: FixedDecimal
        var issued: FixedDecimal
        var remaining: FixedDecimal { MaterialIssuing.remaining(gross: gross, issued: issued) }
    }

    static func requirements(_ orderID: UUID, on db: any Database) async throws -> [Requirement] {
        // "manufacturer" is in the text: bound, it made SQLite prepare the statement again on
        // every run, to match it with the partial index of requirements still to issue.
        let rows = try await OrderRequirementRow.query(on: db).filter(\.$orderID == orderID)
            .filter(.sql(embed: "\(ident: "supply_by") = \(literal: SupplyBy.manufacturer.rawValue)"))
            .sort(\.$lineNumber).all()
        let items = try await OrderService.itemCodes(Set(rows.map(\.componentID)), on: db)
        return rows.compactMap { r in
            guard let item = items[r.componentID] else { return nil }
            return Requirement(line: r.lineNumber, component: item, quantityPer: FixedDecimal(units: r.quantityPer),
                               scrapPercent: FixedDecimal(units: r.scrapPercent), gross: FixedDecimal(units: r.grossQuantity),
                               issued: FixedDecimal(units: r.issuedQuantity))
        }
    }

    /// An issue that takes effect: the ledger movement, and the requirement's running total.
    static func issueTakesEffect(supplier: UUID, order: UUID?, line: Int?, item: UUID, lot: String, quantity: FixedDecimal, document: UUID?,
                                 by user: UUID, in change: Change) async throws {
        try await Ledger.record(.issued, supplier: supplier, item: item, lot: lot, quantity: quantity, order: order, line: line, document: document,
                                by: user, in: change)
        guard let order, let line else { return }
        try await (change.db as! any SQLDatabase).update(OrderRequirementRow.schema)
            .set(SQLIdentifier("issued_quantity"), to: SQLBinaryExpression(SQLIdentifier("issued_quantity"), .add, SQLBind(quantity.units)))
            .where("order_id", .equal, order).where("line_no", .equal, line).where("component_id", .equal, item).run()
    }

    // MARK: Issue

    static func issue(_ p: Principal, _ input: IssueInput, app: Application) async throws -> MaterialDocument {
        try p.require(.handleMaterial)
        let order = try await OrderService.find(p, input.orderId, on: app.modelReads)
        guard workingStatuses.contains(order.orderStatus) || (order.orderStatus == .released && order.revision > 1) else {
            throw Problem.conflict("problem.material.orderNotWorking", ["status": order.status])
        }
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return try await app.write(as: p.auditActor) { change in
            // What remains is read inside the transaction, behind the order's lock, so two
            // clerks issuing at once cannot both stay "within" the requirement.
            try await DeliveryService.lockOrder(order.id!, in: change)
            let reqs = try await requirements(order.id!, on: change.db)
            var problems: [FieldProblem] = []
            var requested: [Int: FixedDecimal] = [:]   // index into reqs → total requested
            var lines: [(Requirement, IssueInput.Line)] = []
            for (i, l) in input.lines.enumerated() {
                let code = l.componentCode.trimmingCharacters(in: .whitespaces)
                guard let r = reqs.firstIndex(where: { $0.line == l.line && $0.component.code == code }) else {
                    problems.append(FieldProblem("lines[\(i)]", "noRequirement", ["line": String(l.line), "item": code])); continue
                }
                requested[r] = (try? (requested[r] ?? .zero).adding(l.quantity)) ?? l.quantity
                lines.append((reqs[r], l))
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            let supplementary = MaterialIssuing.isSupplementary(requested: requested.map { (reqs[$0.key].remaining, $0.value) })
            if supplementary && reason.isEmpty {
                let over = requested.filter { $0.value > reqs[$0.key].remaining }.map { reqs[$0.key] }.sorted { $0.line < $1.line }
                throw Problem.validation(over.map {
                    FieldProblem("reason", "supplementaryNeedsReason", ["item": $0.component.code, "line": String($0.line), "remaining": $0.remaining.description])
                })
            }
            let kind: MaterialKind = supplementary ? .supplementary : .issue
            let d = MaterialDocument()
            d.id = UUID(); d.code = try await code(kind.rawValue, prefix: kind.codePrefix, in: change); d.kind = kind.rawValue
            d.status = supplementary ? "pending_approval" : "done"; d.supplierID = order.supplierID; d.orderID = order.id
            d.reason = reason; d.version = 1; d.createdBy = p.userID; d.createdAt = change.now; d.decisionNote = ""
            try await d.create(on: change.db)
            for (n, (r, l)) in lines.enumerated() {
                let row = MaterialDocumentLine()
                row.documentID = d.id!; row.number = n + 1; row.orderLineNumber = r.line; row.itemID = r.component.id!
                row.lot = l.lot; row.quantity = l.quantity.units
                try await row.create(on: change.db)
                if !supplementary {
                    try await issueTakesEffect(supplier: order.supplierID, order: order.id, line: r.line, item: r.component.id!, lot: l.lot,
                                               quantity: l.quantity, document: d.id, by: p.userID, in: change)
                }
            }
            try await change.audit("material_document", d.id, "create", after: snapshot(d, lines.map { ($0.0.component.code, $0.1.lot, $0.1.quantity) }))
            if supplementary {
                try await change.notify("material.approvalNeeded", recipients: try await OrderService.manufacturerPeople(with: .purchaser, on: change.db),
                                        messageKey: "notice.materialApproval", params: ["code": d.code, "order": order.code], link: "/material/documents/\(d.id!)")
            } else {
                try await notifyIssued(d, orderCode: order.code, in: change)
            }
            return d
        }
    }

    static func notifyIssued(_ d: MaterialDocument, orderCode: String, in change: Change) async throws {
        try await change.notify("material.issued", recipients: try await OrderService.supplierUsers(d.supplierID, on: change.db),
                                messageKey: "notice.materialIssued", params: ["code": d.code, "order": orderCode], link: "/material/documents/\(d.id!)")
    }

    static func snapshot(_ d: MaterialDocument, _ lines: [(String, String, FixedDecimal)]) -> [String: String?] {
        ["code": d.code, "kind": d.kind, "status": d.status, "reason": d.reason, "condition": d.condition,
         "lines": lines.map { "\($0.0) \($0.1) \($0.2)" }.joined(separator: "; ")]
    }

    /// The purchaser approves a supplementary issue: it takes effect now.
    static func approve(_ p: Principal, _ id: UUID, _ input: ApprovalInput, approve: Bool, app: Application) async throws -> MaterialDocument {
        try p.require(.approveSupplementaryIssue)
        let d = try await find(p, id, on: app.modelReads)
        guard d.version == input.version else { throw Problem.staleVersion(current: d.version) }
        guard d.kind == MaterialKind.supplementary.rawValue, d.status == "pending_approval" else { throw Problem.conflict("problem.material.notPending") }
        let note = (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if !approve && note.isEmpty { throw Problem.validation([FieldProblem("note", "required")]) }
        let lines = try await MaterialDocumentLine.query(on: app.modelReads).filter(\.$documentID == id).sort(\.$number).all()
        let orderCode = try await d.orderID.asyncMap { try await OutsourcingOrder.find($0, on: app.modelReads)?.code } ?? nil
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(MaterialDocument.schema, id: id, expected: input.version,
                                             sets: ["status": approve ? "done" : "refused", "decided_by": p.userID, "decided_at": change.now, "decision_note": note])
            d.status = approve ? "done" : "refused"; d.version += 1; d.decidedAt = change.now; d.decidedBy = p.userID; d.decisionNote = note
            try await change.settleNotices(["material.approvalNeeded"], link: "/material/documents/\(id)")
            if approve {
                for l in lines {
                    try await issueTakesEffect(supplier: d.supplierID, order: d.orderID, line: l.orderLineNumber, item: l.itemID, lot: l.lot,
                                               quantity: FixedDecimal(units: l.quantity), document: d.id, by: p.userID, in: change)
                }
                try await notifyIssued(d, orderCode: orderCode ?? "", in: change)
            }
            try await change.audit("material_document", id, approve ? "approve" : "refuse", before: ["status": "pending_approval"],
                                   after: ["status": d.status, "note": note])
            try await change.notify("material.decided", recipients: [d.createdBy], messageKey: approve ? "notice.materialApproved" : "notice.materialRefused",
                                    params: ["code": d.code, "note": note], link: "/material/documents/\(id)")
            return d
        }
    }

    // MARK: Confirmation

    /// The supplier confirms what arrived, line by line. Less than was issued raises a
    /// material-discrepancy exception; the difference stays in transit until it is settled.
    static func confirm(_ p: Principal, _ id: UUID, _ input: ConfirmInput, app: Application) async throws -> MaterialDocument {
        let d = try await find(p, id, on: app.modelReads)
        try p.require(.fulfilOrders)
        guard p.organizationID == d.supplierID else { throw Problem.forbidden }
        guard d.version == input.version else { throw Problem.staleVersion(current: d.version) }
        guard MaterialKind.isConfirmable(kind: d.kind, status: d.status) else {
            throw Problem.conflict("problem.material.notConfirmable")
        }
        let lines = try await MaterialDocumentLine.query(on: app.modelReads).filter(\.$documentID == id).sort(\.$number).all()
        guard lines.contains(where: { $0.confirmedQuantity == nil }) else { throw Problem.conflict("problem.material.alreadyConfirmed") }
        let given = Dictionary(input.lines.map { ($0.no, $0.quantity) }, uniquingKeysWith: { a, _ in a })
        var problems: [FieldProblem] = []
        let items = try await OrderService.itemCodes(Set(lines.map(\.itemID)), on: app.modelReads)
        for l in lines where l.confirmedQuantity == nil {
            guard let q = given[l.number] else { problems.append(FieldProblem("lines", "confirmEveryLine", ["no": String(l.number)])); continue }
            if q.units > l.quantity {
                problems.append(FieldProblem("lines", "moreThanIssued", ["item": items[l.itemID]?.code ?? "", "lot": l.lot,
                                                                         "available": FixedDecimal(units: l.quantity).description]))
            }
        }
        for no in given.keys where !lines.contains(where: { $0.number == no }) { problems.append(FieldProblem("lines", "unknownLine", ["line": String(no)])) }
        if !problems.isEmpty { throw Problem.validation(problems) }
        let note = (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let orderCode = try await d.orderID.asyncMap { try await OutsourcingOrder.find($0, on: app.modelReads)?.code } ?? nil
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(MaterialDocument.schema, id: id, expected: input.version, sets: [:])
            d.version += 1
            var short: [String] = [], named: [String] = []
            for l in lines where l.confirmedQuantity == nil {
                let q = given[l.number]!
                l.confirmedQuantity = q.units; l.confirmedBy = p.userID; l.confirmedAt = change.now
                try await l.save(on: change.db)
                if q > .zero {
                    try await Ledger.record(.receiptConfirmed, supplier: d.supplierID, item: l.itemID, lot: l.lot, quantity: q,
                                            order: d.orderID, line: l.orderLineNumber, document: d.id, by: p.userID, in: change)
                }
                if q.units < l.quantity {
                    short.append("\(items[l.itemID]?.code ?? "") \(l.lot): \(FixedDecimal(units: l.quantity)) → \(q)")
                    named.append("\(items[l.itemID]?.code ?? "") \(items[l.itemID]?.name ?? "") \(l.lot): \(FixedDecimal(units: l.quantity).grouped) → \(q.grouped) \(items[l.itemID]?.uom ?? "")")
                }
            }
            try await change.settleNotices(["material.issued", "material.transfer"], link: "/material/documents/\(id)", forUsersOf: p.organizationID)
            try await change.audit("material_document", id, "confirm", after: ["confirmed": lines.map { "\($0.number) \(FixedDecimal(units: $0.confirmedQuantity ?? 0))" }.joined(separator: "; "), "note": note])
            if !short.isEmpty {
                let e = try await ExceptionService.raise(type: "material_discrepancy", severity: "major", supplier: d.supplierID, order: d.orderID,
                                                         item: lines.first { $0.confirmedQuantity! < $0.quantity }?.itemID, lot: "",
                                                         source: "material_document", sourceID: id.uuidString,
                                                         title: d.code, description: (short + (note.isEmpty ? [] : [note])).joined(separator: "\n"),
                                                         by: p.userID,
                                                         words: ExceptionWords(title: "exceptionWords.discrepancy.title", description: "exceptionWords.discrepancy.description",
                                                                               params: ["document": d.code, "order": orderCode ?? "", "lines": named.joined(separator: "；"), "note": note]),
                                                         in: change)
                let recipients = try await OrderService.manufacturerPeople(with: .warehouse, on: change.db)
                    + OrderService.manufacturerPeople(with: .purchaser, on: change.db) + [d.createdBy]
                try await change.notify("material.discrepancy", recipients: Array(Set(recipients)), messageKey: "notice.materialDiscrepancy",
                                        params: ["code": d.code, "exception": e.code, "order": orderCode ?? ""], link: "/material/documents/\(id)")
            }
            return d
        }
    }

    // MARK: Returns, scrap, corrections

    static func move(_ p: Principal, kind: MaterialKind, _ input: MovementInput, app: Application) async throws -> MaterialDocument {
        switch kind {
        case .returned, .adjustment: try p.require(.handleMaterial)
        case .scrap: try p.require(.fulfilOrders)
        default: throw Problem.notFound
        }
        // A supplier reports only its own scrap.
        guard let supplierID = p.isSupplier ? p.organizationID : input.supplierId else {
            throw Problem.validation([FieldProblem("supplierId", "required")])
        }
        if let other = input.supplierId, p.isSupplier, other != p.organizationID { throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")]) }
        let problems = input.validate(kind: kind)
        if !problems.isEmpty { throw Problem.validation(problems) }
        _ = try await supplier(supplierID, field: "supplierId", on: app.modelReads)
        var order: OutsourcingOrder?
        if let oid = input.orderId {
            order = try await OrderService.find(p, oid, on: app.modelReads)
            guard order?.supplierID == supplierID else { throw Problem.validation([FieldProblem("orderId", "orderOfOtherSupplier")]) }
        }
        // A line number only means something on an order, and only a line it has.
        let numbers = Set(try await order.asyncMap { try await OrderLineRow.query(on: app.modelReads).filter(\.$orderID == $0.id!).all().map(\.number) } ?? [])
        for (i, l) in input.lines.enumerated() {
            if let n = l.line, !numbers.contains(n) { throw Problem.validation([FieldProblem("lines[\(i)].line", "unknownLine", ["line": String(n)])]) }
        }
        let items = try await items(byCode: input.lines.map { $0.itemCode.trimmingCharacters(in: .whitespaces) }, field: { "lines[\($0)].itemCode" }, on: app.modelReads)
        let lines = Array(zip(items, input.lines))
        let orderID = order?.id
        return try await app.write(as: p.auditActor) { change in
            try await moveInChange(p, kind: kind, supplierID: supplierID, orderID: orderID, condition: input.condition, reason: input.reason,
                                   lines: lines, in: change)
        }
    }

    /// A return, scrap or correction inside the caller's transaction (a handover returns material with it).
    static func moveInChange(_ p: Principal, kind: MaterialKind, supplierID: UUID, orderID: UUID?, condition: String?, reason: String?,
                             lines: [(Item, MovementInput.Line)], in change: Change) async throws -> MaterialDocument {
        let movementKind: MovementKind = switch kind { case .returned: .returned; case .scrap: .scrapped; default: .adjusted }
        try await Ledger.lock(supplier: supplierID, in: change)
        try await checkHeld(supplierID, lines.map { ($0.0, $0.1.lot, $0.1.quantity) }, kind: movementKind, on: change.db)
        let d = MaterialDocument()
        d.id = UUID(); d.code = try await code(kind.rawValue, prefix: kind.codePrefix, in: change); d.kind = kind.rawValue; d.status = "done"
        d.supplierID = supplierID; d.orderID = orderID; d.condition = kind == .returned ? condition : nil
        d.reason = (reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines); d.version = 1; d.createdBy = p.userID
        d.createdAt = change.now; d.decisionNote = ""
        try await d.create(on: change.db)
        for (n, (item, l)) in lines.enumerated() {
            let row = MaterialDocumentLine()
            row.documentID = d.id!; row.number = n + 1; row.orderLineNumber = l.line; row.itemID = item.id!; row.lot = l.lot; row.quantity = l.quantity.units
            try await row.create(on: change.db)
            try await Ledger.record(movementKind, supplier: supplierID, item: item.id!, lot: l.lot, quantity: l.quantity,
                                    order: orderID, line: l.line, document: d.id, by: p.userID, in: change)
        }
        try await change.audit("material_document", d.id, "create", after: snapshot(d, lines.map { ($0.0.code, $0.1.lot, $0.1.quantity) }))
        if kind == .scrap {
            try await change.notify("material.scrapped", recipients: try await OrderService.manufacturerPeople(with: .warehouse, on: change.db),
                                    messageKey: "notice.materialScrapped", params: ["code": d.code], link: "/material/documents/\(d.id!)")
        } else {
            try await change.notify("material.\(kind.rawValue)", recipients: try await OrderService.supplierUsers(supplierID, on: change.db),
                                    messageKey: "notice.material.\(kind.rawValue)", params: ["code": d.code], link: "/material/documents/\(d.id!)")
        }
        return d
    }

    /// What leaves the supplier's hands (return, scrap, transfer, a negative correction) cannot
    /// be more than it holds of that item and lot — checked against the whole document, since
    /// two lines may draw on one lot.
    static func checkHeld(_ supplierID: UUID, _ lines: [(Item, String, FixedDecimal)], kind: MovementKind, on db: any Database) async throws {
        guard kind != .adjusted || lines.contains(where: { $0.2 < .zero }) else { return }
        let balances = try await Ledger.balances(suppliers: [supplierID], items: lines.map { $0.0.id! }, on: db)
        var drawn: [LedgerKey: FixedDecimal] = [:]
        for (i, (item, lot, q)) in lines.enumerated() {
            let key = LedgerKey(supplierID: supplierID, itemID: item.id!, lot: lot)
            let amount = kind == .adjusted ? (q < .zero ? FixedDecimal(units: -q.units) : .zero) : q
            guard amount > .zero else { continue }
            let total = (try? (drawn[key] ?? .zero).adding(amount)) ?? amount
            drawn[key] = total
            let held = balances[key] ?? StockBalance()
            let m = Movement(key: StockKey(supplier: supplierID.uuidString, item: item.code, lot: lot), kind: kind == .adjusted ? .scrapped : kind, quantity: total)
            do throws(StockLedger.Refusal) { try StockLedger.check(m, against: held) } catch {
                throw Ledger.refusalProblem(error, field: "lines[\(i)].quantity", item: item.code, lot: lot)
            }
        }
    }

    // MARK: Transfer

    /// Material moves from one supplier to another in one transaction: out of the first ledger,
    /// into the second (held at once — the two suppliers settle the hand-over between them).
    static func transfer(_ p: Principal, _ input: TransferInput, app: Application) async throws -> MaterialDocument {
        try p.require(.handleMaterial)
        let from = try await supplier(input.fromSupplierId, field: "fromSupplierId", on: app.modelReads)
        let to = try await supplier(input.toSupplierId, field: "toSupplierId", on: app.modelReads)
        guard to.active else { throw Problem.validation([FieldProblem("toSupplierId", "unknownSupplier")]) }
        for (field, oid, sid) in [("fromOrderId", input.fromOrderId, from.id!), ("toOrderId", input.toOrderId, to.id!)] {
            guard let oid else { continue }
            guard let o = try await OutsourcingOrder.find(oid, on: app.modelReads) else { throw Problem.validation([FieldProblem(field, "unknownOrder")]) }
            guard o.supplierID == sid else { throw Problem.validation([FieldProblem(field, "orderOfOtherSupplier")]) }
        }
        let items = try await items(byCode: input.lines.map { $0.itemCode.trimmingCharacters(in: .whitespaces) }, field: { "lines[\($0)].itemCode" }, on: app.modelReads)
        let lines = Array(zip(items, input.lines))
        return try await app.write(as: p.auditActor) { change in
            try await transferInChange(p, from: from, to: to, fromOrderID: input.fromOrderId, toOrderID: input.toOrderId, reason: input.reason,
                                       lines: lines, in: change)
        }
    }

    /// The transfer inside the caller's transaction (a handover moves material with it).
    static func transferInChange(_ p: Principal, from: Organization, to: Organization, fromOrderID: UUID?, toOrderID: UUID?, reason: String,
                                 lines: [(Item, TransferInput.Line)], in change: Change) async throws -> MaterialDocument {
        // Always lock in one order, so two opposite transfers cannot wait on each other.
        for id in [from.id!, to.id!].sorted(by: { $0.uuidString < $1.uuidString }) { try await Ledger.lock(supplier: id, in: change) }
        try await checkHeld(from.id!, lines.map { ($0.0, $0.1.lot, $0.1.quantity) }, kind: .transferredOut, on: change.db)
        let d = MaterialDocument()
        d.id = UUID(); d.code = try await code("transfer", prefix: MaterialKind.transfer.codePrefix, in: change); d.kind = MaterialKind.transfer.rawValue
        d.status = "done"; d.supplierID = from.id!; d.toSupplierID = to.id!; d.orderID = fromOrderID
        d.reason = reason.trimmingCharacters(in: .whitespacesAndNewlines); d.version = 1; d.createdBy = p.userID; d.createdAt = change.now
        d.decisionNote = toOrderID?.uuidString ?? ""
        try await d.create(on: change.db)
        for (n, (item, l)) in lines.enumerated() {
            let row = MaterialDocumentLine()
            row.documentID = d.id!; row.number = n + 1; row.itemID = item.id!; row.lot = l.lot; row.quantity = l.quantity.units
            try await row.create(on: change.db)
            try await Ledger.record(.transferredOut, supplier: from.id!, item: item.id!, lot: l.lot, quantity: l.quantity, order: fromOrderID,
                                    document: d.id, by: p.userID, in: change)
            try await Ledger.record(.transferredIn, supplier: to.id!, item: item.id!, lot: l.lot, quantity: l.quantity, order: toOrderID,
                                    document: d.id, by: p.userID, in: change)
        }
        var after = snapshot(d, lines.map { ($0.0.code, $0.1.lot, $0.1.quantity) })
        after["from"] = from.code; after["to"] = to.code
        try await change.audit("material_document", d.id, "create", after: after)
        let people = try await OrderService.supplierUsers(from.id!, on: change.db) + OrderService.supplierUsers(to.id!, on: change.db)
        try await change.notify("material.transfer", recipients: people, messageKey: "notice.material.transfer",
                                params: ["code": d.code, "from": from.code, "to": to.code], link: "/material/documents/\(d.id!)")
        return d
    }

    // MARK: Reading

    static func dto(_ d: MaterialDocument, on db: any Database) async throws -> MaterialDocumentDTO {
        let lines = try await MaterialDocumentLine.query(on: db).filter(\.$documentID == d.id!).sort(\.$number).all()
        let items = try await OrderService.itemCodes(Set(lines.map(\.itemID)), on: db)
        let orgIDs: [UUID] = [d.supplierID] + (d.toSupplierID.map { [$0] } ?? [])
        let orgs = try await Organization.query(on: db).filter(\.$id ~~ orgIDs).all()
        let byID = Dictionary(uniqueKeysWithValues: orgs.map { ($0.id!, $0) })
        let order = try await d.orderID.asyncMap { try await OutsourcingOrder.find($0, on: db) } ?? nil
        let exceptions = try await ExceptionCase.query(on: db).filter(\.$source == "material_document").filter(\.$sourceID == d.id!.uuidString).all()
        return MaterialDocumentDTO(
            id: d.id!, code: d.code, kind: d.kind, status: d.status, supplierId: d.supplierID, supplierCode: byID[d.supplierID]?.code ?? "",
            supplierName: byID[d.supplierID]?.name ?? "", toSupplierId: d.toSupplierID, toSupplierCode: d.toSupplierID.flatMap { byID[$0]?.code },
            orderId: d.orderID, orderCode: order?.code, condition: d.condition, reason: d.reason, version: d.version, createdAt: d.createdAt,
            decidedAt: d.decidedAt, decisionNote: d.kind == MaterialKind.transfer.rawValue ? "" : d.decisionNote,
            awaitingConfirmation: MaterialKind.awaitsConfirmation(kind: d.kind, status: d.status, hasUnconfirmedLine: lines.contains { $0.confirmedQuantity == nil }),
            lines: lines.map { l in
                MaterialLineDTO(no: l.number, orderLine: l.orderLineNumber, itemId: l.itemID, itemCode: items[l.itemID]?.code ?? "",
                                itemName: items[l.itemID]?.name ?? "", unit: items[l.itemID]?.uom ?? "", lot: l.lot,
                                quantity: FixedDecimal(units: l.quantity), confirmedQuantity: l.confirmedQuantity.map(FixedDecimal.init(units:)),
                                confirmedAt: l.confirmedAt)
            },
            exceptions: exceptions.map(ExceptionService.summary))
    }
}

extension Optional {
    func asyncMap<T>(_ f: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let w = self else { return nil }
        return try await f(w)
    }
}
