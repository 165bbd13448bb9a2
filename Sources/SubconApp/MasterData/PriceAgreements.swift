import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

final class PriceAgreementRow: Model, @unchecked Sendable {
    static let schema = "price_agreements"

    @ID(key: .id) var id: UUID?
    @Parent(key: "supplier_id") var supplier: Organization
    @Parent(key: "item_id") var item: Item
    @OptionalField(key: "operation") var operation: String?
    @Field(key: "currency") var currency: String
    @Field(key: "valid_from") var validFrom: String
    @OptionalField(key: "valid_to") var validTo: String?
    @Field(key: "unit_price") var unitPriceUnits: Int64
    /// Quantity tiers as "minimum:price" pairs in units, `;`-separated: small, and always read with the agreement.
    @Field(key: "tiers") var tiersText: String
    @Field(key: "version") var version: Int
    @Field(key: "created_at") var createdAt: Date
    /// Late delivery: so much per day late, up to the cap (none when unset).
    @OptionalField(key: "late_penalty_per_day") var latePenaltyPerDay: Int64?
    @OptionalField(key: "late_penalty_cap") var latePenaltyCap: Int64?

    init() {}

    var tiers: [PriceAgreement.Tier] {
        tiersText.split(separator: ";").compactMap { pair in
            let p = pair.split(separator: ":")
            guard p.count == 2, let m = Int64(p[0]), let u = Int64(p[1]) else { return nil }
            return .init(minimumQuantity: FixedDecimal(units: m), unitPrice: FixedDecimal(units: u))
        }
    }

    static func tiersText(_ tiers: [PriceAgreement.Tier]) -> String {
        tiers.sorted { $0.minimumQuantity < $1.minimumQuantity }.map { "\($0.minimumQuantity.units):\($0.unitPrice.units)" }.joined(separator: ";")
    }

    func domain(itemCode: String) -> PriceAgreement {
        PriceAgreement(id: id!.uuidString, supplier: $supplier.id.uuidString, item: itemCode, operation: operation, currency: currency,
                       validity: Validity(from: Day(validFrom)!, to: validTo.flatMap(Day.init))!,
                       unitPrice: FixedDecimal(units: unitPriceUnits), tiers: tiers)
    }

    var auditSnapshot: [String: String?] {
        ["supplier_id": $supplier.id.uuidString, "item_id": $item.id.uuidString, "operation": operation, "currency": currency,
         "valid_from": validFrom, "valid_to": validTo, "unit_price": FixedDecimal(units: unitPriceUnits).description,
         "tiers": tiers.map { "≥\($0.minimumQuantity): \($0.unitPrice)" }.joined(separator: ", "),
         "late_penalty_per_day": latePenaltyPerDay.map { FixedDecimal(units: $0).description },
         "late_penalty_cap": latePenaltyCap.map { FixedDecimal(units: $0).description }]
    }
}

extension PriceAgreementRow: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

struct CreatePriceAgreements: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("price_agreements")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("operation", .string)
            .field("currency", .string, .required)
            .field("valid_from", .string, .required)
            .field("valid_to", .string)
            .field("unit_price", .int64, .required)
            .field("tiers", .string, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "price_agreements_subject_idx", on: "price_agreements", "supplier_id", "item_id")
        try await createIndex(db, "price_agreements_item_idx", on: "price_agreements", "item_id")
    }
    func revert(on db: any Database) async throws { try await db.schema("price_agreements").delete() }
}

struct PriceAgreementDTO: Content {
    struct Tier: Content { let minimumQuantity: FixedDecimal; let unitPrice: FixedDecimal }
    let id: UUID
    let supplierId: UUID
    let itemId: UUID
    let operation: String?
    let currency: String
    let validFrom: String
    let validTo: String?
    let unitPrice: FixedDecimal
    let tiers: [Tier]
    let latePenaltyPerDay: FixedDecimal?
    let latePenaltyCap: FixedDecimal?
    let version: Int

