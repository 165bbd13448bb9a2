import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Quality's decision on who answers for a reject (工废 / 料废): an inspection's rejected pieces,
/// material the supplier reported scrapped, pieces scrapped in process (a progress report's
/// scrap) or material short on arrival (a confirmation's discrepancy). A reject without a row is
/// undetermined. The decision's effects (`RejectResponsibility.settle`) are kept with it, per
/// material, so the write-off and the statement sum them in the database.
struct CreateRejectDecisions: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("reject_decisions")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            // RejectSource: inspection | scrap | process | discrepancy
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

/// The exception thread a decision is disputed in, when its reject has none of its own (scrap,
/// process scrap) or that one is closed; for a discrepancy, the discrepancy's exception.
///
/// Also the partial indexes the rejects list reads: rejects are a sliver of all inspections,
/// movements, progress reports and document lines, so the list reads only them, never the
/// millions around them; each index holds what `RejectService.keys` needs (who, when, which).
struct AddRejectDisputes: AsyncMigration {
    static let indexes: [(name: String, on: String)] = [
        ("inspections_rejects_idx", "inspections (supplier_id, created_at, id) WHERE rejected_quantity > 0"),
        ("material_movements_scrap_idx", "material_movements (supplier_id, created_at, id) WHERE kind = 'scrapped'"),
        ("progress_reports_scrap_idx", "progress_reports (supplier_id, created_at, id) WHERE scrap_quantity > 0"),
        ("material_document_lines_short_idx", "material_document_lines (document_id, confirmed_at, id) WHERE confirmed_quantity < quantity"),
    ]

    func prepare(on db: any Database) async throws {
        try await db.schema("reject_decisions").field("exception_id", .uuid).update()
        for i in Self.indexes { try await (db as! any SQLDatabase).raw("CREATE INDEX \(unsafeRaw: i.name) ON \(unsafeRaw: i.on)").run() }
    }

    func revert(on db: any Database) async throws {
        for i in Self.indexes { try await (db as! any SQLDatabase).raw("DROP INDEX \(unsafeRaw: i.name)").run() }
        try await db.schema("reject_decisions").deleteField("exception_id").update()
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

struct RejectDisputeInput: StrictInput {
    static let fields: Set<String> = ["reason"]
    var reason: String
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", required: true, max: 2000, into: &p)
        return p
    }
}

struct RejectDTO: Content {
    /// inspection (rejected in incoming inspection) | scrap (material reported scrapped) |
    /// process (pieces scrapped in a progress report) | discrepancy (material short on arrival).
    let sourceType: String
    /// The inspection, the scrap movement, the progress report or the material document line.
    let sourceId: UUID
    /// The inspection's or the material document's code, or the order and line.
    let reference: String
    /// Where the reject is recorded: the inspection, the material document or the order.
    let recordId: UUID?
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
    /// The exception thread where the supplier disputes it, once there is one.
    let exceptionId: UUID?
}

enum RejectService {
    struct Filter { var supplierID: UUID?; var responsibility: String? }

    struct Row: Decodable {
        let source_type: String; let source_id: UUID; let reference: String; let record_id: UUID?; let supplier_id: UUID; let supplier_code: String; let supplier_name: String
        let item_id: UUID; let item_code: String; let item_name: String; let unit: String; let quantity: Int64; let occurred_at: Date
        let decision_id: UUID?; let responsibility: String?; let reason: String?; let fee: Int64?; let charge: Int64?; let version: Int?; let settled: Int?
        let exception_id: UUID?

        var dto: RejectDTO {
            RejectDTO(sourceType: source_type, sourceId: source_id, reference: reference, recordId: record_id, supplierId: supplier_id, supplierCode: supplier_code,
                      supplierName: supplier_name, itemId: item_id, itemCode: item_code, itemName: item_name, unit: unit,
                      quantity: FixedDecimal(units: quantity), occurredAt: occurred_at, responsibility: responsibility ?? RejectResponsibility.undetermined.rawValue,
                      reason: reason ?? "", fee: FixedDecimal(units: fee ?? 0), charge: FixedDecimal(units: charge ?? 0), version: version ?? 0,
                      settled: (settled ?? 0) > 0, exceptionId: exception_id)
        }
    }

