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
    /// A watched case with its counts as stored and as counted now.
    struct Watched: Decodable, Sendable {
        let exception_id: UUID; let supplier_id: UUID; let item_id: UUID; let defect_code: String; let opened_at: Date; let closed_at: Date
        let linked_exception_id: UUID?
        let was_before_lots: Int; let was_before_defective: Int; let was_after_lots: Int; let was_after_defective: Int
        let before_lots: Int; let before_defective: Int; let after_lots: Int; let after_defective: Int
        var before: CorrectiveEffect.Counts { .init(lots: before_lots, defective: before_defective) }
        var after: CorrectiveEffect.Counts { .init(lots: after_lots, defective: after_defective) }
        var wasBefore: CorrectiveEffect.Counts { .init(lots: was_before_lots, defective: was_before_defective) }
        var wasAfter: CorrectiveEffect.Counts { .init(lots: was_after_lots, defective: was_after_defective) }
    }

    /// One pass over every case: new ones start being watched, and the watched ones are counted
    /// in one statement and written only where something changed. (Case by case, the first pass
    /// on a large installation — 66,666 closed cases — kept the server busy for over an hour.)
    static func run(app: Application) async throws {
        let sql = app.database as! any SQLDatabase
        let postgres = sql.dialect.name == "postgresql"
        let now = app.subcon.clock.now()
        let window = app.subcon.settings.correctiveWindow
        // Every closed 8D with an item and a defect code is watched once, for its first code.
        let firstCode = postgres ? "trim(split_part(e.defect_codes, ',', 1))"
            : "trim(CASE WHEN instr(e.defect_codes, ',') > 0 THEN substr(e.defect_codes, 1, instr(e.defect_codes, ',') - 1) ELSE e.defect_codes END)"
        // A thousand at a time, each new watch audited in the transaction that starts it.
        struct Started: Decodable { let exception_id: UUID; let defect_code: String }
        while true {
            let started = try await app.write(as: .system) { change -> Int in
                let rows = try await (change.db as! any SQLDatabase).raw("""
                    INSERT INTO corrective_checks (exception_id, supplier_id, item_id, defect_code, opened_at, closed_at, status,
                                                   before_lots, before_defective, after_lots, after_defective, updated_at)
                    SELECT e.id, e.supplier_id, e.item_id, \(unsafeRaw: firstCode), e.created_at, e.closed_at, \(bind: CorrectiveEffect.Verdict.watching.rawValue),
                           0, 0, 0, 0, \(bind: now)
                    FROM exceptions e
                    WHERE e.status = 'closed' AND e.eight_d = \(bind: true) AND e.item_id IS NOT NULL AND e.defect_codes <> '' AND e.closed_at IS NOT NULL
                      AND \(unsafeRaw: firstCode) <> '' AND NOT EXISTS (SELECT 1 FROM corrective_checks c WHERE c.exception_id = e.id)
                    LIMIT 1000
                    RETURNING exception_id, defect_code
                    """).rows(decoding: Started.self)
                for r in rows {
                    try await change.audit("corrective_check", r.exception_id, "create", after: ["defect": r.defect_code, "status": CorrectiveEffect.Verdict.watching.rawValue])
                }
                return rows.count
            }
            if started < 1000 { break }
        }

        // Before: the lots in the same length of time before the case was opened. After: the
        // first lots after the closure, up to the window's lots and days.
        let span = window.days * 86_400
        func shifted(_ column: String, _ sign: String) -> String { postgres ? "\(column) \(sign) interval '\(span) seconds'" : "\(column) \(sign) \(span)" }
        let defective = "CASE WHEN EXISTS (SELECT 1 FROM inspection_defects d WHERE d.inspection_id = i.id AND d.code = c.defect_code) THEN 1 ELSE 0 END"
        let watching = try await sql.raw("""
            SELECT c.exception_id, c.supplier_id, c.item_id, c.defect_code, c.opened_at, c.closed_at, c.linked_exception_id,
                   c.before_lots AS was_before_lots, c.before_defective AS was_before_defective, c.after_lots AS was_after_lots,
                   c.after_defective AS was_after_defective,
                   COALESCE(b.lots, 0) AS before_lots, COALESCE(b.defective, 0) AS before_defective,
                   COALESCE(a.lots, 0) AS after_lots, COALESCE(a.defective, 0) AS after_defective
            FROM corrective_checks c
            LEFT JOIN (SELECT c.exception_id, COUNT(*) AS lots, SUM(\(unsafeRaw: defective)) AS defective
                       FROM corrective_checks c JOIN inspections i ON i.supplier_id = c.supplier_id AND i.item_id = c.item_id
                         AND i.created_at >= \(unsafeRaw: shifted("c.opened_at", "-")) AND i.created_at < c.opened_at
                       WHERE c.status = 'watching' GROUP BY c.exception_id) b ON b.exception_id = c.exception_id
            LEFT JOIN (SELECT x.exception_id, COUNT(*) AS lots, SUM(x.bad) AS defective
                       FROM (SELECT c.exception_id, \(unsafeRaw: defective) AS bad,
                                    ROW_NUMBER() OVER (PARTITION BY c.exception_id ORDER BY i.created_at) AS rn
                             FROM corrective_checks c JOIN inspections i ON i.supplier_id = c.supplier_id AND i.item_id = c.item_id
                               AND i.created_at >= c.closed_at AND i.created_at < \(unsafeRaw: shifted("c.closed_at", "+")) AND i.created_at < \(bind: now)
                             WHERE c.status = 'watching') x
                       WHERE x.rn <= \(bind: window.lots) GROUP BY x.exception_id) a ON a.exception_id = c.exception_id
            WHERE c.status = 'watching'
            """).rows(decoding: Watched.self)

        var changed: [(Watched, CorrectiveEffect.Verdict)] = []
        for c in watching {
            let verdict = CorrectiveEffect.judge(before: c.before, after: c.after, daysSinceClose: Int(now.timeIntervalSince(c.closed_at) / 86_400), window: window)
            let recurs = c.linked_exception_id == nil && CorrectiveEffect.recurred(after: c.after)
            if verdict != .watching || recurs || c.before != c.wasBefore || c.after != c.wasAfter { changed.append((c, verdict)) }
        }
        // In transactions of a few hundred, so a long first pass never holds the writer for long.
        for start in stride(from: 0, to: changed.count, by: 200) {
            let batch = changed[start..<min(start + 200, changed.count)]
            try await app.write(as: .system) { change in
                for (c, verdict) in batch {
                    var linked = c.linked_exception_id
                    if linked == nil, CorrectiveEffect.recurred(after: c.after) {
                        linked = try await openLinked(c, recurrences: c.after.defective, in: change)
                    }
                    try await (change.db as! any SQLDatabase).update("corrective_checks")
                        .set("status", to: verdict.rawValue).set("before_lots", to: c.before.lots).set("before_defective", to: c.before.defective)
                        .set("after_lots", to: c.after.lots).set("after_defective", to: c.after.defective).set("linked_exception_id", to: linked)
                        .set("judged_at", to: verdict == .watching ? nil : change.now).set("updated_at", to: change.now)
                        .where("exception_id", .equal, c.exception_id).run()
                    if verdict != .watching {
                        try await change.audit("corrective_check", c.exception_id, "judge", after: [
                            "verdict": verdict.rawValue, "before": "\(c.before.defective)/\(c.before.lots)", "after": "\(c.after.defective)/\(c.after.lots)"])
                    }
                }
            }
        }
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

    /// The watched cases, the latest closed first, a page at a time (`after`: the last case of
    /// the page before, by its exception's id). The page's cases come from the (closed_at,
    /// exception) indexes, everyone's or one supplier's, and only they are joined to their names:
    /// every case of every supplier was joined and sorted for the 500 newest (320 ms for the
    /// buyer on the large data set).
    static func list(_ p: Principal, limit: Int, after: ListCursor? = nil, on db: any SQLDatabase) async throws -> [CorrectiveCheckDTO] {
        struct R: Decodable {
            let exception_id: UUID; let code: String; let supplier_id: UUID; let supplier_code: String; let supplier_name: String; let item_code: String
            let item_name: String; let defect_code: String; let closed_at: Date; let status: String; let before_lots: Int; let before_defective: Int
            let after_lots: Int; let after_defective: Int; let linked_exception_id: UUID?; let judged_at: Date?
        }
        var conditions: SQLQueryString = "1 = 1" + p.scope.and("c.supplier_id")
        if let after {
            conditions = conditions + " AND (c.closed_at, c.exception_id) < (SELECT a.closed_at, a.exception_id FROM corrective_checks a WHERE a.exception_id = \(bind: try after.uuid(0, of: 1)))"
        }
        let rows = try await db.raw("""
            WITH page AS MATERIALIZED (SELECT c.exception_id AS id, c.closed_at AS k1, c.exception_id AS k2 FROM corrective_checks c WHERE
            """ + " " + conditions + " ORDER BY c.closed_at DESC, c.exception_id DESC LIMIT \(literal: limit)) " + """
            SELECT c.exception_id, e.code, c.supplier_id, o.code AS supplier_code, o.name AS supplier_name, i.code AS item_code, i.name AS item_name,
                   c.defect_code, c.closed_at, c.status, c.before_lots, c.before_defective, c.after_lots, c.after_defective, c.linked_exception_id, c.judged_at
            FROM page p CROSS JOIN corrective_checks c JOIN exceptions e ON e.id = c.exception_id JOIN organizations o ON o.id = c.supplier_id
            JOIN items i ON i.id = c.item_id
            WHERE c.exception_id = p.id ORDER BY p.k1 DESC, p.k2 DESC
            """).rows(decoding: R.self)
        return rows.map {
            CorrectiveCheckDTO(exceptionId: $0.exception_id, exceptionCode: $0.code, supplierId: $0.supplier_id, supplierCode: $0.supplier_code,
                               supplierName: $0.supplier_name, itemCode: $0.item_code, itemName: $0.item_name, defectCode: $0.defect_code,
                               closedAt: $0.closed_at, status: $0.status, before: .init(lots: $0.before_lots, defective: $0.before_defective),
                               after: .init(lots: $0.after_lots, defective: $0.after_defective), linkedExceptionId: $0.linked_exception_id, judgedAt: $0.judged_at)
        }
    }

    static func cursor(_ c: CorrectiveCheckDTO) -> ListCursor { ListCursor([c.exceptionId.uuidString]) }
}

/// The watched cases' list in its order, everyone's and one supplier's (see `CorrectiveChecks.list`).
struct AddCorrectiveCheckPageIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "corrective_checks_closed_idx", on: "corrective_checks", "closed_at", "exception_id")
        try await createIndex(db, "corrective_checks_supplier_closed_idx", on: "corrective_checks", "supplier_id", "closed_at", "exception_id")
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "corrective_checks_supplier_closed_idx").run()
        try await sql.drop(index: "corrective_checks_closed_idx").run()
    }
}
