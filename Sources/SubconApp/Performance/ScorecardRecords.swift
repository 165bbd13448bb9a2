import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct DueLineDTO: Content {
    let orderId: UUID
    let orderCode: String
    let lineNo: Int
    let itemCode: String
    let itemName: String
    let uom: String
    let quantity: FixedDecimal
    let dueDate: String
    let accepted: FixedDecimal
    let onTime: FixedDecimal
    let complete: Bool
    let daysLate: Int
}

struct InspectedLotDTO: Content {
    let inspectionId: UUID
    let code: String
    let itemCode: String
    let itemName: String
    let uom: String
    let lot: String
    let decision: String
    let quantity: FixedDecimal
    let rejected: FixedDecimal
    let inspectedAt: Date
}

struct ExceptionTimeDTO: Content {
    let exceptionId: UUID
    let code: String
    let title: String
    let status: String
    let openedAt: Date
    let responseMinutes: Int?
    let closureMinutes: Int?
    /// nil: the deadline has not come yet.
    let responseMet: Bool?
    let resolutionMet: Bool?
}

struct AnswerTimeDTO: Content {
    let orderId: UUID
    let orderCode: String
    let revision: Int
    let releasedAt: Date
    let answeredAt: Date?
    let answerMinutes: Int?
    /// nil: not answered and the deadline has not come yet.
    let inTime: Bool?
}

struct StatementCostDTO: Content {
    let statementId: UUID
    let code: String
    let period: String
    let status: String
    let goods: FixedDecimal
    let deductions: FixedDecimal
}

/// The records behind one figure of a scorecard: what a supplier (or the buyer) opens to see
/// why the figure is what it is. Each list is one supplier's and one period's.
struct ScorecardRecordsDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let period: String
    let measure: String
    var lines: [DueLineDTO]?
    var lots: [InspectedLotDTO]?
    var exceptions: [ExceptionTimeDTO]?
    var answers: [AnswerTimeDTO]?
    var statements: [StatementCostDTO]?
}

enum ScorecardRecords {
    /// At most this many records per list; a period of one supplier rarely comes near it.
    static let limit = 5000