    /// One kind of reject in SQL (`x` is its record, `d` its decision): where it is, what makes
    /// a record a reject, and how its columns read. The list's keys and its whole rows are both
    /// built from these, so a kind is described once.
    struct Arm {
        let source: RejectSource
        let from: String
        /// Joins only the whole rows need (a code, the order line's item).
        var detail = ""
        let filter: String
        var id = "x.id", time = "x.created_at", supplier = "x.supplier_id", item = "x.item_id"
        let quantity: String, reference: String, record: String
        var exception = "d.exception_id"

        var decision: String { "LEFT JOIN reject_decisions d ON d.source_type = '\(source.rawValue)' AND d.source_id = \(id)" }

        var keys: String {
            "SELECT '\(source.rawValue)' AS source_type, \(id) AS source_id, \(time) AS occurred_at, \(supplier) AS supplier_id, d.responsibility "
                + "FROM \(from) \(decision) WHERE \(filter)"
        }

        var rows: String {
            """
            SELECT '\(source.rawValue)' AS source_type, \(id) AS source_id, \(reference) AS reference, \(record) AS record_id, \(supplier) AS supplier_id,
                   o.code AS supplier_code, o.name AS supplier_name, \(item) AS item_id, it.code AS item_code, it.name AS item_name, it.uom AS unit,
                   \(quantity) AS quantity, \(time) AS occurred_at, d.id AS decision_id, d.responsibility, d.reason, d.fee, d.charge, d.version,
                   (SELECT COUNT(*) FROM statement_claims c WHERE c.source_type = 'reject' AND c.source_id = d.id) AS settled, \(exception) AS exception_id
            FROM \(from) \(detail) JOIN organizations o ON o.id = \(supplier) JOIN items it ON it.id = \(item) \(decision)
            WHERE \(filter)
            """
        }
    }

    static let arms: [Arm] = [
        Arm(source: .inspection, from: "inspections x", filter: "x.rejected_quantity > 0",
            quantity: "x.rejected_quantity", reference: "x.code", record: "x.id", exception: "COALESCE(d.exception_id, x.exception_id)"),
        Arm(source: .scrap, from: "material_movements x", detail: "LEFT JOIN material_documents md ON md.id = x.document_id", filter: "x.kind = 'scrapped'",
            quantity: "x.quantity", reference: "COALESCE(md.code, '')", record: "md.id"),
        Arm(source: .process, from: "progress_reports x",
            detail: "JOIN outsourcing_orders po ON po.id = x.order_id JOIN order_lines l ON l.order_id = x.order_id AND l.line_no = x.line_no",
            filter: "x.scrap_quantity > 0", item: "l.item_id",
            quantity: "x.scrap_quantity", reference: "po.code || ' #' || CAST(x.line_no AS TEXT)", record: "po.id"),
        // From the few short lines to their documents, even for one supplier (SQLite keeps a
        // CROSS JOIN's order), not through every document of the supplier.
        Arm(source: .discrepancy, from: "material_document_lines x CROSS JOIN material_documents md",
            filter: "md.id = x.document_id AND x.confirmed_quantity < x.quantity", time: "x.confirmed_at", supplier: "md.supplier_id",
            quantity: "x.quantity - x.confirmed_quantity", reference: "md.code", record: "md.id"),
    ]

    /// Every reject as one statement over all kinds, with its decision if any (alias `r`).
    static func rejects(where scope: SQLQueryString) -> SQLQueryString {
        "SELECT * FROM (\(unsafeRaw: arms.map(\.rows).joined(separator: "\nUNION ALL\n"))) r WHERE 1 = 1" + scope
    }

