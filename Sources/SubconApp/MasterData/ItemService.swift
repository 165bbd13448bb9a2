import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct ItemDTO: Content {
    let id: UUID
    let code: String
    let name: String
    let specification: String
    let uom: String
    let kind: String
    let defaultSiteId: UUID?
    let active: Bool
    let costPrice: FixedDecimal
    let version: Int
    let createdAt: Date
    let updatedAt: Date

    /// The columns a list reads, decoded by position.
    struct Row: ReadByPosition {
        static let columnNames = ["id", "code", "name", "specification", "uom", "kind", "default_site_id", "active", "version",
                                  "created_at", "updated_at", "cost_price"]
        init(_ r: inout ColumnReader) throws {
            id = try r.value(); code = try r.value(); name = try r.value(); specification = try r.value(); uom = try r.value(); kind = try r.value()
            default_site_id = try r.optional(); active = try r.value(); version = try r.value(); created_at = try r.value()
            updated_at = try r.value(); cost_price = try r.optional()
        }
        let id: UUID
        let code: String
        let name: String
        let specification: String
        let uom: String
        let kind: String
        let default_site_id: UUID?
        let active: Bool
        let version: Int
        let created_at: Date
        let updated_at: Date
        let cost_price: Int64?
    }

    init(_ r: Row) {
        id = r.id; code = r.code; name = r.name; specification = r.specification; uom = r.uom; kind = r.kind
        defaultSiteId = r.default_site_id; active = r.active; costPrice = FixedDecimal(units: r.cost_price ?? 0); version = r.version; createdAt = r.created_at; updatedAt = r.updated_at
    }

    init(_ i: Item) {
        id = i.id!; code = i.code; name = i.name; specification = i.specification; uom = i.uom; kind = i.kind
        defaultSiteId = i.defaultSiteID; active = i.active; costPrice = FixedDecimal(units: i.costPrice); version = i.version; createdAt = i.createdAt; updatedAt = i.updatedAt
    }
}

struct ItemInput: StrictInput {
    static let fields: Set<String> = ["code", "name", "specification", "uom", "kind", "defaultSiteId"]
    var code: String
    var name: String
    var specification: String?
    var uom: String
    var kind: String
    var defaultSiteId: UUID?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.code(code, "code", max: 40, into: &p)
        return p + ItemFields.check(name: name, specification: specification, uom: uom, kind: kind)
    }
}

struct ItemPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "name", "specification", "uom", "kind", "defaultSiteId", "active", "costPrice"]
    var version: Int
    var costPrice: FixedDecimal?
    var name: String?
    var specification: String?
    var uom: String?
    var kind: String?
    var defaultSiteId: UUID?
    var active: Bool?
    /// `"defaultSiteId": null` clears it; leaving the key out keeps it.
    var clearsDefaultSite = false

    func validate() -> [FieldProblem] {
        var p = ItemFields.check(name: name, specification: specification, uom: uom, kind: kind)
        if let c = costPrice, c < .zero || c > FixedDecimal(units: 100_000_000 * FixedDecimal.unit) { p.append(FieldProblem("costPrice", "nonNegativeDecimal")) }
        return p
    }
}

extension ItemPatchInput {
    private enum Keys: String, CodingKey { case version, name, specification, uom, kind, defaultSiteId, active, costPrice }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        version = try c.decode(Int.self, forKey: .version)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        specification = try c.decodeIfPresent(String.self, forKey: .specification)
        uom = try c.decodeIfPresent(String.self, forKey: .uom)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        defaultSiteId = try c.decodeIfPresent(UUID.self, forKey: .defaultSiteId)
        active = try c.decodeIfPresent(Bool.self, forKey: .active)
        costPrice = try c.decodeIfPresent(FixedDecimal.self, forKey: .costPrice)
        clearsDefaultSite = try c.contains(.defaultSiteId) && c.decodeNil(forKey: .defaultSiteId)
    }
}

/// The checks creating and changing an item share; a nil field (in a change) is left as it is.
enum ItemFields {
    static func check(name: String?, specification: String?, uom: String?, kind: String?) -> [FieldProblem] {
        var p: [FieldProblem] = []
        if let name { Check.text(name, "name", max: 200, into: &p) }
        Check.text(specification, "specification", required: false, max: 500, into: &p)
        if let uom { Check.text(uom, "uom", max: 20, into: &p) }
        if let kind, ItemKind(rawValue: kind) == nil { p.append(FieldProblem("kind", "invalidValue")) }
        return p
    }
}

