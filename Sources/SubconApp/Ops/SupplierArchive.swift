import Crypto
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor
import ZIPFoundation

/// Everything about one supplier in one `.zip`: its records as CSV and JSON, the files attached
/// to them, and `manifest.json` with every entry's SHA-256 — for the buyer when a supplier
/// leaves or for an audit, and for the supplier about its own data.
///
/// Written to a temporary file a page of rows at a time (each record set streamed to its own
/// CSV and JSON file, each attached file read alone) and then streamed to the client, so a
/// large supplier is never held in memory.
enum SupplierArchive {
    /// One record set: its name in the archive and the rows of supplier `$S`.
    struct RecordSet: Sendable {
        let name: String
        let table: String
        /// A condition on the table aliased `t` naming the supplier with `?` (one or more times).
        let condition: String
    }

    static func by(_ column: String) -> String { "t.\(column) = ?" }
    static func through(_ column: String, _ parent: String) -> String {
        "t.\(column) IN (SELECT p.id FROM \(parent) p WHERE p.supplier_id = ?)"
    }

    static let sets: [RecordSet] = [
        RecordSet(name: "orders", table: "outsourcing_orders", condition: by("supplier_id")),
        RecordSet(name: "order_lines", table: "order_lines", condition: through("order_id", "outsourcing_orders")),
        RecordSet(name: "order_requirements", table: "order_requirements", condition: through("order_id", "outsourcing_orders")),
        RecordSet(name: "order_revisions", table: "order_revisions", condition: by("supplier_id")),
        RecordSet(name: "order_answers", table: "order_answers", condition: through("revision_id", "order_revisions")),
        RecordSet(name: "line_promises", table: "line_promises", condition: through("order_id", "outsourcing_orders")),
        RecordSet(name: "progress_reports", table: "progress_reports", condition: by("supplier_id")),
        RecordSet(name: "material_documents", table: "material_documents", condition: by("supplier_id")),
        RecordSet(name: "material_document_lines", table: "material_document_lines", condition: through("document_id", "material_documents")),
        RecordSet(name: "material_movements", table: "material_movements", condition: by("supplier_id")),
        RecordSet(name: "delivery_notes", table: "delivery_notes", condition: by("supplier_id")),
        RecordSet(name: "delivery_note_lines", table: "delivery_note_lines", condition: through("note_id", "delivery_notes")),
        RecordSet(name: "goods_receipts", table: "goods_receipts", condition: by("supplier_id")),
        RecordSet(name: "receipt_lines", table: "receipt_lines", condition: by("supplier_id")),
        RecordSet(name: "inspections", table: "inspections", condition: by("supplier_id")),
        RecordSet(name: "inspection_defects", table: "inspection_defects", condition: by("supplier_id")),
        RecordSet(name: "reject_decisions", table: "reject_decisions", condition: by("supplier_id")),
        RecordSet(name: "exceptions", table: "exceptions", condition: by("supplier_id")),
        RecordSet(name: "eight_d_steps", table: "eight_d_steps", condition: through("exception_id", "exceptions")),
        RecordSet(name: "exception_comments", table: "exception_comments", condition: through("exception_id", "exceptions")),
        RecordSet(name: "stock_counts", table: "stock_counts", condition: by("supplier_id")),
        RecordSet(name: "stock_count_lines", table: "stock_count_lines", condition: through("count_id", "stock_counts")),
        RecordSet(name: "statements", table: "statements", condition: by("supplier_id")),
        RecordSet(name: "statement_lines", table: "statement_lines", condition: through("statement_id", "statements")),
        RecordSet(name: "invoices", table: "invoices", condition: by("supplier_id")),
        RecordSet(name: "invoice_payments", table: "invoice_payments", condition: through("invoice_id", "invoices")),
        RecordSet(name: "scorecard_grades", table: "supplier_grades", condition: by("supplier_id")),
        RecordSet(name: "documents", table: "documents", condition: by("organization_id")),
    ]

    static let pageSize = 500

    struct Manifest: Codable {
        let supplierCode: String
        let supplierName: String
        let createdAt: Date
        let note: String
        let records: [String: Int]
        let entries: [Entry]
        struct Entry: Codable { let path: String; let size: Int; let sha256: String }
    }