    /// Every reject's kind, id, time, supplier and decided responsibility, from the partial
    /// indexes alone: what the list counts, orders and pages before reading whole rows for one
    /// page only. A FROM clause (alias `r`): the caller selects as little as it needs — SQLite
    /// pages `SELECT *` of it by walking every inspection in time order instead.
    static func keys(where scope: SQLQueryString) -> SQLQueryString {
        " FROM (\(unsafeRaw: arms.map(\.keys).joined(separator: "\nUNION ALL\n"))) r WHERE 1 = 1" + scope
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
        let scoped = scope(p, filter)
        let total = try await sql.raw("SELECT COUNT(*) AS n" + keys(where: scoped)).firstRow(decoding: N.self)?.n ?? 0
        // The page's keys first (index only), then whole rows for those alone.
        let order: SQLQueryString = " ORDER BY r.occurred_at DESC, r.source_id"
        let onPage: SQLQueryString = " AND r.source_id IN (SELECT k.source_id FROM (SELECT r.source_id" + keys(where: scoped) + order
            + " LIMIT \(literal: page.per) OFFSET \(literal: page.offset)) k)"
        let rows = try await sql.raw(rejects(where: scoped + onPage) + order).rows(decoding: Row.self)
        return Page(items: rows.map(\.dto), page: page.page, per: page.per, total: total)
    }

    /// The record the path names, if the caller may see it (another supplier's is a 404).
    static func locate(_ p: Principal, type: RejectSource, id: UUID, on db: any Database) async throws {
        switch type {
        case .inspection: _ = try await p.scope.find(Inspection.self, id, on: db)
        case .scrap: _ = try await p.scope.find(MaterialMovement.self, id, on: db)
        case .process: _ = try await p.scope.find(ProgressReport.self, id, on: db)
        case .discrepancy:
            guard let line = try await MaterialDocumentLine.find(id, on: db) else { throw Problem.notFound }
            guard let d = try await MaterialDocument.find(line.documentID, on: db) else { throw Problem.notFound }
            if let mine = p.scope.supplierID, d.supplierID != mine { throw Problem.notFound }
        }
    }

    /// The record first, then the permission, then whether it holds a reject at all.
    static func one(_ p: Principal, type: RejectSource, id: UUID, on db: any Database) async throws -> Row {
        try await locate(p, type: type, id: id, on: db)
        try p.require(.viewQualityFigures)
        let filter: SQLQueryString = " AND r.source_type = \(bind: type.rawValue) AND r.source_id = \(bind: id)" + scope(p, Filter())
        guard let row = try await (db as! any SQLDatabase).raw(rejects(where: filter)).firstRow(decoding: Row.self) else {
            // An inspection with nothing rejected, a movement that is not scrap: nothing to decide.
            throw Problem.conflict("problem.reject.nothingRejected")
        }
        return row
    }

    /// The materials in one rejected piece and their cost: for worked pieces, the order line's
    /// requirements the manufacturer supplies (and the line's price); for material, itself.
    static func materials(type: RejectSource, id: UUID, row: Row, on db: any Database) async throws -> (unitPrice: FixedDecimal, materials: [(UUID, RejectResponsibility.Material)]) {
        let sql = db as! any SQLDatabase
        struct M: Decodable { let item_id: UUID; let code: String; let quantity_per: Int64; let cost_price: Int64 }
        if !type.isWorkedPieces {
            struct C: Decodable { let code: String; let cost_price: Int64 }
            let c = try await sql.raw("SELECT code, COALESCE(cost_price, 0) AS cost_price FROM items WHERE id = \(bind: row.item_id)").rows(decoding: C.self)
            return (.zero, c.map { (row.item_id, .init(item: $0.code, quantityPer: FixedDecimal(1), costPrice: FixedDecimal(units: $0.cost_price))) })
        }
        // The order line the pieces belong to.
        let line: SQLQueryString = type == .process
            ? "SELECT order_id, line_no FROM progress_reports WHERE id = \(bind: id)"
            : "SELECT rl.order_id, rl.order_line_no AS line_no FROM inspections i JOIN receipt_lines rl ON rl.id = i.receipt_line_id WHERE i.id = \(bind: id)"
        struct L: Decodable { let order_id: UUID; let line_no: Int }
        guard let l = try await sql.raw(line).firstRow(decoding: L.self) else { return (.zero, []) }
        struct P: Decodable { let unit_price: Int64 }
        let price = try await sql.raw("SELECT unit_price FROM order_lines WHERE order_id = \(bind: l.order_id) AND line_no = \(bind: l.line_no)")
            .firstRow(decoding: P.self)?.unit_price ?? 0
        let m = try await sql.raw("""
            SELECT q.component_id AS item_id, it.code, q.quantity_per, COALESCE(it.cost_price, 0) AS cost_price
            FROM order_requirements q JOIN items it ON it.id = q.component_id
            WHERE q.order_id = \(bind: l.order_id) AND q.line_no = \(bind: l.line_no) AND q.supply_by <> 'supplier' ORDER BY it.code
            """).rows(decoding: M.self)
        return (FixedDecimal(units: price), m.map { ($0.item_id, .init(item: $0.code, quantityPer: FixedDecimal(units: $0.quantity_per), costPrice: FixedDecimal(units: $0.cost_price))) })
    }

