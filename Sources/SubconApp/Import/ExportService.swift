import CSV
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Downloads of master data in the same columns the import reads, with headers in the person's
/// language — so an export can be edited in Excel and imported back unchanged.
enum ExportService {
    enum Encoding: String { case utf8, gb18030 }

    /// Column headers as a download shows them: the catalog's text for `column.<kind>.<key>`.
    static func headers(_ kind: ImportKind, catalog: Catalog, locale: AppLocale) -> [String] {
        kind.columns.map { catalog.text("column.\(kind.rawValue).\($0.key)", locale) }
    }

    /// The header row and (unless a template is asked for) every record of one kind.
    static func rows(_ kind: ImportKind, template: Bool, catalog: Catalog, locale: AppLocale, on db: any Database) async throws -> [[String]] {
        let header = headers(kind, catalog: catalog, locale: locale)
        if template { return [header] }
        let sql = db as! any SQLDatabase
        switch kind {
        case .items:
            struct Row: Decodable { let code: String; let name: String; let specification: String; let uom: String; let kind: String; let warehouse: String?; let cost_price: Int64 }
            return [header] + (try await paged(sql, """
                SELECT i.code, i.name, i.specification, i.uom, i.kind, s.code AS warehouse, COALESCE(i.cost_price, 0) AS cost_price
                FROM items i LEFT JOIN sites s ON s.id = i.default_site_id ORDER BY i.code
                """, Row.self)).map { [$0.code, $0.name, $0.specification, $0.uom, $0.kind, $0.warehouse ?? "", FixedDecimal(units: $0.cost_price).description] }
        case .boms:
            struct Row: Decodable {
                let parent: String; let valid_from: String; let valid_to: String?; let component: String
                let quantity_per: Int64; let scrap_percent: Int64; let supply_by: String
            }
            return [header] + (try await paged(sql, """
                SELECT p.code AS parent, b.valid_from, b.valid_to, c.code AS component, l.quantity_per, l.scrap_percent, l.supply_by
                FROM boms b JOIN items p ON p.id = b.parent_item_id JOIN bom_lines l ON l.bom_id = b.id
                JOIN items c ON c.id = l.component_item_id ORDER BY p.code, b.number, l.line_no
                """, Row.self)).map {
                [$0.parent, $0.valid_from, $0.valid_to ?? "", $0.component, FixedDecimal(units: $0.quantity_per).description,
                 FixedDecimal(units: $0.scrap_percent).description, $0.supply_by]
            }
        case .routings:
            return [header] + (try await RoutingService.allOperations(on: db)).map {
                [$0.item, String($0.seq), $0.code, $0.name, $0.mode, $0.supplier ?? ""]
            }
        case .suppliers:
            struct Row: Decodable {
                let code: String; let name: String; let status: String?; let contact_name: String?; let contact_phone: String?
                let contact_email: String?; let address: String?; let capabilities: String?
            }
            return [header] + (try await paged(sql, """
                SELECT o.code, o.name, p.status, p.contact_name, p.contact_phone, p.contact_email, p.address, p.capabilities
                FROM organizations o LEFT JOIN supplier_profiles p ON p.organization_id = o.id
                WHERE o.kind = 'supplier' ORDER BY o.code
                """, Row.self)).map {
                [$0.code, $0.name, $0.status ?? "", $0.contact_name ?? "", $0.contact_phone ?? "", $0.contact_email ?? "",
                 $0.address ?? "", $0.capabilities ?? ""]
            }
        case .prices:
            struct Row: Decodable {
                let supplier: String; let item: String; let operation: String?; let currency: String; let valid_from: String
                let valid_to: String?; let unit_price: Int64; let tiers: String
            }
            return [header] + (try await paged(sql, """
                SELECT s.code AS supplier, i.code AS item, a.operation, a.currency, a.valid_from, a.valid_to, a.unit_price, a.tiers
                FROM price_agreements a JOIN organizations s ON s.id = a.supplier_id JOIN items i ON i.id = a.item_id
                ORDER BY s.code, i.code, a.operation, a.valid_from
                """, Row.self)).map {
                let row = PriceAgreementRow(); row.tiersText = $0.tiers
                return [$0.supplier, $0.item, $0.operation ?? "", $0.currency, $0.valid_from, $0.valid_to ?? "",
                        FixedDecimal(units: $0.unit_price).description, PriceImport.tiersText(row.tiers)]
            }
        case .orders:
            struct Row: Decodable {
                let code: String; let supplier: String; let item: String; let operation: String?; let quantity: Int64
                let due_date: String; let unit_price: Int64; let note: String
            }
            return [header] + (try await paged(sql, """
                SELECT o.code, s.code AS supplier, i.code AS item, l.operation, l.quantity, l.due_date, l.unit_price, o.note
                FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id JOIN organizations s ON s.id = o.supplier_id
                JOIN items i ON i.id = l.item_id WHERE l.state = 'open' AND o.status NOT IN ('cancelled', 'closed')
                ORDER BY o.code, l.line_no
                """, Row.self)).map {
                [$0.code, $0.supplier, $0.item, $0.operation ?? "", FixedDecimal(units: $0.quantity).description, $0.due_date,
                 FixedDecimal(units: $0.unit_price).description, $0.note]
            }
        case .workbook:
            return []
        }
    }

