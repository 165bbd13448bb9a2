import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Master data as stored, as much of it as the sheets being checked refer to.
struct ImportContext: Sendable {
    var warehouses: [String: UUID] = [:]
    var warehouseCodes: [UUID: String] = [:]
    /// Every item code (loaded when a sheet refers to items it does not itself define).
    var itemCodes: Set<String> = []
    /// Stored items named in the items sheet.
    var items: [String: Item] = [:]
    var suppliers: [String: (org: Organization, profile: SupplierProfile?)] = [:]
    var otherOrganizationCodes: Set<String> = []
    /// Item code → its routing as stored.
    var routings: [String: [RoutingOperation]] = [:]
    var boms: [BOMVersion] = []
    /// Stored agreements with supplier and item as codes, and the rows they came from.
    var prices: [PriceAgreement] = []
    var priceRows: [String: PriceAgreementRow] = [:]

    static func load(for sheets: [ImportSheet], itemsNamed: [String], on db: any Database) async throws -> ImportContext {
        let kinds = Set(sheets.map(\.kind))
        let sql = db as! any SQLDatabase
        var c = ImportContext()
        for site in try await Site.query(on: db).filter(\.$kind == SiteKind.warehouse.rawValue).all() {
            c.warehouses[site.code] = site.id!; c.warehouseCodes[site.id!] = site.code
        }
        if kinds.contains(.items) { c.items = try await ImportService.items(itemsNamed, on: db) }
        if !kinds.isDisjoint(with: [.boms, .routings, .prices, .orders]) {
            c.itemCodes = Set(try await sql.select().column("code").from(Item.schema).all().map { try $0.decode(column: "code", as: String.self) })
        }
        if !kinds.isDisjoint(with: [.suppliers, .routings, .prices, .orders]) {
            let orgs = try await Organization.query(on: db).all()
            let profiles = Dictionary(uniqueKeysWithValues: try await SupplierProfile.query(on: db).all().map { ($0.$organization.id, $0) })
            for o in orgs {
                if o.organizationKind == .supplier { c.suppliers[o.code] = (o, profiles[o.id!]) } else { c.otherOrganizationCodes.insert(o.code) }
            }
        }
        if !kinds.isDisjoint(with: [.routings, .prices, .orders]) {
            for r in try await RoutingService.allOperations(on: db) {
                c.routings[r.item, default: []].append(RoutingOperation(sequence: r.seq, code: r.code, name: r.name,
                                                                       mode: RoutingOperation.Mode(rawValue: r.mode) ?? .inHouse, defaultSupplier: r.supplier))
            }
        }
        if kinds.contains(.boms) { c.boms = try await BOMService.allVersions(on: db) }
        if !kinds.isDisjoint(with: [.prices, .orders]) {
            let codes = Dictionary(uniqueKeysWithValues: c.suppliers.values.map { ($0.org.id!, $0.org.code) })
            let rows = try await PriceAgreementRow.query(on: db).join(Item.self, on: \PriceAgreementRow.$item.$id == \Item.$id).all()
            for row in rows {
                let itemCode = try row.joined(Item.self).code
                var a = row.domain(itemCode: itemCode)
                a.supplier = codes[row.$supplier.id] ?? a.supplier
                c.prices.append(a); c.priceRows[a.id] = row
            }
        }
        return c
    }
}

/// The outcome of checking an upload: every problem, and, when there are none, exactly what
/// the commit will change. Rows equal to what is stored are "unchanged" and left alone, so
/// importing an export again changes nothing.
struct ImportCheck: Sendable {
    enum Action: String, Sendable { case create, update, unchanged }

    struct SheetResult: Sendable {
        let kind: ImportKind
        let name: String?
        /// What happens to each sheet row.
        var actions: [Int: Action] = [:]
        /// What happens to each record (a BOM version or a routing spans several rows).
        var tally: [Action: Int] = [:]
        func count(_ a: Action) -> Int { tally[a] ?? 0 }

