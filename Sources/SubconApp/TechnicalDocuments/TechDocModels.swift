import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Technical documents per item, their revisions, who they are shared with by hand, who
/// downloaded which revision and which supplier acknowledged it. A revision's bytes are stored
/// once per SHA-256 in `file_blobs`: the same drawing attached to ten items is one row.
struct CreateTechnicalDocuments: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("file_blobs")
            .field("sha256", .string, .required)
            .field("size", .int, .required)
            .field("data", .data, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "sha256")
            .create()
        try await db.schema("tech_documents")
            .id()
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("kind", .string, .required)
            .field("title", .string, .required)
            // A routing operation's code, when the document is for one step only ("" for the item).
            .field("operation", .string, .required)
            .field("order_id", .uuid, .references("outsourcing_orders", "id"))
            .field("current_revision_id", .uuid)
            .field("current_label", .string)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .create()
        try await createIndex(db, "tech_documents_item_idx", on: "tech_documents", "item_id", "kind", "title")
        try await createIndex(db, "tech_documents_updated_idx", on: "tech_documents", "updated_at", "id")
        try await db.schema("tech_document_revisions")
            .id()
            .field("document_id", .uuid, .required, .references("tech_documents", "id"))
            .field("label", .string, .required)
            .field("sha256", .string, .required)
            .field("filename", .string, .required)
            .field("media_type", .string, .required)
            .field("size", .int, .required)
            .field("note", .string, .required)
            .field("uploaded_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("superseded_at", .datetime)
            .unique(on: "document_id", "label")
            .create()
        try await db.schema("tech_document_grants")
            .id()
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("state", .string, .required)
            .field("reason", .string, .required)
            .field("set_by", .uuid, .required)
            .field("set_at", .datetime, .required)
            .unique(on: "item_id", "supplier_id")
            .create()
        try await createIndex(db, "tech_document_grants_supplier_idx", on: "tech_document_grants", "supplier_id", "state", "item_id")
        try await db.schema("tech_document_downloads")
            .id()
            .field("document_id", .uuid, .required)
            .field("revision_id", .uuid, .required)
            .field("user_id", .uuid, .required)
            .field("organization_id", .uuid, .required)
            .field("at", .datetime, .required)
            .create()
        try await createIndex(db, "tech_document_downloads_doc_idx", on: "tech_document_downloads", "document_id", "at")
        try await db.schema("tech_document_acks")
            .id()
            .field("revision_id", .uuid, .required, .references("tech_document_revisions", "id"))
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("user_id", .uuid, .required)
            .field("at", .datetime, .required)
            .unique(on: "revision_id", "organization_id")
            .create()
        // Shipping the item waits for the supplier's read receipt of every current revision.
        try await db.schema("items").field("require_document_ack", .bool, .required, .sql(.default(false))).update()
        // Sharing follows the orders: "does this supplier have an open order for this item".
        try await createIndex(db, "order_lines_item_supplier_idx", on: "order_lines", "item_id", "supplier_id", "order_id")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "order_lines_item_supplier_idx").run()
        try await db.schema("items").deleteField("require_document_ack").update()
        for t in ["tech_document_acks", "tech_document_downloads", "tech_document_grants", "tech_document_revisions", "tech_documents", "file_blobs"] {
            try await db.schema(t).delete()
        }
    }
}

struct TechDocumentRevisionDTO: Content {
    let id: UUID
    let label: String
    let filename: String
    let mediaType: String
    let size: Int
    let sha256: String
    let note: String
    let uploadedBy: String
    let createdAt: Date
    let supersededAt: Date?
    let current: Bool
    let url: String
}

struct TechDocumentDTO: Content {
    let id: UUID
    let itemId: UUID
    let itemCode: String
    let itemName: String
    let kind: String
    let title: String
    let operation: String
    let orderId: UUID?
    let currentRevision: String?
    let currentRevisionId: UUID?
    let version: Int
    let updatedAt: Date
    /// For a supplier: whether it has acknowledged the current revision.
    let acknowledged: Bool?
    /// For a supplier: why it sees the document (`open_order` or `grant`).
    let sharedBy: String?
    let requiresAcknowledgment: Bool
}

struct TechDocumentDetailDTO: Content {
    let document: TechDocumentDTO
    let revisions: [TechDocumentRevisionDTO]
    /// The buyer's view: every supplier the current revision is shared with, and its read receipt.
    let receipts: [ReadReceiptDTO]?
    let downloads: [DownloadDTO]?
}

struct ReadReceiptDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let sharedBy: String
    let acknowledgedAt: Date?
    let acknowledgedBy: String?
}

struct DownloadDTO: Content {
    let revision: String
    let userName: String
    let organizationName: String
    let at: Date
}

struct DocumentGrantDTO: Content {
    let itemId: UUID
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    /// `granted`, `withheld`, or `open_order` for a supplier that sees the documents through its orders only.
    let state: String
    let reason: String
    let setAt: Date?
}

struct TechDocumentInput: StrictInput {
    static let fields: Set<String> = ["itemId", "kind", "title", "operation", "orderId"]
    let itemId: UUID
    let kind: String
    let title: String
    let operation: String?
    let orderId: UUID?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if TechnicalDocumentKind(rawValue: kind) == nil { p.append(FieldProblem("kind", "invalidValue")) }
        let t = title.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.isEmpty { p.append(FieldProblem("title", "required")) } else if t.count > 200 { p.append(FieldProblem("title", "tooLong", ["max": "200"])) }
        if (operation ?? "").count > 50 { p.append(FieldProblem("operation", "tooLong", ["max": "50"])) }
        return p
    }
}

struct AcknowledgeInput: StrictInput {
    static let fields: Set<String> = ["revisionId"]
    /// The revision read: acknowledging a revision that is no longer current is refused.
    let revisionId: UUID
}

struct GrantInput: StrictInput {
    static let fields: Set<String> = ["itemId", "supplierId", "state", "reason"]
    let itemId: UUID
    let supplierId: UUID
    /// `granted`, `withheld`, or `none` to let the orders decide again.
    let state: String
    let reason: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if state != "none" && DocumentSharing.Grant(rawValue: state) == nil { p.append(FieldProblem("state", "invalidValue")) }
        if (reason ?? "").count > 500 { p.append(FieldProblem("reason", "tooLong", ["max": "500"])) }
        return p
    }
}

struct DocumentSettingsInput: StrictInput {
    static let fields: Set<String> = ["requireAcknowledgment"]
    let requireAcknowledgment: Bool
}