    /// Who may take a supplier's archive: the buyer's people who manage suppliers, and the
    /// supplier's own admin (its own only).
    static func authorize(_ p: Principal, supplier: UUID, on db: any Database) async throws -> Organization {
        guard p.scope.includes(organizationID: supplier),
              let org = try await Organization.find(supplier, on: db), org.kind == OrganizationKind.supplier.rawValue else { throw Problem.notFound }
        guard p.isSupplier ? p.can(.manageOwnOrganizationUsers) : p.can(.manageSuppliers) else { throw Problem.forbidden }
        return org
    }

    /// Builds the archive into a temporary file and returns its path (the caller removes it).
    static func write(_ org: Organization, app: Application, now: Date) async throws -> String {
        let work = NSTemporaryDirectory() + "subcon-archive-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let zipPath = NSTemporaryDirectory() + "subcon-archive-\(UUID().uuidString).zip"
        let archive = try Archive(url: URL(fileURLWithPath: zipPath), accessMode: .create)
        var entries: [Manifest.Entry] = []
        var counts: [String: Int] = [:]
        let sql = app.database as! any SQLDatabase
        let supplier = org.id!

        /// Adds a file from disk under `path`, reading it in chunks, and notes its digest.
        func add(_ path: String, from file: String) throws {
            let (size, digest) = try Backup.sha256(of: file)
            try archive.addEntry(with: path, fileURL: URL(fileURLWithPath: file), compressionMethod: .deflate)
            entries.append(.init(path: path, size: size, sha256: digest))
        }

        for set in sets {
            let csvFile = work + "/\(set.name).csv", jsonFile = work + "/\(set.name).json"
            FileManager.default.createFile(atPath: csvFile, contents: Data([0xEF, 0xBB, 0xBF]))
            FileManager.default.createFile(atPath: jsonFile, contents: Data("[".utf8))
            let csv = try FileHandle(forWritingTo: URL(fileURLWithPath: csvFile)), json = try FileHandle(forWritingTo: URL(fileURLWithPath: jsonFile))
            try csv.seekToEnd(); try json.seekToEnd()
            var columns: [String]?
            var n = 0
            // The set's ids through the supplier's index first, then whole rows a batch of ids at a
            // time: each read is an index lookup, and only one batch of rows is in memory.
            let all = try await ids(sql, set, supplier: supplier)
            for start in stride(from: 0, to: all.count, by: pageSize) {
                let batch = Array(all[start..<min(start + pageSize, all.count)])
                let page = try await sql.raw("SELECT t.* FROM \(unsafeRaw: set.table) t WHERE t.id IN (\(binds: batch)) ORDER BY t.id").all()
                for row in page {
                    if columns == nil {
                        columns = row.allColumns
                        try csv.write(contentsOf: csvLine(columns!))
                    }
                    let cells = columns!.map { cell(row, $0) }
                    try csv.write(contentsOf: csvLine(cells.map { $0 ?? "" }))
                    var object: [String: String?] = [:]
                    for (c, v) in zip(columns!, cells) { object.updateValue(v, forKey: c) }
                    let encoded = try JSONEncoder.archive.encode(object)
                    try json.write(contentsOf: Data((n == 0 ? "\n" : ",\n").utf8) + encoded)
                    n += 1
                }
            }
            try json.write(contentsOf: Data("\n]\n".utf8))
            try csv.close(); try json.close()
            counts[set.name] = n
            try add("records/\(set.name).csv", from: csvFile)
            try add("records/\(set.name).json", from: jsonFile)
        }

        // The files attached to its records, one at a time.
        struct Doc: Decodable { let id: UUID; let filename: String }
        let docs = try await sql.raw("SELECT id, filename FROM documents WHERE organization_id = \(bind: supplier) ORDER BY created_at, id").rows(decoding: Doc.self)
        for d in docs {
            struct Content: Decodable { let data: Data }
            guard let content = try await sql.raw("SELECT data FROM document_contents WHERE document_id = \(bind: d.id)").firstRow(decoding: Content.self) else { continue }
            let file = work + "/file-\(d.id.uuidString)"
            try content.data.write(to: URL(fileURLWithPath: file))
            try add("files/\(d.id.uuidString.lowercased())-\(DocumentService.cleanName(d.filename))", from: file)
            try FileManager.default.removeItem(atPath: file)
        }

        let manifest = Manifest(supplierCode: org.code, supplierName: org.name, createdAt: now,
                                note: "Quantities, prices and amounts are integers in 1/10,000 (FixedDecimal units); times are ISO 8601 in UTC. files/ holds the attachments listed in records/documents.",
                                records: counts, entries: entries)
        let data = try JSONEncoder.manifest.encode(manifest)
        try archive.addEntry(with: "manifest.json", type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
            data.subdata(in: Int(position)..<Int(position) + size)
        }
        return zipPath
    }

