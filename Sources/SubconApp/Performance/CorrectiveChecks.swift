import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct CorrectiveCheckDTO: Content {
    let exceptionId: UUID
    let exceptionCode: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let itemCode: String
    let itemName: String
    let defectCode: String
    let closedAt: Date
    let status: String
    let before: CorrectiveEffect.Counts
    let after: CorrectiveEffect.Counts
    let linkedExceptionId: UUID?
    let judgedAt: Date?
}

/// Watches closed 8D cases for their defect (效果验证): lots of the same supplier and item before
/// the case against lots after it closed; a recurrence opens a linked exception at once, and the
/// verdict comes when the window (days or lots) is over. Runs in the background.
enum CorrectiveChecks {
    struct Watched: Decodable, Sendable {
        let exception_id: UUID; let supplier_id: UUID; let item_id: UUID; let defect_code: String; let opened_at: Date; let closed_at: Date
        let linked_exception_id: UUID?
    }

    static func run(app: Application) async throws {
        let sql = app.db as! any SQLDatabase
        let now = app.subcon.clock.now()
        let window = app.subcon.settings.correctiveWindow
        // Every closed 8D with an item and a defect code is watched once.
        struct New: Decodable { let id: UUID; let supplier_id: UUID; let item_id: UUID; let defect_codes: String; let created_at: Date; let closed_at: Date }
        let fresh = try await sql.raw("""
            SELECT e.id, e.supplier_id, e.item_id, e.defect_codes, e.created_at, e.closed_at FROM exceptions e
            WHERE e.status = 'closed' AND e.eight_d = \(bind: true) AND e.item_id IS NOT NULL AND e.defect_codes <> '' AND e.closed_at IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM corrective_checks c WHERE c.exception_id = e.id)
            """).all(decoding: New.self)
        for e in fresh {
            guard let code = e.defect_codes.split(separator: ",").first.map({ $0.trimmingCharacters(in: .whitespaces) }), !code.isEmpty else { continue }
            try await app.write(as: .system) { change in
                try await (change.db as! any SQLDatabase).insert(into: "corrective_checks")
                    .columns("exception_id", "supplier_id", "item_id", "defect_code", "opened_at", "closed_at", "status", "before_lots", "before_defective",
                             "after_lots", "after_defective", "updated_at")
                    .values(SQLBind(e.id), SQLBind(e.supplier_id), SQLBind(e.item_id), SQLBind(code), SQLBind(e.created_at), SQLBind(e.closed_at),
                            SQLBind(CorrectiveEffect.Verdict.watching.rawValue), SQLBind(0), SQLBind(0), SQLBind(0), SQLBind(0), SQLBind(now))
                    .run()
                try await change.audit("corrective_check", e.id, "create", after: ["defect": code, "status": CorrectiveEffect.Verdict.watching.rawValue])
            }
        }
        let watching = try await sql.raw("SELECT exception_id, supplier_id, item_id, defect_code, opened_at, closed_at, linked_exception_id FROM corrective_checks WHERE status = 'watching'")
            .all(decoding: Watched.self)
        for c in watching {
            let span = Double(window.days) * 86_400
            // Before: the same length of time before the case was opened. After: the first lots
            // after the closure, up to the window.
            let before = try await counts(sql, c.supplier_id, c.item_id, c.defect_code, from: c.opened_at.addingTimeInterval(-span), to: c.opened_at, limit: nil)
            let after = try await counts(sql, c.supplier_id, c.item_id, c.defect_code, from: c.closed_at,
                                         to: min(now, c.closed_at.addingTimeInterval(span)), limit: window.lots)
            let verdict = CorrectiveEffect.judge(before: before, after: after, daysSinceClose: Int(now.timeIntervalSince(c.closed_at) / 86_400), window: window)
            try await app.write(as: .system) { change in
                var linked = c.linked_exception_id
                if linked == nil, CorrectiveEffect.recurred(after: after) {
                    linked = try await openLinked(c, recurrences: after.defective, in: change)
                }
                try await (change.db as! any SQLDatabase).update("corrective_checks")
                    .set("status", to: verdict.rawValue).set("before_lots", to: before.lots).set("before_defective", to: before.defective)
                    .set("after_lots", to: after.lots).set("after_defective", to: after.defective).set("linked_exception_id", to: linked)
                    .set("judged_at", to: verdict == .watching ? nil : change.now).set("updated_at", to: change.now)
                    .where("exception_id", .equal, c.exception_id).run()
                if verdict != .watching {
                    try await change.audit("corrective_check", c.exception_id, "judge", after: [
                        "verdict": verdict.rawValue, "before": "\(before.defective)/\(before.lots)", "after": "\(after.defective)/\(after.lots)"])
                }
            }
        }
    }

