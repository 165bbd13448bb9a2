import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct MeasureScoreDTO: Content {
    let measure: String
    let weight: Int
    /// Basis points (0…10 000); nil when the period has nothing to measure it by.
    let score: Int?
}

struct TrendPointDTO: Content {
    let period: String
    let label: String
    /// Tenths of a point (0…1000).
    let score: Int?
    let grade: String?
    let delivery: Int?
    let quality: Int?
    let exceptions: Int?
    let cost: Int?
    let communication: Int?
}

struct WeightsDTO: Content {
    let version: Int
    let weights: ScoreWeights
    let reason: String
    let createdAt: Date?
}

struct ScorecardDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let supplierStatus: String
    /// Graded A in the last closed month: order proposals prefer it this month.
    let preferred: Bool
    let period: String
    let kind: String
    let from: String
    let to: String
    let weightsVersion: Int
    let weights: ScoreWeights
    /// Tenths of a point (0…1000).
    let score: Int?
    let grade: String?
    let measures: [MeasureScoreDTO]
    let delivery: DeliveryFigures
    let quality: QualityFigures
    let exceptions: ExceptionFigures
    let cost: CostFigures
    let communication: CommunicationFigures
    /// The last 12 periods of the same kind, oldest first, ending with this one.
    let trend: [TrendPointDTO]
}

struct RankingRowDTO: Content {
    let rank: Int
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let score: Int?
    let grade: String?
    let measures: [MeasureScoreDTO]
}

struct RankingDTO: Content {
    let period: String
    /// The item category (`items.kind`) and the plant the figures were limited to, if any.
    let itemKind: String?
    let plantId: UUID?
    let weightsVersion: Int
    let suppliers: [RankingRowDTO]
}

struct WeightsInput: StrictInput {
    static let fields: Set<String> = ["delivery", "quality", "exceptions", "cost", "communication", "gradeA", "gradeB", "gradeC",
                                      "silentDays", "costLimitPercent", "reason"]
    var delivery: Int
    var quality: Int
    var exceptions: Int
    var cost: Int
    var communication: Int
    var gradeA: Int
    var gradeB: Int
    var gradeC: Int
    var silentDays: Int
    var costLimitPercent: Int
    var reason: String

    var weights: ScoreWeights {
        var w = ScoreWeights()
        w.delivery = delivery; w.quality = quality; w.exceptions = exceptions; w.cost = cost; w.communication = communication
        w.gradeA = gradeA; w.gradeB = gradeB; w.gradeC = gradeC; w.silentDays = silentDays; w.costLimitPercent = costLimitPercent
        return w
    }

    func validate() -> [FieldProblem] {
        var p = weights.problems().map { problem -> FieldProblem in
            switch problem.code {
            case "weightsNotHundred": FieldProblem(problem.field, problem.code, ["sum": String(delivery + quality + exceptions + cost + communication)])
            case "outOfRange" where problem.field == "silentDays": FieldProblem(problem.field, problem.code, ["min": "1", "max": "60"])
            case "outOfRange" where problem.field == "costLimitPercent": FieldProblem(problem.field, problem.code, ["min": "1", "max": "100"])
            case "outOfRange": FieldProblem(problem.field, problem.code, ["min": "0", "max": "100"])
            default: FieldProblem(problem.field, problem.code)
            }
        }
        Check.text(reason, "reason", max: 500, into: &p)
        return p
    }
}

/// Supplier scorecards: figures summed by `ScorecardQueries`, scored by the domain's `Scorecard`.
enum ScorecardService {
    static let trendLength = 12

    static func currentWeights(on db: any Database) async throws -> WeightsDTO {
        struct Row: Decodable {
            let version: Int; let delivery: Int; let quality: Int; let exceptions: Int; let cost: Int; let communication: Int
            let grade_a: Int; let grade_b: Int; let grade_c: Int; let silent_days: Int; let cost_limit_percent: Int; let reason: String; let created_at: Date
        }
        guard let r = try await (db as! any SQLDatabase).raw("SELECT * FROM score_weights ORDER BY version DESC LIMIT 1").firstRow(decoding: Row.self) else {
            return WeightsDTO(version: 0, weights: ScoreWeights(), reason: "", createdAt: nil)
        }
        var w = ScoreWeights()
        w.delivery = r.delivery; w.quality = r.quality; w.exceptions = r.exceptions; w.cost = r.cost; w.communication = r.communication
        w.gradeA = r.grade_a; w.gradeB = r.grade_b; w.gradeC = r.grade_c; w.silentDays = r.silent_days; w.costLimitPercent = r.cost_limit_percent
        return WeightsDTO(version: r.version, weights: w, reason: r.reason, createdAt: r.created_at)
    }