    init(_ r: PriceAgreementRow) {
        id = r.id!; supplierId = r.$supplier.id; itemId = r.$item.id; operation = r.operation; currency = r.currency
        validFrom = r.validFrom; validTo = r.validTo; unitPrice = FixedDecimal(units: r.unitPriceUnits)
        tiers = r.tiers.map { .init(minimumQuantity: $0.minimumQuantity, unitPrice: $0.unitPrice) }; version = r.version
        latePenaltyPerDay = r.latePenaltyPerDay.map(FixedDecimal.init(units:)); latePenaltyCap = r.latePenaltyCap.map(FixedDecimal.init(units:))
    }
}

struct PriceAgreementInput: StrictInput {
    static let fields: Set<String> = ["supplierId", "itemId", "operation", "currency", "validFrom", "validTo", "unitPrice", "tiers",
                                      "latePenaltyPerDay", "latePenaltyCap"]
    var supplierId: UUID
    var itemId: UUID
    var operation: String?
    var currency: String?
    var validFrom: Day
    var validTo: Day?
    var unitPrice: FixedDecimal
    var tiers: [PriceAgreementDTO.Tier]?
    var latePenaltyPerDay: FixedDecimal?
    var latePenaltyCap: FixedDecimal?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = LatePenalty.check(latePenaltyPerDay, latePenaltyCap)
        if let validTo, validTo < validFrom { p.append(FieldProblem("validTo", "beforeStart")) }
        if let operation { Check.code(operation, "operation", into: &p) }
        if (tiers?.count ?? 0) > 20 { p.append(FieldProblem("tiers", "tooMany", ["max": "20"])) }
        return p
    }
}

struct PriceAgreementPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "validTo", "unitPrice", "tiers", "latePenaltyPerDay", "latePenaltyCap"]
    var version: Int
    var validTo: Day?
    var unitPrice: FixedDecimal?
    var tiers: [PriceAgreementDTO.Tier]?
    var latePenaltyPerDay: FixedDecimal?
    var latePenaltyCap: FixedDecimal?

    func validate() -> [FieldProblem] { LatePenalty.check(latePenaltyPerDay, latePenaltyCap) }
}

/// The late-delivery terms' problems (`LateDeliveryTerms.check`) as field problems.
enum LatePenalty {
    static func check(_ perDay: FixedDecimal?, _ cap: FixedDecimal?) -> [FieldProblem] {
        LateDeliveryTerms.check(perDay: perDay, cap: cap).map {
            switch $0 {
            case .negativePerDay: FieldProblem("latePenaltyPerDay", "nonNegativeDecimal")
            case .negativeCap: FieldProblem("latePenaltyCap", "nonNegativeDecimal")
            case .capWithoutPerDay: FieldProblem("latePenaltyPerDay", "required")
            case .tooLarge: FieldProblem(perDay.map { $0 > LateDeliveryTerms.maxAmount } == true ? "latePenaltyPerDay" : "latePenaltyCap", "tooLarge")
            }
        }
    }
}

/// Price agreements. A supplier reads its own; purchasers (and admins) write them.
enum PriceService {
    struct Filter {
        var supplierID: UUID?
        var itemID: UUID?
        /// Item code or name contains this.
        var search: String?
        /// Only agreements valid on this day.
        var validOn: Day?
    }

    static func list(_ p: Principal, filter: Filter, page: PageRequest, on db: any Database) async throws -> Page<PriceAgreementDTO> {
        var q = p.scope.query(PriceAgreementRow.self, on: db)
        if let id = filter.supplierID { q = q.filter(\.$supplier.$id == id) }
        if let id = filter.itemID { q = q.filter(\.$item.$id == id) }
        if let search = filter.search, !search.isEmpty {
            q = q.join(Item.self, on: \PriceAgreementRow.$item.$id == \Item.$id)
                .group(.or) { $0.filter(Item.self, \.$code =~ search).filter(Item.self, \.$name =~ search) }
        }
        if let day = filter.validOn?.description {
            q = q.filter(\.$validFrom <= day).group(.or) { $0.filter(\.$validTo == nil).filter(\.$validTo >= day) }
        }
        let total = try await q.count()
        let rows = try await q.sort(\.$validFrom, .descending).sort(\.$id).range(page.offset..<(page.offset + page.per)).all()
        return Page(items: rows.map(PriceAgreementDTO.init), page: page.page, per: page.per, total: total)
    }