        mutating func record(_ a: Action, rows: [Int]) {
            tally[a, default: 0] += 1
            for r in rows { actions[r] = a }
        }
    }

    var sheets: [SheetResult] = []
    var problems: [ImportProblem] = []

    var newSuppliers: [SupplierImport.Record] = []
    var changedSuppliers: [(SupplierImport.Record, Organization, SupplierProfile?)] = []
    var newItems: [ItemImport.Record] = []
    var changedItems: [(ItemImport.Record, Item)] = []
    var routings: [(new: RoutingImport.NewRouting, before: [RoutingOperation]?)] = []
    var boms: [BOMImport.NewVersion] = []
    var newPrices: [PriceAgreement] = []
    var changedPrices: [(PriceAgreement, PriceAgreementRow)] = []
    /// Draft orders with each line's unit price settled.
    var orders: [(order: OrderImport.NewOrder, prices: [FixedDecimal])] = []

    func count(_ a: Action) -> Int { sheets.reduce(0) { $0 + $1.count(a) } }

    static func run(_ sheets: [ImportSheet], principal: Principal, today: Day, on db: any Database) async throws -> ImportCheck {
        var check = ImportCheck()
        var seen = Set<ImportKind>()
        for s in sheets where !seen.insert(s.kind).inserted {
            check.problems.append(ImportProblem(row: 1, column: nil, code: "duplicateSheet", params: ["kind": s.kind.rawValue], sheet: s.name))
        }
        let ordered = (ImportKind.dataKinds + [.orders]).compactMap { k in sheets.first { $0.kind == k } }
        let itemSheet = ordered.first { $0.kind == .items }
        var named: [String] = []
        if let itemSheet {
            named = itemSheet.table.rows(ItemImport.columns).rows.map { $0["code"] }.filter { !$0.isEmpty }
        }
        let ctx = try await ImportContext.load(for: ordered, itemsNamed: named, on: db)
        var itemCodes = ctx.itemCodes
        var supplierCodes = Set(ctx.suppliers.keys)
        var routings = ctx.routings

        for sheet in ordered {
            var result = SheetResult(kind: sheet.kind, name: sheet.name)
            var found: [ImportProblem] = []
            switch sheet.kind {
            case .suppliers:
                let (records, problems) = SupplierImport.validate(
                    sheet.table, existing: ctx.suppliers.mapValues { $0.profile?.supplierStatus ?? .prospect },
                    takenCodes: ctx.otherOrganizationCodes, mayCreate: principal.can(.administerInstallation))
                found = problems
                for r in records {
                    supplierCodes.insert(r.code)
                    guard let stored = ctx.suppliers[r.code] else { check.newSuppliers.append(r); result.record(.create, rows: [r.row]); continue }
                    if Self.same(stored.org, stored.profile, r) { result.record(.unchanged, rows: [r.row]) } else {
                        check.changedSuppliers.append((r, stored.org, stored.profile)); result.record(.update, rows: [r.row])
                    }
                }
            case .items:
                let (records, problems) = ItemImport.validate(sheet.table, warehouses: Set(ctx.warehouses.keys))
                found = problems
                for r in records {
                    itemCodes.insert(r.code)
                    guard let item = ctx.items[r.code] else { check.newItems.append(r); result.record(.create, rows: [r.row]); continue }
                    if Self.same(item, r, warehouse: item.defaultSiteID.flatMap { ctx.warehouseCodes[$0] }) { result.record(.unchanged, rows: [r.row]) } else { check.changedItems.append((r, item)); result.record(.update, rows: [r.row]) }
                }
            case .routings:
                let (newRoutings, problems) = RoutingImport.validate(sheet.table, items: itemCodes, suppliers: supplierCodes)
                found = problems
                for r in newRoutings {
                    let before = routings[r.item]
                    let action: Action = before == nil ? .create
                        : RoutingRules.ordered(before!) == RoutingRules.ordered(r.operations) ? .unchanged : .update
                    result.record(action, rows: r.rows)
                    if action != .unchanged { check.routings.append((r, before)) }
                    routings[r.item] = r.operations
                }
            case .boms:
                let (versions, problems) = BOMImport.validate(sheet.table, items: itemCodes, existing: ctx.boms)
                found = problems
                for v in versions {
                    result.record(v.unchanged ? .unchanged : .create, rows: v.rows)
                    if !v.unchanged { check.boms.append(v) }
                }
            case .prices:
                var operations: [String: Set<String>] = [:]
                for code in itemCodes { operations[code] = Set((routings[code] ?? []).map { (op: RoutingOperation) in op.code }) }
                let (records, problems) = PriceImport.validate(sheet.table, items: operations, suppliers: supplierCodes, existing: ctx.prices)
                found = problems
                for r in records {
                    guard let id = r.updates, let row = ctx.priceRows[id], let stored = ctx.prices.first(where: { $0.id == id }) else {
                        check.newPrices.append(r.agreement); result.record(.create, rows: [r.row]); continue
                    }
                    if Self.same(stored, r.agreement) { result.record(.unchanged, rows: [r.row]) } else { check.changedPrices.append((r.agreement, row)); result.record(.update, rows: [r.row]) }
                }
            case .orders:
                var operations: [String: Set<String>] = [:]
                for code in itemCodes { operations[code] = Set((routings[code] ?? []).map { (op: RoutingOperation) in op.code }) }
                let (orders, problems) = OrderImport.validate(sheet.table, items: operations,
                                                              suppliers: ctx.suppliers.mapValues { $0.profile?.supplierStatus ?? .prospect })
                found = problems
                for o in orders {
                    var prices: [FixedDecimal] = []
                    for l in o.lines {
                        if let p = l.unitPrice { prices.append(p); continue }
                        if let quote = PriceBook.priceInForce(supplier: o.supplier, item: l.item, operation: l.operation, on: today,
                                                              quantity: l.quantity, agreements: ctx.prices) {
                            prices.append(quote.unitPrice)
                        } else {
                            found.append(ImportProblem(row: l.row, column: "unitPrice", code: "noPriceAgreement", params: ["item": l.item]))
                        }
                    }
                    if prices.count == o.lines.count { check.orders.append((o, prices)) }
                    result.record(.create, rows: o.lines.map(\.row))
                }
            case .workbook:
                break
            }
            check.problems += found.sorted { ($0.row, $0.column ?? "") < ($1.row, $1.column ?? "") }.map { var p = $0; p.sheet = sheet.name; return p }
            check.sheets.append(result)
        }
        // Sheets keep the order of the file in the preview, while being checked in dependency order.
        check.sheets.sort { a, b in
            (sheets.firstIndex { $0.kind == a.kind } ?? 0) < (sheets.firstIndex { $0.kind == b.kind } ?? 0)
        }
        return check
    }

    private static func same(_ org: Organization, _ p: SupplierProfile?, _ r: SupplierImport.Record) -> Bool {
        guard let p, org.name == r.name else { return false }
        return p.contactName == r.contactName && p.contactPhone == r.contactPhone && p.contactEmail == r.contactEmail
            && p.address == r.address && p.capabilities == r.capabilities.joined(separator: ",")
    }

    private static func same(_ item: Item, _ r: ItemImport.Record, warehouse: String?) -> Bool {
        let sameText: Bool = item.name == r.name && item.specification == r.specification && item.uom == r.uom
        // An empty cost-price cell keeps the stored price.
        let sameCost = r.costPrice.map { $0.units == item.costPrice } ?? true
        return sameText && sameCost && item.kind == r.kind.rawValue && warehouse == r.warehouse
    }

    private static func same(_ a: PriceAgreement, _ b: PriceAgreement) -> Bool {
        let sameTerms: Bool = a.currency == b.currency && a.validity == b.validity && a.unitPrice == b.unitPrice
        return sameTerms && PriceAgreementRow.tiersText(a.tiers) == PriceAgreementRow.tiersText(b.tiers)
    }
}
