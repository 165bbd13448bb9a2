import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import SubconDomain
import Vapor

struct StockRowDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let itemId: UUID
    let itemCode: String
    let itemName: String
    let unit: String
    let lot: String
    let inTransit: FixedDecimal
    let held: FixedDecimal
}

extension StockRowDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) {
        o("supplierId", supplierId); o("supplierCode", supplierCode); o("supplierName", supplierName); o("itemId", itemId); o("itemCode", itemCode)
        o("itemName", itemName); o("unit", unit); o("lot", lot); o("inTransit", inTransit); o("held", held)
    }
}

struct WriteOffRowDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let itemId: UUID
    let itemCode: String
    let itemName: String
    let unit: String
    let opening: FixedDecimal
    let issued: FixedDecimal
    let consumed: FixedDecimal
    let allowedLoss: FixedDecimal
    let returned: FixedDecimal
    let held: FixedDecimal
    let variance: FixedDecimal
    /// Material in rejects decided as the material's fault (料废): an allowed loss.
    let materialRejects: FixedDecimal
    /// Material in rejects decided as the supplier's (工废): charged on the statement at cost.
    let supplierRejects: FixedDecimal
    let tolerance: FixedDecimal
    let beyondTolerance: Bool
}

struct WriteOffReportDTO: Content {
    let period: String
    let from: String
    let to: String
    let tolerancePercent: FixedDecimal
    let rows: [WriteOffRowDTO]
}

/// One requirement of an order line and where its material stands.
struct RequirementLedgerDTO: Content {
    let line: Int
    let componentCode: String
    let componentName: String
    let unit: String
    let gross: FixedDecimal
    let issued: FixedDecimal
    let remainingToIssue: FixedDecimal
    let confirmed: FixedDecimal
    let consumed: FixedDecimal
    let allowedLoss: FixedDecimal
    let returned: FixedDecimal
    let held: FixedDecimal
    let variance: FixedDecimal
}

struct OrderLineDeliveryDTO: Content {
    let line: Int
    let itemCode: String
    let itemName: String
    /// The item's unit of measure, which every quantity of the line is in.
    let unit: String
    let ordered: FixedDecimal
    let shippedOpen: FixedDecimal
    let awaitingInspection: FixedDecimal
    let accepted: FixedDecimal
    let maxReceivable: FixedDecimal
}

struct OrderMaterialDTO: Content {
    let requirements: [RequirementLedgerDTO]
    let lines: [OrderLineDeliveryDTO]
    let documents: [DocumentSummaryDTO]
    let deliveryNotes: [NoteSummaryDTO]
    let receipts: [ReceiptSummaryDTO]
}

struct DocumentSummaryDTO: Content {
    let id: UUID; let code: String; let kind: String; let status: String; let supplierCode: String; let supplierName: String; let orderCode: String?
    let createdAt: Date; let awaitingConfirmation: Bool
}
struct NoteSummaryDTO: Content {
    let id: UUID; let code: String; let supplierCode: String; let supplierName: String; let orderId: UUID; let orderCode: String; let shipDate: String
    let status: String; let quantity: FixedDecimal; let remaining: FixedDecimal
    /// The unit of the quantities when every line of the note has the same one (a note of items
    /// in different units has no sum in one unit; its lines say theirs).
    let unit: String?
}
struct ReceiptSummaryDTO: Content {
    let id: UUID; let code: String; let supplierCode: String; let supplierName: String; let orderCode: String; let createdAt: Date; let lines: Int; let awaiting: Int
}
struct DueToIssueDTO: Content {
    let orderId: UUID; let orderCode: String; let supplierCode: String; let supplierName: String; let line: Int; let dueDate: String
    let componentCode: String; let componentName: String; let uom: String; let gross: FixedDecimal; let issued: FixedDecimal; let remaining: FixedDecimal
}
struct DueToArriveDTO: Content {
    let orderId: UUID; let orderCode: String; let supplierCode: String; let supplierName: String; let line: Int; let itemCode: String; let itemName: String
    let uom: String; let dueDate: String; let ordered: FixedDecimal; let counted: FixedDecimal; let open: FixedDecimal
}

struct TraceDTO: Content {
    struct Use: Content {
        let supplierCode: String; let orderId: UUID?; let orderCode: String?; let kind: String; let quantity: FixedDecimal
        /// For consumption: the received lot it went into.
        let receivedItemCode: String?; let receivedLot: String?; let receiptCode: String?
    }
    struct Component: Content { let itemCode: String; let itemName: String; let lot: String; let kind: String; let quantity: FixedDecimal; let orderCode: String? }
    struct Received: Content {
        let receiptId: UUID; let receiptCode: String; let supplierCode: String; let orderCode: String; let quantity: FixedDecimal; let status: String
        /// Component lots issued to that supplier for that order, and those this lot consumed.
        let issuedComponents: [Component]
        let consumedComponents: [Component]
    }
    let itemCode: String
    let lot: String
    /// The lot as a component: where it went.
    let uses: [Use]
    /// The lot as received goods: what went into it.
    let received: [Received]
}

/// What the warehouse works from, the write-off report, stock, traceability and an order's
/// material picture.
enum MaterialReports {
    static func sql(_ db: any Database) -> any SQLDatabase { db as! any SQLDatabase }
    static func sql(_ db: any SQLDatabase) -> any SQLDatabase { db }

    // MARK: Stock

    /// Balances per supplier × material × lot that are not zero, a page at a time, in the order
    /// of supplier code, material code and lot: a range of one of `lot_balances`' indexes, the
    /// names joined to the page's rows only, and the total from the kept counts (per supplier) or,
    /// filtered by material or lot, counted over that filter's index.
    struct StockRow: ReadByPosition {
        let supplier_id: UUID; let supplier_code: String; let supplier_name: String; let item_id: UUID; let item_code: String; let item_name: String
        let uom: String; let lot: String; let in_transit: Int64; let held: Int64

        static let columnNames = ["supplier_id", "supplier_code", "supplier_name", "item_id", "item_code", "item_name", "uom", "lot", "in_transit", "held"]
        init(_ r: inout ColumnReader) throws {
            supplier_id = try r.value(); supplier_code = try r.value(); supplier_name = try r.value(); item_id = try r.value()
            item_code = try r.value(); item_name = try r.value(); uom = try r.value(); lot = try r.value(); in_transit = try r.value(); held = try r.value()
        }
    }