    /// The ids of one record set of the supplier, in id order.
    static func ids(_ sql: any SQLDatabase, _ set: RecordSet, supplier: UUID) async throws -> [UUID] {
        let parts = set.condition.components(separatedBy: "?")
        var q = SQLQueryString("SELECT t.id FROM \(unsafeRaw: set.table) t WHERE ")
        for (i, part) in parts.enumerated() {
            q = q + SQLQueryString(stringLiteral: part)
            if i < parts.count - 1 { q = q + "\(bind: supplier)" }
        }
        return try await sql.raw(q + " ORDER BY t.id").all().map { try $0.decode(column: "id", as: UUID.self) }
    }

    /// One value as text, whatever its column type on either database.
    static func cell(_ row: any SQLRow, _ column: String) -> String? {
        if (try? row.decodeNil(column: column)) == true { return nil }
        if column.hasSuffix("_at"), let d = try? row.decode(column: column, as: Date.self) { return ISO8601DateFormatter().string(from: d) }
        if let s = try? row.decode(column: column, as: String.self) { return s }
        if let i = try? row.decode(column: column, as: Int64.self) { return String(i) }
        if let u = try? row.decode(column: column, as: UUID.self) { return u.uuidString }
        if let b = try? row.decode(column: column, as: Bool.self) { return String(b) }
        if let d = try? row.decode(column: column, as: Double.self) { return String(d) }
        if let d = try? row.decode(column: column, as: Date.self) { return ISO8601DateFormatter().string(from: d) }
        if let data = try? row.decode(column: column, as: Data.self) { return data.base64EncodedString() }
        return nil
    }

    static func csvLine(_ cells: [String]) -> Data {
        Data((cells.map { c in
            c.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + c.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : c
        }.joined(separator: ",") + "\r\n").utf8)
    }

    /// The download, for the API and the page alike; audited (who took whose data).
    static func download(_ req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let org = try await authorize(p, supplier: try req.idParameter(), on: req.db)
        let now = req.subcon.clock.now()
        let path = try await write(org, app: req.application, now: now)
        try await req.write { change in
            try await change.audit("organization", org.id, "archive_export", after: ["supplier": org.code])
        }
        let stamp = DateFormatter.backupStamp.string(from: now)
        let response = try await req.fileio.asyncStreamFile(at: path, mediaType: HTTPMediaType(type: "application", subType: "zip")) { _ in
            try? FileManager.default.removeItem(atPath: path)
        }
        response.headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"subcon-\(org.code)-\(stamp).zip\"")
        response.headers.replaceOrAdd(name: .cacheControl, value: "private, no-store")
        return response
    }
}

extension JSONEncoder {
    static var archive: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

struct SupplierArchiveRoutes: RouteCollection {
    /// `/api/v1/organizations/:id/archive` or `/admin/organizations/:id/archive`.
    let prefix: [PathComponent]
    func boot(routes: any RoutesBuilder) throws {
        routes.grouped(prefix).get(":id", "archive") { req in try await SupplierArchive.download(req) }
    }
}

/// A supplier's defects and files found through its own index, not by reading every row
/// (the archive reads each record set of one supplier).
struct AddArchiveIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "inspection_defects_supplier_idx", on: "inspection_defects", "supplier_id")
        try await createIndex(db, "documents_organization_idx", on: "documents", "organization_id", "created_at")
    }
    func revert(on db: any Database) async throws {
        for name in ["inspection_defects_supplier_idx", "documents_organization_idx"] { try await (db as! any SQLDatabase).drop(index: name).run() }
    }
}
