import Crypto
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// An uploaded file (evidence, certificates of analysis, photos). The bytes live in the
/// database next to the record they belong to, so an upload is part of the same transaction as
/// the change it documents — nothing is half-saved — and every app instance sees it.
final class Document: Model, @unchecked Sendable {
    static let schema = "documents"

    @ID(key: .id) var id: UUID?
    /// Whose data this is: a supplier sees only documents of its own organization.
    @Field(key: "organization_id") var organizationID: UUID
    /// What it documents, e.g. `qualification` with the check row's id.
    @Field(key: "entity") var entity: String
    @Field(key: "entity_id") var entityID: String
    @Field(key: "filename") var filename: String
    @Field(key: "media_type") var mediaType: String
    @Field(key: "size") var size: Int
    @Field(key: "sha256") var sha256: String
    @Field(key: "uploaded_by") var uploadedBy: UUID
    @Field(key: "created_at") var createdAt: Date

    init() {}

    var auditSnapshot: [String: String?] {
        ["entity": entity, "entity_id": entityID, "filename": filename, "media_type": mediaType, "size": String(size), "sha256": sha256]
    }
}

extension Document: SupplierOwned { static var ownerKey: FieldKey { "organization_id" } }

final class DocumentContent: Model, @unchecked Sendable {
    static let schema = "document_contents"
    @ID(custom: "document_id", generatedBy: .user) var id: UUID?
    @Field(key: "data") var data: Data
    init() {}
}

struct CreateDocuments: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("documents")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("entity", .string, .required)
            .field("entity_id", .string, .required)
            .field("filename", .string, .required)
            .field("media_type", .string, .required)
            .field("size", .int, .required)
            .field("sha256", .string, .required)
            .field("uploaded_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "documents_entity_idx", on: "documents", "entity", "entity_id")
        try await db.schema("document_contents")
            .field("document_id", .uuid, .identifier(auto: false), .references("documents", "id", onDelete: .cascade))
            .field("data", .data, .required)
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("document_contents").delete()
        try await db.schema("documents").delete()
    }
}

struct DocumentDTO: Content {
    let id: UUID
    let filename: String
    let mediaType: String
    let size: Int
    let sha256: String
    let createdAt: Date
    let url: String
    init(_ d: Document) {
        id = d.id!; filename = d.filename; mediaType = d.mediaType; size = d.size; sha256 = d.sha256; createdAt = d.createdAt
        url = "/api/v1/documents/\(d.id!)"
    }
}

enum DocumentService {
    static let maxBytes = 10 * 1024 * 1024

    /// Checks and stores a file inside the caller's transaction, with its audit row.
    static func store(_ data: Data, filename: String, allowed: Set<FileType>, owner: UUID, entity: String, entityID: String,
                      by userID: UUID, in change: Change) async throws -> Document {
        let (type, name) = try checkFile(data, filename: filename, allowed: allowed, maxBytes: maxBytes)
        let doc = Document()
        doc.id = UUID(); doc.organizationID = owner; doc.entity = entity; doc.entityID = entityID
        doc.filename = name; doc.mediaType = mediaType(type, name: name)
        doc.size = data.count; doc.sha256 = SHA256.hash(data: data).lowercaseHex; doc.uploadedBy = userID; doc.createdAt = change.now
        try await doc.create(on: change.db)
        let content = DocumentContent()
        content.id = doc.id; content.data = data
        try await content.create(on: change.db)
        try await change.audit("document", doc.id, "create", after: doc.auditSnapshot)
        return doc
    }

    /// Every upload's checks: not empty, not too large, really one of the allowed kinds (by its
    /// bytes); and the name it will be shown under.
    static func checkFile(_ data: Data, filename: String, allowed: Set<FileType>, maxBytes: Int) throws -> (FileType, String) {
        guard !data.isEmpty else { throw Problem.validation([FieldProblem("file", "fileEmpty")]) }
        guard data.count <= maxBytes else { throw Problem.validation([FieldProblem("file", "fileTooLarge", ["max": "\(maxBytes / 1024 / 1024) MB"])]) }
        guard let type = FileType.sniff(data), allowed.contains(type) else {
            throw Problem.validation([FieldProblem("file", "fileTypeNotAllowed", ["allowed": allowed.map(\.rawValue).sorted().joined(separator: ", ")])])
        }
        return (type, cleanName(filename))
    }

    /// The type a file is served as: the sniffed one, and for Office files the one its name says.
    static func mediaType(_ type: FileType, name: String) -> String { type == .officeZip ? officeType(name) : type.mediaType }

    /// A name safe to show and to put in a download header: no path, no control characters.
    static func cleanName(_ name: String) -> String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let clean = String(last.unicodeScalars.filter { $0.value >= 0x20 && $0 != "\"" && $0.value != 0x7F }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        return clean.isEmpty ? "file" : String(clean.prefix(200))
    }

    static func officeType(_ name: String) -> String {
        switch name.split(separator: ".").last?.lowercased() {
        case "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        default: "application/zip"
        }
    }

    static func list(entity: String, ids: [String], on db: any Database) async throws -> [Document] {
        guard !ids.isEmpty else { return [] }
        return try await Document.query(on: db).filter(\.$entity == entity).filter(\.$entityID ~~ ids).sort(\.$createdAt).all()
    }

    /// The file, to a person allowed to see its organization's data. Pictures and PDFs open in
    /// the browser; anything else downloads. The declared type is the sniffed one, never the uploader's.
    static func download(_ req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let doc = try await p.scope.find(Document.self, try req.idParameter(), on: req.db)
        guard let content = try await DocumentContent.find(doc.id, on: req.db) else { throw Problem.notFound }
        return fileResponse(content.data, filename: doc.filename, mediaType: doc.mediaType, cacheControl: "private, max-age=3600")
    }

    /// A stored file as the browser should get it: pictures and PDFs open in place, anything
    /// else downloads; the type is the sniffed one and the browser may not guess another.
    static func fileResponse(_ data: Data, filename: String, mediaType: String, cacheControl: String) -> Response {
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: mediaType)
        let inline = mediaType.hasPrefix("image/") || mediaType == "application/pdf"
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: ".-_"))) ?? "file"
        headers.replaceOrAdd(name: .contentDisposition, value: "\(inline ? "inline" : "attachment"); filename=\"file\"; filename*=UTF-8''\(encoded)")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        headers.replaceOrAdd(name: .cacheControl, value: cacheControl)
        return Response(status: .ok, headers: headers, body: .init(data: data))
    }
}

struct DocumentsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("documents", ":id") { req in try await DocumentService.download(req) }
    }
}
