import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Quality's decision on who answers for a reject (工废 / 料废): an inspection's rejected pieces
/// or material the supplier reported scrapped. A reject without a row is undetermined. The
/// decision's effects (`RejectResponsibility.settle`) are kept with it, per material, so the
/// write-off and the statement sum them in the database.
struct CreateRejectDecisions: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("reject_decisions")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            // inspection | scrap
            .field("source_type", .string, .required)
            .field("source_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("quantity", .int64, .required)
            .field("unit_price", .int64, .required)
            .field("responsibility", .string, .required)
            .field("reason", .string, .required)
            .field("fee", .int64, .required)
            .field("charge", .int64, .required)
            .field("occurred_at", .datetime, .required)
            .field("decided_by", .uuid, .required)
            .field("decided_at", .datetime, .required)
            .field("version", .int, .required)
            .unique(on: "source_type", "source_id")
            .create()
        try await createIndex(db, "reject_decisions_supplier_idx", on: "reject_decisions", "supplier_id", "occurred_at")
        try await db.schema("reject_materials")
            .id()
            .field("decision_id", .uuid, .required, .references("reject_decisions", "id"))
            .field("supplier_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("quantity", .int64, .required)
            .field("allowed_loss", .int64, .required)
            .field("charged", .int64, .required)
            .field("occurred_at", .datetime, .required)
            .create()
        try await createIndex(db, "reject_materials_decision_idx", on: "reject_materials", "decision_id")
        try await createIndex(db, "reject_materials_time_idx", on: "reject_materials", "occurred_at", "supplier_id", "item_id")
    }

    func revert(on db: any Database) async throws {
        try await db.schema("reject_materials").delete()
        try await db.schema("reject_decisions").delete()
    }
}

struct RejectInput: StrictInput {
    static let fields: Set<String> = ["responsibility", "reason", "version"]
    var responsibility: String
    var reason: String?
    /// The decision's version when changing one (absent for the first decision).
    var version: Int?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if RejectResponsibility(rawValue: responsibility) == nil {
            p.append(FieldProblem("responsibility", "notOneOf", ["allowed": RejectResponsibility.allCases.map(\.rawValue).joined(separator: ", ")]))
        }
        Check.text(reason, "reason", required: false, max: 500, into: &p)
        return p
    }
}

struct RejectDTO: Content {
    /// inspection | scrap
    let sourceType: String
    let sourceId: UUID
    /// The inspection's or the scrap document's code.
    let reference: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let itemId: UUID
    let itemCode: String
    let itemName: String
    let unit: String
    let quantity: FixedDecimal
    let occurredAt: Date
    /// supplier (工废), material (料废), undetermined.
    let responsibility: String
    let reason: String
    /// 料废: the processing fee paid; 工废: the material charged at cost.
    let fee: FixedDecimal
    let charge: FixedDecimal
    /// The decision's version (0: not decided yet).
    let version: Int
    /// Taken by a statement: the decision no longer changes.
    let settled: Bool
    /// The exception where the supplier may dispute it (an inspection's).
    let exceptionId: UUID?
}

enum RejectService {
    static let sourceTypes = ["inspection", "scrap"]

    struct Filter { var supplierID: UUID?; var responsibility: String? }

    struct Row: Decodable {
        let source_type: String; let source_id: UUID; let reference: String; let supplier_id: UUID; let supplier_code: String; let supplier_name: String
        let item_id: UUID; let item_code: String; let item_name: String; let unit: String; let quantity: Int64; let occurred_at: Date
        let responsibility: String?; let reason: String?; let fee: Int64?; let charge: Int64?; let version: Int?; let settled: Int?; let exception_id: UUID?

        var dto: RejectDTO {
            RejectDTO(sourceType: source_type, sourceId: source_id, reference: reference, supplierId: supplier_id, supplierCode: supplier_code,
                      supplierName: supplier_name, itemId: item_id, itemCode: item_code, itemName: item_name, unit: unit,
                      quantity: FixedDecimal(units: quantity), occurredAt: occurred_at, responsibility: responsibility ?? RejectResponsibility.undetermined.rawValue,
                      reason: reason ?? "", fee: FixedDecimal(units: fee ?? 0), charge: FixedDecimal(units: charge ?? 0), version: version ?? 0,
                      settled: (settled ?? 0) > 0, exceptionId: exception_id)
        }
    }

