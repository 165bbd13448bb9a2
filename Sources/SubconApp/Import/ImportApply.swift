import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Writes a checked import inside the commit's transaction, kind by kind in dependency order,
/// with one audit row per record changed. Bulk inserts keep 50,000-row files fast.
enum ImportApply {
    struct Counts { var created = 0; var updated = 0 }

    static func run(_ check: ImportCheck, by principal: Principal, in change: Change) async throws -> Counts {
        var counts = Counts()
        var audit: [AuditLog.Pending] = []
        try await suppliers(check, in: change, &counts, &audit)
        try await items(check, in: change, &counts, &audit)
        try await routings(check, in: change, &counts, &audit)
        try await boms(check, in: change, &counts, &audit)
        try await prices(check, in: change, &counts, &audit)
        try await AuditLog.appendMany(on: change.db, postgres: change.postgres, actor: change.actor, audit, at: change.now)
        // Orders write their own audit rows (after the batch, so the chain stays in order).
        counts.created += try await orders(check, by: principal, in: change)
        return counts
    }

    private static func orders(_ check: ImportCheck, by principal: Principal, in change: Change) async throws -> Int {
        guard !check.orders.isEmpty else { return 0 }
        let itemIDs = try await ImportService.items(Array(Set(check.orders.flatMap { $0.order.lines.map(\.item) })), on: change.db).mapValues { $0.id! }
        let suppliers = Dictionary(uniqueKeysWithValues: try await Organization.query(on: change.db)
            .filter(\.$kind == OrganizationKind.supplier.rawValue).all().map { ($0.code, $0.id!) })
        for (o, prices) in check.orders {
            let lines = zip(o.lines, prices).enumerated().map { i, pair in
                (line: OrderLine(number: i + 1, item: pair.0.item, operation: pair.0.operation, quantity: pair.0.quantity,
                                 dueDate: pair.0.dueDate, unitPrice: pair.1), itemID: itemIDs[pair.0.item]!)
            }
            let note = o.note.isEmpty ? o.ref : "\(o.ref) · \(o.note)"
            _ = try await OrderService.createDraft(principal, supplierID: suppliers[o.supplier]!, note: note, lines: lines, currency: "CNY",
                                                   planID: nil, in: change)
        }
        return check.orders.count
    }

    private static func suppliers(_ check: ImportCheck, in change: Change, _ counts: inout Counts, _ audit: inout [AuditLog.Pending]) async throws {
        for r in check.newSuppliers {
            let org = Organization(kind: .supplier, code: r.code, name: r.name, now: change.now)
            try await org.create(on: change.db)
            let profile = SupplierProfile(organizationID: org.id!, status: r.status ?? .prospect, now: change.now)
            fill(profile, r)
            try await profile.create(on: change.db)
            audit.append(.init(entity: "organization", entityID: org.id!.uuidString, action: "create", changes: FieldChanges.between([:], org.auditSnapshot)))
            audit.append(.init(entity: "supplier_profile", entityID: org.id!.uuidString, action: "create",
                               changes: FieldChanges.between([:], profile.auditSnapshot)))
            counts.created += 1
        }
        for (r, org, existing) in check.changedSuppliers {
            if org.name != r.name {
                let before = org.auditSnapshot
                org.name = r.name; org.version += 1; org.updatedAt = change.now
                try await org.save(on: change.db)
                audit.append(.init(entity: "organization", entityID: org.id!.uuidString, action: "update",
                                   changes: FieldChanges.between(before, org.auditSnapshot)))
            }
            let profile = existing ?? SupplierProfile(organizationID: org.id!, status: .prospect, now: change.now)
            let before = existing?.auditSnapshot ?? [:]
            fill(profile, r)
            profile.version += existing == nil ? 0 : 1; profile.updatedAt = change.now
            try await profile.save(on: change.db)
            let changes = FieldChanges.between(before, profile.auditSnapshot)
            if !changes.isEmpty {
                audit.append(.init(entity: "supplier_profile", entityID: org.id!.uuidString, action: existing == nil ? "create" : "update", changes: changes))
            }
            counts.updated += 1
        }
    }

    private static func fill(_ p: SupplierProfile, _ r: SupplierImport.Record) {
        p.contactName = r.contactName; p.contactPhone = r.contactPhone; p.contactEmail = r.contactEmail
        p.address = r.address; p.capabilities = r.capabilities.joined(separator: ",")
    }