    static func records(_ p: Principal, supplier id: UUID, period: ScorePeriod, measure: Measure, app: Application) async throws -> ScorecardRecordsDTO {
        let (org, _) = try await ScorecardService.supplier(p, id, on: app.database)
        let w = try await ScorecardService.currentWeights(on: app.database)
        let q = ScorecardService.queries(w.weights, app: app, on: app.database)
        let sql = app.database as! any SQLDatabase
        let start = q.instant(period.first), end = q.instant(period.last.adding(days: 1))
        var out = ScorecardRecordsDTO(supplierId: id, supplierCode: org.code, supplierName: org.name, period: period.description, measure: measure.rawValue)
        switch measure {
        case .delivery:
            // One row per line and receipt; the domain's rule turns each line's receipts into its
            // figures (the scorecard sums what the database keeps on the lines: the two must agree).
            struct R: Decodable {
                let order_id: UUID; let order_code: String; let line_no: Int; let item_code: String; let item_name: String; let uom: String
                let quantity: Int64; let due_date: String; let day: String?; let accepted: Int64?
            }
            let rows = try await sql.raw("""
                SELECT l.order_id, o.code AS order_code, l.line_no, i.code AS item_code, i.name AS item_name, i.uom, l.quantity, l.due_date,
                       g.receipt_day AS day, r.accepted_quantity AS accepted
                FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id JOIN items i ON i.id = l.item_id
                LEFT JOIN receipt_lines r ON r.order_id = l.order_id AND r.order_line_no = l.line_no
                LEFT JOIN goods_receipts g ON g.id = r.receipt_id
                WHERE o.supplier_id = \(bind: id) AND l.due_date >= \(bind: period.first.description) AND l.due_date <= \(bind: period.last.description)
                  AND l.state <> 'cancelled' AND o.status NOT IN ('draft', 'cancelled', 'rejected')
                ORDER BY l.due_date, o.code, l.line_no LIMIT \(bind: limit)
                """).rows(decoding: R.self)
            var order: [String] = [], byLine: [String: [R]] = [:]
            for r in rows {
                let k = "\(r.order_id)/\(r.line_no)"
                if byLine[k] == nil { order.append(k) }
                byLine[k, default: []].append(r)
            }
            let today = app.subcon.today()
            out.lines = order.map { k in
                let rs = byLine[k]!, f = rs[0], due = Day(f.due_date) ?? period.first
                let receipts = rs.compactMap { r in r.day.flatMap(Day.init).map { OnTimeDelivery.Receipt(day: $0, accepted: r.accepted ?? 0) } }
                let line = OnTimeDelivery.line(quantity: f.quantity, due: due, receipts: receipts, today: today)
                return DueLineDTO(orderId: f.order_id, orderCode: f.order_code, lineNo: f.line_no, itemCode: f.item_code, itemName: f.item_name,
                                       uom: f.uom, quantity: FixedDecimal(units: f.quantity), dueDate: f.due_date,
                                       accepted: FixedDecimal(units: receipts.reduce(0) { $0 + $1.accepted }), onTime: FixedDecimal(units: line.onTime),
                                       complete: line.complete, daysLate: line.daysLate)
            }.sorted { ($0.complete ? 1 : 0, -$0.daysLate) < ($1.complete ? 1 : 0, -$1.daysLate) }
        case .quality:
            struct R: Decodable {
                let id: UUID; let code: String; let item_code: String; let item_name: String; let uom: String; let lot: String; let decision: String
                let lot_quantity: Int64; let rejected_quantity: Int64; let created_at: Date
            }
            let rows = try await sql.raw("""
                SELECT n.id, n.code, i.code AS item_code, i.name AS item_name, i.uom, n.lot, n.decision, n.lot_quantity, n.rejected_quantity, n.created_at
                FROM inspections n JOIN items i ON i.id = n.item_id
                WHERE n.supplier_id = \(bind: id) AND n.created_at >= \(bind: start) AND n.created_at < \(bind: end)
                ORDER BY CASE WHEN n.decision = 'accept' THEN 1 ELSE 0 END, n.created_at DESC LIMIT \(bind: limit)
                """).rows(decoding: R.self)
            out.lots = rows.map { InspectedLotDTO(inspectionId: $0.id, code: $0.code, itemCode: $0.item_code, itemName: $0.item_name, uom: $0.uom, lot: $0.lot,
                                         decision: $0.decision, quantity: FixedDecimal(units: $0.lot_quantity), rejected: FixedDecimal(units: $0.rejected_quantity),
                                         inspectedAt: $0.created_at) }
        case .exceptions:
            struct R: Decodable {
                let id: UUID; let code: String; let title: String; let status: String; let created_at: Date; let response_minutes: Int?; let closure_minutes: Int?
                let response_by: Date?; let responded_at: Date?; let resolve_by: Date?; let closed_at: Date?
            }
            let rows = try await sql.raw("""
                SELECT id, code, title, status, created_at, response_minutes, closure_minutes, response_by, responded_at, resolve_by, closed_at
                FROM exceptions WHERE supplier_id = \(bind: id) AND created_at >= \(bind: start) AND created_at < \(bind: end)
                ORDER BY created_at DESC LIMIT \(bind: limit)
                """).rows(decoding: R.self)
            let now = Int64(app.subcon.clock.now().timeIntervalSince1970)
            func met(_ by: Date?, _ done: Date?) -> Bool? {
                guard let by else { return nil }
                let d = ExceptionFigures.deadline(by: Int64(by.timeIntervalSince1970), doneAt: done.map { Int64($0.timeIntervalSince1970) }, now: now)
                return d.counts ? d.met : nil
            }
            out.exceptions = rows.map { ExceptionTimeDTO(exceptionId: $0.id, code: $0.code, title: $0.title, status: $0.status, openedAt: $0.created_at,
                                                         responseMinutes: $0.response_minutes, closureMinutes: $0.closure_minutes,
                                                         responseMet: met($0.response_by, $0.responded_at), resolutionMet: met($0.resolve_by, $0.closed_at)) }
        case .communication:
            struct R: Decodable { let order_id: UUID; let code: String; let number: Int; let released_at: Date; let answered_at: Date?; let response_seconds: Int? }
            let rows = try await sql.raw("""
                SELECT r.order_id, o.code, r.number, r.released_at, r.answered_at, r.response_seconds
                FROM order_revisions r JOIN outsourcing_orders o ON o.id = r.order_id
                WHERE o.supplier_id = \(bind: id) AND r.released_at >= \(bind: start) AND r.released_at < \(bind: end)
                ORDER BY r.released_at DESC LIMIT \(bind: limit)
                """).rows(decoding: R.self)
            let clock = app.subcon.settings.responseClock
            let now = Int64(app.subcon.clock.now().timeIntervalSince1970)
            out.answers = rows.map { r in
                let inTime = clock.answeredInTime(responseSeconds: r.response_seconds.map(Int64.init), releasedAt: Int64(r.released_at.timeIntervalSince1970), now: now)
                return AnswerTimeDTO(orderId: r.order_id, orderCode: r.code, revision: r.number, releasedAt: r.released_at, answeredAt: r.answered_at,
                                     answerMinutes: r.response_seconds.map { $0 / 60 }, inTime: inTime)
            }.sorted { ($0.answerMinutes ?? Int.max) > ($1.answerMinutes ?? Int.max) }
        case .cost:
            struct R: Decodable { let id: UUID; let code: String; let period: String; let status: String; let goods: Int64; let deductions: Int64 }
            let rows = try await sql.raw("""
                SELECT id, code, period, status, goods, deductions FROM statements
                WHERE supplier_id = \(bind: id) AND period IN (\(binds: period.months)) ORDER BY period
                """).rows(decoding: R.self)
            out.statements = rows.map { StatementCostDTO(statementId: $0.id, code: $0.code, period: $0.period, status: $0.status,
                                                         goods: FixedDecimal(units: $0.goods), deductions: FixedDecimal(units: $0.deductions)) }
        }
        return out
    }
}
