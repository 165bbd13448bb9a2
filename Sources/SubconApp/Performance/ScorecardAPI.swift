import Foundation
import SubconDomain
import Vapor

/// `/api/v1/scorecards…` (ranking, weights, monthly grades, probation proposals) and
/// `/api/v1/organizations/{id}/scorecard…` (one supplier's scorecard and the records behind a figure).
struct ScorecardAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let s = routes.grouped("scorecards")
        s.heavy.get(use: ranking)
        s.get("weights", use: weights)
        s.put("weights", use: saveWeights)
        s.get("grades", use: grades)
        s.post("grades", use: closeMonth)
        s.get("proposals", use: proposals)
        s.post("proposals", ":id", "decision", use: decide)
        routes.get("organizations", ":id", "scorecard", use: scorecard)
        routes.get("organizations", ":id", "scorecard", ":measure", use: records)
        routes.get("corrective-checks", use: checks)
        routes.get("organizations", ":id", "suggestions", use: suggestions)
        routes.post("suggestions", ":id", "dismiss", use: dismiss)
        routes.post("suggestions", ":id", "raise", use: raise)
        routes.get("organizations", ":id", "reviews", use: reviews)
        routes.post("organizations", ":id", "reviews", use: planReview)
        routes.get("reviews", ":id", use: review)
        routes.post("reviews", ":id", "minutes", use: minutes)
        routes.post("review-actions", ":id", "done", use: actionDone)
    }

    func checks(req: Request) async throws -> KeysetPage<CorrectiveCheckDTO> {
        let p = try req.requirePrincipal()
        try p.require(.viewQualityFigures)
        let page = try KeysetRequest(req)
        let rows = try await CorrectiveChecks.list(p, limit: page.rowsToRead, after: page.after, on: req.application.reads)
        return KeysetPage(rows: rows, limit: page.limit, key: CorrectiveChecks.cursor)
    }

    func suggestions(req: Request) async throws -> ListResult<SuggestionDTO> {
        let period = try req.queryText("period").map { _ in try Self.period(req) }
        return ListResult(items: try await SuggestionService.list(try req.requirePrincipal(), supplier: try req.idParameter(), period: period, on: req.db))
    }

    func dismiss(req: Request) async throws -> SuggestionDTO {
        let p = try req.requirePrincipal()
        try p.require(.handleExceptions)
        return try await SuggestionService.dismiss(p, try req.idParameter(), try req.decodeStrict(SuggestionDecisionInput.self), app: req.application)
    }

    func raise(req: Request) async throws -> SuggestionDTO {
        let p = try req.requirePrincipal()
        try p.require(.handleExceptions)
        return try await SuggestionService.raise(p, try req.idParameter(), try req.decodeStrict(SuggestionDecisionInput.self), app: req.application)
    }

    func reviews(req: Request) async throws -> ListResult<ReviewDTO> {
        ListResult(items: try await ReviewService.list(try req.requirePrincipal(), supplier: try req.idParameter(), on: req.db))
    }

    func planReview(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageSuppliers)
        let r = try await ReviewService.plan(p, supplier: try req.idParameter(), try req.decodeStrict(ReviewInput.self), app: req.application).encodeResponse(for: req)
        r.status = .created
        return r
    }

    func review(req: Request) async throws -> ReviewDTO {
        try await ReviewService.current(try req.requirePrincipal(), try req.idParameter(), app: req.application)
    }

    func minutes(req: Request) async throws -> ReviewDTO {
        let p = try req.requirePrincipal()
        try p.require(.manageSuppliers)
        return try await ReviewService.hold(p, try req.idParameter(), try req.decodeStrict(MinutesInput.self), app: req.application)
    }

    func actionDone(req: Request) async throws -> ReviewDTO {
        let p = try req.requirePrincipal()
        let action = try await ReviewService.ownAction(p, try req.idParameter(), on: req.db)
        return try await ReviewService.done(p, action, try req.decodeStrict(VersionInput.self), app: req.application)
    }

    /// `?period=` as `2026-11`, `2026-Q4`, `2026` or `2026-11-03..2026-11-20`; default last month.
    static func period(_ req: Request) throws -> ScorePeriod {
        guard let raw = req.queryText("period"), !raw.isEmpty else { return ScorePeriod.month(of: req.subcon.today()).previous }
        guard let p = ScorePeriod(raw) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("period", "badScorePeriod")]) }
        return p
    }

    func ranking(req: Request) async throws -> RankingDTO {
        try await ScorecardService.ranking(try req.requirePrincipal(), period: try Self.period(req), itemKind: try Self.itemKind(req),
                                           plant: try QualityAPI.uuid(req, "plantId"), app: req.application)
    }

    /// `?kind=` limits the ranking to one item category (raw_material, semi_finished, finished, service).
    static func itemKind(_ req: Request) throws -> String? {
        guard let raw = req.queryText("kind"), !raw.isEmpty else { return nil }
        guard ItemKind(rawValue: raw) != nil else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("kind", "invalidValue")]) }
        return raw
    }

    func weights(req: Request) async throws -> WeightsDTO {
        try req.requirePrincipal().require(.viewScorecards)
        return try await ScorecardService.currentWeights(on: req.db)
    }

    func saveWeights(req: Request) async throws -> WeightsDTO {
        let p = try req.requirePrincipal()
        try p.require(.configureScorecards)
        return try await ScorecardService.saveWeights(p, try req.decodeStrict(WeightsInput.self), app: req.application)
    }

    func grades(req: Request) async throws -> ListResult<GradeDTO> {
        ListResult(items: try await ScorecardGrading.grades(try req.requirePrincipal(), period: try Self.period(req), on: req.db))
    }

    func closeMonth(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.configureScorecards)
        let input = try req.decodeStrict(CloseMonthInput.self)
        let r = try await ListResult(items: ScorecardGrading.closeMonth(ScorePeriod(input.period)!, by: p.auditActor, app: req.application)).encodeResponse(for: req)
        r.status = .created
        return r
    }

    func proposals(req: Request) async throws -> ListResult<StatusProposalDTO> {
        ListResult(items: try await ScorecardGrading.proposals(try req.requirePrincipal(), on: req.db))
    }

    func decide(req: Request) async throws -> StatusProposalDTO {
        let p = try req.requirePrincipal()
        try p.require(.administerInstallation)
        return try await ScorecardGrading.decide(p, try req.idParameter(), try req.decodeStrict(ProposalDecisionInput.self), app: req.application)
    }

    func scorecard(req: Request) async throws -> ScorecardDTO {
        try await ScorecardService.scorecard(try req.requirePrincipal(), supplier: try req.idParameter(), period: try Self.period(req), app: req.application)
    }

    func records(req: Request) async throws -> ScorecardRecordsDTO {
        guard let measure = req.parameters.get("measure").flatMap(Measure.init) else { throw Problem.notFound }
        return try await ScorecardRecords.records(try req.requirePrincipal(), supplier: try req.idParameter(), period: try Self.period(req),
                                                  measure: measure, app: req.application)
    }
}
