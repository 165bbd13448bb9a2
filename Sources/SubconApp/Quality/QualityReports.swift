import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct QualityStatsRowDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let lots: Int
    let acceptedLots: Int
    let rejectedLots: Int
    let concessionLots: Int
    let partialLots: Int
    let exemptLots: Int
    let received: FixedDecimal
    let accepted: FixedDecimal
    let rejected: FixedDecimal
    /// Rejected of received, parts per million.
    let ppm: Int64
    let exceptions: Int
    let openExceptions: Int
    /// Average minutes to the supplier's first answer / to closure, over those that have one.
    let averageResponseMinutes: Int?
    let averageClosureMinutes: Int?
}

struct QualityStatsDTO: Content {
    let from: String
    let to: String
    let suppliers: [QualityStatsRowDTO]
}

struct LessonDTO: Content {
    let id: UUID
    let code: String
    let title: String
    let supplierCode: String
    let supplierName: String
    let itemCode: String?
    let itemName: String?
    let lot: String
    let defectCodes: String
    let rootCause: String
    let correctiveActions: String
    let prevention: String
    let closedAt: Date?
    /// Whether the corrective action proved effective (效果验证): watching, effective, ineffective, unverified.
    var effect: String? = nil
    var before: CorrectiveEffect.Counts? = nil
    var after: CorrectiveEffect.Counts? = nil
    var recurrenceId: UUID? = nil
}

/// A hundred lessons an answer, each with three steps' text: written field by field.
extension LessonDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) throws {
        o("id", id); o("code", code); o("title", title); o("supplierCode", supplierCode); o("supplierName", supplierName)
        o("itemCode", itemCode); o("itemName", itemName); o("lot", lot); o("defectCodes", defectCodes); o("rootCause", rootCause)
        o("correctiveActions", correctiveActions); o("prevention", prevention); o("closedAt", closedAt); o("effect", effect)
        try o("before", before); try o("after", after); o("recurrenceId", recurrenceId)
    }
}