    static func problems(_ list: [PriceBook.Problem]) -> Problem {
        .validation(list.map {
            switch $0 {
            case .negativePrice: FieldProblem("unitPrice", "negative")
            case .duplicateTier(let q): FieldProblem("tiers", "duplicateTier", ["quantity": q.description])
            case .overlaps(let id): FieldProblem("validFrom", "priceOverlap", ["id": id])
            case .badCurrency: FieldProblem("currency", "badCurrency")
            }
        })
    }

    /// Agreements of the same supplier and item, in domain terms, for the overlap check.
    static func siblings(supplierID: UUID, itemID: UUID, itemCode: String, on db: any Database) async throws -> [PriceAgreement] {
        try await PriceAgreementRow.query(on: db).filter(\.$supplier.$id == supplierID).filter(\.$item.$id == itemID).all()
            .map { $0.domain(itemCode: itemCode) }
    }

    static func create(_ p: Principal, _ input: PriceAgreementInput, app: Application) async throws -> PriceAgreementRow {
        try p.require(.managePrices)
        guard let supplier = try await Organization.find(input.supplierId, on: app.database), supplier.organizationKind == .supplier else {
            throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")])
        }
        guard let item = try await Item.find(input.itemId, on: app.database) else { throw Problem.validation([FieldProblem("itemId", "unknownItem", ["code": input.itemId.uuidString])]) }
        let row = PriceAgreementRow()
        row.$supplier.id = supplier.id!; row.$item.id = item.id!; row.operation = input.operation
        row.currency = (input.currency ?? "CNY").uppercased(); row.validFrom = input.validFrom.description; row.validTo = input.validTo?.description
        row.unitPriceUnits = input.unitPrice.units
        row.tiersText = PriceAgreementRow.tiersText((input.tiers ?? []).map { .init(minimumQuantity: $0.minimumQuantity, unitPrice: $0.unitPrice) })
        row.version = 1
        row.latePenaltyPerDay = input.latePenaltyPerDay?.units; row.latePenaltyCap = input.latePenaltyCap?.units
        return try await app.write(as: p.auditActor) { change in
            row.id = UUID()
            let found = PriceBook.check(row.domain(itemCode: item.code),
                                        against: try await siblings(supplierID: supplier.id!, itemID: item.id!, itemCode: item.code, on: change.db))
            if !found.isEmpty { throw problems(found) }
            row.createdAt = change.now
            try await row.create(on: change.db)
            try await change.audit("price_agreement", row.id, "create", after: row.auditSnapshot)
            return row
        }
    }

    static func update(_ p: Principal, _ id: UUID, _ input: PriceAgreementPatchInput, app: Application) async throws -> PriceAgreementRow {
        try p.require(.managePrices)
        let row = try await p.scope.find(PriceAgreementRow.self, id, on: app.database)
        guard input.version == row.version else { throw Problem.staleVersion(current: row.version) }
        let item = try await Item.find(row.$item.id, on: app.database)!
        let before = row.auditSnapshot
        if let v = input.validTo {
            guard v >= Day(row.validFrom)! else { throw Problem.validation([FieldProblem("validTo", "beforeStart")]) }
            row.validTo = v.description
        }
        if let v = input.unitPrice { row.unitPriceUnits = v.units }
        if let v = input.tiers { row.tiersText = PriceAgreementRow.tiersText(v.map { .init(minimumQuantity: $0.minimumQuantity, unitPrice: $0.unitPrice) }) }
        if let v = input.latePenaltyPerDay { row.latePenaltyPerDay = v == .zero ? nil : v.units }
        if let v = input.latePenaltyCap { row.latePenaltyCap = v == .zero ? nil : v.units }
        return try await app.write(as: p.auditActor) { change in
            let found = PriceBook.check(row.domain(itemCode: item.code),
                                        against: try await siblings(supplierID: row.$supplier.id, itemID: item.id!, itemCode: item.code, on: change.db))
            if !found.isEmpty { throw problems(found) }
            try await change.updateVersioned(PriceAgreementRow.schema, id: id, expected: input.version,
                                             sets: ["valid_to": row.validTo, "unit_price": row.unitPriceUnits, "tiers": row.tiersText,
                                                    "late_penalty_per_day": row.latePenaltyPerDay, "late_penalty_cap": row.latePenaltyCap])
            row.version = input.version + 1
            try await change.audit("price_agreement", id, "update", before: before, after: row.auditSnapshot)
            return row
        }
    }

