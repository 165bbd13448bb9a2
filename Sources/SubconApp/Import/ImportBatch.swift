import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// An uploaded file, parsed and checked, waiting for the user to confirm. Nothing in master data
/// changes until `commit`, and then everything in it changes in one transaction or nothing does.
final class ImportBatch: Model, @unchecked Sendable {
    static let schema = "import_batches"

    @ID(key: .id) var id: UUID?
    @Field(key: "kind") var kind: String
    @Field(key: "filename") var filename: String
    /// previewed → committed, or discarded.
    @Field(key: "status") var status: String
    /// The table as read from the file (JSON), so the commit applies exactly what was previewed.
    @Field(key: "payload") var payload: String
    @Field(key: "problem_count") var problemCount: Int
    @Field(key: "row_count") var rowCount: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "committed_at") var committedAt: Date?

    init() {}
}

struct CreateImportBatches: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("import_batches")
            .id()
            .field("kind", .string, .required)
            .field("filename", .string, .required)
            .field("status", .string, .required)
            .field("payload", .string, .required)
            .field("problem_count", .int, .required)
            .field("row_count", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("committed_at", .datetime)
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("import_batches").delete() }
}

enum ImportKind: String, Codable, Sendable, CaseIterable {
    case items, boms

    var columns: [ImportColumn] {
        switch self {
        case .items: ItemImport.columns
        case .boms: BOMImport.columns
        }
    }
}

struct ImportPreviewDTO: Content {
    struct ProblemDTO: Content { let row: Int; let column: String?; let code: String; let message: String }
    struct RowDTO: Content { let row: Int; let cells: [String]; let action: String }
    let id: UUID
    let kind: String
    let filename: String
    let status: String
    let rows: Int
    let creates: Int
    let updates: Int
    let problems: [ProblemDTO]
    let headers: [String]
    /// The first rows, as they will be applied.
    let sample: [RowDTO]
}

private struct StoredTable: Codable { let headers: [String]; let rows: [[String]] }

enum ImportService {
    static let maxBytes = 20 * 1024 * 1024

    /// Reads and checks a file; stores it as a batch to preview. Problems do not fail the request:
    /// the preview shows every one of them, row by row.
    static func upload(_ p: Principal, kind: ImportKind, filename: String, data: Data, app: Application) async throws -> ImportPreviewDTO {
        try p.require(.editMasterData)
        guard data.count <= maxBytes else { throw Problem(.payloadTooLarge, "too-large") }
        let table: ImportTable
        do {
            table = try TabularFile.read(data, filename: filename)
        } catch {
            let code: String = switch error {
            case .empty: "fileEmpty"
            case .unreadable: "fileUnreadable"
            case .tooManyRows: "fileTooManyRows"
            }
            throw Problem.validation([FieldProblem("file", code, ["max": String(TabularFile.maxRows)])])
        }
        let payload = String(decoding: try JSONEncoder().encode(StoredTable(headers: table.headers, rows: table.rows)), as: UTF8.self)
        let check = try await validate(kind, table, on: app.db)
        let batch = ImportBatch()
        batch.kind = kind.rawValue; batch.filename = String(filename.prefix(200)); batch.status = "previewed"; batch.payload = payload
        batch.problemCount = check.problems.count; batch.rowCount = table.rows.count; batch.createdBy = p.userID
        try await app.write(as: p.auditActor) { change in
            batch.createdAt = change.now
            try await batch.create(on: change.db)
            try await change.audit("import", batch.id, "create", after: ["kind": kind.rawValue, "filename": batch.filename,
                                                                        "rows": String(table.rows.count), "problems": String(check.problems.count)])
        }
        return dto(batch, table: table, check: check, catalog: app.subcon.catalog, locale: p.preferredLocale ?? .fallback)
    }

    /// What a file would do, once checked.
    enum Plan: Sendable {
        case items([ItemImport.Record], existing: Set<String>)
        case boms([BOMImport.NewVersion])
    }

    struct Check: Sendable {
        let plan: Plan
        let problems: [ImportProblem]

        var creates: Int {
            switch plan {
            case .items(let records, let existing): records.filter { !existing.contains($0.code) }.count
            case .boms(let versions): versions.count
            }
        }
        var updates: Int {
            switch plan {
            case .items(let records, let existing): records.filter { existing.contains($0.code) }.count
            case .boms: 0
            }
        }
        /// "create" / "update" for each good sheet row.
        var actions: [Int: String] {
            switch plan {
            case .items(let records, let existing):
                Dictionary(uniqueKeysWithValues: records.map { ($0.row, existing.contains($0.code) ? "update" : "create") })
            case .boms(let versions):
                Dictionary(uniqueKeysWithValues: versions.flatMap { v in v.rows.map { ($0, "create") } })
            }
        }
    }

