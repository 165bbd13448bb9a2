import Fluent
import Foundation
import SubconDomain
import Vapor

struct ItemsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let items = routes.grouped("items")
        items.get(use: list)
        items.post(use: create)
        items.get(":id", use: show)
        items.patch(":id", use: update)
    }

    static func filter(_ req: Request) throws -> ItemService.ListFilter {
        let kind: ItemKind? = try req.queryText("kind").flatMap { raw in
            guard raw.isEmpty || ItemKind(rawValue: raw) != nil else {
                throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("kind", "invalidValue")])
            }
            return ItemKind(rawValue: raw)
        }
        return .init(search: req.queryText("q"), kind: kind, active: try req.boolQuery("active"))
    }

    func list(req: Request) async throws -> Page<ItemDTO> {
        try await ItemService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req),
                                   on: req.application.reads, counts: req.subcon.trigramCounts)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.editMasterData)
        let item = try await ItemService.create(p, try req.decodeStrict(ItemInput.self), app: req.application)
        return try await .created(ItemDTO(item), for: req)
    }

    func show(req: Request) async throws -> ItemDTO {
        ItemDTO(try await ItemService.get(try req.requirePrincipal(), try req.idParameter(), on: req.db))
    }

    func update(req: Request) async throws -> ItemDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ItemService.get(p, id, on: req.db)
        try p.require(.editMasterData)
        let input = try req.decodeStrict(ItemPatchInput.self)
        return ItemDTO(try await ItemService.update(p, id, input, clearDefaultSite: input.clearsDefaultSite, app: req.application))
    }
}

