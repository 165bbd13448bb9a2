import CSV
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// CSV downloads of master data, in the same columns the import reads, with headers in the
/// person's language — so an export can be edited in Excel and imported back unchanged.
enum ExportService {
    enum Encoding: String { case utf8, gb18030 }

    /// Column headers as a download shows them: the catalog's text for `column.items.<key>`.
    static func headers(_ columns: [ImportColumn], kind: String, catalog: Catalog, locale: AppLocale) -> [String] {
        columns.map { catalog.text("column.\(kind).\($0.key)", locale) }
    }

    static func items(template: Bool, catalog: Catalog, locale: AppLocale, on db: any Database) async throws -> [[String]] {
        var rows = [headers(ItemImport.columns, kind: "items", catalog: catalog, locale: locale)]
        if template { return rows }
        struct Row: Decodable { let code: String; let name: String; let specification: String; let uom: String; let kind: String; let warehouse: String? }
        let sql = db as! any SQLDatabase
        var offset = 0
        while true {
            let page = try await sql.raw("""
                SELECT i.code, i.name, i.specification, i.uom, i.kind, s.code AS warehouse
                FROM items i LEFT JOIN sites s ON s.id = i.default_site_id
                ORDER BY i.code LIMIT 2000 OFFSET \(literal: offset)
                """).all(decoding: Row.self)
            rows += page.map { [$0.code, $0.name, $0.specification, $0.uom, $0.kind, $0.warehouse ?? ""] }
            if page.count < 2000 { break }
            offset += 2000
        }
        return rows
    }

    /// UTF-8 with a byte-order mark (so Excel recognises it), or GB18030 for older Excel.
    static func csv(_ rows: [[String]], encoding: Encoding) throws -> Data {
        let stream = OutputStream(toMemory: ())
        let writer = try CSVWriter(stream: stream, newline: .crlf)
        for row in rows { try writer.write(row: row) }
        writer.stream.close()
        let utf8 = writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data ?? Data()
        switch encoding {
        case .utf8: return Data([0xEF, 0xBB, 0xBF]) + utf8
        case .gb18030:
            guard let text = String(data: utf8, encoding: .utf8), let data = text.data(using: TabularFile.gb18030) else {
                throw Problem.validation([FieldProblem("encoding", "invalidValue")])
            }
            return data
        }
    }
}

struct ExportsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("exports", "items", use: items)
    }

    /// `?format=csv|xlsx&encoding=utf8|gb18030&template=true`
    func items(req: Request) async throws -> Response {
        try await Self.itemsFile(req)
    }

    /// The item export or template as CSV or .xlsx (shared by the API and the page links).
    static func itemsFile(_ req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.viewMasterData)
        let encodingText = req.query[String.self, at: "encoding"] ?? "utf8"
        guard let encoding = ExportService.Encoding(rawValue: encodingText) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("encoding", "invalidValue")])
        }
        let template = try req.boolQuery("template") ?? false
        let format = req.query[String.self, at: "format"] ?? "csv"
        guard ["csv", "xlsx"].contains(format) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("format", "invalidValue")])
        }
        let rows = try await ExportService.items(template: template, catalog: req.subcon.catalog, locale: req.locale, on: req.db)
        let data = format == "xlsx" ? try XLSX.write(rows, sheetName: "items") : try ExportService.csv(rows, encoding: encoding)
        let name = (template ? "items-template." : "items.") + format
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: format == "xlsx"
            ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            : "text/csv; charset=\(encoding == .utf8 ? "utf-8" : "gb18030")")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(name)\"")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}