    static func decide(_ p: Principal, type: RejectSource, id: UUID, _ input: RejectInput, app: Application) async throws -> RejectDTO {
        let row = try await one(p, type: type, id: id, on: app.database)
        try p.require(.judgeRejects)
        let responsibility = RejectResponsibility(rawValue: input.responsibility) ?? .undetermined
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        do { try RejectResponsibility.check(responsibility, reason: reason) } catch { throw Problem.validation([FieldProblem("reason", "required")]) }
        if (row.settled ?? 0) > 0 { throw Problem.conflict("problem.reject.settled") }
        if let v = row.version, v != (input.version ?? 0) { throw Problem.staleVersion(current: v) }
        if row.version == nil, let v = input.version, v != 0 { throw Problem.staleVersion(current: 0) }
        let (unitPrice, materials) = try await materials(type: type, id: id, row: row, on: app.database)
        let effects: RejectResponsibility.Effects
        do {
            effects = try responsibility.settle(type, quantity: FixedDecimal(units: row.quantity), unitPrice: unitPrice, materials: materials.map(\.1))
        } catch { throw Problem.validation([FieldProblem("responsibility", "tooLarge")]) }
        let charge = effects.materials.reduce(Int64(0)) { $0 + $1.charge.units }
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            let decisionID: UUID
            let before: [String: String?] = ["responsibility": row.responsibility ?? "undetermined", "reason": row.reason ?? ""]
            var thread: String?
            if let v = row.version, let existing = row.decision_id {
                decisionID = existing
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
                        .values(SQLBind(decisionID), SQLBind(row.supplier_id), SQLBind(type.rawValue), SQLBind(id), SQLBind(row.item_id), SQLBind(row.quantity),
                                SQLBind(unitPrice.units), SQLBind(responsibility.rawValue), SQLBind(reason), SQLBind(effects.processingFee.units), SQLBind(charge),
                                SQLBind(row.occurred_at), SQLBind(p.userID), SQLBind(change.now), SQLBind(1))
                        .run()
                } catch let e as any DatabaseError where e.isConstraintFailure {
                    throw Problem.staleVersion(current: 1)
                }
                // A discrepancy is already argued in its own exception; disputes go there.
                if type == .discrepancy, let document = row.record_id,
                   let discrepancy = try await ExceptionCase.query(on: change.db).filter(\.$type == "material_discrepancy")
                       .filter(\.$source == "material_document").filter(\.$sourceID == document.uuidString).first() {
                    thread = discrepancy.code
                    try await sql.update("reject_decisions").set("exception_id", to: SQLBind(discrepancy.id!)).where("id", .equal, SQLBind(decisionID)).run()
                }
            }
            for (m, e) in zip(materials.map(\.0), effects.materials) {
                try await sql.insert(into: "reject_materials").columns("id", "decision_id", "supplier_id", "item_id", "quantity", "allowed_loss", "charged", "occurred_at")
                    .values(SQLBind(UUID()), SQLBind(decisionID), SQLBind(row.supplier_id), SQLBind(m), SQLBind(e.quantity.units), SQLBind(e.allowedLoss.units),
                            SQLBind(e.charged.units), SQLBind(row.occurred_at)).run()
            }
            try await change.audit("reject_decision", decisionID, row.version == nil ? "create" : "update", before: before, after: [
                "source": row.reference, "source_type": type.rawValue, "responsibility": responsibility.rawValue, "reason": reason,
                "fee": effects.processingFee.description, "charge": FixedDecimal(units: charge).description, "exception": thread])
            let people = try await OrderService.supplierUsers(row.supplier_id, allowed: .viewQualityFigures, on: change.db)
            try await change.notify("reject.decided", recipients: people, messageKey: "notice.rejectDecided.\(responsibility.rawValue)",
                                    params: ["reference": row.reference, "quantity": FixedDecimal(units: row.quantity).grouped, "item": row.item_name,
                                             "reason": reason], link: "/rejects")
        }
        return try await one(p, type: type, id: id, on: app.database).dto
    }
}

