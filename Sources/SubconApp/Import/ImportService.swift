import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct ImportPreviewDTO: Content {
    struct ProblemDTO: Content { let sheet: String?; let row: Int; let column: String?; let code: String; let message: String }
    struct RowDTO: Content { let row: Int; let cells: [String]; let action: String }
    struct SheetDTO: Content {
        let kind: String
        let name: String?
        let rows: Int
        let creates: Int
        let updates: Int
        let unchanged: Int
        let headers: [String]
        /// The first rows, with what the commit will do to each.
        let sample: [RowDTO]
    }
    let id: UUID
    let kind: String
    let filename: String
    let status: String
    let rows: Int
    let creates: Int
    let updates: Int
    let unchanged: Int
    let problems: [ProblemDTO]
    let sheets: [SheetDTO]
}

/// Imports: an uploaded file is read, checked and stored as a batch to preview. Nothing in master
/// data changes until `commit`, and then everything in it changes in one transaction or nothing does.
enum ImportService {
    static let maxBytes = 20 * 1024 * 1024

    /// Reads the file into sheets: one for a single kind (CSV or a workbook's first sheet), or
    /// every recognised sheet of a workbook.
    static func sheets(kind: ImportKind, filename: String, data: Data) throws -> [ImportSheet] {
        do {
            guard kind == .workbook else {
                let (name, table) = try TabularFile.read(data, filename: filename)
                return [ImportSheet(kind: kind, name: name, headers: table.headers, rows: table.rows)]
            }
            guard TabularFile.isWorkbook(data) else { throw Problem.validation([FieldProblem("file", "workbookNeedsXlsx")]) }
            let found = try XLSX.readAll(data).compactMap { name, table in
                ImportKind.forSheet(named: name).map { ImportSheet(kind: $0, name: name, headers: table.headers, rows: table.rows) }
            }
            guard !found.isEmpty else { throw Problem.validation([FieldProblem("file", "noKnownSheet")]) }
            return found
        } catch let failure as TabularFile.Failure {
            let code: String = switch failure {
            case .empty: "fileEmpty"
            case .unreadable: "fileUnreadable"
            case .tooManyRows: "fileTooManyRows"
            }
            throw Problem.validation([FieldProblem("file", code, ["max": String(TabularFile.maxRows)])])
        }
    }

    /// Problems in the file do not fail the request: the preview lists every one, row by row.
    static func upload(_ p: Principal, kind: ImportKind, filename: String, data: Data, app: Application) async throws -> ImportPreviewDTO {
        try p.require(kind.uploadPermission)
        guard data.count <= maxBytes else { throw Problem(.payloadTooLarge, "too-large") }
        let sheets = try sheets(kind: kind, filename: filename, data: data)
        for s in sheets { try p.require(s.kind.permission) }
        let payload = String(decoding: try JSONEncoder().encode(sheets), as: UTF8.self)
        let check = try await ImportCheck.run(sheets, principal: p, today: app.subcon.today(), on: app.database)
        let batch = ImportBatch()
        batch.kind = kind.rawValue; batch.filename = String(filename.prefix(200)); batch.status = "previewed"; batch.payload = payload
        batch.problemCount = check.problems.count; batch.rowCount = sheets.reduce(0) { $0 + $1.rows.count }; batch.createdBy = p.userID
        try await app.write(as: p.auditActor) { change in
            batch.createdAt = change.now
            try await batch.create(on: change.db)
            try await change.audit("import", batch.id, "create", after: ["kind": kind.rawValue, "filename": batch.filename,
                                                                        "rows": String(batch.rowCount), "problems": String(check.problems.count)])
        }
        return dto(batch, sheets: sheets, check: check, catalog: app.subcon.catalog, locale: p.preferredLocale ?? .fallback)
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

    static func dto(_ b: ImportBatch, sheets: [ImportSheet], check: ImportCheck, catalog: Catalog, locale: AppLocale) -> ImportPreviewDTO {
        // Problems name the column as the file's own header says it, so people find it in their sheet.
        let headerOf = { (sheet: String?, key: String?) -> String? in
            guard let key else { return nil }
            guard let s = sheets.first(where: { $0.name == sheet }) ?? sheets.first else { return key }
            let (at, _) = ImportColumn.locate(s.kind.columns, in: s.headers)
            return at[key].map { s.headers[$0] } ?? key
        }
        let sheetDTOs = sheets.map { s in
            let result = check.sheets.first { $0.kind == s.kind }
            return ImportPreviewDTO.SheetDTO(
                kind: s.kind.rawValue, name: s.name, rows: s.rows.count,
                creates: result?.count(.create) ?? 0, updates: result?.count(.update) ?? 0, unchanged: result?.count(.unchanged) ?? 0,
                headers: s.headers,
                sample: s.rows.prefix(20).enumerated().map { i, cells in
                    let n = ImportTable.sheetRow(i)
                    let blank = cells.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty }
                    return .init(row: n, cells: shown(cells, sheet: s), action: result?.actions[n]?.rawValue ?? (blank ? "blank" : "error"))
                })
        }
        return ImportPreviewDTO(
            id: b.id!, kind: b.kind, filename: b.filename, status: b.status, rows: sheets.reduce(0) { $0 + $1.rows.count },
            creates: check.count(.create), updates: check.count(.update), unchanged: check.count(.unchanged),
            problems: check.problems.prefix(1000).map {
                .init(sheet: $0.sheet, row: $0.row, column: headerOf($0.sheet, $0.column), code: $0.code,
                      message: catalog.text("error.\($0.code)", locale, $0.params))
            },
            sheets: sheetDTOs)
    }

