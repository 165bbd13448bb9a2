import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct StockCountStatusDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let period: String
    /// counted, closed (by the buyer) or missing.
    let status: String
    let differences: Int
    let reason: String?
    let at: Date?
}

struct StockCountSheetDTO: Content {
    struct Line: Content {
        let itemId: UUID
        let itemCode: String
        let itemName: String
        let unit: String
        let lot: String
        /// What the ledger says the supplier holds (now, or when counted).
        let ledger: FixedDecimal
        /// What the supplier counted, once it has.
        let counted: FixedDecimal?
        /// What the sheet offers before counting: the ledger, or nothing when the ledger is below zero.
        let prefill: FixedDecimal
    }
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let period: String
    let status: String
    let reason: String?
    let lines: [Line]
}

struct StockCountInput: StrictInput {
    struct Line: Content { var itemId: UUID; var lot: String?; var counted: FixedDecimal }
    static let fields: Set<String> = ["period", "supplierId", "lines"]
    var period: String
    /// Only for the buyer's reads; a supplier counts for itself.
    var supplierId: UUID?
    /// Only what differs from the ledger need be sent; a line left out agrees with it.
    var lines: [Line]
}

struct CloseStockCountInput: StrictInput {
    static let fields: Set<String> = ["supplierId", "period", "reason"]
    var supplierId: UUID
    var period: String
    var reason: String
}