    static func validate(_ kind: ImportKind, _ table: ImportTable, on db: any Database) async throws -> Check {
        switch kind {
        case .items:
            let warehouses = Set(try await Site.query(on: db).filter(\.$kind == SiteKind.warehouse.rawValue).all(\.$code))
            let (records, problems) = ItemImport.validate(table, warehouses: warehouses)
            let existing = try await existingCodes(records.map(\.code), on: db)
            return Check(plan: .items(records, existing: existing), problems: problems)
        case .boms:
            let codes = Set(try await (db as! any SQLDatabase).select().column("code").from(Item.schema).all()
                .map { try $0.decode(column: "code", as: String.self) })
            let (versions, problems) = BOMImport.validate(table, items: codes, existing: try await BOMService.allVersions(on: db))
            return Check(plan: .boms(versions), problems: problems)
        }
    }

    static func existingCodes(_ codes: [String], on db: any Database) async throws -> Set<String> {
        Set(try await items(codes, on: db).keys)
    }

    /// Items by code, asked for in chunks so the `IN (…)` list stays small.
    static func items(_ codes: [String], on db: any Database) async throws -> [String: Item] {
        var found: [String: Item] = [:]
        for start in stride(from: 0, to: codes.count, by: 500) {
            for item in try await Item.query(on: db).filter(\.$code ~~ Array(codes[start..<min(start + 500, codes.count)])).all() {
                found[item.code] = item
            }
        }
        return found
    }

    static func dto(_ b: ImportBatch, table: ImportTable, check: Check, catalog: Catalog, locale: AppLocale) -> ImportPreviewDTO {
        // Problems name the column as the file's own header says it, so people find it in their sheet.
        let (at, _) = ImportColumn.locate((ImportKind(rawValue: b.kind) ?? .items).columns, in: table.headers)
        let actions = check.actions
        let header = { (key: String?) -> String? in key.map { k in at[k].map { table.headers[$0] } ?? k } }
        return ImportPreviewDTO(
            id: b.id!, kind: b.kind, filename: b.filename, status: b.status, rows: table.rows.count,
            creates: check.creates, updates: check.updates,
            problems: check.problems.prefix(1000).map {
                .init(row: $0.row, column: header($0.column), code: $0.code, message: catalog.text("error.\($0.code)", locale, $0.params))
            },
            headers: table.headers,
            sample: table.rows.prefix(20).enumerated().map { i, cells in
                .init(row: ImportTable.sheetRow(i), cells: cells, action: actions[ImportTable.sheetRow(i)] ?? "error")
            })
    }

    static func load(_ p: Principal, _ id: UUID, on db: any Database) async throws -> (ImportBatch, ImportTable) {
        try p.require(.editMasterData)
        guard let b = try await ImportBatch.find(id, on: db), b.createdBy == p.userID || p.can(.administerInstallation) else {
            throw Problem.notFound
        }
        let stored = try JSONDecoder().decode(StoredTable.self, from: Data(b.payload.utf8))
        return (b, ImportTable(headers: stored.headers, rows: stored.rows))
    }

    static func preview(_ p: Principal, _ id: UUID, app: Application) async throws -> ImportPreviewDTO {
        let (b, table) = try await load(p, id, on: app.db)
        let check = try await validate(ImportKind(rawValue: b.kind) ?? .items, table, on: app.db)
        return dto(b, table: table, check: check, catalog: app.subcon.catalog, locale: p.preferredLocale ?? .fallback)
    }

    struct CommitResult: Content { let id: UUID; let created: Int; let updated: Int }

