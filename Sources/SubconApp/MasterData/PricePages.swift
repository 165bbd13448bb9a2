import Fluent
import Foundation
import SubconDomain
import Vapor

/// Price agreement pages: a filtered list (suppliers see their own, read-only), a form to add
/// one, and a page to change or end one.
struct PricePages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let prices = routes.grouped("prices")
        prices.get(use: list)
        prices.get("new", use: newForm)
        prices.post(use: create)
        prices.get(":id", use: show)
        prices.post(":id", use: update)
    }


    /// One agreement as the pages show it: names instead of ids, and whether it is in force today.
    struct Row: Encodable {
        let id: UUID; let supplierCode: String; let supplierName: String; let itemId: UUID; let itemCode: String; let itemName: String
        let operation: String?; let currency: String; let validFrom: String; let validTo: String?; let unitPrice: String
        let tiers: String; let state: String; let version: Int
        let latePenaltyPerDay: String?; let latePenaltyCap: String?
    }

    static func rows(_ dtos: [PriceAgreementDTO], today: Day, on db: any Database) async throws -> [Row] {
        let orgs = Dictionary(uniqueKeysWithValues: try await Organization.query(on: db).filter(\.$id ~~ Set(dtos.map(\.supplierId))).all().map { ($0.id!, $0) })
        let items = Dictionary(uniqueKeysWithValues: try await Item.query(on: db).filter(\.$id ~~ Set(dtos.map(\.itemId))).all().map { ($0.id!, $0) })
        return dtos.map { a in
            let from = Day(a.validFrom)!, to = a.validTo.flatMap(Day.init)
            let state = today < from ? "future" : (to.map { $0 < today } ?? false) ? "ended" : "inForce"
            return Row(id: a.id, supplierCode: orgs[a.supplierId]?.code ?? "", supplierName: orgs[a.supplierId]?.name ?? "",
                       itemId: a.itemId, itemCode: items[a.itemId]?.code ?? "", itemName: items[a.itemId]?.name ?? "",
                       operation: a.operation, currency: a.currency, validFrom: a.validFrom, validTo: a.validTo,
                       unitPrice: a.unitPrice.description,
                       tiers: PriceImport.tiersText(a.tiers.map { .init(minimumQuantity: $0.minimumQuantity, unitPrice: $0.unitPrice) }),
                       state: state, version: a.version, latePenaltyPerDay: a.latePenaltyPerDay?.description,
                       latePenaltyCap: a.latePenaltyCap?.description)
        }
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        var filter = try PricesAPI.filter(req)
        let today = BOMsAPI.today(req)
        let current = try req.boolQuery("current") ?? false
        if current { filter.validOn = today }
        // A thousand suppliers in the drop-down (each decoded as a model, then looped over by
        // Leaf) were 32 ms of a 33 ms page: beyond 300 the supplier is asked for by code.
        let supplier = try await SupplierFilter.read(p, req: req, allLabel: req.t("prices.allSuppliers"))
        if !p.isSupplier { filter.supplierID = supplier.supplierID }
        let page = try await PriceService.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50), on: req.db)
        let rows = try await Self.rows(page.items, today: today, on: req.db)
        let pager = Pager(page, req), q = filter.search ?? "", canEdit = p.can(.managePrices)
        // Written in Swift, as the other list pages.
        return try await req.renderPage(titleKey: "prices.title") { t in
            let search = t("action.search"), supplierLabel = t("prices.supplier"), item = t("prices.item"), operation = t("prices.operation")
            let unitPrice = t("prices.unitPrice"), tiers = t("prices.tiers"), validity = t("prices.validity"), status = t("field.status")
            let wholeItem = t("prices.wholeItem"), openEnded = t("bom.openEnded")
            var html: HTML = """
                <section class="card">
                  <form method="get" action="/prices" class="form row">
                    <label class="grow">\(search)<input type="search" name="q" value="\(q)" placeholder="\(t("prices.searchHint"))"></label>
                    \(supplier.field(&t))
                    <label class="check"><input type="checkbox" name="current" value="true"\(HTML.when(current, " checked"))> \(t("prices.currentOnly"))</label>
                    <button type="submit">\(search)</button>
                    \(HTML.when(canEdit, "<a class=\"button primary\" href=\"/prices/new\">\(t("prices.new"))</a>"))
                  </form>
                  \(supplier.message(&t))

                """
            if rows.isEmpty {
                html += "<p class=\"muted\">\(t("list.empty"))</p>"
            } else {
                var body = HTML()
                for r in rows {
                    body += """
                        <tr><td data-label="\(supplierLabel)"><a class="nowrap" href="/prices/\(r.id)">\(r.supplierCode)</a> <span class="muted">\(r.supplierName)</span></td>
                        <td data-label="\(item)"><span class="nowrap">\(r.itemCode)</span> <span class="muted">\(r.itemName)</span></td>
                        <td data-label="\(operation)">\(r.operation.map { "\($0)" as HTML } ?? "<span class=\"muted\">\(wholeItem)</span>")</td>
                        <td data-label="\(unitPrice)" class="num nowrap">\(r.unitPrice) \(r.currency)</td>
                        <td data-label="\(tiers)">\(r.tiers)</td>
                        <td data-label="\(validity)"><span class="nowrap">\(r.validFrom) —</span> <span class="nowrap">\(r.validTo ?? openEnded)</span></td>
                        <td data-label="\(status)"><span class="tag price-\(r.state)">\(t("prices.state." + r.state))</span></td></tr>

                        """
                }
                html += .listTable(head: """
                    <th>\(supplierLabel)</th><th>\(item)</th><th>\(operation)</th><th class="num">\(unitPrice)</th><th>\(tiers)</th><th>\(validity)</th><th>\(status)</th>
                    """, rows: body)
            }
            html += pager.html(&t)
            html += "</section>\n"
            return html
        }
    }

    struct FormView: Encodable {
        let agreement: Row?
        let values: [String: String]
        /// The supplier field of the form for a new agreement (an agreement's supplier stays).
        let supplier: HTML
        let errors: FormErrors
        let canEdit: Bool
        let today: String
    }

    func render(_ req: Request, agreement: Row?, values: [String: String], problem: Problem?) async throws -> Response {
        let p = try req.requirePrincipal()
        let view = FormView(agreement: agreement, values: values,
                            supplier: agreement == nil && p.can(.managePrices) ? try await SupplierChoice.read(values: values, req: req).markup(req) : HTML(),
                            errors: req.formErrors(problem), canEdit: p.can(.managePrices), today: BOMsAPI.today(req).description)
        let title = agreement.map { "\($0.supplierCode) · \($0.itemCode)\($0.operation.map { " · " + $0 } ?? "")" }
        return try await req.renderForm("price_form", titleKey: agreement == nil ? "prices.new" : "prices.agreement",
                                        titleParams: ["name": title ?? ""], view, problem: problem)
    }

    func newForm(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.managePrices)
        var values = ["currency": "CNY", "validFrom": BOMsAPI.today(req).description]
        if let item = req.queryText("item") { values["itemCode"] = item }
        return try await render(req, agreement: nil, values: values, problem: nil)
    }

    struct PriceForm: Content {
        var supplierId: String?; var supplierCode: String?; var itemCode: String?; var operation: String?; var currency: String?
        var validFrom: String?; var validTo: String?; var unitPrice: String?; var tiers: String?; var version: String?
        var latePenaltyPerDay: String?; var latePenaltyCap: String?
        var values: [String: String] {
            ["supplierId": supplierId ?? "", "supplierCode": supplierCode ?? "", "itemCode": itemCode ?? "", "operation": operation ?? "", "currency": currency ?? "",
             "validFrom": validFrom ?? "", "validTo": validTo ?? "", "unitPrice": unitPrice ?? "", "tiers": tiers ?? "", "version": version ?? "",
             "latePenaltyPerDay": latePenaltyPerDay ?? "", "latePenaltyCap": latePenaltyCap ?? ""]
        }

        /// The late-delivery penalty fields: empty is none (0 clears a stored one).
        func penalty() -> (perDay: FixedDecimal?, cap: FixedDecimal?, problems: [FieldProblem]) {
            var problems: [FieldProblem] = []
            func read(_ text: String?, _ field: String) -> FixedDecimal? {
                let t = (text ?? "").trimmingCharacters(in: .whitespaces)
                guard !t.isEmpty else { return nil }
                guard let d = try? FixedDecimal.parse(t), d >= .zero else { problems.append(FieldProblem(field, "nonNegativeDecimal")); return nil }
                return d
            }
            let perDay = read(latePenaltyPerDay, "latePenaltyPerDay"), cap = read(latePenaltyCap, "latePenaltyCap")
            return (perDay, cap, problems + LatePenalty.check(perDay, cap))
        }

        /// The form's text fields as typed values, every problem collected at once.
        func parsed() -> (validFrom: Day?, validTo: Day?, unitPrice: FixedDecimal?, tiers: [PriceAgreementDTO.Tier], problems: [FieldProblem]) {
            var problems: [FieldProblem] = []
            let from = Day((validFrom ?? "").trimmingCharacters(in: .whitespaces))
            if from == nil { problems.append(FieldProblem("validFrom", (validFrom ?? "").isEmpty ? "required" : "badDate")) }
            var to: Day?
            if let text = validTo?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                to = Day(text)
                if to == nil { problems.append(FieldProblem("validTo", "badDate")) }
            }
            let price = try? FixedDecimal.parse((unitPrice ?? "").trimmingCharacters(in: .whitespaces))
            if price == nil { problems.append(FieldProblem("unitPrice", (unitPrice ?? "").isEmpty ? "required" : "nonNegativeDecimal")) }
            let tiers = PriceImport.tiers(tiers ?? "")
            if tiers == nil { problems.append(FieldProblem("tiers", "badTiers")) }
            return (from, to, price, (tiers ?? []).map { .init(minimumQuantity: $0.minimumQuantity, unitPrice: $0.unitPrice) }, problems)
        }
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.managePrices)
        let form = try req.content.decode(PriceForm.self)
        var created: PriceAgreementRow?
        let problem = try await attempt {
            var (from, to, price, tiers, problems) = form.parsed()
            var supplierID: UUID?
            do { supplierID = try await SupplierChoice.chosen(id: form.supplierId, code: form.supplierCode, req: req) } catch let problem as Problem {
                problems += problem.fields
            }
            let code = (form.itemCode ?? "").trimmingCharacters(in: .whitespaces)
            let item = code.isEmpty ? nil : try await Item.query(on: req.db).filter(\.$code == code).first()
            if item == nil { problems.append(FieldProblem("itemCode", code.isEmpty ? "required" : "unknownItem", ["code": code])) }
            let operation = (form.operation ?? "").trimmingCharacters(in: .whitespaces)
            let penalty = form.penalty()
            problems += penalty.problems
            guard problems.isEmpty, let from, let price, let item, let supplierID else { throw Problem.validation(problems) }
            let input = PriceAgreementInput(supplierId: supplierID, itemId: item.id!, operation: operation.isEmpty ? nil : operation,
                                            currency: form.currency?.trimmingCharacters(in: .whitespaces), validFrom: from, validTo: to,
                                            unitPrice: price, tiers: tiers, latePenaltyPerDay: penalty.perDay, latePenaltyCap: penalty.cap)
            let inputProblems = input.validate()
            if !inputProblems.isEmpty { throw Problem.validation(inputProblems) }
            created = try await PriceService.create(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/prices/\(created.id!)?ok=created") }
        return try await render(req, agreement: nil, values: form.values, problem: problem)
    }

    func load(_ req: Request) async throws -> Row {
        let p = try req.requirePrincipal()
        let row = try await p.scope.find(PriceAgreementRow.self, try req.idParameter(), on: req.db)
        return try await Self.rows([PriceAgreementDTO(row)], today: BOMsAPI.today(req), on: req.db)[0]
    }

    static func values(_ r: Row) -> [String: String] {
        ["validTo": r.validTo ?? "", "unitPrice": r.unitPrice, "tiers": r.tiers, "version": String(r.version),
         "latePenaltyPerDay": r.latePenaltyPerDay ?? "", "latePenaltyCap": r.latePenaltyCap ?? ""]
    }

    func show(req: Request) async throws -> Response {
        let row = try await load(req)
        return try await render(req, agreement: row, values: Self.values(row), problem: nil)
    }

    /// Saves the changeable terms; "end today" sets the last valid day, which is how an
    /// agreement is retired (it stays on record for the orders that used it).
    func update(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let existing = try await load(req)
        try p.require(.managePrices)
        struct EndForm: Content { var end: String? }
        let form = try req.content.decode(PriceForm.self)
        let ending = (try? req.content.decode(EndForm.self))?.end == "today"
        let problem = try await attempt {
            guard let version = Int(form.version ?? "") else { throw Problem.validation([FieldProblem("version", "required")]) }
            if ending {
                _ = try await PriceService.update(p, existing.id, PriceAgreementPatchInput(version: version, validTo: BOMsAPI.today(req)), app: req.application)
                return
            }
            let (_, to, price, tiers, problems) = form.parsed()
            let penalty = form.penalty()
            let relevant = problems.filter { $0.field != "validFrom" } + penalty.problems
            if !relevant.isEmpty { throw Problem.validation(relevant) }
            _ = try await PriceService.update(p, existing.id, PriceAgreementPatchInput(version: version, validTo: to, unitPrice: price, tiers: tiers,
                                                                                       latePenaltyPerDay: penalty.perDay ?? .zero, latePenaltyCap: penalty.cap ?? .zero),
                                              app: req.application)
        }
        if problem == nil { return req.redirect(to: "/prices/\(existing.id)?ok=saved") }
        if problem?.status == .conflict {
            // Stale: show what is stored now, with the message, so nothing is silently overwritten.
            let fresh = try await load(req)
            return try await render(req, agreement: fresh, values: Self.values(fresh), problem: problem)
        }
        return try await render(req, agreement: existing, values: form.values, problem: problem)
    }
}
