import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct GradeDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let period: String
    let score: Int?
    let grade: String?
    let weightsVersion: Int
}

struct StatusProposalDTO: Content {
    let id: UUID
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let proposedStatus: String
    let period: String
    let exceptionId: UUID?
    let status: String
    let reason: String
    let createdAt: Date
    let decidedAt: Date?
    let version: Int
}

struct CloseMonthInput: StrictInput {
    static let fields: Set<String> = ["period"]
    var period: String
    func validate() -> [FieldProblem] {
        guard let p = ScorePeriod(period), case .month = p else { return [FieldProblem("period", "badPeriod")] }
        return []
    }
}

struct ProposalDecisionInput: StrictInput {
    static let fields: Set<String> = ["version", "decision", "reason"]
    var version: Int
    var decision: String
    var reason: String
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if !["confirm", "decline"].contains(decision) { p.append(FieldProblem("decision", "invalidValue")) }
        Check.text(reason, "reason", max: 500, into: &p)
        return p
    }
}

/// Closing a month's grades and what follows from them: two D grades in a row open a corrective
/// action and propose probation to an admin; an A grade makes the supplier preferred next month.
enum ScorecardGrading {
    /// Grades every supplier with records in `month` once; a month already closed is refused (409).
    /// `notify: false` closes quietly (the demo's history, closed all at once).
    static func closeMonth(_ month: ScorePeriod, by actor: AuditActor, notify: Bool = true, app: Application) async throws -> [GradeDTO] {
        guard case .month = month else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("period", "badPeriod")]) }
        guard month.last < app.subcon.today() else { throw Problem.validation([FieldProblem("period", "periodNotOver")]) }
        let w = try await ScorecardService.currentWeights(on: app.database)
        let queries = ScorecardService.queries(w.weights, app: app, on: app.database)
        // The month before too: the suggestions compare with it.
        let cards = try await queries.figures([month.previous, month], supplier: nil)
        let answerHours = app.subcon.settings.responseClock.answerHours
        let start = queries.instant(month.first), end = queries.instant(month.next.first)
        let previous = month.previous.description
        return try await app.write(as: actor) { change in
            let sql = change.db as! any SQLDatabase
            struct N: Decodable { let n: Int }
            if try await sql.raw("SELECT COUNT(*) AS n FROM closed_score_months WHERE period = \(bind: month.description)").firstRow(decoding: N.self)?.n ?? 0 > 0 {
                throw Problem.conflict("problem.scorecard.monthClosed", ["period": month.description])
            }
            try await sql.insert(into: "closed_score_months").columns("period", "weights_version", "suppliers", "closed_by", "closed_at")
                .values(SQLBind(month.description), SQLBind(w.version), SQLBind(cards.keys.filter { $0.bucket == 1 }.count), SQLBind(actor.id), SQLBind(change.now)).run()
            try await change.audit("score_month", nil, "close", after: ["period": month.description, "weights_version": String(w.version)])
            struct O: Decodable { let id: UUID; let code: String; let name: String }
            let ids = Array(Set(cards.keys.filter { $0.bucket == 1 }.map(\.supplier)))
            let orgs = ids.isEmpty ? [] : try await sql.raw("SELECT id, code, name FROM organizations WHERE kind = 'supplier' AND id IN (\(binds: ids)) ORDER BY code").rows(decoding: O.self)
            struct G: Decodable { let supplier_id: UUID; let grade: String? }
            let before = Dictionary(try await sql.raw("SELECT supplier_id, grade FROM supplier_grades WHERE period = \(bind: previous)").rows(decoding: G.self)
                .map { ($0.supplier_id, $0.grade.flatMap(Grade.init)) }, uniquingKeysWith: { a, _ in a })
            var out: [GradeDTO] = []
            for o in orgs {
                let card = cards[.init(supplier: o.id, bucket: 1)] ?? Scorecard()
                let score = card.score(w.weights), grade = card.grade(w.weights)
                try await sql.insert(into: "supplier_grades").columns("id", "supplier_id", "period", "score", "grade", "weights_version", "created_at")
                    .values(SQLBind(UUID()), SQLBind(o.id), SQLBind(month.description), SQLBind(score), SQLBind(grade?.rawValue), SQLBind(w.version), SQLBind(change.now))
                    .run()
                try await change.audit("supplier_grade", o.id, "create", after: ["period": month.description, "score": score.map { String($0) },
                                                                             "grade": grade?.rawValue, "weights_version": String(w.version)])
                out.append(GradeDTO(supplierId: o.id, supplierCode: o.code, supplierName: o.name, period: month.description, score: score,
                                    grade: grade?.rawValue, weightsVersion: w.version))
                if GradeActions.needsCorrectiveAction(previous: before[o.id] ?? nil, current: grade) {
                    try await correctiveAction(o.id, name: o.name, month: month, in: change)
                }
            }
            try await SuggestionService.make(month, cards: cards, suppliers: orgs.map { ($0.id, $0.name) }, weights: w.weights, answerHours: answerHours,
                                             start: start, end: end, notify: notify, in: change)
            return out
        }
    }

    private static func correctiveAction(_ supplier: UUID, name: String, month: ScorePeriod, in change: Change) async throws {
        let words = ExceptionWords(title: "exception.auto.twoD.title", description: "exception.auto.twoD.description",
                                   params: ["previous": month.previous.description, "period": month.description])
        let e = try await ExceptionService.raise(
            type: "other", severity: "major", supplier: supplier, order: nil, item: nil, lot: "", source: "scorecard",
            sourceID: month.description, title: "连续两个月绩效 D 级 (\(month.previous) / \(month))",
            description: "\(month.previous) 与 \(month) 的绩效均为 D 级，请提交纠正措施 (8D)。", by: nil, eightD: true, notify: true,
            words: words, in: change)
        let id = UUID()
        try await (change.db as! any SQLDatabase).insert(into: "status_proposals")
            .columns("id", "supplier_id", "proposed_status", "period", "exception_id", "status", "reason", "created_at", "version")
            .values(SQLBind(id), SQLBind(supplier), SQLBind(SupplierStatus.probation.rawValue), SQLBind(month.description), SQLBind(e.id!),
                    SQLBind("pending"), SQLBind(""), SQLBind(change.now), SQLBind(1))
            .run()
        try await change.audit("status_proposal", id, "create", after: ["supplier": name, "proposed_status": "probation", "period": month.description,
                                                                      "exception": e.code])
        let admins = try await OrderService.manufacturerPeople(with: .admin, on: change.db)
        try await change.notify("scorecard.probation_proposed", recipients: admins, messageKey: "notice.probationProposed",
                                params: ["name": name, "period": month.description], link: "/scorecards/settings#proposals")
    }

    /// In the background: once a month is over, its grades are closed (once, whichever instance
    /// gets there first; the unique key stops a second).
    static func closeDueMonth(app: Application) async throws {
        let last = ScorePeriod.month(of: app.subcon.today()).previous
        struct N: Decodable { let n: Int }
        let done = try await (app.database as! any SQLDatabase).raw("SELECT COUNT(*) AS n FROM closed_score_months WHERE period = \(bind: last.description)").firstRow(decoding: N.self)?.n ?? 0
        guard done == 0 else { return }
        do { _ = try await closeMonth(last, by: .system, app: app) } catch let p as Problem where p.status == .conflict {}
    }

    static func grades(_ p: Principal, period: ScorePeriod, on db: any Database) async throws -> [GradeDTO] {
        try p.require(.viewScorecards)
        struct R: Decodable { let supplier_id: UUID; let code: String; let name: String; let period: String; let score: Int?; let grade: String?; let weights_version: Int }
        var q: SQLQueryString = """
            SELECT g.supplier_id, o.code, o.name, g.period, g.score, g.grade, g.weights_version FROM supplier_grades g
            JOIN organizations o ON o.id = g.supplier_id WHERE g.period = \(bind: period.description)
            """
        if let own = p.scope.supplierID { q = q + " AND g.supplier_id = \(bind: own)" }
        return try await (db as! any SQLDatabase).raw(q + " ORDER BY o.code").rows(decoding: R.self).map {
            GradeDTO(supplierId: $0.supplier_id, supplierCode: $0.code, supplierName: $0.name, period: $0.period, score: $0.score, grade: $0.grade,
                     weightsVersion: $0.weights_version)
        }
    }

    static func proposals(_ p: Principal, on db: any Database) async throws -> [StatusProposalDTO] {
        try p.require(.administerInstallation)
        return try await proposalRows("", on: db)
    }

    private static func proposalRows(_ filter: SQLQueryString, on db: any Database) async throws -> [StatusProposalDTO] {
        struct R: Decodable {
            let id: UUID; let supplier_id: UUID; let code: String; let name: String; let proposed_status: String; let period: String; let exception_id: UUID?
            let status: String; let reason: String; let created_at: Date; let decided_at: Date?; let version: Int
        }
        return try await (db as! any SQLDatabase).raw("""
            SELECT s.id, s.supplier_id, o.code, o.name, s.proposed_status, s.period, s.exception_id, s.status, s.reason, s.created_at, s.decided_at, s.version
            FROM status_proposals s JOIN organizations o ON o.id = s.supplier_id
            """ + filter + " ORDER BY CASE WHEN s.status = 'pending' THEN 0 ELSE 1 END, s.created_at DESC LIMIT 200").rows(decoding: R.self).map {
            StatusProposalDTO(id: $0.id, supplierId: $0.supplier_id, supplierCode: $0.code, supplierName: $0.name, proposedStatus: $0.proposed_status,
                              period: $0.period, exceptionId: $0.exception_id, status: $0.status, reason: $0.reason, createdAt: $0.created_at,
                              decidedAt: $0.decided_at, version: $0.version)
        }
    }

    /// An admin confirms (the supplier goes on probation, as a status change with the reason)
    /// or declines, with a reason either way; both in one transaction.
    static func decide(_ p: Principal, _ id: UUID, _ input: ProposalDecisionInput, app: Application) async throws -> StatusProposalDTO {
        try p.require(.administerInstallation)
        guard let current = try await proposalRows(" WHERE s.id = \(bind: id)", on: app.database).first else { throw Problem.notFound }
        guard current.status == "pending" else { throw Problem.validation([FieldProblem("decision", "alreadyDecided")]) }
        let (org, profile) = try await SupplierProfileService.profile(p, current.supplierId, on: app.database)
        let target: SupplierStatus? = input.decision == "confirm"
            ? try await SupplierProfileService.checkStatusChange(p, profile, StatusChangeInput(status: current.proposedStatus, reason: input.reason), app: app)
            : nil
        let status = input.decision == "confirm" ? "confirmed" : "declined"
        try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned("status_proposals", id: id, expected: input.version,
                                             sets: ["status": status, "reason": input.reason, "decided_by": p.userID, "decided_at": change.now])
            try await change.audit("status_proposal", id, "update", before: ["status": "pending"], after: ["status": status, "reason": input.reason])
            if let target { try await SupplierProfileService.applyStatus(org, profile, target, reason: input.reason, in: change) }
        }
        return try await proposalRows(" WHERE s.id = \(bind: id)", on: app.database).first!
    }
}