    /// Saves a new version of the weights; the scorecards from now on name it.
    static func saveWeights(_ p: Principal, _ input: WeightsInput, app: Application) async throws -> WeightsDTO {
        try p.require(.configureScorecards)
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            struct V: Decodable { let v: Int? }
            let last = try await sql.raw("SELECT MAX(version) AS v FROM score_weights").firstRow(decoding: V.self)?.v ?? 0
            let w = input.weights
            try await sql.insert(into: "score_weights")
                .columns("id", "version", "delivery", "quality", "exceptions", "cost", "communication", "grade_a", "grade_b", "grade_c",
                         "silent_days", "cost_limit_percent", "reason", "created_by", "created_at")
                .values(SQLBind(UUID()), SQLBind(last + 1), SQLBind(w.delivery), SQLBind(w.quality), SQLBind(w.exceptions), SQLBind(w.cost),
                        SQLBind(w.communication), SQLBind(w.gradeA), SQLBind(w.gradeB), SQLBind(w.gradeC), SQLBind(w.silentDays),
                        SQLBind(w.costLimitPercent), SQLBind(input.reason), SQLBind(p.userID), SQLBind(change.now))
                .run()
            try await change.audit("score_weights", nil, "create", after: [
                "version": String(last + 1), "weights": Measure.allCases.map { "\($0.rawValue) \(w.weight($0))" }.joined(separator: ", "),
                "grades": "A≥\(w.gradeA) B≥\(w.gradeB) C≥\(w.gradeC)", "silent_days": String(w.silentDays),
                "cost_limit_percent": String(w.costLimitPercent), "reason": input.reason])
        }
        return try await currentWeights(on: app.database)
    }

    static func queries(_ weights: ScoreWeights, app: Application, on db: any Database) -> ScorecardQueries {
        let s = app.subcon
        return ScorecardQueries(sql: db as! any SQLDatabase, postgres: s.isPostgres, calendar: s.settings.calendar, now: s.clock.now(),
                                today: s.today(), weights: weights, answerHours: s.settings.responseClock.answerHours)
    }

    /// The supplier a person may see the scorecard of: a supplier only its own (another's is
    /// 404, as if it did not exist); the buyer's people with the permission, any supplier.
    static func supplier(_ p: Principal, _ id: UUID, on db: any Database) async throws -> (Organization, SupplierProfile) {
        try p.require(.viewScorecards)
        return try await SupplierProfileService.profile(p, id, on: db)
    }

    static func scorecard(_ p: Principal, supplier id: UUID, period: ScorePeriod, app: Application) async throws -> ScorecardDTO {
        let (org, profile) = try await supplier(p, id, on: app.database)
        let w = try await currentWeights(on: app.database)
        let periods = period.trailing(trendLength)
        let cards = try await queries(w.weights, app: app, on: app.database).figures(periods, supplier: id)
        let card = cards[.init(supplier: id, bucket: periods.count - 1)] ?? Scorecard()
        let trend = periods.enumerated().map { b, period in
            let c = cards[.init(supplier: id, bucket: b)] ?? Scorecard()
            return TrendPointDTO(period: period.description, label: period.shortLabel, score: c.score(w.weights), grade: c.grade(w.weights)?.rawValue,
                                 delivery: c.subScore(.delivery, w.weights), quality: c.subScore(.quality, w.weights),
                                 exceptions: c.subScore(.exceptions, w.weights), cost: c.subScore(.cost, w.weights),
                                 communication: c.subScore(.communication, w.weights))
        }
        return ScorecardDTO(
            supplierId: id, supplierCode: org.code, supplierName: org.name, supplierStatus: profile.status,
            preferred: try await preferred(on: app.database, today: app.subcon.today()).contains(id),
            period: period.description, kind: period.kind, from: period.first.description, to: period.last.description,
            weightsVersion: w.version, weights: w.weights, score: card.score(w.weights), grade: card.grade(w.weights)?.rawValue,
            measures: measures(card, w.weights), delivery: card.delivery, quality: card.quality, exceptions: card.exceptions,
            cost: card.cost, communication: card.communication, trend: trend)
    }

    static func measures(_ card: Scorecard, _ w: ScoreWeights) -> [MeasureScoreDTO] {
        Measure.allCases.map { MeasureScoreDTO(measure: $0.rawValue, weight: w.weight($0), score: card.subScore($0, w)) }
    }

    /// Every supplier with records in the period, best score first (then code). Buyer only.
    static func ranking(_ p: Principal, period: ScorePeriod, itemKind: String? = nil, plant: UUID? = nil, app: Application) async throws -> RankingDTO {
        try p.require(.viewScorecards)
        guard !p.isSupplier else { throw Problem.forbidden }
        let w = try await currentWeights(on: app.database)
        let cards = try await queries(w.weights, app: app, on: app.database).figures([period], supplier: nil, itemKind: itemKind, plant: plant)
        let ids = Array(Set(cards.keys.map(\.supplier)))
        struct O: Decodable { let id: UUID; let code: String; let name: String }
        let orgs = ids.isEmpty ? [] : try await (app.database as! any SQLDatabase).raw(
            "SELECT id, code, name FROM organizations WHERE kind = 'supplier' AND id IN (\(binds: ids))").rows(decoding: O.self)
        let rows = orgs.map { o -> (O, Scorecard, Int?) in
            let c = cards[.init(supplier: o.id, bucket: 0)] ?? Scorecard()
            return (o, c, c.score(w.weights))
        }.sorted { ($0.2 ?? -1, $1.0.code) > ($1.2 ?? -1, $0.0.code) }
        return RankingDTO(period: period.description, itemKind: itemKind, plantId: plant, weightsVersion: w.version, suppliers: rows.enumerated().map { n, r in
            RankingRowDTO(rank: n + 1, supplierId: r.0.id, supplierCode: r.0.code, supplierName: r.0.name, score: r.2,
                          grade: r.2.map { w.weights.grade(scoreTenths: $0).rawValue }, measures: measures(r.1, w.weights))
        })
    }

    /// Suppliers graded A in the last closed month before `today`'s.
    static func preferred(on db: any Database, today: Day) async throws -> Set<UUID> {
        struct R: Decodable { let supplier_id: UUID; let grade: String? }
        let last = ScorePeriod.month(of: today).previous.description
        // The closed grades are few (one per supplier); the rule that makes one preferred is the domain's.
        return Set(try await (db as! any SQLDatabase).raw("SELECT supplier_id, grade FROM supplier_grades WHERE period = \(bind: last)")
            .rows(decoding: R.self).filter { GradeActions.preferredNext($0.grade.flatMap(Grade.init)) }.map(\.supplier_id))
    }
}