extension RejectService {
    /// The supplier disputes a decision: its reason goes into the reject's exception thread (the
    /// inspection's or the discrepancy's), or into a new one when the reject has none or that one
    /// is closed. Quality is told; the decision stands until quality changes it.
    static func dispute(_ p: Principal, type: RejectSource, id: UUID, _ input: RejectDisputeInput, app: Application) async throws -> RejectDTO {
        let row = try await one(p, type: type, id: id, on: app.database)
        try requireDisputer(p)
        guard let decisionID = row.decision_id, let decided = row.responsibility, decided != RejectResponsibility.undetermined.rawValue else {
            throw Problem.conflict("problem.reject.notDecided")
        }
        let reason = input.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            var thread = try await row.exception_id.asyncMap { try await ExceptionCase.find($0, on: change.db) } ?? nil
            if thread?.status != "open" {
                let words = ExceptionWords(title: "exceptionWords.rejectDispute.title", description: "exceptionWords.rejectDispute.\(decided)",
                                           params: ["reference": row.reference, "item": "\(row.item_name) \(row.item_code)",
                                                    "quantity": "\(FixedDecimal(units: row.quantity).grouped) \(row.unit)", "reason": row.reason ?? ""])
                let e = try await ExceptionService.raise(type: "quality", severity: "minor", supplier: row.supplier_id, order: nil, item: row.item_id, lot: "",
                                                         source: "reject_decision", sourceID: decisionID.uuidString, title: row.reference,
                                                         description: reason, by: p.userID, words: words, in: change)
                try await sql.update("reject_decisions").set("exception_id", to: SQLBind(e.id!)).where("id", .equal, SQLBind(decisionID)).run()
                thread = e
            }
            let e = thread!
            _ = try await ExceptionService.addComment(e, side: "supplier", author: p.userID, body: reason, event: "reject.disputed", ref: row.reference, in: change)
            try await change.audit("reject_decision", decisionID, "dispute", after: ["source": row.reference, "source_type": type.rawValue, "reason": reason,
                                                                                   "exception": e.code])
            let quality = try await OrderService.manufacturerPeople(with: .quality, on: change.db)
            try await change.notify("reject.disputed", recipients: quality, messageKey: "notice.rejectDisputed",
                                    params: ["reference": row.reference, "supplier": row.supplier_name, "exception": e.code], link: "/exceptions/\(e.id!)")
        }
        return try await one(p, type: type, id: id, on: app.database).dto
    }

    /// Only the supplier's own people who answer exceptions dispute a decision.
    static func requireDisputer(_ p: Principal) throws {
        guard p.isSupplier, p.can(.answerExceptions) else { throw Problem.forbidden }
    }
}