    /// Every reject of one kind as one SELECT (its decision, if any, joined), so the list is one
    /// statement over both kinds.
    static func rejects(where scope: SQLQueryString) -> SQLQueryString {
        let decided: SQLQueryString = """
            d.responsibility, d.reason, d.fee, d.charge, d.version,
            (SELECT COUNT(*) FROM statement_claims c WHERE c.source_type = 'reject' AND c.source_id = d.id) AS settled
            """
        return """
            SELECT * FROM (
              SELECT 'inspection' AS source_type, i.id AS source_id, i.code AS reference, i.supplier_id, o.code AS supplier_code, o.name AS supplier_name,
                     i.item_id, it.code AS item_code, it.name AS item_name, it.uom AS unit, i.rejected_quantity AS quantity, i.created_at AS occurred_at,
            """ + decided + """
                   , i.exception_id
              FROM inspections i JOIN organizations o ON o.id = i.supplier_id JOIN items it ON it.id = i.item_id
              LEFT JOIN reject_decisions d ON d.source_type = 'inspection' AND d.source_id = i.id
              WHERE i.rejected_quantity > 0
              UNION ALL
              SELECT 'scrap', m.id, COALESCE(md.code, ''), m.supplier_id, o.code, o.name, m.item_id, it.code, it.name, it.uom, m.quantity, m.created_at,
            """ + decided + """
                   , NULL
              FROM material_movements m JOIN organizations o ON o.id = m.supplier_id JOIN items it ON it.id = m.item_id
              LEFT JOIN material_documents md ON md.id = m.document_id
              LEFT JOIN reject_decisions d ON d.source_type = 'scrap' AND d.source_id = m.id
              WHERE m.kind = 'scrapped'
            ) r WHERE 1 = 1
            """ + scope
    }

    static func scope(_ p: Principal, _ filter: Filter) -> SQLQueryString {
        var q: SQLQueryString = ""
        if let s = p.scope.supplierID ?? filter.supplierID { q = q + " AND r.supplier_id = \(bind: s)" }
        if let r = filter.responsibility {
            q = q + (r == RejectResponsibility.undetermined.rawValue ? " AND (r.responsibility IS NULL OR r.responsibility = 'undetermined')"
                                                                     : " AND r.responsibility = \(bind: r)")
        }
        return q
    }