    static func stock(_ p: Principal, supplierID: UUID?, itemCode: String?, lot: String?, page: PageRequest, on sql: any SQLDatabase) async throws -> Page<StockRowDTO> {
        let supplier = p.scope.supplierID ?? supplierID
        let code = itemCode.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        let lot = lot.flatMap { $0.isEmpty ? nil : $0 }
        var conditions: [SQLQueryString] = []
        if let supplier { conditions.append("supplier_id = \(bind: supplier)") }
        if let code { conditions.append("item_code = \(bind: code)") }
        if let lot { conditions.append("lot = \(bind: lot)") }
        var whereClause: SQLQueryString = ""
        for (i, c) in conditions.enumerated() { whereClause = whereClause + (i == 0 ? " WHERE " : " AND ") + c }
        typealias Row = StockRow
        // The page's keys first, from the index alone; names only for those 50. A fixed supplier
        // (or material) leaves its code out of the order, so that the order is that of the
        // filter's index: PostgreSQL otherwise walked every supplier's lots in code order up to
        // the one asked for (40 ms for SUP-JG).
        let order = supplier != nil ? "item_code, lot" : code != nil ? "supplier_code, lot" : "supplier_code, item_code, lot"
        func statement(total: SQLQueryString?) -> SQLQueryString {
            """
            SELECT b.supplier_id, b.supplier_code, s.name AS supplier_name, b.item_id, b.item_code, i.name AS item_name, i.uom, b.lot, b.in_transit, b.held\(total.map { ", " + $0 } ?? "")
            FROM (SELECT supplier_id, item_id, lot, supplier_code, item_code, in_transit, held FROM lot_balances
            """ + whereClause + """
             ORDER BY \(unsafeRaw: order) LIMIT \(literal: page.per) OFFSET \(literal: page.offset)) b
            JOIN organizations s ON s.id = b.supplier_id JOIN items i ON i.id = b.item_id
            ORDER BY b.supplier_code, b.item_code, b.lot
            """
        }
        // A supplier's lots, or everyone's, are a kept count, read in the page's statement.
        let (rows, total): ([Row], Int)
        if code == nil && lot == nil {
            (rows, total) = try await KeptCounts.lotBalances.pageAndTotal(["supplier_id": supplier], decoding: Row.self, on: sql) { statement(total: $0) }
        } else {
            rows = try await sql.raw(statement(total: nil)).rows(decoding: Row.self)
            total = try await sql.raw("SELECT COUNT(*) AS n FROM lot_balances" + whereClause).first()?.decode(column: "n", as: Int.self) ?? 0
        }
        return Page(items: rows.map { r in
            StockRowDTO(supplierId: r.supplier_id, supplierCode: r.supplier_code, supplierName: r.supplier_name, itemId: r.item_id, itemCode: r.item_code, itemName: r.item_name,
                        unit: r.uom, lot: r.lot, inTransit: FixedDecimal(units: r.in_transit), held: FixedDecimal(units: r.held))
        }, page: page.page, per: page.per, total: total)
    }

    static func organizations(_ ids: Set<UUID>, on db: any Database) async throws -> [UUID: Organization] {
        guard !ids.isEmpty else { return [:] }
        return Dictionary(uniqueKeysWithValues: try await Organization.query(on: db).filter(\.$id ~~ ids).all().map { ($0.id!, $0) })
    }

    // MARK: Write-off