/// Figures kept for the scorecard (lots, quantities, PPM, response and closure times) and the
/// lessons-learned search over closed 8D cases.
enum QualityReports {
    static func stats(_ p: Principal, from: Day, to: Day, supplier: UUID?, timeZone: TimeZone, on db: any Database) async throws -> QualityStatsDTO {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = timeZone
        func instant(_ d: Day) -> Date { cal.date(from: DateComponents(year: d.year, month: d.month, day: d.day))! }
        let start = instant(from), end = instant(to.adding(days: 1))
        // A supplier sees its own figures whatever it asks for.
        let only = p.scope.supplierID ?? supplier
        let sql = db as! any SQLDatabase
        struct L: Decodable {
            let supplier_id: UUID; let lots: Int; let accepted_lots: Int; let rejected_lots: Int; let concession_lots: Int; let partial_lots: Int
            let exempt_lots: Int; let received: Int64; let accepted: Int64; let rejected: Int64
        }
        let lotRows = try await sql.raw("""
            SELECT supplier_id, COUNT(*) AS lots,
                   SUM(CASE WHEN decision = 'accept' THEN 1 ELSE 0 END) AS accepted_lots,
                   SUM(CASE WHEN decision = 'reject' THEN 1 ELSE 0 END) AS rejected_lots,
                   SUM(CASE WHEN decision = 'concession' THEN 1 ELSE 0 END) AS concession_lots,
                   SUM(CASE WHEN decision = 'partial' THEN 1 ELSE 0 END) AS partial_lots,
                   SUM(CASE WHEN exempt THEN 1 ELSE 0 END) AS exempt_lots,
                   CAST(SUM(lot_quantity) AS BIGINT) AS received, CAST(SUM(accepted_quantity) AS BIGINT) AS accepted,
                   CAST(SUM(rejected_quantity) AS BIGINT) AS rejected
            FROM inspections WHERE created_at >= \(bind: start) AND created_at < \(bind: end)
            """ + (only.map { " AND supplier_id = \(bind: $0)" } ?? "") + " GROUP BY supplier_id").rows(decoding: L.self)
        struct E: Decodable {
            let supplier_id: UUID; let n: Int; let open: Int; let response_sum: Int64?; let responded: Int; let closure_sum: Int64?; let closed: Int
        }
        let exRows = try await sql.raw("""
            SELECT supplier_id, COUNT(*) AS n, SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS open,
                   CAST(SUM(response_minutes) AS BIGINT) AS response_sum, COUNT(response_minutes) AS responded,
                   CAST(SUM(closure_minutes) AS BIGINT) AS closure_sum, COUNT(closure_minutes) AS closed
            FROM exceptions WHERE created_at >= \(bind: start) AND created_at < \(bind: end)
            """ + (only.map { " AND supplier_id = \(bind: $0)" } ?? "") + " GROUP BY supplier_id").rows(decoding: E.self)
        let ids = Set(lotRows.map(\.supplier_id) + exRows.map(\.supplier_id))
        let orgs = Dictionary(uniqueKeysWithValues: try await Organization.query(on: db).filter(\.$id ~~ Array(ids)).all().map { ($0.id!, $0) })
        let lotsBySupplier = Dictionary(lotRows.map { ($0.supplier_id, $0) }, uniquingKeysWith: { a, _ in a })
        let exceptionsBySupplier = Dictionary(exRows.map { ($0.supplier_id, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = ids.map { id in
            let l = lotsBySupplier[id], e = exceptionsBySupplier[id]
            let received = FixedDecimal(units: l?.received ?? 0), rejected = FixedDecimal(units: l?.rejected ?? 0)
            return QualityStatsRowDTO(
                supplierId: id, supplierCode: orgs[id]?.code ?? "", supplierName: orgs[id]?.name ?? "", lots: l?.lots ?? 0,
                acceptedLots: l?.accepted_lots ?? 0, rejectedLots: l?.rejected_lots ?? 0, concessionLots: l?.concession_lots ?? 0,
                partialLots: l?.partial_lots ?? 0, exemptLots: l?.exempt_lots ?? 0, received: received, accepted: FixedDecimal(units: l?.accepted ?? 0),
                rejected: rejected, ppm: ExceptionRules.ppm(rejected: rejected, received: received), exceptions: e?.n ?? 0, openExceptions: e?.open ?? 0,
                averageResponseMinutes: e.flatMap { $0.responded > 0 ? Int(($0.response_sum ?? 0) / Int64($0.responded)) : nil },
                averageClosureMinutes: e.flatMap { $0.closed > 0 ? Int(($0.closure_sum ?? 0) / Int64($0.closed)) : nil })
        }.sorted { $0.supplierCode < $1.supplierCode }
        return QualityStatsDTO(from: from.description, to: to.description, suppliers: rows)
    }

    /// Closed 8D cases by item, defect code and words of the root cause (经验沉淀).
    ///
    /// One statement on the read connections: the newest 100 matching cases, with their supplier,
    /// item, the 8D steps the page shows and the corrective action's check joined in. It was a
    /// model query through the driver for the cases, their steps, items and suppliers each, and
    /// decoding 100 cases whole was most of an answer's 11 ms (0.011 of the HTTP ceiling).
    static func lessons(_ p: Principal, itemCode: String?, defect: String?, text: String?, on db: any SQLDatabase) async throws -> [LessonDTO] {
        // The search runs in the database: every word must appear in the title, the description
        // or one of the 8D steps (lower-cased on both sides, as PostgreSQL's LIKE is case-sensitive).
        // The page carries the cases' own columns out of the walk that found them, which read
        // each case's row for the search anyway: joining the cases again by id was two more
        // lookups a row.
        var query: SQLQueryString = """
            SELECT e.id, e.closed_at, e.code, e.title, e.lot, e.defect_codes, e.supplier_id, e.item_id
              FROM exceptions e WHERE e.status = 'closed' AND e.eight_d = \(bind: true)
            """ + p.scope.and("e.supplier_id")
        if let code = itemCode?.trimmingCharacters(in: .whitespaces), !code.isEmpty {
            query = query + " AND e.item_id IN (SELECT id FROM items WHERE code = \(bind: code))"
        }
        if let d = defect?.trimmingCharacters(in: .whitespaces), !d.isEmpty {
            query = query + " AND " + ListQuery.like("e.defect_codes", ListQuery.containsPattern(d))
        }
        for word in (text ?? "").split(separator: " ").prefix(8).map(String.init) {
            let w = ListQuery.containsPattern(word)
            query = query + " AND (" + ListQuery.like("e.title", w) + " OR " + ListQuery.like("e.description", w)
                + " OR EXISTS (SELECT 1 FROM eight_d_steps s WHERE s.exception_id = e.id AND " + ListQuery.like("s.content", w) + "))"
        }
        // Newest first, and the id after the time so that equal times keep one order (the
        // indexes of closed cases end in both).
        query = query + " ORDER BY e.closed_at DESC, e.id DESC LIMIT 100"
        struct Row: ReadByPosition {
            let id: UUID; let code: String; let title: String; let lot: String; let defect_codes: String; let closed_at: Date?
            let supplier_code: String?; let supplier_name: String?; let item_code: String?; let item_name: String?
            let root_cause: String?; let corrective_actions: String?; let prevention: String?
            let effect: String?; let before_lots: Int?; let before_defective: Int?; let after_lots: Int?; let after_defective: Int?
            let linked_exception_id: UUID?

            static let columnNames = ["id", "code", "title", "lot", "defect_codes", "closed_at", "supplier_code", "supplier_name", "item_code",
                                      "item_name", "root_cause", "corrective_actions", "prevention", "effect", "before_lots", "before_defective",
                                      "after_lots", "after_defective", "linked_exception_id"]
            init(_ r: inout ColumnReader) throws {
                id = try r.value(); code = try r.value(); title = try r.value(); lot = try r.value(); defect_codes = try r.value()
                closed_at = try r.optional(); supplier_code = try r.optional(); supplier_name = try r.optional(); item_code = try r.optional()
                item_name = try r.optional(); root_cause = try r.optional(); corrective_actions = try r.optional(); prevention = try r.optional()
                effect = try r.optional(); before_lots = try r.optional(); before_defective = try r.optional(); after_lots = try r.optional()
                after_defective = try r.optional(); linked_exception_id = try r.optional()
            }
        }
        func step(_ n: Int, _ name: String) -> SQLQueryString {
            "(SELECT content FROM eight_d_steps s WHERE s.exception_id = e.id AND s.step = \(literal: n)) AS \(unsafeRaw: name)"
        }
        let rows = try await db.raw("WITH page AS MATERIALIZED (" + query + ") " + """
            SELECT e.id, e.code, e.title, e.lot, e.defect_codes, e.closed_at, o.code AS supplier_code, o.name AS supplier_name,
                   i.code AS item_code, i.name AS item_name,
            """ + " " + step(4, "root_cause") + ", " + step(5, "corrective_actions") + ", " + step(7, "prevention") + ", " + """
                   c.status AS effect, c.before_lots, c.before_defective, c.after_lots, c.after_defective, c.linked_exception_id
            FROM page e
            LEFT JOIN organizations o ON o.id = e.supplier_id
            LEFT JOIN items i ON i.id = e.item_id
            LEFT JOIN corrective_checks c ON c.exception_id = e.id
            ORDER BY e.closed_at DESC, e.id DESC
            """).rows(decoding: Row.self)
        return rows.map { r in
            var lesson = LessonDTO(id: r.id, code: r.code, title: r.title, supplierCode: r.supplier_code ?? "", supplierName: r.supplier_name ?? "",
                                   itemCode: r.item_code, itemName: r.item_name, lot: r.lot, defectCodes: r.defect_codes,
                                   rootCause: r.root_cause ?? "", correctiveActions: r.corrective_actions ?? "", prevention: r.prevention ?? "",
                                   closedAt: r.closed_at)
            if let effect = r.effect {
                lesson.effect = effect; lesson.recurrenceId = r.linked_exception_id
                lesson.before = .init(lots: r.before_lots ?? 0, defective: r.before_defective ?? 0)
                lesson.after = .init(lots: r.after_lots ?? 0, defective: r.after_defective ?? 0)
            }
            return lesson
        }
    }
}