    static func list(_ p: Principal, filter: Filter, page: PageRequest, on db: any Database) async throws -> Page<RejectDTO> {
        try p.require(.viewQualityFigures)
        if let r = filter.responsibility, RejectResponsibility(rawValue: r) == nil {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("responsibility", "notOneOf", ["allowed": "supplier, material, undetermined"])])
        }
        let sql = db as! any SQLDatabase
        struct N: Decodable { let n: Int }
        let all = rejects(where: scope(p, filter))
        let total = try await sql.raw("SELECT COUNT(*) AS n FROM (" + all + ") x").first(decoding: N.self)?.n ?? 0
        let rows = try await sql.raw(all + " ORDER BY r.occurred_at DESC, r.source_id LIMIT \(literal: page.per) OFFSET \(literal: page.offset)")
            .all(decoding: Row.self)
        return Page(items: rows.map(\.dto), page: page.page, per: page.per, total: total)
    }

    /// The record the path names, if the caller may see it (another supplier's is a 404).
    static func locate(_ p: Principal, type: String, id: UUID, on db: any Database) async throws {
        switch type {
        case "inspection": _ = try await p.scope.find(Inspection.self, id, on: db)
        case "scrap": _ = try await p.scope.find(MaterialMovement.self, id, on: db)
        default: throw Problem.notFound
        }
    }

    /// The record first, then the permission, then whether it holds a reject at all.
    static func one(_ p: Principal, type: String, id: UUID, on db: any Database) async throws -> Row {
        try await locate(p, type: type, id: id, on: db)
        try p.require(.viewQualityFigures)
        let filter: SQLQueryString = " AND r.source_type = \(bind: type) AND r.source_id = \(bind: id)" + scope(p, Filter())
        guard let row = try await (db as! any SQLDatabase).raw(rejects(where: filter)).first(decoding: Row.self) else {
            // An inspection with nothing rejected, a movement that is not scrap: nothing to decide.
            throw Problem.conflict("problem.reject.nothingRejected")
        }
        return row
    }

    /// The materials in one rejected piece and their cost: for an inspection, the order line's
    /// requirements the manufacturer supplies; for scrapped material, the material itself.
    static func materials(type: String, id: UUID, row: Row, on db: any Database) async throws -> (unitPrice: FixedDecimal, materials: [(UUID, RejectResponsibility.Material)]) {
        let sql = db as! any SQLDatabase
        struct M: Decodable { let item_id: UUID; let code: String; let quantity_per: Int64; let cost_price: Int64 }
        if type == "scrap" {
            // Scrapped material is its own piece: one of itself, no fee.
            struct C: Decodable { let code: String; let cost_price: Int64 }
            let c = try await sql.raw("SELECT code, COALESCE(cost_price, 0) AS cost_price FROM items WHERE id = \(bind: row.item_id)").all(decoding: C.self)
            return (.zero, c.map { (row.item_id, .init(item: $0.code, quantityPer: FixedDecimal(1), costPrice: FixedDecimal(units: $0.cost_price))) })
        }
        struct P: Decodable { let unit_price: Int64 }
        let price = try await sql.raw("""
            SELECT l.unit_price FROM inspections i JOIN receipt_lines rl ON rl.id = i.receipt_line_id
            JOIN order_lines l ON l.order_id = rl.order_id AND l.line_no = rl.order_line_no WHERE i.id = \(bind: id)
            """).first(decoding: P.self)?.unit_price ?? 0
        let m = try await sql.raw("""
            SELECT q.component_id AS item_id, it.code, q.quantity_per, COALESCE(it.cost_price, 0) AS cost_price
            FROM inspections i JOIN receipt_lines rl ON rl.id = i.receipt_line_id
            JOIN order_requirements q ON q.order_id = rl.order_id AND q.line_no = rl.order_line_no
            JOIN items it ON it.id = q.component_id
            WHERE i.id = \(bind: id) AND q.supply_by <> 'supplier' ORDER BY it.code
            """).all(decoding: M.self)
        return (FixedDecimal(units: price), m.map { ($0.item_id, .init(item: $0.code, quantityPer: FixedDecimal(units: $0.quantity_per), costPrice: FixedDecimal(units: $0.cost_price))) })
    }

    static func decide(_ p: Principal, type: String, id: UUID, _ input: RejectInput, app: Application) async throws -> RejectDTO {
        let row = try await one(p, type: type, id: id, on: app.db)
        try p.require(.judgeRejects)
        let responsibility = RejectResponsibility(rawValue: input.responsibility) ?? .undetermined
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        do { try RejectResponsibility.check(responsibility, reason: reason) } catch { throw Problem.validation([FieldProblem("reason", "required")]) }
        if (row.settled ?? 0) > 0 { throw Problem.conflict("problem.reject.settled") }
        if let v = row.version, v != (input.version ?? 0) { throw Problem.staleVersion(current: v) }
        if row.version == nil, let v = input.version, v != 0 { throw Problem.staleVersion(current: 0) }
        let (unitPrice, materials) = try await materials(type: type, id: id, row: row, on: app.db)
        let effects: RejectResponsibility.Effects
        do {
            effects = try responsibility.settle(quantity: FixedDecimal(units: row.quantity), unitPrice: unitPrice, materials: materials.map(\.1))
        } catch { throw Problem.validation([FieldProblem("responsibility", "tooLarge")]) }
        let charge = effects.materials.reduce(Int64(0)) { $0 + $1.charge.units }
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            let decisionID: UUID
            let before: [String: String?] = ["responsibility": row.responsibility ?? "undetermined", "reason": row.reason ?? ""]
            if let v = row.version {
                struct D: Decodable { let id: UUID }
                decisionID = try await sql.raw("SELECT id FROM reject_decisions WHERE source_type = \(bind: type) AND source_id = \(bind: id)").first(decoding: D.self)!.id
                try await change.updateVersioned("reject_decisions", id: decisionID, expected: v, sets: [
                    "responsibility": responsibility.rawValue, "reason": reason, "fee": effects.processingFee.units, "charge": charge,
                    "unit_price": unitPrice.units, "decided_by": p.userID, "decided_at": change.now])
                try await sql.delete(from: "reject_materials").where("decision_id", .equal, decisionID).run()
            } else {
                decisionID = UUID()
                do {
                    try await sql.insert(into: "reject_decisions")
                        .columns("id", "supplier_id", "source_type", "source_id", "item_id", "quantity", "unit_price", "responsibility", "reason", "fee", "charge",
                                 "occurred_at", "decided_by", "decided_at", "version")
                        .values(SQLBind(decisionID), SQLBind(row.supplier_id), SQLBind(type), SQLBind(id), SQLBind(row.item_id), SQLBind(row.quantity),
                                SQLBind(unitPrice.units), SQLBind(responsibility.rawValue), SQLBind(reason), SQLBind(effects.processingFee.units), SQLBind(charge),
                                SQLBind(row.occurred_at), SQLBind(p.userID), SQLBind(change.now), SQLBind(1))
                        .run()
                } catch let e as any DatabaseError where e.isConstraintFailure {
                    throw Problem.staleVersion(current: 1)
                }
            }
            for (m, e) in zip(materials.map(\.0), effects.materials) {
                try await sql.insert(into: "reject_materials").columns("id", "decision_id", "supplier_id", "item_id", "quantity", "allowed_loss", "charged", "occurred_at")
                    .values(SQLBind(UUID()), SQLBind(decisionID), SQLBind(row.supplier_id), SQLBind(m), SQLBind(e.quantity.units), SQLBind(e.allowedLoss.units),
                            SQLBind(e.charged.units), SQLBind(row.occurred_at)).run()
            }
            try await change.audit("reject_decision", decisionID, row.version == nil ? "create" : "update", before: before, after: [
                "source": "\(type) \(row.reference)", "responsibility": responsibility.rawValue, "reason": reason,
                "fee": effects.processingFee.description, "charge": FixedDecimal(units: charge).description])
            let people = try await User.query(on: change.db).filter(\.$organization.$id == row.supplier_id).filter(\.$active == true).all()
                .filter { Policy.allows($0.roles, .viewQualityFigures) }.map { $0.id! }
            try await change.notify("reject.decided", recipients: people, messageKey: "notice.rejectDecided.\(responsibility.rawValue)",
                                    params: ["reference": row.reference, "quantity": FixedDecimal(units: row.quantity).grouped, "item": row.item_name,
                                             "reason": reason], link: "/rejects")
        }
        return try await one(p, type: type, id: id, on: app.db).dto
    }
}

