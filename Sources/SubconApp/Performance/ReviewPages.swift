import Foundation
import SQLKit
import SubconDomain
import Vapor

/// `/reviews` (recent reviews and open action items), `/reviews/{id}` (agenda, minutes, actions),
/// and the forms behind the scorecard page: planning a review, deciding on a suggestion.
struct ReviewPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("reviews", use: list)
        routes.get("reviews", ":id", use: show)
        routes.post("reviews", ":id", "minutes", use: minutes)
        routes.post("review-actions", ":id", "done", use: done)
        routes.post("scorecards", ":id", "reviews", use: plan)
        routes.post("scorecards", "suggestions", ":id", use: suggestion)
    }

    struct AgendaView: Encodable { let text: String; let href: String? }
    struct ActionView: Encodable {
        let id: UUID; let title: String; let owner: String; let dueOn: String; let done: Bool; let mine: Bool; let version: Int; let overdue: Bool
    }

    struct ReviewView: Encodable {
        let review: ReviewDTO
        let cadence: String
        let status: String
        let agenda: [AgendaView]
        let actions: [ActionView]
        let carried: [ActionView]
        let canHold: Bool
        let rows: [Int]
        let values: [String: String]
        let errors: FormErrors
    }

    func actionView(_ req: Request, _ p: Principal, _ a: ReviewActionDTO) -> ActionView {
        ActionView(id: a.id, title: a.title, owner: req.t("review.owner.\(a.ownerSide)"), dueOn: a.dueOn, done: a.status == "done",
                          mine: ReviewService.mayComplete(p, a) && a.status == "open", version: a.version,
                          overdue: a.status == "open" && (Day(a.dueOn).map { $0 < req.subcon.today() } ?? false))
    }

    func render(_ req: Request, _ id: UUID, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let r = try await ReviewService.current(p, id, app: req.application)
        return try await req.renderForm("review", titleKey: "review.pageTitle", titleParams: ["name": r.supplierName, "day": r.scheduledOn], ReviewView(
            review: r, cadence: req.t("review.cadence.\(r.cadence)"), status: req.t("review.status.\(r.status)"),
            agenda: r.agenda.map { AgendaView(text: req.t($0.key, $0.params), href: $0.href) },
            actions: r.actions.map { actionView(req, p, $0) }, carried: r.carried.map { actionView(req, p, $0) },
            canHold: r.status == "planned" && !p.isSupplier && p.can(.manageSuppliers), rows: [0, 1, 2, 3],
            values: values, errors: req.formErrors(problem)), problem: problem)
    }

    func show(req: Request) async throws -> Response { try await render(req, try req.idParameter()) }

    func minutes(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageSuppliers)
        let id = try req.idParameter()
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            var actions: [MinutesInput.Action] = []
            var bad: [FieldProblem] = []
            for n in 0..<4 {
                let title = (v["title\(n)"] ?? "").trimmingCharacters(in: .whitespaces)
                guard !title.isEmpty else { continue }
                guard let due = Day(v["due\(n)"] ?? "") else { bad.append(FieldProblem("due\(n)", "required")); continue }
                actions.append(.init(title: title, ownerSide: v["owner\(n)"] ?? "", dueOn: due))
            }
            if !bad.isEmpty { throw Problem.validation(bad) }
            let input = MinutesInput(version: Int(v["version"] ?? "") ?? -1, minutes: v["minutes"] ?? "", actions: actions)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ReviewService.hold(p, id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/reviews/\(id)?ok=reviewHeld") }
        return try await render(req, id, values: v, problem: problem)
    }

    func done(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let action = try await ReviewService.ownAction(p, try req.idParameter(), on: req.db)
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            _ = try await ReviewService.done(p, action, VersionInput(version: Int(v["version"] ?? "") ?? -1), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/reviews/\(action.reviewId)?ok=actionDone") }
        return try await render(req, action.reviewId, problem: problem)
    }

    func plan(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageSuppliers)
        let supplier = try req.idParameter()
        let v = try req.content.decode([String: String].self)
        guard let day = Day(v["scheduledOn"] ?? "") else { return req.redirect(to: "/scorecards/\(supplier)?ok=reviewDateMissing#reviews") }
        let input = ReviewInput(cadence: v["cadence"] ?? "", scheduledOn: day)
        if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
        let r = try await ReviewService.plan(p, supplier: supplier, input, app: req.application)
        return req.redirect(to: "/reviews/\(r.id)?ok=reviewPlanned")
    }

    func suggestion(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handleExceptions)
        let id = try req.idParameter()
        let v = try req.content.decode([String: String].self)
        let input = SuggestionDecisionInput(version: Int(v["version"] ?? "") ?? -1, reason: v["reason"])
        let back = "/scorecards/\(v["supplier"].flatMap(UUID.init(uuidString:))?.uuidString ?? "")"
        let problem = try await attempt {
            if v["action"] == "raise" { _ = try await SuggestionService.raise(p, id, input, app: req.application) }
            else { _ = try await SuggestionService.dismiss(p, id, input, app: req.application) }
        }
        if let problem {
            let message = problem.fields.first.map { req.t("error.\($0.code)", $0.params) } ?? req.t(problem.detailKey, problem.params)
            throw Problem.badRequest("problem.suggestion", ["message": message], fields: problem.fields)
        }
        let period = ScorePeriod(v["period"] ?? "").map { "&period=\($0)" } ?? ""
        return req.redirect(to: back + "?ok=suggestionDecided" + period + "#suggestions")
    }

    struct ListView: Encodable {
        /// A review (title: its cadence, detail: its status) or an open action item (title: the
        /// item, detail: the side that owns it), each with its supplier and day.
        struct Row: Encodable { let id: UUID; let supplier: String; let day: String; let title: String; let detail: String }
        let reviews: [Row]
        let actions: [Row]
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.viewScorecards)
        let sql = req.db as! any SQLDatabase
        struct R: Decodable { let id: UUID; let name: String; let scheduled_on: String; let cadence: String; let status: String }
        var q: SQLQueryString = "SELECT v.id, o.name, v.scheduled_on, v.cadence, v.status FROM supplier_reviews v JOIN organizations o ON o.id = v.supplier_id"
        if let own = p.scope.supplierID { q = q + " WHERE v.supplier_id = \(bind: own)" }
        let reviews = try await sql.raw(q + " ORDER BY v.scheduled_on DESC LIMIT 50").rows(decoding: R.self)
        struct A: Decodable { let review_id: UUID; let name: String; let title: String; let due_on: String; let owner_side: String }
        var a: SQLQueryString = """
            SELECT a.review_id, o.name, a.title, a.due_on, a.owner_side FROM review_actions a JOIN organizations o ON o.id = a.supplier_id WHERE a.status = 'open'
            """
        if let own = p.scope.supplierID { a = a + " AND a.supplier_id = \(bind: own)" }
        let actions = try await sql.raw(a + " ORDER BY a.due_on LIMIT 100").rows(decoding: A.self)
        return try await req.renderPage("reviews", titleKey: "review.title", ListView(
            reviews: reviews.map { .init(id: $0.id, supplier: $0.name, day: $0.scheduled_on, title: req.t("review.cadence.\($0.cadence)"),
                                         detail: req.t("review.status.\($0.status)")) },
            actions: actions.map { .init(id: $0.review_id, supplier: $0.name, day: $0.due_on, title: $0.title,
                                         detail: req.t("review.owner.\($0.owner_side)")) }))
    }
}