/// The month-end count (月末盘点): the supplier states what it holds; differences become
/// counted corrections in the ledger, dated at the period's end so the period's write-off sees them.
enum StockCountService {
    static func statuses(_ p: Principal, period: SettlementPeriod, supplierID: UUID? = nil, on db: any Database) async throws -> [StockCountStatusDTO] {
        guard p.can(.countStock) || p.can(.closeStockCounts) || p.can(.viewStatements) else { throw Problem.forbidden }
        struct Row: Decodable {
            let id: UUID; let code: String; let name: String; let status: String?; let differences: Int?; let reason: String?; let created_at: Date?
        }
        let scope: SQLQueryString = (p.scope.supplierID ?? supplierID).map { " AND o.id = \(bind: $0)" } ?? ""
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT o.id, o.code, o.name, c.status, c.differences, c.reason, c.created_at
            FROM organizations o LEFT JOIN stock_counts c ON c.supplier_id = o.id AND c.period = \(bind: period.description)
            WHERE o.kind = 'supplier' AND o.active = \(bind: true)
            """ + scope + " ORDER BY CASE WHEN c.status IS NULL THEN 0 ELSE 1 END, o.code LIMIT 500").rows(decoding: Row.self)
        return rows.map {
            StockCountStatusDTO(supplierId: $0.id, supplierCode: $0.code, supplierName: $0.name, period: period.description,
                                status: $0.status ?? "missing", differences: $0.differences ?? 0,
                                reason: ($0.reason ?? "").isEmpty ? nil : $0.reason, at: $0.created_at)
        }
    }

    static func sheet(_ p: Principal, supplierID: UUID?, period: SettlementPeriod, on db: any Database) async throws -> StockCountSheetDTO {
        guard p.can(.countStock) || p.can(.closeStockCounts) else { throw Problem.forbidden }
        guard let sid = p.scope.supplierID ?? supplierID else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("supplierId", "required")])
        }
        guard let org = try await Organization.find(sid, on: db), org.organizationKind == .supplier, p.scope.includes(organizationID: sid) else {
            throw Problem.notFound
        }
        let count = try await StockCount.query(on: db).filter(\.$supplierID == sid).filter(\.$period == period.description).first()
        var lines: [StockCountSheetDTO.Line] = []
        if let count {
            let rows = try await StockCountLine.query(on: db).filter(\.$countID == count.id!).all()
            let items = try await OrderService.itemCodes(Set(rows.map(\.itemID)), on: db)
            lines = rows.map { .init(itemId: $0.itemID, itemCode: items[$0.itemID]?.code ?? "", itemName: items[$0.itemID]?.name ?? "",
                                     unit: items[$0.itemID]?.uom ?? "", lot: $0.lot, ledger: FixedDecimal(units: $0.ledger),
                                     counted: FixedDecimal(units: $0.counted), prefill: FixedDecimal(units: max($0.ledger, 0))) }
        } else {
            let balances = try await Ledger.balances(suppliers: [sid], on: db).filter { $0.value.held != .zero }
            let items = try await OrderService.itemCodes(Set(balances.keys.map(\.itemID)), on: db)
            lines = balances.map { k, b in
                .init(itemId: k.itemID, itemCode: items[k.itemID]?.code ?? "", itemName: items[k.itemID]?.name ?? "", unit: items[k.itemID]?.uom ?? "",
                      lot: k.lot, ledger: b.held, counted: nil, prefill: max(b.held, .zero))
            }
        }
        lines.sort { ($0.itemCode, $0.lot) < ($1.itemCode, $1.lot) }
        return StockCountSheetDTO(supplierId: sid, supplierCode: org.code, supplierName: org.name, period: period.description,
                                  status: count?.status ?? "missing", reason: (count?.reason ?? "").isEmpty ? nil : count?.reason, lines: lines)
    }

    static func count(_ p: Principal, _ input: StockCountInput, app: Application) async throws -> StockCountSheetDTO {
        try p.require(.countStock)
        // The count is the supplier's own statement; the buyer closes one instead.
        guard let sid = p.scope.supplierID else { throw Problem.validation([FieldProblem("supplierId", "onlySuppliersCount")]) }
        let period = try StatementService.period(input.period)
        let settings = app.subcon.settings
        guard period <= settings.statementCalendar.period(of: app.subcon.today()) else {
            throw Problem.validation([FieldProblem("period", "periodNotStarted")])
        }
        guard input.lines.count <= 5000 else { throw Problem.validation([FieldProblem("lines", "tooMany", ["max": "5000"])]) }
        var problems: [FieldProblem] = []
        for (i, l) in input.lines.enumerated() {
            if l.counted < .zero { problems.append(FieldProblem("lines[\(i)].counted", "nonNegativeDecimal")) }
            if l.counted >= OrderLines.maxQuantity { problems.append(FieldProblem("lines[\(i)].counted", "tooLarge")) }
            if (l.lot ?? "").count > 64 { problems.append(FieldProblem("lines[\(i)].lot", "tooLong", ["max": "64"])) }
        }
        let itemIDs = Set(input.lines.map(\.itemId))
        let known = Set(try await Item.query(on: app.database).filter(\.$id ~~ itemIDs).all().map { $0.id! })
        for (i, l) in input.lines.enumerated() where !known.contains(l.itemId) { problems.append(FieldProblem("lines[\(i)].itemId", "unknownItem", ["code": l.itemId.uuidString])) }
        if !problems.isEmpty { throw Problem.validation(problems) }
        let end = StatementBuilder.bounds(period, settings: settings).end
        try await app.write(as: p.auditActor) { change in
            try await Ledger.lock(supplier: sid, in: change)
            if try await StockCount.query(on: change.db).filter(\.$supplierID == sid).filter(\.$period == period.description).first() != nil {
                throw Problem.conflict("problem.stockCount.done", ["period": period.description])
            }
            let balances = try await Ledger.balances(suppliers: [sid], on: change.db)
            var given: [LedgerKey: FixedDecimal] = [:]
            for l in input.lines { given[LedgerKey(supplierID: sid, itemID: l.itemId, lot: l.lot ?? "")] = l.counted }
            // Every held material and lot is on the sheet: what was not sent agrees with the ledger.
            // (A ledger below zero counts as nothing held.)
            var keys = Set(balances.filter { $0.value.held != .zero }.keys)
            keys.formUnion(given.keys)
            let domainLines = keys.sorted().map { k in
                MonthEndCount.Line(key: StockKey(supplier: sid.uuidString, item: k.itemID.uuidString, lot: k.lot),
                                   ledger: balances[k]?.held ?? .zero, counted: given[k] ?? max(balances[k]?.held ?? .zero, .zero))
            }
            let corrections: [Movement]
            do { corrections = try MonthEndCount.corrections(domainLines) } catch {
                throw Problem.validation([FieldProblem("lines", "badCount")])
            }
            let c = StockCount()
            c.id = UUID(); c.supplierID = sid; c.period = period.description; c.status = "counted"; c.reason = ""
            c.differences = corrections.count; c.createdBy = p.userID; c.createdAt = change.now
            do { try await c.create(on: change.db) } catch let e as any DatabaseError where e.isConstraintFailure {
                throw Problem.conflict("problem.stockCount.done", ["period": period.description])
            }
            for l in domainLines {
                let row = StockCountLine()
                row.countID = c.id!; row.itemID = UUID(uuidString: l.key.item)!; row.lot = l.key.lot; row.ledger = l.ledger.units; row.counted = l.counted.units
                try await row.create(on: change.db)
            }
            // Dated just before the period ends, so that period's write-off measures the count.
            let at = min(change.now, end.addingTimeInterval(-1))
            for m in corrections {
                try await Ledger.record(.adjusted, supplier: sid, item: UUID(uuidString: m.key.item)!, lot: m.key.lot, quantity: m.quantity,
                                        by: p.userID, at: at, in: change)
            }
            // The corrections themselves, so the history says what the count changed in the ledger.
            let items = try await OrderService.itemCodes(Set(corrections.compactMap { UUID(uuidString: $0.key.item) }), on: change.db)
            let changed = corrections.map { m in
                "\(UUID(uuidString: m.key.item).flatMap { items[$0]?.code } ?? m.key.item)\(m.key.lot.isEmpty ? "" : "/" + m.key.lot) \(m.quantity > .zero ? "+" : "")\(m.quantity)"
            }
            try await change.audit("stock_count", c.id, "create", after: ["period": c.period, "lines": String(domainLines.count),
                                                                           "differences": String(corrections.count),
                                                                           "corrections": changed.joined(separator: "; ")])
        }
        return try await sheet(p, supplierID: sid, period: period, on: app.database)
    }

    static func close(_ p: Principal, _ input: CloseStockCountInput, app: Application) async throws -> StockCountStatusDTO {
        try p.require(.closeStockCounts)
        let period = try StatementService.period(input.period)
        let reason = input.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        var problems: [FieldProblem] = []
        if reason.isEmpty { problems.append(FieldProblem("reason", "required")) }
        if reason.count > 500 { problems.append(FieldProblem("reason", "tooLong", ["max": "500"])) }
        guard let org = try await Organization.find(input.supplierId, on: app.database), org.organizationKind == .supplier else {
            throw Problem.validation(problems + [FieldProblem("supplierId", "unknownSupplier")])
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        let c = try await app.write(as: p.auditActor) { change in
            if try await StockCount.query(on: change.db).filter(\.$supplierID == org.id!).filter(\.$period == period.description).first() != nil {
                throw Problem.conflict("problem.stockCount.done", ["period": period.description])
            }
            let c = StockCount()
            c.id = UUID(); c.supplierID = org.id!; c.period = period.description; c.status = "closed"; c.reason = reason
            c.differences = 0; c.createdBy = p.userID; c.createdAt = change.now
            try await c.create(on: change.db)
            try await change.audit("stock_count", c.id, "close", after: ["period": c.period, "supplier": org.code, "reason": reason])
            try await change.notify("stockCount.closed", recipients: try await OrderService.supplierUsers(org.id!, on: change.db),
                                    messageKey: "notice.stockCountClosed", params: ["period": c.period, "reason": reason], link: "/stock-count?period=\(c.period)")
            return c
        }
        return StockCountStatusDTO(supplierId: org.id!, supplierCode: org.code, supplierName: org.name, period: c.period, status: c.status,
                                   differences: 0, reason: reason, at: c.createdAt)
    }
}