    /// Applies a previewed batch in one transaction: every row, or (on any problem) none.
    static func commit(_ p: Principal, _ id: UUID, app: Application) async throws -> CommitResult {
        let (batch, table) = try await load(p, id, on: app.db)
        guard batch.status == "previewed" else { throw Problem.conflict("problem.import.notPending") }
        let kind = ImportKind(rawValue: batch.kind) ?? .items
        return try await app.write(as: p.auditActor) { change in
            // Checked again inside the transaction: the data may have moved since the preview.
            let check = try await validate(kind, table, on: change.db)
            guard check.problems.isEmpty else { throw Problem.conflict("problem.import.hasProblems", ["count": String(check.problems.count)]) }
            let claimed = try await (change.db as! any SQLDatabase).update(ImportBatch.schema)
                .set("status", to: "committed").set("committed_at", to: change.now)
                .where("id", .equal, id).where("status", .equal, "previewed").returning("id").all()
            guard !claimed.isEmpty else { throw Problem.conflict("problem.import.notPending") }
            let (created, updated): (Int, Int)
            switch check.plan {
            case .items(let records, let existing): (created, updated) = try await applyItems(records, existing: existing, in: change)
            case .boms(let versions): (created, updated) = (try await applyBOMs(versions, in: change), 0)
            }
            try await change.audit("import", id, "commit", before: ["status": "previewed"],
                                   after: ["status": "committed", "created": String(created), "updated": String(updated)])
            return CommitResult(id: id, created: created, updated: updated)
        }
    }

    private static func applyBOMs(_ versions: [BOMImport.NewVersion], in change: Change) async throws -> Int {
        let sql = change.db as! any SQLDatabase
        let codes = Set(versions.flatMap { [$0.version.parent] + $0.version.lines.map(\.component) })
        let ids = try await items(Array(codes), on: change.db).mapValues { $0.id! }
        var headers: [[any SQLExpression]] = [], lines: [[any SQLExpression]] = []
        var audit: [AuditLog.Pending] = []
        for nv in versions {
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
        try await AuditLog.appendMany(on: change.db, postgres: change.postgres, actor: change.actor, audit, at: change.now)
        return versions.count
    }

    private static func applyItems(_ records: [ItemImport.Record], existing: Set<String>, in change: Change) async throws -> (Int, Int) {
        let sql = change.db as! any SQLDatabase
        let warehouses = Dictionary(uniqueKeysWithValues: try await Site.query(on: change.db)
            .filter(\.$kind == SiteKind.warehouse.rawValue).all().map { ($0.code, $0.id!) })
        var audit: [AuditLog.Pending] = []
        var inserts: [[any SQLExpression]] = []
        var updated = 0
        let current = try await items(records.map(\.code).filter(existing.contains), on: change.db)
        for r in records {
            let siteID = r.warehouse.flatMap { warehouses[$0] }
            if let item = current[r.code] {
                let before = item.auditSnapshot
                item.name = r.name; item.specification = r.specification; item.uom = r.uom; item.kind = r.kind.rawValue
                item.defaultSiteID = siteID
                let changes = FieldChanges.between(before, item.auditSnapshot)
                if changes.isEmpty { continue }
                try await sql.update(Item.schema).set("name", to: item.name).set("specification", to: item.specification)
                    .set("uom", to: item.uom).set("kind", to: item.kind).set("default_site_id", to: siteID)
                    .set("updated_at", to: change.now)
                    .set(SQLIdentifier("version"), to: SQLBinaryExpression(SQLIdentifier("version"), .add, SQLLiteral.numeric("1")))
                    .where("id", .equal, item.id!).run()
                audit.append(.init(entity: "item", entityID: item.id!.uuidString, action: "update", changes: changes))
                updated += 1
            } else {
                let id = UUID()
                let item = Item(code: r.code, name: r.name, specification: r.specification, uom: r.uom, kind: r.kind, defaultSiteID: siteID, now: change.now)
                inserts.append([SQLBind(id), SQLBind(r.code), SQLBind(r.name), SQLBind(r.specification), SQLBind(r.uom), SQLBind(r.kind.rawValue),
                                siteID.map { SQLBind($0) } ?? SQLLiteral.null, SQLBind(true), SQLBind(1), SQLBind(change.now), SQLBind(change.now)])
                audit.append(.init(entity: "item", entityID: id.uuidString, action: "create", changes: FieldChanges.between([:], item.auditSnapshot)))
            }
        }
        try await sql.insertRows(into: Item.schema, columns: ["id", "code", "name", "specification", "uom", "kind", "default_site_id",
                                                          "active", "version", "created_at", "updated_at"], inserts)
        try await AuditLog.appendMany(on: change.db, postgres: change.postgres, actor: change.actor, audit, at: change.now)
        return (inserts.count, updated)
    }
}

extension TabularFile {
    /// An Excel workbook (a ZIP container) or CSV, told apart by content, not by file name.
    static func read(_ data: Data, filename: String) throws(Failure) -> ImportTable {
        if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try XLSX.read(data) }
        return try readCSV(data)
    }
}
