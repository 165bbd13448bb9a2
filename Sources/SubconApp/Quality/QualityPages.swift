import Fluent
import Foundation
import SubconDomain
import Vapor

/// The inspector's work list and inspection form, inspection plans, the quality overview
/// (figures, switching states, the deadline table), exceptions with their thread and 8D, and
/// the lessons-learned search.
struct QualityPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("inspections", use: workList)
        routes.get("inspections", ":id", use: inspection)
        routes.on(.POST, "inspections", ":id", "photos", body: .collect(maxSize: "11mb"), use: photo)
        routes.get("receipts", ":id", "lines", ":no", "inspect", use: inspectForm)
        routes.post("receipts", ":id", "lines", ":no", "inspect", use: inspect)
        routes.get("items", ":id", "inspection-plan", use: planForm)
        routes.post("items", ":id", "inspection-plan", use: savePlan)
        routes.get("quality", use: quality)
        routes.post("quality", "states", ":id", use: changeState)
        routes.post("quality", "deadlines", use: saveDeadline)
        routes.get("exceptions", use: exceptions)
        routes.get("exceptions", "new", use: newForm)
        routes.post("exceptions", "new", use: create)
        routes.get("exceptions", ":id", use: exception)
        routes.post("exceptions", ":id", "comment", use: comment)
        routes.on(.POST, "exceptions", ":id", "attach", body: .collect(maxSize: "11mb"), use: attach)
        routes.post("exceptions", ":id", "owners", use: owners)
        routes.post("exceptions", ":id", "8d", ":step", use: gate)
        routes.post("exceptions", ":id", "close", use: close)
        routes.post("exceptions", ":id", "reopen", use: reopen)
        routes.post("exceptions", ":id", "penalty", use: penalty)
        routes.get("lessons", use: lessons)
    }

    // MARK: Inspection

    /// Lots waiting for inspection, a page at a time, and on the first page the latest
    /// inspections; written in Swift from the first tag to the last.
    func workList(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let waiting = try await InspectionService.workList(p, page: try PageRequest(req, defaultPer: 50), app: req.application)
        let recent = waiting.page == 1 ? try await InspectionService.recentLines(p, limit: 20, on: req.application.reads) : []
        let pager = Pager(waiting, req)
        return try await req.renderPage(titleKey: "inspections.title") { t in
            var html: HTML = """
                <section class="card">
                  <h2>\(t("inspections.waiting")) <span class="muted">\(waiting.total)</span></h2>

                """
            if waiting.items.isEmpty {
                html += "<p class=\"muted\">\(t("inspections.none"))</p>"
            } else {
                html += .listTable(head: """
                    <th>\(t("receipts.code"))</th><th>\(t("prices.supplier"))</th><th>\(t("material.item"))</th>\
                    <th>\(t("material.lot"))</th><th class="num">\(t("deliveries.received"))</th><th>\(t("inspect.plan"))</th><th></th>
                    """, rows: Self.rows(waiting.items, canInspect: p.can(.inspectGoods), texts: &t, req: req))
                html += pager.html(&t)
            }
            html += "</section>\n"
            if !recent.isEmpty {
                html += """
                    <section class="card">
                      <h2>\(t("inspections.recent"))</h2>
                      <ul class="list">\(Self.recentItems(recent, texts: &t))</ul>
                      <p class="links"><a href="/exceptions">\(t("exceptions.title"))</a> · <a href="/quality">\(t("quality.title"))</a> · \
                    <a href="/lessons">\(t("lessons.title"))</a></p>
                    </section>

                    """
            }
            return html
        }
    }

    /// The inspection work list's rows (see `HTML`).
    static func rows(_ lines: [WorkItemDTO], canInspect: Bool, texts t: inout PageTexts, req: Request) -> HTML {
        let receipt = t("receipts.code"), supplier = t("prices.supplier"), item = t("material.item"), lot = t("material.lot")
        let received = t("deliveries.received"), plan = t("inspect.plan"), inspect = t("inspections.inspect"), exempt = t("qstate.exempt")
        let time = req.datePattern("MM-dd HH:mm")
        var html = HTML()
        for w in lines {
            let s = w.sampling
            let sampling: HTML = s.exempt ? "<span class=\"tag ok\">\(exempt)</span>" : """
                <span class="tag\(s.state == "tightened" ? " warn" : s.state == "discontinued" ? " bad" : "")">\(t("qstate." + s.state))</span> \
                <span class="nowrap">n=\(s.sampleSize) Ac \(s.acceptance) Re \(s.rejection)</span>
                """
            html += """
                <tr><td data-label="\(receipt)"><a class="nowrap" href="/receipts/\(w.receiptId)">\(w.receiptCode)</a> <span class="muted nowrap">#\(w.line)</span>\
                <br><span class="muted nowrap">\(time.string(from: w.receivedAt))</span></td>
                <td data-label="\(supplier)">\(w.supplierName) <span class="muted nowrap">\(w.supplierCode)</span></td>
                <td data-label="\(item)"><span class="nowrap">\(w.itemCode)</span> <span class="muted">\(w.itemName)</span></td>
                <td data-label="\(lot)" class="nowrap">\(w.lot)</td>
                <td data-label="\(received)" class="num nowrap">\(w.quantity.grouped) <span class="muted">\(w.unit)</span></td>
                <td data-label="\(plan)">\(sampling)</td>
                <td>\(HTML.when(canInspect, "<a class=\"button primary\" href=\"/receipts/\(w.receiptId)/lines/\(w.line)/inspect\">\(inspect)</a>"))</td></tr>

                """
        }
        return html
    }

    /// The latest inspections, one list item each.
    static func recentItems(_ inspections: [RecentInspectionDTO], texts t: inout PageTexts) -> HTML {
        let accepted = t("receipts.accepted"), rejected = t("receipts.rejected")
        var html = HTML()
        for i in inspections {
            let tone = i.decision == "accept" ? " ok" : i.decision == "concession" ? " warn" : " bad"
            html += """
                <li><a class="nowrap" href="/inspections/\(i.id)">\(i.code)</a> <span class="tag\(tone)">\(t("decision." + i.decision))</span> \
                \(i.itemCode) \(i.itemName) <span class="muted">\(i.supplierCode) \(i.supplierName) · \(i.lot) · \
                \(accepted) \(i.acceptedQuantity.grouped) \(i.unit) · \(rejected) \(i.rejectedQuantity.grouped) \(i.unit)</span>\
                \(i.exceptionCode.map { code -> HTML in " <a href=\"/exceptions/\(i.exceptionId!)\">\(code)</a>" } ?? HTML())</li>
                """
        }
        return html
    }

    struct InspectionView: Encodable { let inspection: InspectionDTO; let canAttach: Bool; let errors: FormErrors }

    func renderInspection(_ req: Request, _ ins: Inspection, problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let dto = try await InspectionService.dto(ins, on: req.db)
        return try await req.renderForm("inspection", titleKey: "inspection.title", titleParams: ["code": dto.code], InspectionView(
            inspection: dto, canAttach: p.can(.inspectGoods), errors: req.formErrors(problem)), problem: problem)
    }

    func inspection(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        return try await renderInspection(req, try await p.scope.find(Inspection.self, try req.idParameter(), on: req.db))
    }

    func photo(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let ins = try await p.scope.find(Inspection.self, try req.idParameter(), on: req.db)
        try p.require(.inspectGoods)
        let problem = try await attempt {
            let file = try req.uploadedFile()
            _ = try await InspectionService.attachPhoto(p, ins.id!, filename: file.filename, data: file.data, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/inspections/\(ins.id!)?ok=created") }
        return try await renderInspection(req, ins, problem: problem)
    }

    struct InspectView: Encodable {
        let receiptId: UUID
        let receiptCode: String
        let orderCode: String
        let supplierCode: String
        let line: Int
        let version: Int
        let itemCode: String
        let itemName: String
        let lot: String
        let quantity: FixedDecimal
        let sampling: SamplingDTO
        let characteristics: [Row]
        let defectCodes: [DRow]
        let approvers: [Option]
        let planLink: String?
        let values: [String: String]
        let errors: FormErrors
        struct Row: Encodable { let no: Int; let c: Characteristic; let value: String }
        struct DRow: Encodable { let code: String; let name: String; let severity: String; let value: String }
    }

    func renderInspect(_ req: Request, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.inspectGoods)
        guard let no = req.parameters.get("no").flatMap(Int.init) else { throw Problem.notFound }
        let (r, line) = try await InspectionService.line(p, try req.idParameter(), no, on: req.db)
        guard line.status == "awaiting_inspection" else {
            if let ins = try await Inspection.query(on: req.db).filter(\.$receiptLineID == line.id!).first() {
                return req.redirect(to: "/inspections/\(ins.id!)")
            }
            return req.redirect(to: "/receipts/\(r.id!)")
        }
        let s = try await InspectionService.settings(item: line.itemID, on: req.db)
        let state = try await InspectionService.state(supplier: line.supplierID, item: line.itemID, on: req.db)
        let item = try await Item.find(line.itemID, on: req.db)
        let order = try await OutsourcingOrder.find(r.orderID, on: req.db)
        let supplier = try await Organization.find(r.supplierID, on: req.db)
        let approvers = try await OrderService.manufacturerPeople(with: .quality, on: req.db) + OrderService.manufacturerPeople(with: .purchaser, on: req.db)
        let people = try await User.query(on: req.db).filter(\.$id ~~ Array(Set(approvers))).sort(\.$displayName).all()
        return try await req.renderForm("inspect", titleKey: "inspect.title", titleParams: ["code": r.code], InspectView(
            receiptId: r.id!, receiptCode: r.code, orderCode: order?.code ?? "", supplierCode: supplier?.code ?? "", line: line.number, version: line.version,
            itemCode: item?.code ?? "", itemName: item?.name ?? "", lot: line.lot, quantity: FixedDecimal(units: line.quantity),
            sampling: InspectionService.sampling(quantity: line.quantity, settings: s, state: state).1,
            characteristics: s.characteristics.enumerated().map { i, c in
                InspectView.Row(no: i + 1, c: c, value: values[c.kind == "measured" ? "v_\(i + 1)" : "n_\(i + 1)"] ?? "") },
            defectCodes: s.defectCodes.map { InspectView.DRow(code: $0.code, name: $0.name, severity: $0.severity, value: values["d_\($0.code)"] ?? "") }, approvers: people.map { Option(value: $0.id!.uuidString, label: $0.displayName) },
            planLink: p.can(.configureQuality) ? "/items/\(line.itemID)/inspection-plan" : nil, values: values, errors: req.formErrors(problem)),
            problem: problem)
    }

    func inspectForm(req: Request) async throws -> Response { try await renderInspect(req) }

    /// `v_N` (measured values, separated by spaces or commas) or `n_N` (nonconforming count) per
    /// characteristic, `d_CODE` per defect code, then the decision.
    func inspect(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        guard let no = req.parameters.get("no").flatMap(Int.init) else { throw Problem.notFound }
        let receiptID = try req.idParameter()
        let fields = try req.content.decode([String: String].self)
        var created: Inspection?
        let problem = try await attempt {
            func decimal(_ text: String?, _ field: String) throws -> FixedDecimal? {
                let t = (text ?? "").trimmingCharacters(in: .whitespaces)
                if t.isEmpty { return nil }
                guard let v = try? FixedDecimal.parse(t) else { throw Problem.validation([FieldProblem(field, "positiveDecimal")]) }
                return v
            }
            func count(_ text: String?, _ field: String) throws -> Int? {
                let t = (text ?? "").trimmingCharacters(in: .whitespaces)
                if t.isEmpty { return nil }
                guard let v = Int(t), v >= 0 else { throw Problem.validation([FieldProblem(field, "outOfRange", ["min": "0", "max": "3150"])]) }
                return v
            }
            var results: [InspectionInput.Result] = []
            for (k, v) in fields where k.hasPrefix("v_") || k.hasPrefix("n_") {
                guard let n = Int(k.dropFirst(2)) else { continue }
                if k.hasPrefix("v_") {
                    let parts = v.split(whereSeparator: { " ,，;\n\t".contains($0) }).map(String.init)
                    if parts.isEmpty { continue }
                    var values: [FixedDecimal] = []
                    for part in parts {
                        guard let d = try? FixedDecimal.parse(part) else { throw Problem.validation([FieldProblem(k, "badValue", ["value": part])]) }
                        values.append(d)
                    }
                    results.append(.init(characteristic: n, values: values, nonconforming: nil))
                } else if let c = try count(v, k) {
                    results.append(.init(characteristic: n, values: nil, nonconforming: c))
                }
            }
            var defects: [InspectionInput.Defect] = []
            for (k, v) in fields where k.hasPrefix("d_") {
                if let c = try count(v, k), c > 0 { defects.append(.init(code: String(k.dropFirst(2)), count: c)) }
            }
            let decision = fields["decision"].flatMap { $0.isEmpty ? nil : $0 }
            let input = InspectionInput(
                version: Int(fields["version"] ?? "") ?? -1, decision: decision,
                accepted: decision == "partial" ? try decimal(fields["accepted"], "accepted") : nil,
                rejected: decision == "partial" ? try decimal(fields["rejected"], "rejected") : nil,
                results: results.sorted { $0.characteristic < $1.characteristic }, defects: defects.sorted { $0.code < $1.code },
                approverId: decision == "concession" ? fields["approver"].flatMap(UUID.init(uuidString:)) : nil, note: fields["note"])
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            created = try await InspectionService.inspect(p, receiptID, line: no, input, app: req.application)
        }
        if let created { return req.redirect(to: "/inspections/\(created.id!)?ok=inspected") }
        return try await renderInspect(req, values: fields, problem: problem)
    }

    // MARK: Plans

    struct PlanView: Encodable {
        let itemId: UUID
        let itemCode: String
        let itemName: String
        let plan: InspectionPlanDTO
        let levels: [String]
        let aqls: [String]
        let characteristics: [CRow]
        let defectCodes: [DRow]
        let canEdit: Bool
        let errors: FormErrors
        struct CRow: Encodable { let i: Int; let name: String; let kind: String; let nominal: String; let lower: String; let upper: String; let unit: String }
        struct DRow: Encodable { let i: Int; let code: String; let name: String; let severity: String }
    }

    func renderPlan(_ req: Request, _ item: Item, values: [String: String]? = nil, problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.viewMasterData)
        let plan = try await InspectionService.plan(item: item, on: req.db)
        func text(_ d: FixedDecimal?) -> String { d?.description ?? "" }
        var cs = plan.characteristics.enumerated().map { PlanView.CRow(i: $0.offset, name: $0.element.name, kind: $0.element.kind, nominal: text($0.element.nominal),
                                                                        lower: text($0.element.lower), upper: text($0.element.upper), unit: $0.element.unit ?? "") }
        var ds = plan.defectCodes.enumerated().map { PlanView.DRow(i: $0.offset, code: $0.element.code, name: $0.element.name, severity: $0.element.severity) }
        if let v = values {
            cs = (0..<max(cs.count + 3, 3)).map { i in PlanView.CRow(i: i, name: v["c_name_\(i)"] ?? "", kind: v["c_kind_\(i)"] ?? "measured",
                                                                      nominal: v["c_nominal_\(i)"] ?? "", lower: v["c_lower_\(i)"] ?? "", upper: v["c_upper_\(i)"] ?? "",
                                                                      unit: v["c_unit_\(i)"] ?? "") }
            ds = (0..<max(ds.count + 3, 3)).map { i in PlanView.DRow(i: i, code: v["d_code_\(i)"] ?? "", name: v["d_name_\(i)"] ?? "", severity: v["d_severity_\(i)"] ?? "major") }
        } else {
            let c0 = cs.count, d0 = ds.count
            cs += (c0..<(c0 + 3)).map { PlanView.CRow(i: $0, name: "", kind: "measured", nominal: "", lower: "", upper: "", unit: "") }
            ds += (d0..<(d0 + 3)).map { PlanView.DRow(i: $0, code: "", name: "", severity: "major") }
        }
        let shown = values.map { v in
            InspectionPlanDTO(itemId: plan.itemId, itemCode: plan.itemCode, level: v["level"] ?? plan.level, aql: v["aql"] ?? plan.aql,
                              reducedAllowed: v["reducedAllowed"] == "on", exemptAfter: Int(v["exemptAfter"] ?? "") ?? plan.exemptAfter,
                              characteristics: plan.characteristics, defectCodes: plan.defectCodes, version: plan.version)
        } ?? plan
        return try await req.renderForm("inspection_plan", titleKey: "plan.inspection.title", titleParams: ["code": item.code], PlanView(
            itemId: item.id!, itemCode: item.code, itemName: item.name, plan: shown, levels: Sampling.Level.allCases.map(\.rawValue),
            aqls: Sampling.AQL.allCases.map(\.rawValue), characteristics: cs, defectCodes: ds, canEdit: p.can(.configureQuality),
            errors: req.formErrors(problem)), problem: problem)
    }

    func item(_ req: Request) async throws -> Item {
        guard let item = try await Item.find(try req.idParameter(), on: req.db) else { throw Problem.notFound }
        return item
    }

    func planForm(req: Request) async throws -> Response { try await renderPlan(req, try await item(req)) }

    func savePlan(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        // Who may comes before what was typed: a refusal must not read like a form error.
        try p.require(.configureQuality)
        let item = try await item(req)
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            func dec(_ key: String) throws -> FixedDecimal? {
                let t = (v[key] ?? "").trimmingCharacters(in: .whitespaces)
                if t.isEmpty { return nil }
                guard let d = try? FixedDecimal.parse(t) else { throw Problem.validation([FieldProblem(key, "badValue", ["value": t])]) }
                return d
            }
            var cs: [Characteristic] = [], ds: [DefectCode] = []
            for i in 0..<60 {
                let name = (v["c_name_\(i)"] ?? "").trimmingCharacters(in: .whitespaces)
                if !name.isEmpty {
                    cs.append(Characteristic(name: name, kind: v["c_kind_\(i)"] ?? "measured", nominal: try dec("c_nominal_\(i)"), lower: try dec("c_lower_\(i)"),
                                             upper: try dec("c_upper_\(i)"), unit: v["c_unit_\(i)"].flatMap { $0.isEmpty ? nil : $0 }))
                }
                let code = (v["d_code_\(i)"] ?? "").trimmingCharacters(in: .whitespaces)
                if !code.isEmpty { ds.append(DefectCode(code: code, name: v["d_name_\(i)"] ?? "", severity: v["d_severity_\(i)"] ?? "major")) }
            }
            guard let after = Int(v["exemptAfter"] ?? "0") else { throw Problem.validation([FieldProblem("exemptAfter", "outOfRange", ["min": "0", "max": "1000"])]) }
            let input = PlanInput(version: Int(v["version"] ?? "") ?? -1, level: v["level"] ?? "", aql: v["aql"] ?? "", reducedAllowed: v["reducedAllowed"] == "on",
                                  exemptAfter: after, characteristics: cs, defectCodes: ds)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await InspectionService.savePlan(p, item: item, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/items/\(item.id!)/inspection-plan?ok=saved") }
        return try await renderPlan(req, item, values: v, problem: problem)
    }

    // MARK: Quality overview

    struct QualityView: Encodable {
        let stats: QualityStatsDTO
        let states: [QualityStateDTO]
        let deadlines: [DeadlineDTO]
        let canConfigure: Bool
        let errors: FormErrors
    }

    func renderQuality(_ req: Request, problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        guard p.can(.inspectGoods) || p.can(.configureQuality) || p.can(.handleExceptions) else { throw Problem.forbidden }
        let today = req.subcon.today()
        let from = try QualityAPI.day(req, "from", default: Day(year: today.year, month: today.month, day: 1)!), to = try QualityAPI.day(req, "to", default: today)
        guard from.ordinal <= to.ordinal, to.ordinal - from.ordinal <= 366 else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("to", "badPeriod")]) }
        return try await req.renderForm("quality", titleKey: "quality.title", QualityView(
            stats: try await QualityReports.stats(p, from: from, to: to, supplier: nil, timeZone: TimeZone(identifier: req.subcon.settings.timeZone) ?? .gmt, on: req.db),
            states: try await InspectionService.states(p, supplier: nil, on: req.db), deadlines: try await ExceptionService.deadlineTable(on: req.db),
            canConfigure: p.can(.configureQuality), errors: req.formErrors(problem)), problem: problem)
    }

    func quality(req: Request) async throws -> Response { try await renderQuality(req) }

    func changeState(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.configureQuality)
        let id = try req.idParameter()
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            let input = StateActionInput(version: Int(v["version"] ?? "") ?? -1, action: v["action"] ?? "")
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await InspectionService.changeState(p, id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/quality?ok=saved#states") }
        return try await renderQuality(req, problem: problem)
    }

    func saveDeadline(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.configureQuality)
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            let input = DeadlineInput(version: Int(v["version"] ?? "") ?? -1, responseHours: Int(v["responseHours"] ?? "") ?? 0,
                                      containmentHours: Int(v["containmentHours"] ?? "") ?? 0, resolveDays: Int(v["resolveDays"] ?? "") ?? 0)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ExceptionService.setDeadline(p, type: v["type"] ?? "", severity: v["severity"] ?? "", input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/quality?ok=saved#deadlines") }
        return try await renderQuality(req, problem: problem)
    }

    // MARK: Exceptions

    /// The exception list's page, written in Swift from the first tag to the last.
    struct ListView {
        /// The exceptions' cards, written by `cards` (see `HTML`).
        let items: HTML
        let empty: Bool
        let status: String
        let type: String
        let mine: Bool
        let canRaise: Bool
        let deadline: String
        let pager: Pager

        /// The page's body: the filters, the cards and the pager.
        func html(_ t: inout PageTexts) -> HTML {
            let all = t("exceptions.all")
            var html: HTML = """
                <section class="card">
                  <form method="get" action="/exceptions" class="form row wrap">
                    <label>\(t("field.status"))<select name="status">
                """
            html += Option.html([("open", "exceptions.status.open"), ("closed", "exceptions.status.closed"), ("all", "exceptions.all")]
                .map { Option(value: $0.0, label: t($0.1), selected: status == $0.0) })
            html += "</select></label>\n    <label>\(t("exceptions.type"))<select name=\"type\"><option value=\"\">\(all)</option>"
            html += Option.html(ExceptionRules.Kind.allCases.map { Option(value: $0.rawValue, label: t("exceptionType." + $0.rawValue), selected: type == $0.rawValue) })
            html += "</select></label>\n    <label>\(t("exceptions.deadline"))<select name=\"deadline\"><option value=\"\">\(all)</option>"
            html += Option.html(ExceptionDeadlineState.allCases.map {
                Option(value: $0.rawValue, label: t("dash.exception." + $0.rawValue), selected: deadline == $0.rawValue)
            })
            html += """
                </select></label>
                    <label class="choice"><input type="checkbox" name="mine" value="1"\(HTML.when(mine, " checked"))> \(t("exceptions.mine"))</label>
                    <button type="submit">\(t("list.filter"))</button>
                  </form>
                  <p class="links">\(canRaise ? "<a class=\"button primary\" href=\"/exceptions/new\">\(t("exceptions.new"))</a> " : HTML())\
                <a href="/lessons">\(t("lessons.title"))</a></p>
                </section>

                """
            if empty { html += "<section class=\"card\"><p class=\"muted\">\(t("list.empty"))</p></section>\n" }
            html += items
            html += pager.html(&t)
            return html
        }
    }

    func exceptions(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        guard p.can(.raiseExceptions) || p.can(.handleExceptions) || p.can(.answerExceptions) else { throw Problem.forbidden }
        let page = try PageRequest(req, defaultPer: 50)
        let status = req.queryText("status") ?? "open", type = req.queryText("type") ?? ""
        let mine = req.queryText("mine") == "1"
        // A deadline state is a state of open exceptions: it lists open ones whatever the status says.
        let deadline = ExceptionDeadlineState(rawValue: req.queryText("deadline") ?? "")
        let now = req.now
        let (items, total) = try await ExceptionService.list(p, status: ["open", "closed"].contains(status) ? status : nil,
                                                             type: ExceptionRules.Kind(rawValue: type) == nil ? nil : type, supplier: nil, mine: mine,
                                                             deadline: deadline, now: now, limit: page.per, offset: page.offset, on: req.application.reads,
                                                             keyed: req.application.keyedReads)
        let listed = Page(items: items, page: page.page, per: page.per, total: total)
        let view = ListView(
            items: Self.cards(items.map { e in (e.summary(now: now), p.isSupplier ? "" : e.supplier_name) }, req: req), empty: items.isEmpty,
            status: deadline == nil ? status : "open", type: type, mine: mine, canRaise: p.can(.raiseExceptions),
            deadline: deadline?.rawValue ?? "", pager: Pager(listed, req))
        return try await req.renderPage(titleKey: "exceptions.title") { view.html(&$0) }
    }

    /// The exception list's cards (see `HTML`).
    static func cards(_ rows: [(e: ExceptionSummaryDTO, supplierName: String)], req: Request) -> HTML {
        var t = req.texts()
        let closed = t("exceptions.status.closed"), respondBy = t("exceptions.respondBy"), resolveBy = t("exceptions.resolveBy"), closedAt = t("exceptions.closedAt")
        let time = req.datePattern("MM-dd HH:mm"), day = req.datePattern("yyyy-MM-dd")
        var html = HTML()
        for (e, supplierName) in rows {
            let severity = e.severity == "critical" ? " bad" : e.severity == "major" ? " warn" : ""
            let title = e.words.map { t($0.title, $0.params) } ?? e.title
            html += """
                <section class="card exception-card\(HTML.when(e.overdue, " overdue"))">
                  <div class="work-head"><a class="code" href="/exceptions/\(e.id)">\(e.code)</a> \
                <span class="tag\(severity)">\(t("severity." + e.severity))</span> <span class="tag">\(t("exceptionType." + e.type))</span>\
                \(HTML.when(e.status == "closed", " <span class=\"tag ok\">\(closed)</span>"))\
                \(HTML.when(e.escalationLevel > 0, " <span class=\"tag bad\">\(t("exceptions.escalated", ["n": String(e.escalationLevel)]))</span>")) \
                \(HTML.when(!supplierName.isEmpty, " <span class=\"muted\">\(supplierName)</span>"))</div>
                  <div><a href="/exceptions/\(e.id)">\(title)</a></div>

                """
            if e.status == "open" {
                let respond: HTML = e.respondedAt == nil
                    ? "\(respondBy) <span class=\"nowrap\(HTML.when(e.overdue, " err"))\">\(e.responseBy.map(time.string) ?? "")</span> · " : HTML()
                html += "  <div class=\"muted\">\(respond)\(resolveBy) <span class=\"nowrap\">\(e.resolveBy.map(time.string) ?? "")</span></div>\n"
            } else {
                html += "  <div class=\"muted\">\(closedAt) \(e.closedAt.map(day.string) ?? "")</div>\n"
            }
            html += "</section>\n"
        }
        return html
    }

    struct NewView: Encodable {
        let suppliers: [Option]
        let orders: [Option]
        let types: [String]
        let isSupplier: Bool
        let canRequire8D: Bool
        let values: [String: String]
        let errors: FormErrors
    }

    func renderNew(_ req: Request, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.raiseExceptions)
        let suppliers = p.isSupplier ? [] : try await Organization.query(on: req.db).filter(\.$kind == OrganizationKind.supplier.rawValue).sort(\.$code).all()
        let orders = try await p.scope.query(OutsourcingOrder.self, on: req.db).sort(\.$createdAt, .descending).limit(100).all()
        var v = values
        if v["order"] == nil, let o = req.queryText("order") { v["order"] = o }
        return try await req.renderForm("exception_new", titleKey: "exceptions.new", NewView(
            suppliers: suppliers.map { Option(value: $0.id!.uuidString, label: "\($0.code) \($0.name)") },
            orders: orders.map { Option(value: $0.id!.uuidString, label: $0.code) }, types: ExceptionRules.Kind.allCases.map(\.rawValue),
            isSupplier: p.isSupplier, canRequire8D: p.can(.handleExceptions), values: v, errors: req.formErrors(problem)), problem: problem)
    }

    func newForm(req: Request) async throws -> Response { try await renderNew(req) }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let v = try req.content.decode([String: String].self)
        var created: ExceptionCase?
        let problem = try await attempt {
            var orderID = v["order"].flatMap(UUID.init(uuidString:))
            var supplierID = v["supplier"].flatMap(UUID.init(uuidString:))
            if let o = orderID, let order = try await p.scope.query(OutsourcingOrder.self, on: req.db).filter(\.$id == o).first() {
                if supplierID == nil { supplierID = order.supplierID }
            } else if orderID != nil { orderID = nil }
            let input = ExceptionInput(type: v["type"] ?? "", severity: v["severity"] ?? "", supplierId: p.isSupplier ? nil : supplierID, orderId: orderID,
                                       itemCode: v["itemCode"], lot: v["lot"], title: v["title"] ?? "", description: v["description"],
                                       eightD: p.isSupplier ? nil : v["eightD"] == "on")
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            created = try await ExceptionService.create(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/exceptions/\(created.id!)?ok=created") }
        return try await renderNew(req, values: v, problem: problem)
    }

    struct DetailView: Encodable {
        let e: ExceptionDTO
        let isSupplier: Bool
        let canHandle: Bool
        let canAnswer: Bool
        let canComment: Bool
        let buyers: [Option]
        let supplierPeople: [Option]
        let now: Date
        let values: [String: String]
        let errors: FormErrors
        let penaltyKinds = PenaltyRule.Kind.allCases.map(\.rawValue)
    }

    func renderException(_ req: Request, _ e: ExceptionCase, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let dto = try await ExceptionService.dto(e, for: p, on: req.db)
        var buyers: [Option] = [], people: [Option] = []
        if p.can(.handleExceptions) {
            let ids = try await OrderService.manufacturerPeople(with: .quality, on: req.db) + OrderService.manufacturerPeople(with: .purchaser, on: req.db)
            buyers = try await User.query(on: req.db).filter(\.$id ~~ Array(Set(ids))).sort(\.$displayName).all()
                .map { Option(value: $0.id!.uuidString, label: $0.displayName, selected: $0.id == e.buyerOwnerID) }
        }
        if p.isSupplier && p.can(.answerExceptions) {
            people = try await User.query(on: req.db).filter(\.$organization.$id == e.supplierID).filter(\.$active == true).sort(\.$displayName).all()
                .map { Option(value: $0.id!.uuidString, label: $0.displayName, selected: $0.id == e.supplierOwnerID) }
        }
        return try await req.renderForm("exception", titleKey: "exception.title", titleParams: ["code": e.code], DetailView(
            e: dto, isSupplier: p.isSupplier, canHandle: p.can(.handleExceptions), canAnswer: p.can(.answerExceptions),
            canComment: p.can(.raiseExceptions) || p.can(.handleExceptions) || p.can(.answerExceptions), buyers: buyers, supplierPeople: people,
            now: req.now, values: values, errors: req.formErrors(problem)), problem: problem)
    }

    func load(_ req: Request) async throws -> (Principal, ExceptionCase) {
        let p = try req.requirePrincipal()
        return (p, try await ExceptionService.find(p, try req.idParameter(), on: req.db))
    }

    func exception(req: Request) async throws -> Response {
        let (_, e) = try await load(req)
        return try await renderException(req, e)
    }

    /// Runs one action of the exception page, then shows the page again (with the error inline).
    func act(_ req: Request, anchor: String, may: (Principal) -> Bool,
             _ body: @escaping (Principal, ExceptionCase, [String: String]) async throws -> Void) async throws -> Response {
        let (p, e) = try await load(req)
        // A refusal is a 403, not a message under a form the person could not have used.
        guard may(p) else { throw Problem.forbidden }
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt { try await body(p, e, v) }
        guard let problem else { return req.redirect(to: "/exceptions/\(e.id!)?ok=saved#\(anchor)") }
        return try await renderException(req, try await ExceptionCase.find(e.id!, on: req.db) ?? e, values: v, problem: problem)
    }

    static func version(_ v: [String: String]) -> Int { Int(v["version"] ?? "") ?? -1 }

    func comment(req: Request) async throws -> Response {
        try await act(req, anchor: "thread", may: ExceptionService.mayTakePart) { p, e, v in
            let input = CommentInput(body: v["body"] ?? "")
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ExceptionService.comment(p, e.id!, input, app: req.application)
        }
    }

    func attach(req: Request) async throws -> Response {
        let (p, e) = try await load(req)
        guard ExceptionService.mayTakePart(p) else { throw Problem.forbidden }
        let problem = try await attempt {
            let file = try req.uploadedFile()
            _ = try await ExceptionService.attach(p, e.id!, filename: file.filename, data: file.data, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/exceptions/\(e.id!)?ok=created#thread") }
        return try await renderException(req, e, problem: problem)
    }

    func owners(req: Request) async throws -> Response {
        try await act(req, anchor: "owners", may: ExceptionService.mayWorkOn) { p, e, v in
            let owner = v["owner"].flatMap(UUID.init(uuidString:))
            let input = OwnersInput(version: Self.version(v), buyerOwnerId: p.isSupplier ? nil : owner, supplierOwnerId: p.isSupplier ? owner : nil)
            _ = try await ExceptionService.assignOwners(p, e.id!, input, app: req.application)
        }
    }

    func gate(req: Request) async throws -> Response {
        guard let step = req.parameters.get("step").flatMap(Int.init) else { throw Problem.notFound }
        return try await act(req, anchor: "d\(step)", may: ExceptionService.mayWorkOn) { p, e, v in
            let input = GateInput(version: Self.version(v), action: v["action"] ?? "", content: v["content"], reason: v["reason"].flatMap { $0.isEmpty ? nil : $0 })
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ExceptionService.gate(p, e.id!, step: step, input, app: req.application)
        }
    }

    func close(req: Request) async throws -> Response {
        try await act(req, anchor: "top", may: { $0.can(.handleExceptions) }) { p, e, v in
            let input = CloseInput(version: Self.version(v), resolution: v["resolution"] ?? "")
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ExceptionService.close(p, e.id!, input, app: req.application)
        }
    }

    func penalty(req: Request) async throws -> Response {
        try await act(req, anchor: "penalty", may: { $0.can(.handleExceptions) }) { p, e, v in
            let kind = v["kind"] ?? "none"
            var value: FixedDecimal?
            if kind != "none" {
                let text = (v["value"] ?? "").trimmingCharacters(in: .whitespaces)
                guard let d = try? FixedDecimal.parse(text) else { throw Problem.validation([FieldProblem("value", text.isEmpty ? "required" : "nonNegativeDecimal")]) }
                value = d
            }
            _ = try await ExceptionService.setPenalty(p, e.id!, PenaltyInput(version: Self.version(v), kind: kind, value: value), app: req.application)
        }
    }

    func reopen(req: Request) async throws -> Response {
        try await act(req, anchor: "top", may: { $0.can(.handleExceptions) }) { p, e, v in
            let input = ReopenInput(version: Self.version(v), reason: v["reason"] ?? "", fromStep: Int(v["fromStep"] ?? ""))
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ExceptionService.reopen(p, e.id!, input, app: req.application)
        }
    }

    /// The closed 8D lessons, a hundred at most: written in Swift (in Leaf, a hundred lessons with
    /// their three steps' text took 11 ms of CPU a page on the large data set).
    func lessons(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let item = req.queryText("item") ?? "", defect = req.queryText("defect") ?? "", q = req.queryText("q") ?? ""
        let lessons = try await QualityReports.lessons(p, itemCode: item, defect: defect, text: q, on: req.application.reads)
        let searched = !(item + defect + q).isEmpty
        let day = req.datePattern("yyyy-MM-dd")
        return try await req.renderPage(titleKey: "lessons.title") { t in
            var html: HTML = """
                <section class="card">
                  <form method="get" action="/lessons" class="form row wrap">
                    <label>\(t("material.item"))<input name="item" value="\(item)" maxlength="40"></label>
                    <label>\(t("lessons.defect"))<input name="defect" value="\(defect)" maxlength="20"></label>
                    <label>\(t("lessons.words"))<input name="q" value="\(q)" maxlength="100"></label>
                    <button type="submit">\(t("lessons.search"))</button>
                  </form>
                </section>

                """
            if lessons.isEmpty {
                html += "<section class=\"card\"><p class=\"muted\">\(t(searched ? "lessons.none" : "list.empty"))</p></section>\n"
            }
            let rootCause = t("eightD.rootCause"), actions = t("eightD.correctiveActions"), prevention = t("eightD.prevention")
            for l in lessons {
                var about: HTML = "\(l.supplierName) \(l.supplierCode)"
                if let code = l.itemCode, !code.isEmpty { about += " · \(l.itemName ?? "") \(code)" }
                if !l.defectCodes.isEmpty { about += " · \(l.defectCodes)" }
                var effect = HTML()
                if let e = l.effect, !e.isEmpty {
                    let tone = e == "effective" ? " ok" : e == "ineffective" ? " bad" : " warn"
                    let counts = t("effect.counts", ["bd": String(l.before?.defective ?? 0), "bl": String(l.before?.lots ?? 0),
                                                     "ad": String(l.after?.defective ?? 0), "al": String(l.after?.lots ?? 0)])
                    effect = """
                        <p>\(t("lessons.effect")) <span class="tag\(tone)">\(t("effect." + e))</span>
                            <span class="muted">\(counts)</span>\
                        \(l.recurrenceId.map { " · <a href=\"/exceptions/\($0)\">\(t("effect.linked"))</a>" as HTML } ?? HTML())</p>
                        """
                }
                html += """
                    <section class="card">
                      <div class="work-head"><a class="code" href="/exceptions/\(l.id)">\(l.code)</a> <span class="muted">\(about) · \
                    <span class="nowrap">\(l.closedAt.map { day.string(from: $0) } ?? "")</span></span></div>
                      <div><strong>\(l.title)</strong></div>
                      \(effect)
                      <dl class="facts">
                        <dt>D4 \(rootCause)</dt><dd class="pre">\(l.rootCause)</dd>
                        <dt>D5 \(actions)</dt><dd class="pre">\(l.correctiveActions)</dd>
                        <dt>D7 \(prevention)</dt><dd class="pre">\(l.prevention)</dd>
                      </dl>
                    </section>

                    """
            }
            return html
        }
    }
}