    /// Lots of the supplier's item inspected in [from, to) (the first `limit` of them), and how
    /// many showed the defect.
    private static func counts(_ sql: any SQLDatabase, _ supplier: UUID, _ item: UUID, _ code: String, from: Date, to: Date, limit: Int?) async throws -> CorrectiveEffect.Counts {
        struct R: Decodable { let lots: Int; let defective: Int? }
        let r = try await sql.raw("""
            SELECT COUNT(*) AS lots, SUM(CASE WHEN EXISTS (SELECT 1 FROM inspection_defects d WHERE d.inspection_id = t.id AND d.code = \(bind: code)) THEN 1 ELSE 0 END) AS defective
            FROM (SELECT i.id FROM inspections i WHERE i.supplier_id = \(bind: supplier) AND i.item_id = \(bind: item)
                    AND i.created_at >= \(bind: from) AND i.created_at < \(bind: to) ORDER BY i.created_at LIMIT \(bind: limit ?? 1_000_000)) t
            """).first(decoding: R.self)
        return CorrectiveEffect.Counts(lots: r?.lots ?? 0, defective: r?.defective ?? 0)
    }

    private static func openLinked(_ c: Watched, recurrences: Int, in change: Change) async throws -> UUID {
        let original = try await ExceptionCase.find(c.exception_id, on: change.db)!
        let words = ExceptionWords(title: "exception.auto.recurred.title", description: "exception.auto.recurred.description",
                                   params: ["defect": c.defect_code, "code": original.code, "n": String(recurrences)])
        let e = try await ExceptionService.raise(
            type: "quality", severity: "major", supplier: c.supplier_id, order: nil, item: c.item_id, lot: "", source: "corrective_check",
            sourceID: c.exception_id.uuidString, title: "纠正措施无效:\(c.defect_code) 在 \(original.code) 关闭后再次出现",
            description: "\(original.code) 的 8D 关闭后,\(c.defect_code) 又出现在 \(recurrences) 批中。", by: nil, defectCodes: c.defect_code,
            eightD: true, notify: true, words: words, in: change)
        try await ExceptionService.addComment(original, side: "system", author: nil, body: e.code, event: "recurred", ref: e.code, in: change)
        return e.id!
    }

    static func list(_ p: Principal, on db: any Database) async throws -> [CorrectiveCheckDTO] {
        struct R: Decodable {
            let exception_id: UUID; let code: String; let supplier_id: UUID; let supplier_code: String; let supplier_name: String; let item_code: String
            let item_name: String; let defect_code: String; let closed_at: Date; let status: String; let before_lots: Int; let before_defective: Int
            let after_lots: Int; let after_defective: Int; let linked_exception_id: UUID?; let judged_at: Date?
        }
        var q: SQLQueryString = """
            SELECT c.exception_id, e.code, c.supplier_id, o.code AS supplier_code, o.name AS supplier_name, i.code AS item_code, i.name AS item_name,
                   c.defect_code, c.closed_at, c.status, c.before_lots, c.before_defective, c.after_lots, c.after_defective, c.linked_exception_id, c.judged_at
            FROM corrective_checks c JOIN exceptions e ON e.id = c.exception_id JOIN organizations o ON o.id = c.supplier_id JOIN items i ON i.id = c.item_id
            """
        if let s = p.scope.supplierID { q = q + " WHERE c.supplier_id = \(bind: s)" }
        return try await (db as! any SQLDatabase).raw(q + " ORDER BY c.closed_at DESC LIMIT 500").all(decoding: R.self).map {
            CorrectiveCheckDTO(exceptionId: $0.exception_id, exceptionCode: $0.code, supplierId: $0.supplier_id, supplierCode: $0.supplier_code,
                               supplierName: $0.supplier_name, itemCode: $0.item_code, itemName: $0.item_name, defectCode: $0.defect_code,
                               closedAt: $0.closed_at, status: $0.status, before: .init(lots: $0.before_lots, defective: $0.before_defective),
                               after: .init(lots: $0.after_lots, defective: $0.after_defective), linkedExceptionId: $0.linked_exception_id, judgedAt: $0.judged_at)
        }
    }
}