/// Items: the manufacturer's master data. Suppliers do not browse the item master (they see
/// the items of their own orders there).
enum ItemService {
    struct ListFilter: Sendable {
        var search: String?
        var kind: ItemKind?
        var active: Bool?
    }

    /// Read on `sql`: the read connections where there are, as the other lists.
    static func list(_ p: Principal, filter: ListFilter, page: PageRequest, on sql: any SQLDatabase,
                     counts: TrigramCounts?) async throws -> Page<ItemDTO> {
        try p.require(.viewMasterData)
        var q = ListQuery(sql, Item.schema)
        if let kind = filter.kind { q.equal("kind", kind.rawValue) }
        if let active = filter.active { q.equal("active", active) }
        if let s = filter.search?.trimmingCharacters(in: .whitespaces), !s.isEmpty { try await q.contains(s, in: ["code", "name", "specification"], counts: counts) }
        let (rows, total) = try await q.pageAndTotal(ItemDTO.Row.self, orderBy: [("code", .ascending)], page: page)
        return Page(items: rows.map(ItemDTO.init), page: page.page, per: page.per, total: total)
    }

    static func get(_ p: Principal, _ id: UUID, on db: any Database) async throws -> Item {
        try p.require(.viewMasterData)
        guard let item = try await Item.find(id, on: db) else { throw Problem.notFound }
        return item
    }

    static func create(_ p: Principal, _ input: ItemInput, app: Application) async throws -> Item {
        try p.require(.editMasterData)
        try await checkSite(input.defaultSiteId, on: app.database)
        if try await Item.query(on: app.database).filter(\.$code == input.code).count() > 0 {
            throw Problem.conflict("problem.conflict.codeTaken", fields: [FieldProblem("code", "taken")])
        }
        return try await app.write(as: p.auditActor) { change in
            let item = Item(code: input.code, name: input.name.trimmingCharacters(in: .whitespaces),
                            specification: (input.specification ?? "").trimmingCharacters(in: .whitespaces),
                            uom: input.uom.trimmingCharacters(in: .whitespaces), kind: ItemKind(rawValue: input.kind)!,
                            defaultSiteID: input.defaultSiteId, now: change.now)
            try await item.create(on: change.db)
            try await change.audit("item", item.id, "create", after: item.auditSnapshot)
            return item
        }
    }

    /// `clearDefaultSite`: the page's "—" choice. (In JSON a missing `defaultSiteId` means "unchanged".)
    static func update(_ p: Principal, _ id: UUID, _ input: ItemPatchInput, clearDefaultSite: Bool = false,
                       app: Application) async throws -> Item {
        try p.require(.editMasterData)
        let item = try await get(p, id, on: app.database)
        guard input.version == item.version else { throw Problem.staleVersion(current: item.version) }
        if input.defaultSiteId != nil { try await checkSite(input.defaultSiteId, on: app.database) }
        let before = item.auditSnapshot
        if let v = input.name { item.name = v.trimmingCharacters(in: .whitespaces) }
        if let v = input.specification { item.specification = v.trimmingCharacters(in: .whitespaces) }
        if let v = input.uom { item.uom = v.trimmingCharacters(in: .whitespaces) }
        if let v = input.kind { item.kind = v }
        if let v = input.defaultSiteId { item.defaultSiteID = v } else if clearDefaultSite { item.defaultSiteID = nil }
        if let v = input.active { item.active = v }
        if let v = input.costPrice { item.costPriceUnits = v.units }
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(Item.schema, id: id, expected: input.version, sets: [
                "name": item.name, "specification": item.specification, "uom": item.uom, "kind": item.kind,
                "default_site_id": item.defaultSiteID, "active": item.active, "updated_at": change.now, "cost_price": item.costPrice,
            ])
            item.version = input.version + 1
            item.updatedAt = change.now
            try await change.audit("item", id, "update", before: before, after: item.auditSnapshot)
            return item
        }
    }

    /// A default site must be one of the manufacturer's warehouses.
    static func checkSite(_ id: UUID?, on db: any Database) async throws {
        guard let id else { return }
        guard let site = try await Site.find(id, on: db), site.kind == SiteKind.warehouse.rawValue else {
            throw Problem.validation([FieldProblem("defaultSiteId", "unknownWarehouse")])
        }
    }
}