    /// A month (`YYYY-MM`, read by the domain's `SettlementPeriod`) as the installation's time
    /// zone sees it: [start, end).
    static func month(_ period: String, timeZone: String) throws -> (start: Date, end: Date) {
        guard let month = SettlementPeriod(period) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("period", "badPeriod")])
        }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: timeZone) ?? .gmt
        let start = cal.date(from: DateComponents(year: month.year, month: month.month, day: 1))!
        return (start, cal.date(byAdding: .month, value: 1, to: start)!)
    }

    /// One supplier and material's write-off over a span, before names are put to it.
    struct WriteOffFigure: Sendable {
        let supplierID: UUID
        let itemID: UUID
        let writeOff: WriteOff
        /// The variance allowed: the tolerance's share of the opening and what was issued.
        let tolerance: FixedDecimal
        let beyondTolerance: Bool
    }

    /// A span's write-off figures in the order of supplier code and material code.
    struct WriteOffFigures: Sendable {
        let period: String
        let from: String
        let to: String
        let tolerancePercent: FixedDecimal
        let rows: [WriteOffFigure]

        /// Those beyond tolerance first, each part in the order of the codes.
        var beyondFirst: [WriteOffFigure] { rows.filter(\.beyondTolerance) + rows.filter { !$0.beyondTolerance } }

        /// The report of the span with these rows (all of them named, or a page's).
        func report(_ rows: [WriteOffRowDTO]) -> WriteOffReportDTO {
            WriteOffReportDTO(period: period, from: from, to: to, tolerancePercent: tolerancePercent, rows: rows)
        }
    }

    static func writeOff(_ p: Principal, period: String, supplierID: UUID?, app: Application) async throws -> WriteOffReportDTO {
        let (start, end) = try month(period, timeZone: app.subcon.settings.timeZone)
        return try await writeOff(p, start: start, end: end, label: period, supplierID: supplierID, app: app)
    }

    /// The write-off over any span of months with every row named.
    static func writeOff(_ p: Principal, start: Date, end: Date, label period: String, supplierID: UUID?, app: Application) async throws -> WriteOffReportDTO {
        let figures = try await writeOffFigures(p, start: start, end: end, label: period, supplierID: supplierID, app: app)
        return figures.report(try await named(figures.rows, on: app.database))
    }

    static func writeOffFigures(_ p: Principal, period: String, supplierID: UUID?, app: Application) async throws -> WriteOffFigures {
        let (start, end) = try month(period, timeZone: app.subcon.settings.timeZone)
        return try await writeOffFigures(p, start: start, end: end, label: period, supplierID: supplierID, app: app)
    }

    /// The write-off's figures over any span of months: the opening balance at `start`, the
    /// movements until `end`, and the rejects of the span whose responsibility was decided.
    ///
    /// Every supplier's month is some 18,000 rows on the large data set, and the page shows 50
    /// of them: the figures come in the order of the codes straight from the statement, so that
    /// names are read only for the rows that are shown. Named whole first, the page decoded
    /// 17,000 materials' models (one bound id each, past SQLite's limit of 32,766 on a bigger
    /// month) to show fifty.
    static func writeOffFigures(_ p: Principal, start: Date, end: Date, label period: String, supplierID: UUID?, app: Application) async throws -> WriteOffFigures {
        let db = sql(app.database)
        let supplier: SQLQueryString = (p.scope.supplierID ?? supplierID).map { " AND supplier_id = \(bind: $0)" } ?? ""
        struct Decided: Decodable { let supplier_id: UUID; let item_id: UUID; let allowed: Int64?; let charged: Int64? }
        let decided = try await db.raw("""
            SELECT supplier_id, item_id, CAST(SUM(allowed_loss) AS BIGINT) AS allowed, CAST(SUM(charged) AS BIGINT) AS charged
            FROM reject_materials WHERE occurred_at >= \(bind: start) AND occurred_at < \(bind: end)
            """ + supplier + " GROUP BY supplier_id, item_id").rows(decoding: Decided.self)
        let rejects = Dictionary(decided.map {
            (WriteOffFold.Key(supplier: $0.supplier_id, item: $0.item_id), (FixedDecimal(units: $0.allowed ?? 0), FixedDecimal(units: $0.charged ?? 0)))
        }) { a, _ in a }
        let tolerance = app.subcon.settings.writeOffTolerancePercent
        // The rows are folded as they arrive, one supplier and material after another.
        let fold = NIOLockedValueBox(WriteOffFold(rejects: rejects, tolerancePercent: tolerance))
        try await db.raw(writeOffStatement(supplierID: p.scope.supplierID ?? supplierID, start: start, end: end))
            .run { row in fold.withLockedValue { $0.add(row) } }
        let rows = try fold.withLockedValue { try $0.finished() }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: app.subcon.settings.timeZone) ?? .gmt
        let last = cal.date(byAdding: .day, value: -1, to: end)!
        func day(_ d: Date) -> String { let c = cal.dateComponents([.year, .month, .day], from: d); return Day(year: c.year!, month: c.month!, day: c.day!)!.description }
        return WriteOffFigures(period: period, from: day(start), to: day(last), tolerancePercent: tolerance, rows: rows)
    }

    /// Per supplier × item × kind: the running total less what moved since the period began is
    /// the opening; the movements since then give the period, so no read goes back over the
    /// whole history. Everyone's are read through the movements' time index, one supplier's
    /// through its own (`AddSupplierMovementTimeIndex`).
    static func writeOffStatement(supplierID: UUID?, start: Date, end: Date) -> SQLQueryString {
        let supplier: SQLQueryString = supplierID.map { " AND supplier_id = \(bind: $0)" } ?? ""
        return """
            SELECT x.supplier_id, x.item_id, x.kind, x.before_q, x.during_q, x.during_a
            FROM (SELECT supplier_id, item_id, kind, CAST(SUM(t) AS BIGINT) AS before_q, CAST(SUM(d) AS BIGINT) AS during_q,
                         CAST(SUM(a) AS BIGINT) AS during_a
                  FROM (SELECT supplier_id, item_id, kind, quantity AS t, 0 AS d, 0 AS a FROM ledger_item_totals WHERE 1 = 1
            """ + supplier + """
                        UNION ALL
                        SELECT supplier_id, item_id, kind, -quantity, CASE WHEN created_at < \(bind: end) THEN quantity ELSE 0 END,
                               CASE WHEN created_at < \(bind: end) THEN allowance ELSE 0 END
                        FROM material_movements WHERE created_at >= \(bind: start)
            """ + supplier + """
                  ) u GROUP BY supplier_id, item_id, kind) x
            LEFT JOIN organizations s ON s.id = x.supplier_id LEFT JOIN items i ON i.id = x.item_id
            ORDER BY COALESCE(s.code, ''), COALESCE(i.code, ''), x.supplier_id, x.item_id
            """
    }

    /// Folds the write-off's statement, whose rows come one supplier and material after
    /// another, into figures.
    struct WriteOffFold {
        struct Key: Hashable { let supplier: UUID; let item: UUID }
        let rejects: [Key: (allowed: FixedDecimal, charged: FixedDecimal)]
        let tolerancePercent: FixedDecimal
        private var rows: [WriteOffFigure] = []
        private var key: Key?
        private var keyText = (supplier: "", item: "")
        private var opening: [Movement] = [], during: [Movement] = []
        private var failure: (any Error)?
        /// The domain sums movements of one key; which key is the fold's business.
        private static let stock = StockKey(supplier: "", item: "", lot: "")

        init(rejects: [Key: (allowed: FixedDecimal, charged: FixedDecimal)], tolerancePercent: FixedDecimal) {
            self.rejects = rejects; self.tolerancePercent = tolerancePercent
        }

        mutating func add(_ row: any SQLRow) {
            guard failure == nil else { return }
            do {
                // The ids are read as text and parsed once a key: the SQLite driver parses a UUID
                // with `sscanf`, an eighth of the report's time for two ids on each of 53,000 rows.
                let supplier = try row.decode(column: "supplier_id", as: String.self), item = try row.decode(column: "item_id", as: String.self)
                if key == nil || supplier != keyText.supplier || item != keyText.item {
                    guard let s = UUIDText.parse(supplier), let i = UUIDText.parse(item) else {
                        throw Abort(.internalServerError, reason: "a ledger total's ids are not UUIDs")
                    }
                    try finishKey()
                    key = Key(supplier: s, item: i)
                    keyText = (supplier, item)
                }
                guard let kind = MovementKind(rawValue: try row.decode(column: "kind", as: String.self)) else { return }
                opening.append(Movement(key: Self.stock, kind: kind, quantity: FixedDecimal(units: try row.decode(column: "before_q", as: Int64.self))))
                let during = try row.decode(column: "during_q", as: Int64.self), allowance = try row.decode(column: "during_a", as: Int64.self)
                if during != 0 || allowance != 0 {
                    self.during.append(Movement(key: Self.stock, kind: kind, quantity: FixedDecimal(units: during), allowance: FixedDecimal(units: allowance)))
                }
            } catch { failure = error }
        }

        /// The figure of the key whose rows have all come, if it held anything or moved.
        private mutating func finishKey() throws {
            guard let key else { return }
            defer { opening.removeAll(keepingCapacity: true); during.removeAll(keepingCapacity: true) }
            let balance = try StockLedger.balance(opening)
            guard !during.isEmpty || balance != StockBalance() else { return }
            let r = rejects[key]
            let w = try WriteOff.summarize(opening: balance, movements: during)
                .accounting(materialRejects: r?.allowed ?? .zero, supplierRejects: r?.charged ?? .zero)
            rows.append(WriteOffFigure(supplierID: key.supplier, itemID: key.item, writeOff: w, tolerance: try w.allowedVariance(tolerancePercent: tolerancePercent),
                                       beyondTolerance: try w.exceeds(tolerancePercent: tolerancePercent)))
        }

        mutating func finished() throws -> [WriteOffFigure] {
            if let failure { throw failure }
            try finishKey()
            key = nil
            return rows
        }
    }

    /// Figures with their supplier's and material's codes, names and unit, read for those rows
    /// only, `batch` at a time (a bound list must stay under the databases' limits on parameters).
    static func named(_ figures: [WriteOffFigure], on db: any Database, batch: Int = 500) async throws -> [WriteOffRowDTO] {
        struct Name: Decodable { let id: UUID; let code: String; let name: String; let uom: String }
        func names(_ table: String, unit: String, _ ids: Set<UUID>) async throws -> [UUID: Name] {
            var out: [UUID: Name] = [:]
            let ids = Array(ids)
            for start in stride(from: 0, to: ids.count, by: batch) {
                let chunk: [any Encodable & Sendable] = ids[start..<min(start + batch, ids.count)].map { $0 }
                for n in try await sql(db).raw("SELECT id, code, name, \(unsafeRaw: unit) AS uom FROM \(unsafeRaw: table) WHERE id IN (\(binds: chunk))")
                    .rows(decoding: Name.self) { out[n.id] = n }
            }
            return out
        }
        let suppliers = try await names("organizations", unit: "''", Set(figures.map(\.supplierID)))
        let items = try await names("items", unit: "uom", Set(figures.map(\.itemID)))
        return figures.map { f in
            let s = suppliers[f.supplierID], i = items[f.itemID], w = f.writeOff
            return WriteOffRowDTO(
                supplierId: f.supplierID, supplierCode: s?.code ?? "", supplierName: s?.name ?? "", itemId: f.itemID,
                itemCode: i?.code ?? "", itemName: i?.name ?? "", unit: i?.uom ?? "",
                opening: w.opening, issued: w.issued, consumed: w.consumed, allowedLoss: w.allowedLoss, returned: w.returned, held: w.held,
                variance: w.variance, materialRejects: w.materialRejects, supplierRejects: w.supplierRejects, tolerance: f.tolerance,
                beyondTolerance: f.beyondTolerance)
        }
    }

    /// Variances beyond tolerance become deduction proposals (one per supplier × material ×
    /// month, updated when run again; a proposal whose variance is back within tolerance is
    /// withdrawn).
    static func proposeDeductions(_ p: Principal, period: String, supplierID: UUID?, app: Application) async throws -> [DeductionDTO] {
        try p.require(.proposeDeductions)
        if let supplierID {
            // A supplier id that names nobody would otherwise "succeed" with nothing to propose.
            guard let org = try await Organization.find(supplierID, on: app.database), org.kind == OrganizationKind.supplier.rawValue else {
                throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")])
            }
        }
        let report = try await writeOff(p, period: period, supplierID: supplierID, app: app)
        return try await app.write(as: p.auditActor) { change in
            // A proposal a statement has taken is settled there: running again leaves it alone.
            var existing = try await DeductionProposal.query(on: change.db).filter(\.$period == period)
                .group(.and) { q in if let supplierID { q.filter(\.$supplierID == supplierID) } }.all()
            let settled = Set(try await StatementClaim.query(on: change.db).filter(\.$sourceType == "write_off")
                .filter(\.$sourceID ~~ existing.map { $0.id! }).all().map(\.sourceID))
            let taken = existing.filter { settled.contains($0.id!) }
            existing.removeAll { settled.contains($0.id!) }
            for row in report.rows where !taken.contains(where: { $0.supplierID == row.supplierId && $0.itemID == row.itemId }) {
                let found = existing.first { $0.supplierID == row.supplierId && $0.itemID == row.itemId }
                existing.removeAll { $0 === found }
                if row.beyondTolerance {
                    let d = found ?? DeductionProposal()
                    let before: [String: String?] = ["quantity": found.map { FixedDecimal(units: $0.quantity).description }]
                    if found == nil { d.supplierID = row.supplierId; d.itemID = row.itemId; d.period = period; d.createdBy = p.userID; d.createdAt = change.now }
                    d.quantity = row.variance.units; d.tolerance = row.tolerance.units; d.status = "proposed"; d.updatedAt = change.now
                    try await d.save(on: change.db)
                    try await change.audit("deduction_proposal", d.id, found == nil ? "create" : "update", before: before,
                                           after: ["supplier": row.supplierCode, "item": row.itemCode, "period": period, "quantity": row.variance.description])
                } else if let found, found.status == "proposed" {
                    try await found.delete(on: change.db)
                    try await change.audit("deduction_proposal", found.id, "withdraw", before: ["quantity": FixedDecimal(units: found.quantity).description])
                }
            }
            for gone in existing where gone.status == "proposed" {
                try await gone.delete(on: change.db)
                try await change.audit("deduction_proposal", gone.id, "withdraw", before: ["quantity": FixedDecimal(units: gone.quantity).description])
            }
            return try await deductions(p, period: period, supplierID: supplierID, on: change.db)
        }
    }

    static func deductions(_ p: Principal, period: String?, supplierID: UUID?, on db: any Database) async throws -> [DeductionDTO] {
        var q = p.scope.query(DeductionProposal.self, on: db)
        if let period, !period.isEmpty { q = q.filter(\.$period == period) }
        if let supplierID { q = q.filter(\.$supplierID == supplierID) }
        let rows = try await q.sort(\.$period, .descending).all()
        let items = try await OrderService.itemCodes(Set(rows.map(\.itemID)), on: db)
        let orgs = try await organizations(Set(rows.map(\.supplierID)), on: db)
        return rows.map {
            DeductionDTO(id: $0.id!, supplierId: $0.supplierID, supplierCode: orgs[$0.supplierID]?.code ?? "", supplierName: orgs[$0.supplierID]?.name ?? "", itemCode: items[$0.itemID]?.code ?? "",
                         itemName: items[$0.itemID]?.name ?? "", period: $0.period, quantity: FixedDecimal(units: $0.quantity),
                         tolerance: FixedDecimal(units: $0.tolerance), status: $0.status, updatedAt: $0.updatedAt)
        }.sorted { ($0.period, $0.supplierCode, $0.itemCode) > ($1.period, $1.supplierCode, $1.itemCode) }
    }

    // MARK: An order's material

    static func orderMaterial(_ p: Principal, _ order: OutsourcingOrder, app: Application) async throws -> OrderMaterialDTO {
        // The plain reads go to the read connections: through the pool's one connection per
        // event loop this answer's dozen statements queued behind each other (180 a second with
        // the processor two-thirds idle).
        let db = app.database, reads = app.reads
        let reqs = try await MaterialService.requirements(order.id!, on: db)
        struct R: Decodable { let order_line_no: Int?; let item_id: UUID; let kind: String; let q: Int64; let a: Int64 }
        let sums = try await reads.raw("""
            SELECT order_line_no, item_id, kind, CAST(SUM(quantity) AS BIGINT) AS q, CAST(SUM(allowance) AS BIGINT) AS a
            FROM material_movements WHERE order_id = \(bind: order.id!) AND supplier_id = \(bind: order.supplierID)
            GROUP BY order_line_no, item_id, kind
            """).rows(decoding: R.self)
        let requirements = try reqs.map { r -> RequirementLedgerDTO in
            let mine = sums.filter { $0.order_line_no == r.line && $0.item_id == r.component.id! }
            func total(_ kinds: MovementKind...) -> FixedDecimal { FixedDecimal(units: mine.filter { kinds.map(\.rawValue).contains($0.kind) }.reduce(0) { $0 + $1.q }) }
            let movements = mine.compactMap { s in MovementKind(rawValue: s.kind).map {
                Movement(key: StockKey(supplier: "", item: "", lot: ""), kind: $0, quantity: FixedDecimal(units: s.q), allowance: FixedDecimal(units: s.a))
            } }
            let w = try WriteOff.summarize(movements: movements)
            return RequirementLedgerDTO(line: r.line, componentCode: r.component.code, componentName: r.component.name, unit: r.component.uom,
                                        gross: r.gross, issued: r.issued, remainingToIssue: r.remaining, confirmed: total(.receiptConfirmed),
                                        consumed: w.consumed, allowedLoss: w.allowedLoss, returned: w.returned, held: w.held, variance: w.variance)
        }
        let states = try await DeliveryService.lineStates(order.id!, on: db)
        let items = try await OrderService.itemCodes(Set(states.values.map(\.line.itemID)), on: db)
        let tolerance = app.subcon.settings.overReceiptPercent
        let lines = states.values.sorted { $0.line.number < $1.line.number }.map { s in
            OrderLineDeliveryDTO(line: s.line.number, itemCode: items[s.line.itemID]?.code ?? "", itemName: items[s.line.itemID]?.name ?? "",
                                 unit: items[s.line.itemID]?.uom ?? "", ordered: s.ordered, shippedOpen: s.shippedOpen,
                                 awaitingInspection: s.awaitingInspection, accepted: s.accepted,
                                 maxReceivable: (try? Receiving.limit(ordered: s.ordered, tolerancePercent: tolerance)) ?? s.ordered)
        }
        return OrderMaterialDTO(
            requirements: requirements, lines: lines,
            documents: try await documents(p, orderID: order.id!, kind: nil, status: nil, supplierID: nil, limit: 200, on: reads),
            deliveryNotes: try await notes(p, orderID: order.id!, open: false, limit: 200, on: reads),
            receipts: try await receipts(p, orderID: order.id!, awaiting: false, limit: 200, on: reads))
    }

    // MARK: Lists

    // Each list is one statement: its page's ids in order from an index, then the names, order
    // codes and line sums of those rows only. They were a model query each for the documents,
    // their suppliers, orders and lines, and every order decoded whole for its code — most of
    // the material hub's time (five such lists on one page).

    /// The key each list's next page goes on from (`after`): what its condition on the key reads.
    static func cursor(_ d: DocumentSummaryDTO) -> ListCursor { ListCursor([d.id.uuidString]) }
    static func cursor(_ n: NoteSummaryDTO) -> ListCursor { ListCursor([n.id.uuidString]) }
    static func cursor(_ r: ReceiptSummaryDTO) -> ListCursor { ListCursor([r.id.uuidString]) }
    static func cursor(_ l: DueToArriveDTO) -> ListCursor { ListCursor([l.orderId.uuidString, String(l.line)]) }
    static func cursor(_ r: DueToIssueDTO) -> ListCursor { ListCursor([r.orderId.uuidString, String(r.line), r.componentCode]) }

    /// - Parameters:
    ///   - unconfirmed: only documents with a line not yet confirmed, found from the lines' index
    ///     of those (few) instead of walking every done document for them.
    ///   - after: the last document of the page before (its id); the list goes on from it, newest first.
    static func documents(_ p: Principal, orderID: UUID?, kind: String?, status: String?, supplierID: UUID?, unconfirmed: Bool = false,
                          limit: Int, after: ListCursor? = nil, on db: any SQLDatabase) async throws -> [DocumentSummaryDTO] {
        struct Row: ReadByPosition {
            let id: UUID; let code: String; let kind: String; let status: String; let created_at: Date
            let supplier_code: String?; let supplier_name: String?; let order_code: String?; let unconfirmed: Int

            static let columnNames = ["id", "code", "kind", "status", "created_at", "supplier_code", "supplier_name", "order_code", "unconfirmed"]
            init(_ r: inout ColumnReader) throws {
                id = try r.value(); code = try r.value(); kind = try r.value(); status = try r.value(); created_at = try r.value()
                supplier_code = try r.optional(); supplier_name = try r.optional(); order_code = try r.optional(); unconfirmed = try r.value()
            }
        }
        let page = try documentPage(p, orderID: orderID, kind: kind, status: status, supplierID: supplierID, unconfirmed: unconfirmed, limit: limit, after: after)
        let rows = try await sql(db).raw("WITH page AS MATERIALIZED (" + page + ") " + """
            SELECT d.id, d.code, d.kind, d.status, d.created_at, s.code AS supplier_code, s.name AS supplier_name, o.code AS order_code,
                   CASE WHEN EXISTS (SELECT 1 FROM material_document_lines l WHERE l.document_id = d.id AND l.confirmed_quantity IS NULL)
                        THEN 1 ELSE 0 END AS unconfirmed
              FROM page p CROSS JOIN material_documents d
              LEFT JOIN organizations s ON s.id = d.supplier_id LEFT JOIN outsourcing_orders o ON o.id = d.order_id
             WHERE d.id = p.id ORDER BY p.k1 DESC, p.k2 DESC
            """).rows(decoding: Row.self)
        return rows.map { d in
            DocumentSummaryDTO(id: d.id, code: d.code, kind: d.kind, status: d.status, supplierCode: d.supplier_code ?? "",
                               supplierName: d.supplier_name ?? "", orderCode: d.order_code, createdAt: d.created_at,
                               awaitingConfirmation: MaterialKind.awaitsConfirmation(kind: d.kind, status: d.status, hasUnconfirmedLine: d.unconfirmed != 0))
        }
    }

    /// Where a page of `documents` is read. Without a kind, a status or an order it has the same
    /// best plan for every supplier and page (each side of a supplier's documents, or all
    /// documents, walked newest first from its index), so it runs as a kept statement
    /// (`keyedReads`); each of those narrows the rows by a share that differs from one value to
    /// the next, and is planned for its value (`reads`).
    static func documentReads(_ app: Application, orderID: UUID?, kind: String?, status: String?) -> any SQLDatabase {
        orderID == nil && (kind ?? "").isEmpty && (status ?? "").isEmpty ? app.keyedReads : app.reads
    }

    /// The ids and keys of a page of `documents`, newest first: the statement its plan is read from.
    static func documentPage(_ p: Principal, orderID: UUID?, kind: String?, status: String?, supplierID: UUID?, unconfirmed: Bool = false,
                             limit: Int, after: ListCursor? = nil) throws -> SQLQueryString {
        var filters: SQLQueryString = ""
        if let orderID { filters = filters + " AND d.order_id = \(bind: orderID)" }
        if let kind, !kind.isEmpty { filters = filters + " AND d.kind = \(bind: kind)" }
        if let status, !status.isEmpty { filters = filters + " AND d.status = \(bind: status)" }
        if let after {
            filters = filters + " AND (d.created_at, d.code) < (SELECT a.created_at, a.code FROM material_documents a WHERE a.id = \(bind: try after.uuid(0, of: 1)))"
        }
        func bySupplier(_ id: UUID) -> SQLQueryString { " AND (d.supplier_id = \(bind: id) OR d.to_supplier_id = \(bind: id))" }
        let conditions: SQLQueryString = "1 = 1" + p.scope.and("d.supplier_id", "d.to_supplier_id") + filters + (supplierID.map(bySupplier) ?? "")
        let newest: SQLQueryString = " ORDER BY d.created_at DESC, d.code DESC LIMIT \(literal: limit)"
        if unconfirmed {
            return "SELECT d.id, d.created_at AS k1, d.code AS k2 FROM (SELECT DISTINCT x.document_id FROM material_document_lines x WHERE x.confirmed_at IS NULL) u "
                + "CROSS JOIN material_documents d WHERE d.id = u.document_id AND " + conditions + newest
        } else if status?.isEmpty ?? true, let supplier = p.scope.supplierID ?? supplierID {
            // A supplier's own documents and those transferred to it, each side walked newest first
            // in an index of its own, and the newest of both kept. Not with a status: the hub's
            // supplementary issues pending approval are a few rows of the status index, and
            // walking SUP-JG's 10,904 documents for them instead took 12 ms of its every hub.
            // Each side names the supplier, which implies the scope's condition and the filter's
            // (the filter stays when it names another supplier than the scope). Written out again,
            // their OR made PostgreSQL's plan kept without the supplier expect one row a side and
            // gather all of SUP-JG's 10,199 documents through both indexes to sort them (12 ms).
            let sides: SQLQueryString = "1 = 1" + filters + (supplierID.flatMap { $0 == supplier ? nil : bySupplier($0) } ?? "")
            func side(_ column: String) -> SQLQueryString {
                "SELECT * FROM (SELECT d.id, d.created_at AS k1, d.code AS k2 FROM material_documents d WHERE d.\(unsafeRaw: column) = \(bind: supplier) AND "
                    + sides + newest + ") \(unsafeRaw: column == "supplier_id" ? "own" : "received")"
            }
            return "SELECT b.id, b.k1, b.k2 FROM (" + side("supplier_id") + " UNION " + side("to_supplier_id") + ") b ORDER BY b.k1 DESC, b.k2 DESC LIMIT \(literal: limit)"
        }
        return "SELECT d.id, d.created_at AS k1, d.code AS k2 FROM material_documents d WHERE " + conditions + newest
    }

    static func noteConditions(_ p: Principal, orderID: UUID?, open: Bool, after: ListCursor? = nil) throws -> SQLQueryString {
        var conditions: SQLQueryString = "1 = 1" + p.scope.and("n.supplier_id")
        if let orderID { conditions = conditions + " AND n.order_id = \(bind: orderID)" }
        if let after {
            conditions = conditions + " AND (n.ship_date, n.code) > (SELECT a.ship_date, a.code FROM delivery_notes a WHERE a.id = \(bind: try after.uuid(0, of: 1)))"
        }
        if open { conditions = conditions + " AND \(unsafeRaw: AddOpenNoteIndexes.open("n.status"))" }
        return conditions
    }

    /// The delivery notes page, a page at a time: the list and its count, two statements both
    /// answered from the notes' indexes (it listed up to 300 notes on one page before). The open
    /// notes are the to-do's notes to receive, whose count the database keeps: counting them
    /// walked 30,000 index entries on every view of the buyer's page (half its time).
    static func notePage(_ p: Principal, open: Bool, page: PageRequest, on db: any SQLDatabase) async throws -> Page<NoteSummaryDTO> {
        struct Count: Decodable { let n: Int }
        let total = open
            ? try await KeptCounts.notesToReceive.total(["supplier_id": p.scope.supplierID], on: sql(db))
            : try await sql(db).raw("SELECT COUNT(*) AS n FROM delivery_notes n WHERE " + (try noteConditions(p, orderID: nil, open: false)))
                .rows(decoding: Count.self).first?.n ?? 0
        let items = page.offset < total ? try await notes(p, orderID: nil, open: open, limit: page.per, offset: page.offset, on: db) : []
        return Page(items: items, page: page.page, per: page.per, total: total)
    }

    /// - Parameter after: the last note of the page before (its id); the list goes on from it, by ship date.
    static func notes(_ p: Principal, orderID: UUID?, open: Bool, limit: Int, offset: Int = 0, after: ListCursor? = nil,
                      on db: any SQLDatabase) async throws -> [NoteSummaryDTO] {
        let conditions = try noteConditions(p, orderID: orderID, open: open, after: after)
        struct Row: ReadByPosition {
            let id: UUID; let code: String; let supplier_code: String?; let supplier_name: String?; let order_id: UUID; let order_code: String?
            let ship_date: String; let status: String; let quantity: Int64; let remaining: Int64; let unit: String?

            static let columnNames = ["id", "code", "supplier_code", "supplier_name", "order_id", "order_code", "ship_date", "status", "quantity", "remaining", "unit"]
            init(_ r: inout ColumnReader) throws {
                id = try r.value(); code = try r.value(); supplier_code = try r.optional(); supplier_name = try r.optional(); order_id = try r.value()
                order_code = try r.optional(); ship_date = try r.value(); status = try r.value(); quantity = try r.value(); remaining = try r.value()
                unit = try r.optional()
            }
        }
        let rows = try await sql(db).raw("""
            WITH page AS MATERIALIZED (SELECT n.id, n.ship_date AS k1, n.code AS k2 FROM delivery_notes n WHERE
            """ + " " + conditions + " ORDER BY n.ship_date, n.code LIMIT \(literal: limit) OFFSET \(literal: offset)) " + """
            SELECT n.id, n.code, s.code AS supplier_code, s.name AS supplier_name, n.order_id, o.code AS order_code, n.ship_date, n.status,
                   CAST(COALESCE(l.quantity, 0) AS BIGINT) AS quantity, CAST(COALESCE(l.remaining, 0) AS BIGINT) AS remaining, l.unit
              FROM page p CROSS JOIN delivery_notes n
              LEFT JOIN organizations s ON s.id = n.supplier_id LEFT JOIN outsourcing_orders o ON o.id = n.order_id
              LEFT JOIN (SELECT l.note_id, SUM(l.quantity) AS quantity,
                                SUM(CASE WHEN l.quantity > l.received_quantity THEN l.quantity - l.received_quantity ELSE 0 END) AS remaining,
                                CASE WHEN MIN(i.uom) = MAX(i.uom) THEN MIN(i.uom) END AS unit
                           FROM page q CROSS JOIN delivery_note_lines l JOIN items i ON i.id = l.item_id
                          WHERE l.note_id = q.id GROUP BY l.note_id) l ON l.note_id = n.id
             WHERE n.id = p.id ORDER BY p.k1, p.k2
            """).rows(decoding: Row.self)
        return rows.map { n in
            NoteSummaryDTO(id: n.id, code: n.code, supplierCode: n.supplier_code ?? "", supplierName: n.supplier_name ?? "", orderId: n.order_id, orderCode: n.order_code ?? "",
                           shipDate: n.ship_date, status: n.status, quantity: FixedDecimal(units: n.quantity), remaining: FixedDecimal(units: n.remaining),
                           unit: n.unit)
        }
    }

    /// The newest receipts with a lot waiting for inspection, walked in the (status, received_at,
    /// receipt_id) index, or a supplier's (supplier, status, received_at, receipt_id) one (a line
    /// keeps its receipt's time) — not every waiting line decoded as a model, which cost the
    /// material hub 300 ms on a million order lines. Ordered as the indexes are, so that neither
    /// database sorts to tell receipts apart.
    /// A page after the first goes on from its last receipt, at that receipt's time (which each of
    /// its lines keeps).
    static func awaitingStatement(_ p: Principal, orderID: UUID?, limit: Int, after: ListCursor? = nil) throws -> SQLQueryString {
        var waiting: SQLQueryString = "status = 'awaiting_inspection'" + p.scope.and("supplier_id")
        if let orderID { waiting = waiting + " AND order_id = \(bind: orderID)" }
        if let after {
            waiting = waiting + " AND (received_at, receipt_id) < (SELECT a.received_at, a.receipt_id FROM receipt_lines a WHERE a.receipt_id = \(bind: try after.uuid(0, of: 1)) LIMIT 1)"
        }
        return "SELECT DISTINCT received_at, receipt_id FROM receipt_lines WHERE " + waiting
            + " ORDER BY received_at DESC, receipt_id DESC LIMIT \(literal: limit)"
    }

    /// - Parameter after: the last receipt of the page before (its id); the list goes on from it, newest first.
    static func receipts(_ p: Principal, orderID: UUID?, awaiting: Bool, limit: Int, after: ListCursor? = nil,
                         on db: any SQLDatabase) async throws -> [ReceiptSummaryDTO] {
        // The scope is checked on the page's rows too. The receipts found waiting (by a read in
        // the same scope) are picked by their ids alone: beside them, the supplier's condition
        // made SQLite walk all its receipts by its index of them (SUP-JG: 13.6 ms for 40).
        let scope = p.scope.and("r.supplier_id")
        var conditions: SQLQueryString = "1 = 1"
        if let orderID { conditions = conditions + " AND r.order_id = \(bind: orderID)" }
        // The waiting receipts are the newest by their lines' time and receipt, and are listed in
        // that order: ordered by code, receipts of the same moment would list the hub's first ten
        // apart from the first ten of the list opened whole.
        let tieBreak: SQLQueryString = awaiting ? "r.id" : "r.code"
        if awaiting {
            struct Waiting: Decodable { let receipt_id: UUID }
            let ids = Set(try await sql(db).raw(try awaitingStatement(p, orderID: orderID, limit: limit, after: after)).rows(decoding: Waiting.self).map(\.receipt_id))
            guard !ids.isEmpty else { return [] }
            conditions = conditions + " AND r.id IN (\(binds: Array(ids)))"
        } else {
            conditions = conditions + scope
            if let after {
                conditions = conditions + " AND (r.created_at, r.code) < (SELECT a.created_at, a.code FROM goods_receipts a WHERE a.id = \(bind: try after.uuid(0, of: 1)))"
            }
        }
        struct Row: ReadByPosition {
            let id: UUID; let code: String; let supplier_code: String?; let supplier_name: String?; let order_code: String?; let created_at: Date
            let lines: Int; let awaiting: Int

            static let columnNames = ["id", "code", "supplier_code", "supplier_name", "order_code", "created_at", "lines", "awaiting"]
            init(_ r: inout ColumnReader) throws {
                id = try r.value(); code = try r.value(); supplier_code = try r.optional(); supplier_name = try r.optional(); order_code = try r.optional()
                created_at = try r.value()
                lines = try r.value(); awaiting = try r.value()
            }
        }
        let rows = try await sql(db).raw("""
            WITH page AS MATERIALIZED (SELECT r.id, r.created_at AS k1,
            """ + " " + tieBreak + " AS k2 FROM goods_receipts r WHERE " + conditions + " ORDER BY r.created_at DESC, " + tieBreak
            + " DESC LIMIT \(literal: limit)) " + """
            SELECT r.id, r.code, s.code AS supplier_code, s.name AS supplier_name, o.code AS order_code, r.created_at,
                   CAST(COALESCE(l.lines, 0) AS BIGINT) AS lines, CAST(COALESCE(l.awaiting, 0) AS BIGINT) AS awaiting
              FROM page p CROSS JOIN goods_receipts r
              LEFT JOIN organizations s ON s.id = r.supplier_id LEFT JOIN outsourcing_orders o ON o.id = r.order_id
              LEFT JOIN (SELECT l.receipt_id, COUNT(*) AS lines, SUM(CASE WHEN l.status = 'awaiting_inspection' THEN 1 ELSE 0 END) AS awaiting
                           FROM page q CROSS JOIN receipt_lines l WHERE l.receipt_id = q.id GROUP BY l.receipt_id) l ON l.receipt_id = r.id
             WHERE r.id = p.id
            """ + scope + " ORDER BY p.k1 DESC, p.k2 DESC").rows(decoding: Row.self)
        return rows.map { r in
            ReceiptSummaryDTO(id: r.id, code: r.code, supplierCode: r.supplier_code ?? "", supplierName: r.supplier_name ?? "", orderCode: r.order_code ?? "",
                              createdAt: r.created_at, lines: r.lines, awaiting: r.awaiting)
        }
    }

    /// Components still to issue on orders the suppliers are working on, earliest due first.
    ///
    /// Its text is the same for every request of one kind (the limit is part of it, a supplier's
    /// scope its only value), so on PostgreSQL it goes through `Application.keyedReads` as a
    /// prepared statement: planning its five joins took 1.5–1.9 ms, running it 0.02 ms.
    /// - Parameter after: the last row of the page before (order id, line, component code).
    static func dueToIssue(_ p: Principal, limit: Int, after: ListCursor? = nil, on sql: any SQLDatabase) async throws -> [DueToIssueDTO] {
        struct Row: ReadByPosition {
            let order_id: UUID; let order_code: String; let supplier_code: String; let supplier_name: String; let line_no: Int; let due_date: String
            let component_code: String; let component_name: String; let uom: String; let gross: Int64; let issued: Int64

            static let columnNames = ["order_id", "order_code", "supplier_code", "supplier_name", "line_no", "due_date", "component_code", "component_name",
                                      "uom", "gross", "issued"]
            init(_ r: inout ColumnReader) throws {
                order_id = try r.value(); order_code = try r.value(); supplier_code = try r.value(); supplier_name = try r.value(); line_no = try r.value()
                due_date = try r.value(); component_code = try r.value(); component_name = try r.value(); uom = try r.value(); gross = try r.value()
                issued = try r.value()
            }
        }
        var scope = p.scope.and("o.supplier_id")
        if let after {
            let order = try after.uuid(0, of: 3), line = try after.int(1, of: 3)
            scope = scope + " AND (l.due_date, o.code, r.line_no, i.code) > ((SELECT a.due_date FROM order_lines a WHERE a.order_id = \(bind: order) AND a.line_no = \(bind: line)), "
                + "(SELECT a.code FROM outsourcing_orders a WHERE a.id = \(bind: order)), \(bind: line), \(bind: try after.part(2, of: 3)))"
        }
        // Start from the partial index of what is not fully issued — usually a few rows. CROSS
        // JOIN keeps SQLite to that order. PostgreSQL guessed 190,000 such rows on the large data
        // set (there were none) and walked all 750,000 open lines in due order instead: 6 s a
        // request; reading the few rows first, as a materialized CTE, takes 43 ms.
        let postgres = sql.dialect.name == "postgresql"
        let source: SQLQueryString = postgres
            ? "WITH due AS MATERIALIZED (SELECT * FROM order_requirements WHERE supply_by = 'manufacturer' AND gross_quantity > issued_quantity) "
            : ""
        let requirements: SQLQueryString = postgres ? "due r" : "order_requirements r"
        let rows = try await sql.raw(source + """
            SELECT o.id AS order_id, o.code AS order_code, s.code AS supplier_code, s.name AS supplier_name, r.line_no, l.due_date,
                   i.code AS component_code, i.name AS component_name, i.uom, r.gross_quantity AS gross, r.issued_quantity AS issued
            FROM \(requirements)
            CROSS JOIN outsourcing_orders o
            JOIN organizations s ON s.id = o.supplier_id
            JOIN order_lines l ON l.order_id = o.id AND l.line_no = r.line_no
            JOIN items i ON i.id = r.component_id
            WHERE o.id = r.order_id AND r.supply_by = 'manufacturer' AND l.state = 'open' AND r.gross_quantity > r.issued_quantity
              AND o.status IN ('acknowledged', 'in_production', 'partially_delivered')
            """ + scope + " ORDER BY l.due_date, o.code, r.line_no, i.code LIMIT \(literal: limit)").rows(decoding: Row.self)
        return rows.map {
            DueToIssueDTO(orderId: $0.order_id, orderCode: $0.order_code, supplierCode: $0.supplier_code, supplierName: $0.supplier_name, line: $0.line_no,
                          dueDate: $0.due_date, componentCode: $0.component_code, componentName: $0.component_name, uom: $0.uom, gross: FixedDecimal(units: $0.gross),
                          issued: FixedDecimal(units: $0.issued), remaining: FixedDecimal(units: $0.gross - $0.issued))
        }
    }

    /// The lines walk their own index in due order and stop at the limit (CROSS JOIN keeps
    /// SQLite's join order): every supplier's, or one supplier's by the line's copy of its
    /// supplier. Both hold only lines of working orders (`AddMaterialHubIndexes`), by the line's
    /// copy of its order's status (kept by the database, see `AddWorkbenchFigures`). The order's
    /// own status is checked again, as the copy's source. Its text is the same for every request
    /// of one kind (a supplier's scope its only value), so callers pass `Application.keyedReads`:
    /// on PostgreSQL planning it took 4 ms, running it 1–2.
    /// A page after the first goes on from its last line (order id and line number), at that line's due day.
    static func dueToArriveStatement(_ p: Principal, limit: Int, after: ListCursor? = nil) throws -> SQLQueryString {
        var scope = p.scope.and("l.supplier_id") + p.scope.and("o.supplier_id")
        if let after {
            let order = try after.uuid(0, of: 2), line = try after.int(1, of: 2)
            scope = scope + " AND (l.due_date, l.order_id, l.line_no) > (SELECT a.due_date, a.order_id, a.line_no FROM order_lines a WHERE a.order_id = \(bind: order) AND a.line_no = \(bind: line))"
        }
        return """
            SELECT o.id AS order_id, o.code AS order_code, s.code AS supplier_code, s.name AS supplier_name, l.line_no, i.code AS item_code,
                   i.name AS item_name, i.uom,
                   l.due_date, l.quantity,
                   CAST(COALESCE((SELECT SUM(rl.quantity - rl.rejected_quantity) FROM receipt_lines rl
                                  WHERE rl.order_id = l.order_id AND rl.order_line_no = l.line_no), 0) AS BIGINT) AS counted
            FROM order_lines l CROSS JOIN outsourcing_orders o
            JOIN organizations s ON s.id = o.supplier_id
            JOIN items i ON i.id = l.item_id
            WHERE o.id = l.order_id AND \(unsafeRaw: arriving("l")) AND o.status IN (\(unsafeRaw: MaterialService.workingStatusList))
              AND l.quantity > COALESCE((SELECT SUM(rl.quantity - rl.rejected_quantity) FROM receipt_lines rl
                                         WHERE rl.order_id = l.order_id AND rl.order_line_no = l.line_no), 0)
            """ + scope + " ORDER BY l.due_date, l.order_id, l.line_no LIMIT \(literal: limit)"
    }

    /// Order lines still to arrive (ordered − received and not rejected), earliest due first.
    static func dueToArrive(_ p: Principal, limit: Int, after: ListCursor? = nil, on db: any SQLDatabase) async throws -> [DueToArriveDTO] {
        struct Row: ReadByPosition {
            let order_id: UUID; let order_code: String; let supplier_code: String; let supplier_name: String; let line_no: Int; let item_code: String
            let item_name: String; let uom: String; let due_date: String; let quantity: Int64; let counted: Int64

            static let columnNames = ["order_id", "order_code", "supplier_code", "supplier_name", "line_no", "item_code", "item_name", "uom", "due_date",
                                      "quantity", "counted"]
            init(_ r: inout ColumnReader) throws {
                order_id = try r.value(); order_code = try r.value(); supplier_code = try r.value(); supplier_name = try r.value(); line_no = try r.value()
                item_code = try r.value(); item_name = try r.value(); uom = try r.value(); due_date = try r.value(); quantity = try r.value()
                counted = try r.value()
            }
        }
        let rows = try await sql(db).raw(try dueToArriveStatement(p, limit: limit, after: after)).rows(decoding: Row.self)
        return rows.map {
            DueToArriveDTO(orderId: $0.order_id, orderCode: $0.order_code, supplierCode: $0.supplier_code, supplierName: $0.supplier_name, line: $0.line_no,
                           itemCode: $0.item_code, itemName: $0.item_name, uom: $0.uom, dueDate: $0.due_date, ordered: FixedDecimal(units: $0.quantity), counted: FixedDecimal(units: $0.counted),
                           open: FixedDecimal(units: $0.quantity - $0.counted))
        }
    }

    static func openDiscrepancies(_ p: Principal, on db: any Database) async throws -> [ExceptionSummaryDTO] {
        try await p.scope.query(ExceptionCase.self, on: db).filter(\.$type == "material_discrepancy").filter(\.$status == "open")
            .sort(\.$createdAt, .descending).limit(100).all().map(ExceptionService.summary)
    }

    // MARK: Traceability

    static func trace(_ p: Principal, itemCode: String, lot: String, on db: any Database) async throws -> TraceDTO {
        guard let item = try await Item.query(on: db).filter(\.$code == itemCode).first() else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("item", "unknownItem", ["code": itemCode])])
        }
        // Forward: where this lot went as a component.
        let moves = try await p.scope.query(MaterialMovement.self, on: db).filter(\.$itemID == item.id!).filter(\.$lot == lot)
            .filter(\.$kind ~~ [MovementKind.issued.rawValue, MovementKind.transferredIn.rawValue, MovementKind.consumed.rawValue,
                                MovementKind.returned.rawValue, MovementKind.scrapped.rawValue])
            .sort(\.$createdAt).limit(1000).all()
        let receiptLineIDs = Set(moves.compactMap(\.receiptLineID))
        let usedIn = try await ReceiptLine.query(on: db).filter(\.$id ~~ receiptLineIDs).all()
        let receivedBack = try await ReceiptLine.query(on: db).filter(\.$itemID == item.id!).filter(\.$lot == lot).limit(200).all()
            .filter { p.scope.includes(organizationID: $0.supplierID) }
        let receiptIDs = Set(usedIn.map(\.receiptID) + receivedBack.map(\.receiptID))
        let receipts = Dictionary(uniqueKeysWithValues: try await GoodsReceipt.query(on: db).filter(\.$id ~~ receiptIDs).all().map { ($0.id!, $0) })
        let orderIDs = Set(moves.compactMap(\.orderID) + receivedBack.map(\.orderID))
        // Backward: for the lot as received goods, the component lots issued for its order.
        let issuedFor = try await MaterialMovement.query(on: db).filter(\.$orderID ~~ Set(receivedBack.map(\.orderID)))
            .filter(\.$kind ~~ [MovementKind.issued.rawValue, MovementKind.transferredIn.rawValue]).all()
        let consumedBy = try await MaterialMovement.query(on: db).filter(\.$receiptLineID ~~ receivedBack.map { $0.id! }).all()
        let orders = Dictionary(uniqueKeysWithValues: try await OutsourcingOrder.query(on: db)
            .filter(\.$id ~~ orderIDs.union(issuedFor.compactMap(\.orderID))).all().map { ($0.id!, $0) })
        let items = try await OrderService.itemCodes(Set(usedIn.map(\.itemID) + issuedFor.map(\.itemID) + consumedBy.map(\.itemID)), on: db)
        let orgs = try await organizations(Set(moves.map(\.supplierID) + receivedBack.map(\.supplierID)), on: db)
        func component(_ m: MaterialMovement) -> TraceDTO.Component {
            TraceDTO.Component(itemCode: items[m.itemID]?.code ?? "", itemName: items[m.itemID]?.name ?? "", lot: m.lot, kind: m.kind,
                               quantity: FixedDecimal(units: m.quantity), orderCode: m.orderID.flatMap { orders[$0]?.code })
        }
        return TraceDTO(
            itemCode: item.code, lot: lot,
            uses: moves.map { m in
                let rl = m.receiptLineID.flatMap { id in usedIn.first { $0.id == id } }
                return TraceDTO.Use(supplierCode: orgs[m.supplierID]?.code ?? "", orderId: m.orderID, orderCode: m.orderID.flatMap { orders[$0]?.code },
                                    kind: m.kind, quantity: FixedDecimal(units: m.quantity), receivedItemCode: rl.flatMap { items[$0.itemID]?.code },
                                    receivedLot: rl?.lot, receiptCode: rl.flatMap { receipts[$0.receiptID]?.code })
            },
            received: receivedBack.map { rl in
                TraceDTO.Received(receiptId: rl.receiptID, receiptCode: receipts[rl.receiptID]?.code ?? "", supplierCode: orgs[rl.supplierID]?.code ?? "",
                                  orderCode: orders[rl.orderID]?.code ?? "", quantity: FixedDecimal(units: rl.quantity), status: rl.status,
                                  issuedComponents: issuedFor.filter { $0.orderID == rl.orderID && $0.supplierID == rl.supplierID }.map(component),
                                  consumedComponents: consumedBy.filter { $0.receiptLineID == rl.id }.map(component))
            })
    }
}

struct DeductionDTO: Content {
    let id: UUID
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let itemCode: String
    let itemName: String
    let period: String
    let quantity: FixedDecimal
    let tolerance: FixedDecimal
    let status: String
    let updatedAt: Date
}