/// Rejects over the API: the list (both sides), and quality's decision on one.
struct RejectAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("rejects", use: list)
        routes.put("inspections", ":id", "responsibility") { req in try await Self.decide(req, type: "inspection") }
        routes.put("material", "movements", ":id", "responsibility") { req in try await Self.decide(req, type: "scrap") }
    }

    static func filter(_ req: Request) throws -> RejectService.Filter {
        RejectService.Filter(supplierID: try req.uuidQuery("supplierId"),
                             responsibility: req.query[String.self, at: "responsibility"].flatMap { $0.isEmpty ? nil : $0 })
    }

    func list(req: Request) async throws -> Page<RejectDTO> {
        try await RejectService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), on: req.db)
    }

    static func decide(_ req: Request, type: String) async throws -> RejectDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        try await RejectService.locate(p, type: type, id: id, on: req.db)
        try p.require(.judgeRejects)
        return try await RejectService.decide(p, type: type, id: id, try req.decodeStrict(RejectInput.self), app: req.application)
    }
}

/// The rejects page: quality decides each (a choice and a reason), the supplier reads the
/// decision and its money, and disputes it in the inspection's exception.
struct RejectPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("rejects", use: list)
        routes.post("inspections", ":id", "responsibility") { req in try await self.decide(req, type: "inspection") }
        routes.post("material", "movements", ":id", "responsibility") { req in try await self.decide(req, type: "scrap") }
    }

    struct ListView: Encodable {
        let rows: [RejectDTO]
        let pager: Pager
        let filters: [Option]
        let canJudge: Bool
        let errors: FormErrors
        /// The row whose form had the problem, and what was typed there.
        let form: String
        let values: [String: String]
    }

    func render(_ req: Request, problem: Problem?, form: String = "", values: [String: String] = [:]) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.viewQualityFigures)
        let filter = try RejectAPI.filter(req)
        let page = try await RejectService.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50), on: req.db)
        let chosen = filter.responsibility ?? ""
        let filters = [Option(value: "", label: req.t("reject.all"), selected: chosen.isEmpty)]
            + RejectResponsibility.allCases.map { Option(value: $0.rawValue, label: req.t("reject.responsibility.\($0.rawValue)"), selected: chosen == $0.rawValue) }
        return try await req.renderForm("rejects", titleKey: "reject.title", ListView(
            rows: page.items, pager: Pager(page, req), filters: filters, canJudge: p.can(.judgeRejects),
            errors: req.formErrors(problem), form: form, values: values), problem: problem)
    }

    func list(req: Request) async throws -> Response { try await render(req, problem: nil) }

    struct DecideForm: Content { var responsibility: String?; var reason: String?; var version: String? }

    func decide(_ req: Request, type: String) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        try await RejectService.locate(p, type: type, id: id, on: req.db)
        try p.require(.judgeRejects)
        let f = try req.content.decode(DecideForm.self)
        let problem = try await attempt {
            let input = RejectInput(responsibility: f.responsibility ?? "", reason: f.reason, version: f.version.flatMap(Int.init))
            let checks = input.validate()
            if !checks.isEmpty { throw Problem.validation(checks) }
            _ = try await RejectService.decide(p, type: type, id: id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/rejects?ok=saved") }
        return try await render(req, problem: problem, form: id.uuidString, values: ["responsibility": f.responsibility ?? "", "reason": f.reason ?? ""])
    }
}