    static func inForce(_ p: Principal, supplierID: UUID, itemID: UUID, operation: String?, on day: Day, quantity: FixedDecimal,
                        db: any Database) async throws -> PriceBook.Quote? {
        guard p.scope.includes(organizationID: supplierID) else { throw Problem.notFound }
        guard let item = try await Item.find(itemID, on: db) else { throw Problem.notFound }
        let agreements = try await siblings(supplierID: supplierID, itemID: itemID, itemCode: item.code, on: db)
        return PriceBook.priceInForce(supplier: supplierID.uuidString, item: item.code, operation: operation, on: day,
                                      quantity: quantity, agreements: agreements)
    }
}

struct PricesAPI: RouteCollection {
    struct QuoteDTO: Content {
        let agreementId: String
        let currency: String
        let unitPrice: FixedDecimal
    }

    func boot(routes: any RoutesBuilder) throws {
        let r = routes.grouped("price-agreements")
        r.get(use: list)
        r.post(use: create)
        r.get(":id", use: show)
        r.patch(":id", use: update)
        routes.get("prices", "in-force", use: inForce)
    }

    func list(req: Request) async throws -> Page<PriceAgreementDTO> {
        try await PriceService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), on: req.db)
    }

    /// `supplierId`, `itemId`, `q` (item code or name), `validOn` (YYYY-MM-DD).
    static func filter(_ req: Request) throws -> PriceService.Filter {
        var validOn: Day?
        if let text = req.queryText("validOn"), !text.isEmpty {
            guard let day = Day(text) else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("validOn", "badDate")]) }
            validOn = day
        }
        return PriceService.Filter(supplierID: try req.uuidQuery("supplierId"), itemID: try req.uuidQuery("itemId"),
                                   search: req.queryText("q")?.trimmingCharacters(in: .whitespaces), validOn: validOn)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.managePrices)
        return try await .created(PriceAgreementDTO(try await PriceService.create(p, try req.decodeStrict(PriceAgreementInput.self), app: req.application)), for: req)
    }

    func show(req: Request) async throws -> PriceAgreementDTO {
        let p = try req.requirePrincipal()
        return PriceAgreementDTO(try await p.scope.find(PriceAgreementRow.self, try req.idParameter(), on: req.db))
    }

    func update(req: Request) async throws -> PriceAgreementDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await p.scope.find(PriceAgreementRow.self, id, on: req.db)
        try p.require(.managePrices)
        return PriceAgreementDTO(try await PriceService.update(p, id, try req.decodeStrict(PriceAgreementPatchInput.self), app: req.application))
    }

    /// `?supplierId=…&itemId=…&date=2026-07-01&quantity=1000[&operation=plating]` → the unit price, or 404.
    func inForce(req: Request) async throws -> QuoteDTO {
        let p = try req.requirePrincipal()
        guard let supplierID = try req.uuidQuery("supplierId"), let itemID = try req.uuidQuery("itemId") else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("supplierId", "required"), FieldProblem("itemId", "required")])
        }
        let (quantity, day) = try BOMsAPI.explosionQuery(req)
        guard let quote = try await PriceService.inForce(p, supplierID: supplierID, itemID: itemID, operation: req.queryText("operation"),
                                                         on: day, quantity: quantity, db: req.db) else { throw Problem.notFound }
        return QuoteDTO(agreementId: quote.agreementID, currency: quote.currency, unitPrice: quote.unitPrice)
    }
}
