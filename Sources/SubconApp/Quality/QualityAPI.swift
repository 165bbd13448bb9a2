import Fluent
import Foundation
import SubconDomain
import Vapor

/// `/api/v1/inspections…`, `/receipts/{id}/lines/{no}/sampling|inspection`, `/items/{id}/inspection-plan`,
/// `/quality/…`, `/exceptions…`, `/exception-deadlines…`, `/lessons`.
struct QualityAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let i = routes.grouped("inspections")
        i.get(use: workList)
        i.get("recent", use: recent)
        i.get(":id", use: inspection)
        i.on(.POST, ":id", "photos", body: .collect(maxSize: "11mb"), use: photo)
        let line = routes.grouped("receipts", ":id", "lines", ":no")
        line.get("sampling", use: sampling)
        line.post("inspection", use: inspect)
        routes.get("items", ":id", "inspection-plan", use: plan)
        routes.put("items", ":id", "inspection-plan", use: savePlan)
        routes.heavy.get("quality", "stats", use: stats)
        routes.get("quality", "states", use: states)
        routes.post("quality", "states", ":id", use: changeState)
        let e = routes.grouped("exceptions")
        e.get(use: exceptions)
        e.post(use: raise)
        e.get(":id", use: exception)
        e.post(":id", "owners", use: owners)
        e.post(":id", "comments", use: comment)
        e.on(.POST, ":id", "attachments", body: .collect(maxSize: "11mb"), use: attach)
        e.post(":id", "8d", ":step", use: gate)
        e.post(":id", "close", use: close)
        e.post(":id", "reopen", use: reopen)
        e.put(":id", "penalty", use: penalty)
        routes.get("exception-deadlines", use: deadlines)
        routes.put("exception-deadlines", ":type", ":severity", use: setDeadline)
        routes.get("lessons", use: lessons)
    }

    // MARK: Inspection

    func workList(req: Request) async throws -> Page<WorkItemDTO> {
        let p = try req.requirePrincipal()
        return try await InspectionService.workList(p, page: try PageRequest(req), app: req.application)
    }

    func recent(req: Request) async throws -> ListResult<InspectionDTO> {
        let p = try req.requirePrincipal()
        guard p.can(.inspectGoods) || p.isSupplier || p.can(.handleExceptions) else { throw Problem.forbidden }
        return ListResult(items: try await InspectionService.recent(p, limit: 50, on: req.application.reads, photosOn: req.modelReads))
    }

    func inspection(req: Request) async throws -> InspectionDTO {
        let p = try req.requirePrincipal()
        return try await InspectionService.dto(try await p.scope.find(Inspection.self, try req.idParameter(), on: req.modelReads), on: req.modelReads)
    }

    /// The photo is the body; `?filename=` names it. JPEG, PNG, WebP or PDF, at most 10 MB.
    func photo(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await InspectionService.attachPhoto(p, try req.idParameter(), filename: req.queryText("filename") ?? "photo",
                                                          data: Data(buffer: body), app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }

    func lineNumber(_ req: Request) throws -> Int {
        guard let no = req.parameters.get("no").flatMap(Int.init) else { throw Problem.notFound }
        return no
    }

    func sampling(req: Request) async throws -> SamplingDTO {
        let p = try req.requirePrincipal()
        return try await InspectionService.samplingFor(p, try req.idParameter(), try lineNumber(req), on: req.modelReads)
    }

    func inspect(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter(), no = try lineNumber(req)
        _ = try await InspectionService.line(p, id, no, on: req.modelReads)
        try p.require(.inspectGoods)
        let ins = try await InspectionService.inspect(p, id, line: no, try req.decodeStrict(InspectionInput.self), app: req.application)
        return try await .created(try await InspectionService.dto(ins, on: req.modelReads), for: req)
    }

    func item(_ req: Request) async throws -> Item {
        let p = try req.requirePrincipal()
        try p.require(.viewMasterData)
        guard let item = try await Item.find(try req.idParameter(), on: req.db) else { throw Problem.notFound }
        return item
    }

    func plan(req: Request) async throws -> InspectionPlanDTO {
        try await InspectionService.plan(item: try await item(req), on: req.db)
    }

    func savePlan(req: Request) async throws -> InspectionPlanDTO {
        let p = try req.requirePrincipal()
        let item = try await item(req)
        try p.require(.configureQuality)
        return try await InspectionService.savePlan(p, item: item, try req.decodeStrict(PlanInput.self), app: req.application)
    }

    static func day(_ req: Request, _ name: String, default d: Day) throws -> Day {
        guard let raw = req.queryText(name), !raw.isEmpty else { return d }
        guard let day = Day(raw) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "badDate")]) }
        return day
    }

    static func uuid(_ req: Request, _ name: String) throws -> UUID? {
        guard let raw = req.queryText(name), !raw.isEmpty else { return nil }
        guard let id = UUID(uuidString: raw) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "badId")]) }
        return id
    }

    /// Lots, quantities, PPM and exception times per supplier for `from`–`to` (days, default this month).
    func stats(req: Request) async throws -> QualityStatsDTO {
        let p = try req.requirePrincipal()
        try p.require(.viewQualityFigures)
        let today = req.subcon.today()
        let from = try Self.day(req, "from", default: Day(year: today.year, month: today.month, day: 1)!), to = try Self.day(req, "to", default: today)
        guard from.ordinal <= to.ordinal, to.ordinal - from.ordinal <= 366 else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("to", "badPeriod")])
        }
        return try await QualityReports.stats(p, from: from, to: to, supplier: try Self.uuid(req, "supplierId"),
                                              timeZone: TimeZone(identifier: req.subcon.settings.timeZone) ?? .gmt, on: req.db)
    }

    func states(req: Request) async throws -> ListResult<QualityStateDTO> {
        let p = try req.requirePrincipal()
        guard p.can(.inspectGoods) || p.can(.configureQuality) || p.isSupplier else { throw Problem.forbidden }
        return ListResult(items: try await InspectionService.states(p, supplier: try Self.uuid(req, "supplierId"), on: req.db))
    }

    func changeState(req: Request) async throws -> [QualityStateDTO] {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await p.scope.find(QualityState.self, id, on: req.db)
        try p.require(.configureQuality)
        let row = try await InspectionService.changeState(p, id, try req.decodeStrict(StateActionInput.self), app: req.application)
        return try await InspectionService.states(p, supplier: row.supplierID, on: req.db).filter { $0.id == row.id }
    }

    // MARK: Exceptions

    func exceptions(req: Request) async throws -> Page<ExceptionSummaryDTO> {
        let p = try req.requirePrincipal()
        let page = try PageRequest(req)
        let status = req.queryText("status"), type = req.queryText("type")
        if let s = status, !s.isEmpty, !["open", "closed"].contains(s) { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("status", "notOneOf", ["allowed": "open, closed"])]) }
        if let t = type, !t.isEmpty, ExceptionRules.Kind(rawValue: t) == nil { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("type", "notOneOf")]) }
        var deadline: ExceptionDeadlineState?
        if let d = req.queryText("deadline"), !d.isEmpty {
            guard let known = ExceptionDeadlineState(rawValue: d) else {
                throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("deadline", "notOneOf", ["allowed": ExceptionDeadlineState.allCases.map(\.rawValue).joined(separator: ", ")])])
            }
            guard status != "closed" else {
                throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("deadline", "notOneOf", ["allowed": "status=open"])])
            }
            deadline = known
        }
        let now = req.now
        let (items, total) = try await ExceptionService.list(p, status: status, type: type, supplier: try Self.uuid(req, "supplierId"),
                                                             mine: req.queryText("mine") == "1", deadline: deadline, now: now,
                                                             limit: page.per, offset: page.offset, on: req.application.reads,
                                                             keyed: req.application.keyedReads)
        return Page(items: items.map { $0.summary(now: now) }, page: page.page, per: page.per, total: total)
    }

    func raise(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.raiseExceptions)
        let e = try await ExceptionService.create(p, try req.decodeStrict(ExceptionInput.self), app: req.application)
        return try await .created(try await ExceptionService.dto(e, for: p, on: req.db), for: req)
    }

    /// `{"version":3,"kind":"per_piece","value":"2.5"}`; `"kind":"none"` clears it.
    func penalty(req: Request) async throws -> ExceptionDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        try p.require(.handleExceptions)
        let e = try await ExceptionService.setPenalty(p, id, try req.decodeStrict(PenaltyInput.self), app: req.application)
        return try await ExceptionService.dto(e, for: p, on: req.db)
    }

    func exception(req: Request) async throws -> ExceptionDTO {
        let p = try req.requirePrincipal()
        return try await ExceptionService.dto(try await ExceptionService.find(p, try req.idParameter(), on: req.db), for: p, on: req.db)
    }

    func detail(_ req: Request, _ p: Principal, _ e: ExceptionCase) async throws -> ExceptionDTO {
        try await ExceptionService.dto(e, for: p, on: req.db)
    }

    func owners(req: Request) async throws -> ExceptionDTO {
        let p = try req.requirePrincipal()
        guard ExceptionService.mayWorkOn(p) else { throw Problem.forbidden }
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        return try await detail(req, p, try await ExceptionService.assignOwners(p, id, try req.decodeStrict(OwnersInput.self), app: req.application))
    }

    func comment(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        guard ExceptionService.mayTakePart(p) else { throw Problem.forbidden }
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        let c = try await ExceptionService.comment(p, id, try req.decodeStrict(CommentInput.self), app: req.application)
        return try await .created(CommentDTO(id: c.id!, side: c.side, event: c.event, ref: c.ref, author: p.displayName, body: c.body, createdAt: c.createdAt), for: req)
    }

    /// The file is the body; `?filename=` names it. PDF, images or Office files, at most 10 MB.
    func attach(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        guard ExceptionService.mayTakePart(p) else { throw Problem.forbidden }
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await ExceptionService.attach(p, id, filename: req.queryText("filename") ?? "attachment", data: Data(buffer: body), app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }

    func gate(req: Request) async throws -> ExceptionDTO {
        let p = try req.requirePrincipal()
        guard ExceptionService.mayWorkOn(p) else { throw Problem.forbidden }
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        guard let step = req.parameters.get("step").flatMap(Int.init) else { throw Problem.notFound }
        return try await detail(req, p, try await ExceptionService.gate(p, id, step: step, try req.decodeStrict(GateInput.self), app: req.application))
    }

    func close(req: Request) async throws -> ExceptionDTO {
        let p = try req.requirePrincipal()
        try p.require(.handleExceptions)
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        return try await detail(req, p, try await ExceptionService.close(p, id, try req.decodeStrict(CloseInput.self), app: req.application))
    }

    func reopen(req: Request) async throws -> ExceptionDTO {
        let p = try req.requirePrincipal()
        try p.require(.handleExceptions)
        let id = try req.idParameter()
        _ = try await ExceptionService.find(p, id, on: req.db)
        return try await detail(req, p, try await ExceptionService.reopen(p, id, try req.decodeStrict(ReopenInput.self), app: req.application))
    }

    func deadlines(req: Request) async throws -> ListResult<DeadlineDTO> {
        _ = try req.requirePrincipal()
        return ListResult(items: try await ExceptionService.deadlineTable(on: req.db))
    }

    func setDeadline(req: Request) async throws -> DeadlineDTO {
        let p = try req.requirePrincipal()
        try p.require(.configureQuality)
        return try await ExceptionService.setDeadline(p, type: req.parameters.get("type") ?? "", severity: req.parameters.get("severity") ?? "",
                                                      try req.decodeStrict(DeadlineInput.self), app: req.application)
    }

    func lessons(req: Request) async throws -> ListResult<LessonDTO> {
        let p = try req.requirePrincipal()
        return ListResult(items: try await QualityReports.lessons(p, itemCode: req.queryText("item"), defect: req.queryText("defect"),
                                                                  text: req.queryText("q"), on: req.application.reads))
    }
}