    /// A row as the preview shows it: one cell per header, and Excel date cells (stored as day
    /// serials) as the dates they will be read as.
    static func shown(_ cells: [String], sheet: ImportSheet) -> [String] {
        let (at, _) = ImportColumn.locate(sheet.kind.columns, in: sheet.headers)
        let dateColumns = Set(["validFrom", "validTo"].compactMap { at[$0] })
        return sheet.headers.indices.map { i in
            let cell = i < cells.count ? cells[i] : ""
            return dateColumns.contains(i) ? ImportCells.day(cell.trimmingCharacters(in: .whitespaces))?.description ?? cell : cell
        }
    }

    static func load(_ p: Principal, _ id: UUID, on db: any Database) async throws -> (ImportBatch, [ImportSheet]) {
        guard let b = try await ImportBatch.find(id, on: db), b.createdBy == p.userID || p.can(.administerInstallation) else {
            throw Problem.notFound
        }
        // A batch stored in an older layout can no longer be previewed; it is as good as gone.
        guard let sheets = try? JSONDecoder().decode([ImportSheet].self, from: Data(b.payload.utf8)) else { throw Problem.notFound }
        return (b, sheets)
    }

    static func preview(_ p: Principal, _ id: UUID, app: Application) async throws -> ImportPreviewDTO {
        let (b, sheets) = try await load(p, id, on: app.database)
        let check = try await ImportCheck.run(sheets, principal: p, today: app.subcon.today(), on: app.database)
        return dto(b, sheets: sheets, check: check, catalog: app.subcon.catalog, locale: p.preferredLocale ?? .fallback)
    }

    struct CommitResult: Content { let id: UUID; let created: Int; let updated: Int }

    /// Applies a previewed batch in one transaction: every row, or (on any problem) none.
    static func commit(_ p: Principal, _ id: UUID, app: Application) async throws -> CommitResult {
        let (batch, sheets) = try await load(p, id, on: app.database)
        for s in sheets { try p.require(s.kind.permission) }
        guard batch.status == "previewed" else { throw Problem.conflict("problem.import.notPending") }
        return try await app.write(as: p.auditActor) { change in
            // Checked again inside the transaction: the data may have moved since the preview.
            let check = try await ImportCheck.run(sheets, principal: p, today: app.subcon.today(), on: change.db)
            guard check.problems.isEmpty else { throw Problem.conflict("problem.import.hasProblems", ["count": String(check.problems.count)]) }
            let claimed = try await (change.db as! any SQLDatabase).update(ImportBatch.schema)
                .set("status", to: "committed").set("committed_at", to: change.now)
                .where("id", .equal, id).where("status", .equal, "previewed").returning("id").all()
            guard !claimed.isEmpty else { throw Problem.conflict("problem.import.notPending") }
            let counts = try await ImportApply.run(check, by: p, in: change)
            try await change.audit("import", id, "commit", before: ["status": "previewed"],
                                   after: ["status": "committed", "created": String(counts.created), "updated": String(counts.updated)])
            return CommitResult(id: id, created: counts.created, updated: counts.updated)
        }
    }
}

extension TabularFile {
    /// An Excel workbook is a ZIP container; told apart by content, not by file name.
    static func isWorkbook(_ data: Data) -> Bool { data.starts(with: [0x50, 0x4B, 0x03, 0x04]) }

    /// The table and, for a workbook, the name of the (first) sheet it came from.
    static func read(_ data: Data, filename: String) throws(Failure) -> (sheet: String?, table: ImportTable) {
        if isWorkbook(data) {
            guard let first = try XLSX.readAll(data, limit: 1).first else { throw .empty }
            return (first.name, first.table)
        }
        return (nil, try readCSV(data))
    }
}
