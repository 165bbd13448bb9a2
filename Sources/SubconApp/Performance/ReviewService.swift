import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct AgendaItemDTO: Content, Equatable {
    /// A catalog key (`review.agenda.*`) and its figures.
    let key: String
    let params: [String: String]
    let href: String?
}

struct ReviewActionDTO: Content {
    let id: UUID
    let reviewId: UUID
    let title: String
    let ownerSide: String
    let dueOn: String
    let status: String
    let doneAt: Date?
    let version: Int
}

struct ReviewDTO: Content {
    let id: UUID
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let cadence: String
    let period: String
    let scheduledOn: String
    let status: String
    var agenda: [AgendaItemDTO]
    let minutes: String
    let heldAt: Date?
    let version: Int
    /// Action items agreed at this review.
    let actions: [ReviewActionDTO]
    /// Still-open items of earlier reviews: the next review starts with them.
    let carried: [ReviewActionDTO]
}

struct ReviewInput: StrictInput {
    static let fields: Set<String> = ["cadence", "scheduledOn"]
    var cadence: String
    var scheduledOn: Day
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if ReviewCadence(rawValue: cadence) == nil { p.append(FieldProblem("cadence", "invalidValue")) }
        if !ReviewCadence.years.contains(scheduledOn.year) {
            p.append(FieldProblem("scheduledOn", "outOfRange", ["min": "\(ReviewCadence.years.lowerBound)-01-01", "max": "\(ReviewCadence.years.upperBound)-12-31"]))
        }
        return p
    }
}

struct MinutesInput: StrictInput {
    struct Action: Codable, Sendable { var title: String; var ownerSide: String; var dueOn: Day }
    static let fields: Set<String> = ["version", "minutes", "actions"]
    var version: Int
    var minutes: String
    var actions: [Action]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(minutes, "minutes", max: 5000, into: &p)
        if actions.count > 30 { p.append(FieldProblem("actions", "tooMany", ["max": "30"])) }
        for (i, a) in actions.enumerated() {
            Check.text(a.title, "actions[\(i)].title", max: 200, into: &p)
            if ReviewActionOwner(rawValue: a.ownerSide) == nil { p.append(FieldProblem("actions[\(i)].ownerSide", "invalidValue")) }
        }
        return p
    }
}

/// Regular supplier reviews (定期沟通): the agenda is drawn from the data when the review is
/// planned, the minutes end it with action items owned by either side, tracked to done and on
/// both sides' to-do lists; open items carry into the next review.
enum ReviewService {
    static func plan(_ p: Principal, supplier id: UUID, _ input: ReviewInput, app: Application) async throws -> ReviewDTO {
        let (org, _) = try await ScorecardService.supplier(p, id, on: app.database)
        try p.require(.manageSuppliers)
        let period = ReviewCadence(rawValue: input.cadence)!.period(on: input.scheduledOn)
        let agenda = try await agenda(supplier: id, period: period, app: app)
        let review = UUID()
        try await app.write(as: p.auditActor) { change in
            try await (change.db as! any SQLDatabase).insert(into: "supplier_reviews")
                .columns("id", "supplier_id", "cadence", "period", "scheduled_on", "status", "agenda", "minutes", "created_by", "created_at", "version")
                .values(SQLBind(review), SQLBind(id), SQLBind(input.cadence), SQLBind(period.description), SQLBind(input.scheduledOn.description),
                        SQLBind("planned"), SQLBind(String(decoding: try JSONEncoder().encode(agenda), as: UTF8.self)), SQLBind(""), SQLBind(p.userID),
                        SQLBind(change.now), SQLBind(1))
                .run()
            try await change.audit("supplier_review", review, "create", after: ["supplier": org.name, "cadence": input.cadence,
                                                                             "scheduled_on": input.scheduledOn.description, "period": period.description])
            try await change.notify("review.planned", recipients: try await OrderService.supplierUsers(id, on: change.db), messageKey: "notice.reviewPlanned",
                                    params: ["date": input.scheduledOn.description], link: "/reviews/\(review)")
        }
        return try await detail(p, review, on: app.database)
    }

