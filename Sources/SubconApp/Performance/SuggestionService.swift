import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct SuggestionDTO: Content {
    let id: UUID
    let supplierId: UUID
    let period: String
    let rule: String
    /// The figures the suggestion came from, by name.
    let params: [String: String]
    let status: String
    let reason: String
    let exceptionId: UUID?
    let createdAt: Date
    let version: Int
}

struct SuggestionDecisionInput: StrictInput {
    static let fields: Set<String> = ["version", "reason"]
    var version: Int
    var reason: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", required: false, max: 500, into: &p)
        return p
    }
}

/// Suggestions are made when a month's grades close; the buyer dismisses one (with a reason) or
/// turns it into an exception the supplier must answer.
enum SuggestionService {
    /// Within the month's closing transaction: the rules over each supplier's month and the one
    /// before, and the corrective actions whose defect came back during the month.
    static func make(_ month: ScorePeriod, cards: [ScorecardQueries.Key: Scorecard], suppliers: [(id: UUID, name: String)],
                     weights: ScoreWeights, answerHours: Int, start: Date, end: Date, notify: Bool = true, in change: Change) async throws {
        let sql = change.db as! any SQLDatabase
        struct R: Decodable { let supplier_id: UUID; let code: String; let defect_code: String; let after_defective: Int }
        let recurred = try await sql.raw("""
            SELECT c.supplier_id, e.code, c.defect_code, c.after_defective FROM corrective_checks c
            JOIN exceptions e ON e.id = c.exception_id JOIN exceptions l ON l.id = c.linked_exception_id
            WHERE l.created_at >= \(bind: start) AND l.created_at < \(bind: end)
            """).rows(decoding: R.self)
        for s in suppliers {
            let card = cards[.init(supplier: s.id, bucket: 1)] ?? Scorecard()
            let suggestions = ImprovementRules.suggest(card, previous: cards[.init(supplier: s.id, bucket: 0)], answerHours: answerHours,
                                                       silentDays: weights.silentDays,
                                                       recurrences: recurred.filter { $0.supplier_id == s.id }.map { .init(exception: $0.code, defect: $0.defect_code, lots: $0.after_defective) })
            guard !suggestions.isEmpty else { continue }
            for g in suggestions {
                let params = String(decoding: try JSONEncoder().encode(g.params), as: UTF8.self)
                let id = UUID()
                try await sql.insert(into: "suggestions").columns("id", "supplier_id", "period", "rule", "params", "status", "reason", "created_at", "version")
                    .values(SQLBind(id), SQLBind(s.id), SQLBind(month.description), SQLBind(g.rule), SQLBind(params), SQLBind("open"), SQLBind(""),
                            SQLBind(change.now), SQLBind(1))
                    .run()
                try await change.audit("suggestion", id, "create", after: ["supplier": s.name, "period": month.description, "rule": g.rule, "params": params])
            }
            guard notify else { continue }
            let people = try await OrderService.manufacturerPeople(with: .purchaser, on: change.db)
                + (try await OrderService.supplierUsers(s.id, on: change.db))
            try await change.notify("scorecard.suggestions", recipients: people, messageKey: "notice.suggestions",
                                    params: ["name": s.name, "period": month.description, "n": String(suggestions.count)],
                                    link: "/scorecards/\(s.id)?period=\(month)")
        }
    }

    static func list(_ p: Principal, supplier: UUID, period: ScorePeriod?, on db: any Database) async throws -> [SuggestionDTO] {
        _ = try await ScorecardService.supplier(p, supplier, on: db)
        var q: SQLQueryString = "SELECT * FROM suggestions WHERE supplier_id = \(bind: supplier)"
        // Suggestions are made per month: a quarter or a year shows those of its months.
        if let period { q = q + " AND period IN (\(binds: period.months))" }
        return try await rows(q + " ORDER BY period DESC, CASE WHEN status = 'open' THEN 0 ELSE 1 END, rule LIMIT 200", on: db)
    }

    private static func rows(_ q: SQLQueryString, on db: any Database) async throws -> [SuggestionDTO] {
        struct R: Decodable {
            let id: UUID; let supplier_id: UUID; let period: String; let rule: String; let params: String; let status: String; let reason: String
            let exception_id: UUID?; let created_at: Date; let version: Int
        }
        return try await (db as! any SQLDatabase).raw(q).rows(decoding: R.self).map {
            SuggestionDTO(id: $0.id, supplierId: $0.supplier_id, period: $0.period, rule: $0.rule,
                          params: StoredParams.decode($0.params), status: $0.status,
                          reason: $0.reason, exceptionId: $0.exception_id, createdAt: $0.created_at, version: $0.version)
        }
    }

    /// The suggestion, if the person may act on it (the buyer's side, with exceptions to handle).
    private static func actionable(_ p: Principal, _ id: UUID, on db: any Database) async throws -> SuggestionDTO {
        guard let s = try await rows("SELECT * FROM suggestions WHERE id = \(bind: id)", on: db).first else { throw Problem.notFound }
        _ = try await ScorecardService.supplier(p, s.supplierId, on: db)
        try p.require(.handleExceptions)
        guard s.status == "open" else { throw Problem.validation([FieldProblem("version", "alreadyDecided")]) }
        return s
    }

    static func dismiss(_ p: Principal, _ id: UUID, _ input: SuggestionDecisionInput, app: Application) async throws -> SuggestionDTO {
        _ = try await actionable(p, id, on: app.database)
        guard let reason = input.reason?.trimmingCharacters(in: .whitespaces), !reason.isEmpty else { throw Problem.validation([FieldProblem("reason", "required")]) }
        try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned("suggestions", id: id, expected: input.version,
                                             sets: ["status": "dismissed", "reason": reason, "decided_by": p.userID, "decided_at": change.now])
            try await change.audit("suggestion", id, "update", before: ["status": "open"], after: ["status": "dismissed", "reason": reason])
        }
        return try await rows("SELECT * FROM suggestions WHERE id = \(bind: id)", on: app.database)[0]
    }

    /// Turns the suggestion into an exception for the supplier, in its words (the reader's language).
    static func raise(_ p: Principal, _ id: UUID, _ input: SuggestionDecisionInput, app: Application) async throws -> SuggestionDTO {
        let s = try await actionable(p, id, on: app.database)
        let catalog = app.subcon.catalog
        let text = catalog.text("suggestion.\(s.rule)", .fallback, s.params)
        try await app.write(as: p.auditActor) { change in
            let e = try await ExceptionService.raise(
                type: "other", severity: "minor", supplier: s.supplierId, order: nil, item: nil, lot: "", source: "suggestion", sourceID: id.uuidString,
                title: catalog.text("suggestion.title.\(s.rule)", .fallback, s.params), description: text, by: p.userID, buyerOwner: p.userID, notify: true,
                words: ExceptionWords(title: "suggestion.title.\(s.rule)", description: "suggestion.\(s.rule)", params: s.params), in: change)
            try await change.updateVersioned("suggestions", id: id, expected: input.version,
                                             sets: ["status": "raised", "reason": input.reason ?? "", "exception_id": e.id!, "decided_by": p.userID,
                                                    "decided_at": change.now])
            try await change.audit("suggestion", id, "update", before: ["status": "open"], after: ["status": "raised", "exception": e.code])
        }
        return try await rows("SELECT * FROM suggestions WHERE id = \(bind: id)", on: app.database)[0]
    }
}