    /// Reads a large ordered query in pages, so no single statement returns everything at once.
    private static func paged<Row: Decodable>(_ sql: any SQLDatabase, _ query: String, _ type: Row.Type) async throws -> [Row] {
        var out: [Row] = [], offset = 0
        while true {
            let page = try await sql.raw("\(unsafeRaw: query) LIMIT 2000 OFFSET \(literal: offset)").rows(decoding: Row.self)
            out += page
            if page.count < 2000 { return out }
            offset += 2000
        }
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
        // Literal paths per kind, like the imports, so they never clash with parameter routes.
        for kind in ImportKind.allCases {
            routes.get("exports", PathComponent(stringLiteral: kind.rawValue)) { req in try await Self.file(req, kind: kind, format: nil) }
        }
    }

    /// `?format=csv|xlsx&encoding=utf8|gb18030&template=true`; the workbook (every kind, one
    /// sheet each) is .xlsx only. Shared by the API and the page links, which name the format.
    static func file(_ req: Request, kind: ImportKind, format fixed: String?) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.viewMasterData)
        let encodingText = req.queryText("encoding") ?? "utf8"
        guard let encoding = ExportService.Encoding(rawValue: encodingText) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("encoding", "invalidValue")])
        }
        let template = try req.boolQuery("template") ?? false
        let format = fixed ?? req.queryText("format") ?? (kind == .workbook ? "xlsx" : "csv")
        guard format == "xlsx" || (format == "csv" && kind != .workbook) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("format", "invalidValue")])
        }
        let catalog = req.subcon.catalog, locale = req.locale
        let data: Data
        if kind == .workbook {
            var sheets: [(name: String, rows: [[String]])] = []
            for k in ImportKind.dataKinds {
                sheets.append((k.sheetName(locale), try await ExportService.rows(k, template: template, catalog: catalog, locale: locale, on: req.db)))
            }
            data = try XLSX.write(sheets)
        } else {
            let rows = try await ExportService.rows(kind, template: template, catalog: catalog, locale: locale, on: req.db)
            data = format == "xlsx" ? try XLSX.write(rows, sheetName: kind.sheetName(locale)) : try ExportService.csv(rows, encoding: encoding)
        }
        let name = kind.rawValue + (template ? "-template." : ".") + format
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: format == "xlsx"
            ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            : "text/csv; charset=\(encoding == .utf8 ? "utf-8" : "gb18030")")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(name)\"")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}

/// A table sent as a download: `.xlsx` or `.csv` (UTF-8 with a byte-order mark), for reports
/// and lists that people take into Excel.
enum SpreadsheetDownload {
    static func format(_ req: Request) throws -> String {
        let format = req.queryText("format") ?? "csv"
        guard format == "csv" || format == "xlsx" else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("format", "invalidValue")]) }
        return format
    }

    static func response(_ rows: [[String]], sheet: String, filename: String, format: String) throws -> Response {
        let data = format == "xlsx" ? try XLSX.write(rows, sheetName: sheet) : try ExportService.csv(rows, encoding: .utf8)
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: format == "xlsx"
            ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv; charset=utf-8")
        headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(filename).\(format)\"")
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}