    /// What the review should talk about, from the records as they are now.
    static func agenda(supplier id: UUID, period: ScorePeriod, app: Application) async throws -> [AgendaItemDTO] {
        let w = try await ScorecardService.currentWeights(on: app.database)
        let q = ScorecardService.queries(w.weights, app: app, on: app.database)
        let cards = try await q.figures([period.previous, period], supplier: id)
        let now = cards[.init(supplier: id, bucket: 1)] ?? Scorecard(), before = cards[.init(supplier: id, bucket: 0)] ?? Scorecard()
        func score(_ c: Scorecard) -> String { c.score(w.weights).map(Rate.tenthsText) ?? "—" }
        var items = [AgendaItemDTO(key: "review.agenda.score", params: [
            "period": period.description, "score": score(now), "grade": now.grade(w.weights)?.rawValue ?? "—", "before": score(before)],
            href: "/scorecards/\(id)?period=\(period)")]
        let sql = app.database as! any SQLDatabase
        struct N: Decodable { let n: Int }
        let clock = app.subcon.clock.now()
        let late = Projection.Risk.lateValues.map { "'\($0)'" }.joined(separator: ", ")
        let counts: [(String, SQLQueryString, String)] = [
            ("review.agenda.openExceptions", "SELECT COUNT(*) AS n FROM exceptions WHERE supplier_id = \(bind: id) AND status = 'open'", "/exceptions?status=open"),
            ("review.agenda.overdueExceptions", """
                SELECT COUNT(*) AS n FROM exceptions WHERE supplier_id = \(bind: id) AND status = 'open'
                AND (resolve_by < \(bind: clock) OR (responded_at IS NULL AND response_by < \(bind: clock)))
                """, "/exceptions?status=open"),
            ("review.agenda.lateLines", """
                SELECT COUNT(*) AS n FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id
                WHERE o.supplier_id = \(bind: id) AND l.state = 'open' AND l.risk IN (\(unsafeRaw: late))
                AND o.status IN (\(unsafeRaw: LineLateness.liveOrderStatuses.map { "'\($0)'" }.joined(separator: ", ")))
                """, "/late-lines"),
            ("review.agenda.revisionsWaiting", """
                SELECT COUNT(*) AS n FROM order_revisions r JOIN outsourcing_orders o ON o.id = r.order_id WHERE o.supplier_id = \(bind: id) AND r.status = 'pending'
                """, "/orders?awaiting=true"),
            ("review.agenda.disputes", """
                SELECT COUNT(*) AS n FROM statement_lines l JOIN statements s ON s.id = l.statement_id
                WHERE s.supplier_id = \(bind: id) AND s.status <> 'locked' AND l.disputed = \(bind: true) AND l.revision = s.revision
                """, "/statements"),
            ("review.agenda.suggestions", """
                SELECT COUNT(*) AS n FROM suggestions WHERE supplier_id = \(bind: id) AND status = 'open' AND period IN (\(binds: period.months))
                """, "/scorecards/\(id)?period=\(period)#suggestions"),
        ]
        for (key, query, href) in counts {
            let n = try await sql.raw(query).firstRow(decoding: N.self)?.n ?? 0
            if n > 0 { items.append(AgendaItemDTO(key: key, params: ["n": String(n)], href: href)) }
        }
        return items
    }

    /// A review as it reads now: while it is still planned, its agenda is drawn from the records
    /// as they are today (a review planned weeks ahead talks about this week); once held, the
    /// agenda it was held with.
    static func current(_ p: Principal, _ id: UUID, app: Application) async throws -> ReviewDTO {
        var r = try await detail(p, id, on: app.database)
        if r.status == "planned", let period = ScorePeriod(r.period) { r.agenda = try await agenda(supplier: r.supplierId, period: period, app: app) }
        return r
    }

    static func list(_ p: Principal, supplier id: UUID, on db: any Database) async throws -> [ReviewDTO] {
        _ = try await ScorecardService.supplier(p, id, on: db)
        struct R: Decodable { let id: UUID }
        let ids = try await (db as! any SQLDatabase).raw("SELECT id FROM supplier_reviews WHERE supplier_id = \(bind: id) ORDER BY scheduled_on DESC LIMIT 50")
            .rows(decoding: R.self)
        var out: [ReviewDTO] = []
        for r in ids.prefix(12) { out.append(try await detail(p, r.id, on: db)) }
        return out
    }

    static func detail(_ p: Principal, _ id: UUID, on db: any Database) async throws -> ReviewDTO {
        struct R: Decodable {
            let id: UUID; let supplier_id: UUID; let code: String; let name: String; let cadence: String; let period: String; let scheduled_on: String
            let status: String; let agenda: String; let minutes: String; let held_at: Date?; let version: Int
        }
        let sql = db as! any SQLDatabase
        guard let r = try await sql.raw("""
            SELECT v.id, v.supplier_id, o.code, o.name, v.cadence, v.period, v.scheduled_on, v.status, v.agenda, v.minutes, v.held_at, v.version
            FROM supplier_reviews v JOIN organizations o ON o.id = v.supplier_id WHERE v.id = \(bind: id)
            """).firstRow(decoding: R.self) else { throw Problem.notFound }
        // Through the supplier's scope: another supplier's review does not exist for a supplier.
        _ = try await ScorecardService.supplier(p, r.supplier_id, on: db)
        let actions = try await actionRows("WHERE a.review_id = \(bind: id) ORDER BY a.due_on, a.created_at", on: db)
        let carried = r.status == "planned"
            ? try await actionRows("""
                WHERE a.supplier_id = \(bind: r.supplier_id) AND a.status = 'open' AND a.review_id <> \(bind: id) ORDER BY a.due_on, a.created_at
                """, on: db)
            : []
        return ReviewDTO(id: r.id, supplierId: r.supplier_id, supplierCode: r.code, supplierName: r.name, cadence: r.cadence, period: r.period,
                         scheduledOn: r.scheduled_on, status: r.status,
                         agenda: (try? JSONDecoder().decode([AgendaItemDTO].self, from: Data(r.agenda.utf8))) ?? [], minutes: r.minutes,
                         heldAt: r.held_at, version: r.version, actions: actions, carried: carried)
    }