    private static func items(_ check: ImportCheck, in change: Change, _ counts: inout Counts, _ audit: inout [AuditLog.Pending]) async throws {
        let sql = change.db as! any SQLDatabase
        let warehouses = Dictionary(uniqueKeysWithValues: try await Site.query(on: change.db)
            .filter(\.$kind == SiteKind.warehouse.rawValue).all().map { ($0.code, $0.id!) })
        for (r, item) in check.changedItems {
            let before = item.auditSnapshot
            let siteID = r.warehouse.flatMap { warehouses[$0] }
            item.name = r.name; item.specification = r.specification; item.uom = r.uom; item.kind = r.kind.rawValue
            item.defaultSiteID = siteID
            if let c = r.costPrice { item.costPriceUnits = c.units }
            try await sql.update(Item.schema).set("name", to: item.name).set("specification", to: item.specification)
                .set("uom", to: item.uom).set("kind", to: item.kind).set("default_site_id", to: siteID)
                .set("cost_price", to: item.costPrice)
                .set("updated_at", to: change.now)
                .set(SQLIdentifier("version"), to: SQLBinaryExpression(SQLIdentifier("version"), .add, SQLLiteral.numeric("1")))
                .where("id", .equal, item.id!).run()
            audit.append(.init(entity: "item", entityID: item.id!.uuidString, action: "update", changes: FieldChanges.between(before, item.auditSnapshot)))
        }
        var inserts: [[any SQLExpression]] = []
        for r in check.newItems {
            let id = UUID()
            let siteID = r.warehouse.flatMap { warehouses[$0] }
            let item = Item(code: r.code, name: r.name, specification: r.specification, uom: r.uom, kind: r.kind, defaultSiteID: siteID, now: change.now)
            item.costPriceUnits = r.costPrice?.units
            inserts.append([SQLBind(id), SQLBind(r.code), SQLBind(r.name), SQLBind(r.specification), SQLBind(r.uom), SQLBind(r.kind.rawValue),
                            siteID.map { SQLBind($0) } ?? SQLLiteral.null, SQLBind(true), SQLBind(1), SQLBind(change.now), SQLBind(change.now),
                            SQLBind(r.costPrice?.units ?? 0)])
            audit.append(.init(entity: "item", entityID: id.uuidString, action: "create", changes: FieldChanges.between([:], item.auditSnapshot)))
        }
        try await sql.insertRows(into: Item.schema, columns: ["id", "code", "name", "specification", "uom", "kind", "default_site_id",
                                                          "active", "version", "created_at", "updated_at", "cost_price"], inserts)
        counts.created += check.newItems.count
        counts.updated += check.changedItems.count
    }

    private static func routings(_ check: ImportCheck, in change: Change, _ counts: inout Counts, _ audit: inout [AuditLog.Pending]) async throws {
        guard !check.routings.isEmpty else { return }
        let sql = change.db as! any SQLDatabase
        let itemIDs = try await ImportService.items(check.routings.map(\.new.item), on: change.db).mapValues { $0.id! }
        let suppliers = Dictionary(uniqueKeysWithValues: try await Organization.query(on: change.db)
            .filter(\.$kind == OrganizationKind.supplier.rawValue).all().map { ($0.code, $0.id!) })
        var ops: [[any SQLExpression]] = []
        for (r, before) in check.routings {
            let itemID = itemIDs[r.item]!
            let headerID: UUID
            if let existing = try await RoutingHeader.query(on: change.db).filter(\.$item.$id == itemID).first() {
                headerID = existing.id!
                try await sql.update(RoutingHeader.schema)
                    .set(SQLIdentifier("version"), to: SQLBinaryExpression(SQLIdentifier("version"), .add, SQLLiteral.numeric("1")))
                    .where("id", .equal, headerID).run()
                try await RoutingOperationRow.query(on: change.db).filter(\.$routing.$id == headerID).delete()
                counts.updated += 1
            } else {
                let header = RoutingHeader()
                header.$item.id = itemID; header.version = 1
                try await header.create(on: change.db)
                headerID = header.id!
                counts.created += 1
            }
            for op in r.operations {
                ops.append([SQLBind(UUID()), SQLBind(headerID), SQLBind(op.sequence), SQLBind(op.code), SQLBind(op.name), SQLBind(op.mode.rawValue),
                            op.defaultSupplier.flatMap { suppliers[$0] }.map { SQLBind($0) } ?? SQLLiteral.null])
            }
            audit.append(.init(entity: "routing", entityID: itemID.uuidString, action: "update",
                               changes: FieldChanges.between(["operations": RoutingService.describe(before ?? [])],
                                                             ["operations": RoutingService.describe(r.operations)])))
        }
        try await sql.insertRows(into: RoutingOperationRow.schema, columns: ["id", "routing_id", "seq", "code", "name", "mode", "default_supplier_id"], ops)
    }