struct ItemPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let items = routes.grouped("items")
        items.get(use: list)
        items.get("new", use: newForm)
        items.post(use: create)
        items.get(":id", use: show)
        items.post(":id", use: update)
        items.post(":id", "boms", use: createBOM)
        items.post(":id", "routing", use: saveRouting)
    }

    func kindOptions(_ req: Request, selected: String?, includeAll: Bool) -> [Option] {
        (includeAll ? [Option(value: "", label: req.t("item.kind.all"), selected: (selected ?? "").isEmpty)] : [])
            + ItemKind.allCases.map { Option(value: $0.rawValue, label: req.t("item.kind.\($0.rawValue)"), selected: selected == $0.rawValue) }
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let filter = try ItemsAPI.filter(req)
        let page = try await ItemService.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50),
                                              on: req.application.reads, counts: req.subcon.trigramCounts)
        let pager = Pager(page, req), q = filter.search ?? "", canEdit = p.can(.editMasterData)
        let kinds = kindOptions(req, selected: filter.kind?.rawValue, includeAll: true)
        // Written in Swift, as the other list pages: Leaf looked each label up in every cell.
        return try await req.renderPage(titleKey: "items.title") { t in
            let search = t("action.search"), code = t("field.code"), name = t("field.name"), specification = t("field.specification")
            let uom = t("field.uom"), kind = t("field.kind"), status = t("field.status"), active = t("status.active"), inactive = t("status.inactive")
            var html: HTML = """
                <section class="card">
                  <form method="get" action="/items" class="form row">
                    <label class="grow">\(search)<input type="search" name="q" value="\(q)" placeholder="\(t("items.searchHint"))"></label>
                    <label>\(kind)<select name="kind">\(Option.html(kinds))</select></label>
                    <button type="submit">\(search)</button>
                    \(HTML.when(canEdit, "<a class=\"button primary\" href=\"/items/new\">\(t("items.new"))</a>"))
                  </form>

                """
            if page.items.isEmpty {
                html += "<p class=\"muted\">\(t("list.empty"))</p>"
            } else {
                var rows = HTML()
                for i in page.items {
                    rows += """
                        <tr><td data-label="\(code)"><a href="/items/\(i.id)">\(i.code)</a></td>
                        <td data-label="\(name)">\(i.name)</td>
                        <td data-label="\(specification)">\(i.specification)</td>
                        <td data-label="\(uom)">\(i.uom)</td>
                        <td data-label="\(kind)">\(t("item.kind." + i.kind))</td>
                        <td data-label="\(status)">\(i.active ? "<span class=\"tag ok\">\(active)</span>" : "<span class=\"tag off\">\(inactive)</span>" as HTML)</td></tr>

                        """
                }
                html += .listTable(head: """
                    <th>\(code)</th><th>\(name)</th><th>\(specification)</th><th>\(uom)</th><th>\(kind)</th><th>\(status)</th>
                    """, rows: rows)
            }
            html += pager.html(&t)
            html += "</section>\n"
            return html
        }
    }

    struct FormView: Encodable {
        let item: ItemDTO?
        let values: [String: String]
        let kinds: [Option]
        let warehouses: [Option]
        let errors: FormErrors
        let canEdit: Bool
        let boms: [BOMDTO]
        let bomValues: [String: String]
        let bomErrors: FormErrors
        let explosion: ExplosionDTO?
        let explosionErrors: FormErrors
        let routing: RoutingDTO?
        let routingText: String
        let routingErrors: FormErrors
    }

    struct BOMSection {
        var values: [String: String] = [:]
        var problem: Problem?
        var routingText: String?
        var routingProblem: Problem?
    }

    func render(_ req: Request, item: ItemDTO?, values: [String: String], problem: Problem?,
                bom: BOMSection = BOMSection()) async throws -> Response {
        let p = try req.requirePrincipal()
        var boms: [BOMDTO] = []
        var explosion: ExplosionDTO?
        var explosionProblem: Problem?
        var routing: RoutingDTO?
        if let item {
            routing = try await RoutingService.get(p, itemID: item.id, on: req.db)
            boms = try await BOMService.versions(p, itemID: item.id, on: req.db)
            if req.queryText("quantity") != nil {
                do {
                    let (quantity, day) = try BOMsAPI.explosionQuery(req)
                    explosion = try await BOMService.explode(p, itemID: item.id, quantity: quantity, on: day, db: req.db)
                } catch let problem as Problem { explosionProblem = problem }
            }
        }
        let warehouses = try await Site.query(on: req.db).filter(\.$kind == SiteKind.warehouse.rawValue).filter(\.$active == true).sort(\.$code).all()
        let view = FormView(item: item, values: values, kinds: kindOptions(req, selected: values["kind"], includeAll: false),
                            warehouses: [Option(value: "", label: "—", selected: (values["defaultSiteId"] ?? "").isEmpty)]
                                + warehouses.map { Option(value: $0.id!.uuidString, label: "\($0.code) · \($0.name)", selected: values["defaultSiteId"] == $0.id!.uuidString) },
                            errors: req.formErrors(problem), canEdit: p.can(.editMasterData),
                            boms: boms, bomValues: bom.values.merging(["validFrom": BOMsAPI.today(req).description]) { a, _ in a },
                            bomErrors: req.formErrors(bom.problem), explosion: explosion, explosionErrors: req.formErrors(explosionProblem),
                            routing: routing,
                            routingText: bom.routingText ?? (routing?.operations ?? []).map {
                                "\($0.sequence) \($0.code) \($0.name) \(req.t("routing.word.\($0.mode)"))\($0.defaultSupplierCode.map { " " + $0 } ?? "")"
                            }.joined(separator: "\n"),
                            routingErrors: req.formErrors(bom.routingProblem))
        return try await req.renderForm("item_form", titleKey: item == nil ? "items.new" : "items.edit", view,
                                        problem: problem ?? bom.problem ?? bom.routingProblem ?? explosionProblem)
    }

    static func values(_ i: ItemDTO) -> [String: String] {
        ["code": i.code, "name": i.name, "specification": i.specification, "uom": i.uom, "kind": i.kind,
         "defaultSiteId": i.defaultSiteId?.uuidString ?? "", "version": String(i.version), "active": i.active ? "true" : "",
         "costPrice": i.costPrice.description]
    }

    func newForm(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.editMasterData)
        return try await render(req, item: nil, values: ["kind": ItemKind.raw.rawValue, "uom": "PCS"], problem: nil)
    }

    struct ItemForm: Content {
        var code: String?; var name: String?; var specification: String?; var uom: String?; var kind: String?
        var defaultSiteId: String?; var version: String?; var active: String?; var costPrice: String?
        var values: [String: String] {
            ["code": code ?? "", "name": name ?? "", "specification": specification ?? "", "uom": uom ?? "", "kind": kind ?? "",
             "defaultSiteId": defaultSiteId ?? "", "version": version ?? "", "active": active ?? "", "costPrice": costPrice ?? ""]
        }
        var siteID: UUID? { defaultSiteId.flatMap(UUID.init(uuidString:)) }
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.editMasterData)
        let form = try req.content.decode(ItemForm.self)
        var created: Item?
        let problem = try await attempt {
            let input = ItemInput(code: (form.code ?? "").trimmingCharacters(in: .whitespaces), name: form.name ?? "",
                                  specification: form.specification, uom: form.uom ?? "", kind: form.kind ?? "", defaultSiteId: form.siteID)
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            created = try await ItemService.create(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/items/\(created.id!)?ok=created") }
        return try await render(req, item: nil, values: form.values, problem: problem)
    }

    func show(req: Request) async throws -> Response {
        let item = ItemDTO(try await ItemService.get(try req.requirePrincipal(), try req.idParameter(), on: req.db))
        return try await render(req, item: item, values: Self.values(item), problem: nil)
    }

    func update(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let existing = ItemDTO(try await ItemService.get(p, id, on: req.db))
        try p.require(.editMasterData)
        let form = try req.content.decode(ItemForm.self)
        let problem = try await attempt {
            guard let version = form.version.flatMap(Int.init) else { throw Problem.validation([FieldProblem("version", "required")]) }
            var input = ItemPatchInput(version: version, name: form.name ?? "", specification: form.specification ?? "",
                                       uom: form.uom ?? "", kind: form.kind ?? "", defaultSiteId: form.siteID, active: form.active == "true")
            var problems = input.validate()
            if let text = form.costPrice?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                if let c = try? FixedDecimal.parse(text), c >= .zero { input.costPrice = c } else { problems.append(FieldProblem("costPrice", "nonNegativeDecimal")) }
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ItemService.update(p, id, input, clearDefaultSite: form.siteID == nil, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/items/\(id)?ok=saved") }
        if problem.kind == "stale-version" {
            let fresh = ItemDTO(try await ItemService.get(p, id, on: req.db))
            return try await render(req, item: fresh, values: Self.values(fresh), problem: problem)
        }
        var values = form.values
        values["code"] = existing.code
        return try await render(req, item: existing, values: values, problem: problem)
    }
}

extension ItemPages {
    struct BOMForm: Content { var validFrom: String?; var validTo: String?; var note: String?; var lines: String? }

    func createBOM(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let item = ItemDTO(try await ItemService.get(p, id, on: req.db))
        try p.require(.editMasterData)
        let form = try req.content.decode(BOMForm.self)
        let problem = try await attempt {
            var problems: [FieldProblem] = []
            let from = form.validFrom.flatMap(Day.init)
            if from == nil { problems.append(FieldProblem("validFrom", "badDate")) }
            var to: Day?
            if let raw = form.validTo, !raw.isEmpty {
                to = Day(raw)
                if to == nil { problems.append(FieldProblem("validTo", "badDate")) }
            }
            let lines: [BOMLineInput]
            switch BOMLineText.parse(form.lines ?? "") {
            case .success(let parsed): lines = parsed
            case .failure(let problem): problems += problem.fields; lines = []
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            let input = BOMInput(validFrom: from!, validTo: to, note: form.note, lines: lines)
            let more = input.validate()
            if !more.isEmpty { throw Problem.validation(more) }
            _ = try await BOMService.create(p, itemID: id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/items/\(id)?ok=created") }
        return try await render(req, item: item, values: Self.values(item), problem: nil,
                                bom: BOMSection(values: ["validFrom": form.validFrom ?? "", "validTo": form.validTo ?? "",
                                                         "note": form.note ?? "", "lines": form.lines ?? ""], problem: problem))
    }
}

extension ItemPages {
    struct RoutingForm: Content { var version: String?; var operations: String? }

    /// One operation per line: `SEQ CODE NAME in_house|outsourced [SUPPLIER-CODE]`.
    func saveRouting(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let item = ItemDTO(try await ItemService.get(p, id, on: req.db))
        try p.require(.editMasterData)
        let form = try req.content.decode(RoutingForm.self)
        let problem = try await attempt {
            var ops: [RoutingOperationInput] = []
            var problems: [FieldProblem] = []
            for (n, raw) in (form.operations ?? "").split(whereSeparator: \.isNewline).enumerated() {
                let parts = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
                if parts.isEmpty { continue }
                guard parts.count >= 4, let seq = Int(parts[0]) else {
                    problems.append(FieldProblem("operations", "badLine", ["line": String(n + 1)])); continue
                }
                // The mode may be typed in words (自制, 委外) as in the import files.
                let mode = RoutingImport.modeNames[parts[3].lowercased()]?.rawValue ?? parts[3]
                ops.append(RoutingOperationInput(sequence: seq, code: parts[1], name: parts[2], mode: mode,
                                                 defaultSupplier: parts.count > 4 ? parts[4] : nil))
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            let input = RoutingInput(version: form.version.flatMap(Int.init) ?? 0, operations: ops)
            let more = input.validate()
            if !more.isEmpty { throw Problem.validation(more) }
            _ = try await RoutingService.replace(p, itemID: id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/items/\(id)?ok=saved") }
        return try await render(req, item: item, values: Self.values(item), problem: nil,
                                bom: BOMSection(routingText: form.operations ?? "", routingProblem: problem))
    }
}