    private static func actionRows(_ filter: SQLQueryString, on db: any Database) async throws -> [ReviewActionDTO] {
        struct R: Decodable {
            let id: UUID; let review_id: UUID; let title: String; let owner_side: String; let due_on: String; let status: String; let done_at: Date?; let version: Int
        }
        return try await (db as! any SQLDatabase).raw("SELECT a.id, a.review_id, a.title, a.owner_side, a.due_on, a.status, a.done_at, a.version FROM review_actions a " + filter + " LIMIT 200")
            .rows(decoding: R.self).map {
                ReviewActionDTO(id: $0.id, reviewId: $0.review_id, title: $0.title, ownerSide: $0.owner_side, dueOn: $0.due_on, status: $0.status,
                                doneAt: $0.done_at, version: $0.version)
            }
    }

    /// The minutes end a planned review; its action items go to each side's to-do list.
    static func hold(_ p: Principal, _ id: UUID, _ input: MinutesInput, app: Application) async throws -> ReviewDTO {
        let review = try await current(p, id, app: app)
        try p.require(.manageSuppliers)
        guard review.status == "planned" else { throw Problem.validation([FieldProblem("version", "alreadyHeld")]) }
        // The review recurs: the next one of the same cadence is planned at once.
        let cadence = ReviewCadence(rawValue: review.cadence) ?? .monthly
        let nextDay = cadence.next(after: Day(review.scheduledOn) ?? app.subcon.today())
        let nextPeriod = cadence.period(on: nextDay)
        let snapshot = String(decoding: try JSONEncoder().encode(review.agenda), as: UTF8.self)
        try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned("supplier_reviews", id: id, expected: input.version,
                                             sets: ["status": "held", "minutes": input.minutes, "held_at": change.now, "agenda": snapshot])
            let following = UUID()
            try await (change.db as! any SQLDatabase).insert(into: "supplier_reviews")
                .columns("id", "supplier_id", "cadence", "period", "scheduled_on", "status", "agenda", "minutes", "created_by", "created_at", "version")
                .values(SQLBind(following), SQLBind(review.supplierId), SQLBind(review.cadence), SQLBind(nextPeriod.description), SQLBind(nextDay.description),
                        SQLBind("planned"), SQLBind("[]"), SQLBind(""), SQLBind(p.userID), SQLBind(change.now), SQLBind(1))
                .run()
            try await change.audit("supplier_review", following, "create", after: ["cadence": review.cadence, "scheduled_on": nextDay.description,
                                                                                "after": review.scheduledOn])
            for a in input.actions {
                let action = UUID()
                try await (change.db as! any SQLDatabase).insert(into: "review_actions")
                    .columns("id", "review_id", "supplier_id", "title", "owner_side", "due_on", "status", "created_at", "version")
                    .values(SQLBind(action), SQLBind(id), SQLBind(review.supplierId), SQLBind(a.title.trimmingCharacters(in: .whitespaces)), SQLBind(a.ownerSide),
                            SQLBind(a.dueOn.description), SQLBind("open"), SQLBind(change.now), SQLBind(1))
                    .run()
            }
            try await change.audit("supplier_review", id, "hold", before: ["status": "planned"], after: [
                "status": "held", "minutes": input.minutes, "actions": input.actions.map { "\($0.ownerSide): \($0.title) (\($0.dueOn))" }.joined(separator: "; ")])
            let people = try await OrderService.supplierUsers(review.supplierId, on: change.db) + (try await OrderService.manufacturerPeople(with: .purchaser, on: change.db))
            try await change.notify("review.held", recipients: people.filter { $0 != p.userID }, messageKey: "notice.reviewHeld",
                                    params: ["name": review.supplierName, "n": String(input.actions.count)], link: "/reviews/\(id)")
        }
        return try await detail(p, id, on: app.database)
    }

    /// An open action item the person may complete: its own side's (the supplier's people, or
    /// the buyer's with supplier management).
    static func ownAction(_ p: Principal, _ id: UUID, on db: any Database) async throws -> ReviewActionDTO {
        guard let a = try await actionRows("WHERE a.id = \(bind: id)", on: db).first else { throw Problem.notFound }
        _ = try await detail(p, a.reviewId, on: db)
        guard mayComplete(p, a) else { throw Problem.forbidden }
        return a
    }

    static func mayComplete(_ p: Principal, _ a: ReviewActionDTO) -> Bool {
        ReviewActionOwner(rawValue: a.ownerSide)?.mayComplete(side: p.organizationKind, roles: p.roles) ?? false
    }

    static func done(_ p: Principal, _ a: ReviewActionDTO, _ input: VersionInput, app: Application) async throws -> ReviewDTO {
        guard a.status == "open" else { throw Problem.validation([FieldProblem("version", "alreadyDone")]) }
        try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned("review_actions", id: a.id, expected: input.version, sets: ["status": "done", "done_by": p.userID, "done_at": change.now])
            try await change.audit("review_action", a.id, "update", before: ["status": "open"], after: ["status": "done", "title": a.title])
        }
        return try await detail(p, a.reviewId, on: app.database)
    }
}