    private static func boms(_ check: ImportCheck, in change: Change, _ counts: inout Counts, _ audit: inout [AuditLog.Pending]) async throws {
        guard !check.boms.isEmpty else { return }
        let sql = change.db as! any SQLDatabase
        let codes = Set(check.boms.flatMap { [$0.version.parent] + $0.version.lines.map(\.component) })
        let ids = try await ImportService.items(Array(codes), on: change.db).mapValues { $0.id! }
        var headers: [[any SQLExpression]] = [], lines: [[any SQLExpression]] = []
        for nv in check.boms {
            let v = nv.version, id = UUID()
            headers.append([SQLBind(id), SQLBind(ids[v.parent]!), SQLBind(v.number), SQLBind(v.validity.from.description),
                            v.validity.to.map { SQLBind($0.description) } ?? SQLLiteral.null, SQLBind(""), SQLBind(1), SQLBind(change.now)])
            for (i, l) in v.lines.enumerated() {
                lines.append([SQLBind(UUID()), SQLBind(id), SQLBind(i + 1), SQLBind(ids[l.component]!), SQLBind(l.quantityPer.units),
                              SQLBind(l.scrapPercent.units), SQLBind(l.supplyBy.rawValue)])
            }
            let input = v.lines.map { BOMLineInput(component: $0.component, quantityPer: $0.quantityPer, scrapPercent: $0.scrapPercent, supplyBy: $0.supplyBy.rawValue) }
            let header = BOMHeader()
            header.number = v.number; header.validFrom = v.validity.from.description; header.validTo = v.validity.to?.description; header.note = ""
            audit.append(.init(entity: "bom", entityID: id.uuidString, action: "create",
                               changes: FieldChanges.between([:], BOMService.snapshot(header, input))))
        }
        try await sql.insertRows(into: BOMHeader.schema, columns: ["id", "parent_item_id", "number", "valid_from", "valid_to", "note", "version", "created_at"], headers)
        try await sql.insertRows(into: BOMLineRow.schema, columns: ["id", "bom_id", "line_no", "component_item_id", "quantity_per", "scrap_percent", "supply_by"], lines)
        counts.created += check.boms.count
    }

    private static func prices(_ check: ImportCheck, in change: Change, _ counts: inout Counts, _ audit: inout [AuditLog.Pending]) async throws {
        guard !check.newPrices.isEmpty || !check.changedPrices.isEmpty else { return }
        let itemIDs = try await ImportService.items(check.newPrices.map(\.item), on: change.db).mapValues { $0.id! }
        let suppliers = Dictionary(uniqueKeysWithValues: try await Organization.query(on: change.db)
            .filter(\.$kind == OrganizationKind.supplier.rawValue).all().map { ($0.code, $0.id!) })
        for a in check.newPrices {
            let row = PriceAgreementRow()
            row.id = UUID(); row.$supplier.id = suppliers[a.supplier]!; row.$item.id = itemIDs[a.item]!
            set(row, a); row.version = 1; row.createdAt = change.now
            try await row.create(on: change.db)
            audit.append(.init(entity: "price_agreement", entityID: row.id!.uuidString, action: "create", changes: FieldChanges.between([:], row.auditSnapshot)))
        }
        for (a, row) in check.changedPrices {
            let before = row.auditSnapshot
            set(row, a); row.version += 1
            try await row.save(on: change.db)
            audit.append(.init(entity: "price_agreement", entityID: row.id!.uuidString, action: "update", changes: FieldChanges.between(before, row.auditSnapshot)))
        }
        counts.created += check.newPrices.count
        counts.updated += check.changedPrices.count
    }

    private static func set(_ row: PriceAgreementRow, _ a: PriceAgreement) {
        row.operation = a.operation; row.currency = a.currency; row.validFrom = a.validity.from.description
        row.validTo = a.validity.to?.description; row.unitPriceUnits = a.unitPrice.units; row.tiersText = PriceAgreementRow.tiersText(a.tiers)
    }
}
