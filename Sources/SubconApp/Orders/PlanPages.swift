import Fluent
import Foundation
import SubconDomain
import Vapor

/// Plan pages for the planner: list, new, detail with release (and its proposals), line
/// changes after release, confirming the resulting order revisions, closing.
struct PlanPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let p = routes.grouped("plans")
        p.get(use: list)
        p.get("new", use: newForm)
        p.post(use: create)
        p.get(":id", use: show)
        p.post(":id", "release", use: release)
        p.post(":id", "close", use: close)
        p.post(":id", "lines", ":line", use: changeLine)
        p.post(":id", "orders", ":order", "confirm-changes", use: confirm)
    }

    struct ListView: Encodable { let rows: [PlanSummaryDTO]; let pager: Pager; let canCreate: Bool }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let page = try await OrderList.plans(p, status: nil, page: try PageRequest(req, defaultPer: 50), on: req.db)
        return try await req.renderPage("plans", titleKey: "plans.title", ListView(rows: page.items, pager: Pager(page, req), canCreate: p.can(.managePlans)))
    }

    struct NewView: Encodable { let plants: [Option]; let values: [String: String]; let errors: FormErrors }

    func renderNew(_ req: Request, values: [String: String], problem: Problem?) async throws -> Response {
        let plants = try await Site.query(on: req.db).filter(\.$kind == SiteKind.plant.rawValue).sort(\.$code).all()
        return try await req.renderForm("plan_new", titleKey: "plans.new", NewView(
            plants: plants.map { Option(value: $0.id!.uuidString, label: "\($0.code) · \($0.name)", selected: values["plantId"] == $0.id!.uuidString) },
            values: values, errors: req.formErrors(problem)), problem: problem)
    }

    func newForm(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.managePlans)
        return try await renderNew(req, values: ["period": String(req.subcon.today().description.prefix(7))], problem: nil)
    }

    struct NewForm: Content { var plantId: String?; var period: String?; var lines: String?; var note: String? }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.managePlans)
        let form = try req.content.decode(NewForm.self)
        var created: ProductionPlan?
        let problem = try await attempt {
            guard let plantID = form.plantId.flatMap(UUID.init(uuidString:)) else { throw Problem.validation([FieldProblem("plantId", "unknownPlant")]) }
            // Plan lines are typed like order lines, without operation or price.
            let lines = try OrderPages.parseLines(form.lines ?? "").map { PlanLineInput(itemCode: $0.itemCode, quantity: $0.quantity, dueDate: $0.dueDate) }
            let input = NewPlanInput(code: nil, plantId: plantID, period: form.period ?? "", note: form.note, lines: lines)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            created = try await PlanService.create(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/plans/\(created.id!)?ok=created") }
        return try await renderNew(req, values: ["plantId": form.plantId ?? "", "period": form.period ?? "", "lines": form.lines ?? "", "note": form.note ?? ""],
                                   problem: problem)
    }

    struct DetailView: Encodable {
        struct ProposalGroup: Encodable { let orderId: UUID; let orderCode: String; let proposals: [PlanDTO.ChangeProposalDTO] }
        let plan: PlanDTO
        let canManage: Bool
        let canConfirm: Bool
        let pending: [ProposalGroup]
        let unassigned: [ReleaseResultDTO.Unassigned]
        let errors: FormErrors
    }

    func render(_ req: Request, _ plan: ProductionPlan, problem: Problem? = nil, unassigned: [ReleaseResultDTO.Unassigned] = []) async throws -> Response {
        let p = try req.requirePrincipal()
        let dto = try await PlanService.dto(plan, on: req.db)
        let pending = Dictionary(grouping: dto.changeProposals.filter { $0.status == "pending" }, by: \.orderId)
            .map { DetailView.ProposalGroup(orderId: $0.key, orderCode: $0.value[0].orderCode, proposals: $0.value) }.sorted { $0.orderCode < $1.orderCode }
        return try await req.renderForm("plan", titleKey: "plans.detail", titleParams: ["code": plan.code], DetailView(
            plan: dto, canManage: p.can(.managePlans), canConfirm: p.can(.manageOrders), pending: pending, unassigned: unassigned,
            errors: req.formErrors(problem)), problem: problem)
    }

    func load(_ req: Request) async throws -> (Principal, ProductionPlan) {
        let p = try req.requirePrincipal()
        try PlanService.requireView(p)
        return (p, try await PlanService.find(try req.idParameter(), on: req.db))
    }

    func show(req: Request) async throws -> Response { try await render(req, try await load(req).1) }

    struct VersionForm: Content { var version: String? }

    func release(req: Request) async throws -> Response {
        let (p, plan) = try await load(req)
        try p.require(.managePlans)
        var result: ReleaseResultDTO?
        let problem = try await attempt {
            result = try await PlanService.release(p, plan.id!, version: Int(try req.content.decode(VersionForm.self).version ?? "") ?? -1, app: req.application)
        }
        // Shown on the page at once, so the planner sees what found no supplier.
        return try await render(req, try await PlanService.find(plan.id!, on: req.db), problem: problem, unassigned: result?.unassigned ?? [])
    }

    func close(req: Request) async throws -> Response {
        let (p, plan) = try await load(req)
        try p.require(.managePlans)
        let problem = try await attempt {
            _ = try await PlanService.close(p, plan.id!, version: Int(try req.content.decode(VersionForm.self).version ?? "") ?? -1, app: req.application)
        }
        if problem == nil { return req.redirect(to: "/plans/\(plan.id!)?ok=saved") }
        return try await render(req, try await PlanService.find(plan.id!, on: req.db), problem: problem)
    }

    struct LineForm: Content { var version: String?; var quantity: String?; var dueDate: String? }

    func changeLine(req: Request) async throws -> Response {
        let (p, plan) = try await load(req)
        try p.require(.managePlans)
        guard let number = req.parameters.get("line").flatMap(Int.init) else { throw Problem.notFound }
        let form = try req.content.decode(LineForm.self)
        let problem = try await attempt {
            guard let q = try? FixedDecimal.parse(form.quantity ?? "") else { throw Problem.validation([FieldProblem("quantity", "positiveDecimal")]) }
            guard let d = Day(form.dueDate ?? "") else { throw Problem.validation([FieldProblem("dueDate", "badDate")]) }
            let input = PlanLineChangeInput(version: Int(form.version ?? "") ?? -1, quantity: q, dueDate: d)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await PlanService.changeLine(p, plan.id!, line: number, input, app: req.application)
        }
        if problem == nil { return req.redirect(to: "/plans/\(plan.id!)?ok=saved") }
        return try await render(req, try await PlanService.find(plan.id!, on: req.db), problem: problem)
    }

    func confirm(req: Request) async throws -> Response {
        let (p, plan) = try await load(req)
        try p.require(.manageOrders)
        let orderID = try req.idParameter("order")
        let problem = try await attempt { _ = try await PlanService.confirmProposals(p, plan.id!, orderID: orderID, app: req.application) }
        if problem == nil { return req.redirect(to: "/orders/\(orderID)?ok=saved") }
        return try await render(req, plan, problem: problem)
    }
}