/// Rejects over the API: the list (both sides), and quality's decision on one.
struct RejectAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("rejects", use: list)
        routes.put("inspections", ":id", "responsibility") { req in try await Self.decide(req, type: .inspection) }
        routes.put("material", "movements", ":id", "responsibility") { req in try await Self.decide(req, type: .scrap) }
        // Any kind of reject by the type and id the list gives it.
        routes.put("rejects", ":sourceType", ":sourceId") { req in try await Self.decide(req, type: nil) }
        routes.post("rejects", ":sourceType", ":sourceId", "dispute", use: dispute)
    }

    /// The kind of reject a path names; an unknown kind names nothing.
    static func sourceType(_ req: Request) throws -> RejectSource {
        guard let type = req.parameters.get("sourceType").flatMap(RejectSource.init(rawValue:)) else { throw Problem.notFound }
        return type
    }

    static func sourceID(_ req: Request) throws -> UUID {
        try req.parameters.get("sourceId") == nil ? req.idParameter() : req.idParameter("sourceId")
    }

    /// The caller and the reject the path names (kind given by the route or by the path), found
    /// before any permission is checked, so another supplier's is a 404 for everyone.
    static func target(_ req: Request, _ type: RejectSource? = nil) async throws -> (Principal, RejectSource, UUID) {
        let p = try req.requirePrincipal()
        let type = try type ?? sourceType(req), id = try sourceID(req)
        try await RejectService.locate(p, type: type, id: id, on: req.db)
        return (p, type, id)
    }

    func dispute(req: Request) async throws -> RejectDTO {
        let (p, type, id) = try await Self.target(req)
        try RejectService.requireDisputer(p)
        return try await RejectService.dispute(p, type: type, id: id, try req.decodeStrict(RejectDisputeInput.self), app: req.application)
    }

    static func filter(_ req: Request) throws -> RejectService.Filter {
        RejectService.Filter(supplierID: try req.uuidQuery("supplierId"),
                             responsibility: req.queryText("responsibility").flatMap { $0.isEmpty ? nil : $0 })
    }

    func list(req: Request) async throws -> Page<RejectDTO> {
        try await RejectService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), on: req.db)
    }

    static func decide(_ req: Request, type: RejectSource?) async throws -> RejectDTO {
        let (p, type, id) = try await target(req, type)
        try p.require(.judgeRejects)
        return try await RejectService.decide(p, type: type, id: id, try req.decodeStrict(RejectInput.self), app: req.application)
    }
}

/// The rejects page: quality decides each (a choice and a reason), the supplier reads the
/// decision and its money, and disputes it in the inspection's exception.
struct RejectPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("rejects", use: list)
        routes.post("inspections", ":id", "responsibility") { req in try await self.decide(req, type: .inspection) }
        routes.post("material", "movements", ":id", "responsibility") { req in try await self.decide(req, type: .scrap) }
        routes.post("rejects", ":sourceType", ":sourceId") { req in try await self.decide(req, type: nil) }
        routes.post("rejects", ":sourceType", ":sourceId", "dispute", use: dispute)
    }

    struct ListView: Encodable {
        let rows: [RejectDTO]
        let pager: Pager
        let filters: [Option]
        let canJudge: Bool
        let canDispute: Bool
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
            canDispute: (try? RejectService.requireDisputer(p)) != nil,
            errors: req.formErrors(problem), form: form, values: values), problem: problem)
    }

    func list(req: Request) async throws -> Response { try await render(req, problem: nil) }

    struct DecideForm: Content { var responsibility: String?; var reason: String?; var version: String? }

    func decide(_ req: Request, type: RejectSource?) async throws -> Response {
        let (p, type, id) = try await RejectAPI.target(req, type)
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

    struct DisputeForm: Content { var reason: String? }

    func dispute(req: Request) async throws -> Response {
        let (p, type, id) = try await RejectAPI.target(req)
        try RejectService.requireDisputer(p)
        let f = try req.content.decode(DisputeForm.self)
        var thread: UUID?
        let problem = try await attempt {
            let input = RejectDisputeInput(reason: f.reason ?? "")
            let checks = input.validate()
            if !checks.isEmpty { throw Problem.validation(checks) }
            thread = try await RejectService.dispute(p, type: type, id: id, input, app: req.application).exceptionId
        }
        guard let problem else { return req.redirect(to: thread.map { "/exceptions/\($0)" } ?? "/rejects?ok=saved") }
        return try await render(req, problem: problem, form: "dispute-" + id.uuidString, values: ["dispute": f.reason ?? ""])
    }
}
