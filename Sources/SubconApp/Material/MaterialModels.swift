import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A material document: an issue (发料), a supplementary issue (补料, waits for approval), a
/// return (退料), a transfer between suppliers, a scrap report or a counted correction. Its lines
/// become ledger movements when it takes effect.
final class MaterialDocument: Model, @unchecked Sendable {
    static let schema = "material_documents"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    /// issue, supplementary, return, transfer, scrap, adjustment.
    @Field(key: "kind") var kind: String
    /// done (in the ledger), pending_approval, refused.
    @Field(key: "status") var status: String
    @Field(key: "supplier_id") var supplierID: UUID
    /// The receiving supplier of a transfer (it sees the document too).
    @OptionalField(key: "to_supplier_id") var toSupplierID: UUID?
    @OptionalField(key: "order_id") var orderID: UUID?
    /// For returns: good or defective.
    @OptionalField(key: "condition") var condition: String?
    @Field(key: "reason") var reason: String
    @Field(key: "version") var version: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "decided_by") var decidedBy: UUID?
    @OptionalField(key: "decided_at") var decidedAt: Date?
    @Field(key: "decision_note") var decisionNote: String
    init() {}
}

final class MaterialDocumentLine: Model, @unchecked Sendable {
    static let schema = "material_document_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "document_id") var documentID: UUID
    @Field(key: "no") var number: Int
    /// The order line a requirement belongs to (issues), when there is one.
    @OptionalField(key: "order_line_no") var orderLineNumber: Int?
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "lot") var lot: String
    /// Signed for adjustments, positive otherwise.
    @Field(key: "quantity") var quantity: Int64
    /// What the supplier confirmed having received (issues and transfers).
    @OptionalField(key: "confirmed_quantity") var confirmedQuantity: Int64?
    @OptionalField(key: "confirmed_by") var confirmedBy: UUID?
    @OptionalField(key: "confirmed_at") var confirmedAt: Date?
    init() {}
}

/// One ledger movement. Rows are only ever inserted.
final class MaterialMovement: Model, @unchecked Sendable {
    static let schema = "material_movements"
    @ID(key: .id) var id: UUID?
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "lot") var lot: String
    @Field(key: "kind") var kind: String
    @Field(key: "quantity") var quantity: Int64
    /// Consumption only: the loss the BOM's scrap rate allows on it.
    @Field(key: "allowance") var allowance: Int64
    @OptionalField(key: "order_id") var orderID: UUID?
    @OptionalField(key: "order_line_no") var orderLineNumber: Int?
    @OptionalField(key: "document_id") var documentID: UUID?
    /// Consumption only: the received line whose accepted goods used it (lot traceability).
    @OptionalField(key: "receipt_line_id") var receiptLineID: UUID?
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

extension MaterialMovement: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// A delivery note (送货单 / ASN): what the supplier ships against an order.
final class DeliveryNote: Model, @unchecked Sendable {
    static let schema = "delivery_notes"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "ship_date") var shipDate: String
    /// shipped, partially_received, received, cancelled.
    @Field(key: "status") var status: String
    @Field(key: "note") var note: String
    @Field(key: "version") var version: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

extension DeliveryNote: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

final class DeliveryNoteLine: Model, @unchecked Sendable {
    static let schema = "delivery_note_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "note_id") var noteID: UUID
    @Field(key: "no") var number: Int
    @Field(key: "order_line_no") var orderLineNumber: Int
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "lot") var lot: String
    @Field(key: "quantity") var quantity: Int64
    @Field(key: "received_quantity") var receivedQuantity: Int64
    init() {}
}

/// A goods receipt (收货), against a delivery note or directly.
final class GoodsReceipt: Model, @unchecked Sendable {
    static let schema = "goods_receipts"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "order_id") var orderID: UUID
    @OptionalField(key: "delivery_note_id") var deliveryNoteID: UUID?
    @Field(key: "note") var note: String
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    /// The installation's calendar day of the receipt (delivery performance compares it with
    /// the line's due day).
    @OptionalField(key: "receipt_day") var receiptDay: String?
    init() {}
}

extension GoodsReceipt: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// A received quantity of one order line and lot, waiting for inspection until it is decided.
final class ReceiptLine: Model, @unchecked Sendable {
    static let schema = "receipt_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "receipt_id") var receiptID: UUID
    @Field(key: "no") var number: Int
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "order_line_no") var orderLineNumber: Int
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "lot") var lot: String
    @Field(key: "quantity") var quantity: Int64
    /// awaiting_inspection, accepted, rejected, partial.
    @Field(key: "status") var status: String
    @Field(key: "accepted_quantity") var acceptedQuantity: Int64
    @Field(key: "rejected_quantity") var rejectedQuantity: Int64
    @OptionalField(key: "decided_by") var decidedBy: UUID?
    @OptionalField(key: "decided_at") var decidedAt: Date?
    @Field(key: "version") var version: Int
    /// The receipt's time, kept on the line for the inspection work list's order.
    @OptionalField(key: "received_at") var receivedAt: Date?
    init() {}
}

/// An exception (异常) raised about a supplier's work. Material discrepancies are raised here
/// when a confirmation differs from what was issued; the exception workflow itself (owners,
/// deadlines, 8D) builds on this table.
final class ExceptionCase: Model, @unchecked Sendable {
    static let schema = "exceptions"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    /// quality, delay, material_discrepancy, plan_change, other.
    @Field(key: "type") var type: String
    /// critical, major, minor.
    @Field(key: "severity") var severity: String
    /// open, closed.
    @Field(key: "status") var status: String
    @Field(key: "supplier_id") var supplierID: UUID
    @OptionalField(key: "order_id") var orderID: UUID?
    @OptionalField(key: "item_id") var itemID: UUID?
    @Field(key: "lot") var lot: String
    /// What raised it, e.g. `material_document` and its id.
    @Field(key: "source") var source: String
    @Field(key: "source_id") var sourceID: String
    @Field(key: "title") var title: String
    @Field(key: "description") var description: String
    @OptionalField(key: "raised_by") var raisedBy: UUID?
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "version") var version: Int
    @OptionalField(key: "buyer_owner_id") var buyerOwnerID: UUID?
    @OptionalField(key: "supplier_owner_id") var supplierOwnerID: UUID?
    @OptionalField(key: "response_by") var responseBy: Date?
    @OptionalField(key: "containment_by") var containmentBy: Date?
    @OptionalField(key: "resolve_by") var resolveBy: Date?
    @OptionalField(key: "responded_at") var respondedAt: Date?
    @OptionalField(key: "contained_at") var containedAt: Date?
    @OptionalField(key: "closed_at") var closedAt: Date?
    @OptionalField(key: "closed_by") var closedBy: UUID?
    /// Minutes from raised to the supplier's first answer, and to closure (kept for the scorecard).
    @OptionalField(key: "response_minutes") var responseMinutes: Int?
    @OptionalField(key: "closure_minutes") var closureMinutes: Int?
    @OptionalField(key: "receipt_line_id") var receiptLineID: UUID?
    @Field(key: "resolution") var resolution: String
    @Field(key: "escalation_level") var escalationLevel: Int
    /// Defect codes found (comma separated), for the lessons-learned search.
    @Field(key: "defect_codes") var defectCodes: String
    /// Closes only through an 8D report verified by the buyer.
    @Field(key: "eight_d") var eightD: Bool
    @Field(key: "reopened") var reopened: Int
    /// The penalty quality or purchasing set for the statement (PenaltyRule.Kind; empty: none).
    @OptionalField(key: "penalty_kind") var penaltyKind: String?
    @OptionalField(key: "penalty_value") var penaltyValue: Int64?
    /// For exceptions the system raises: title and description as catalog keys with their
    /// parameters (JSON), so each reader gets them in their own language.
    @OptionalField(key: "words") var wordsJSON: String?

    var words: ExceptionWords? { wordsJSON.flatMap { try? JSONDecoder().decode(ExceptionWords.self, from: Data($0.utf8)) } }
    init() {}
}

extension ExceptionCase: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// A write-off variance beyond tolerance, proposed as a deduction on the supplier's statement.
final class DeductionProposal: Model, @unchecked Sendable {
    static let schema = "deduction_proposals"
    @ID(key: .id) var id: UUID?
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "item_id") var itemID: UUID
    /// The month, YYYY-MM.
    @Field(key: "period") var period: String
    @Field(key: "quantity") var quantity: Int64
    @Field(key: "tolerance") var tolerance: Int64
    /// proposed (until the statement takes it up).
    @Field(key: "status") var status: String
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}
}

extension DeductionProposal: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

struct CreateMaterialFlow: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("order_requirements").field("issued_quantity", .int64, .required, .sql(.default(0))).update()
        // The warehouse's lists walk only what is still due: requirements not fully issued (a
        // partial index, usually a small fraction of them), order lines by due date.
        try await (db as! any SQLDatabase).raw("""
            CREATE INDEX order_requirements_to_issue_idx ON order_requirements (order_id)
            WHERE supply_by = 'manufacturer' AND gross_quantity > issued_quantity
            """).run()
        try await createIndex(db, "order_lines_due_order_idx", on: "order_lines", "due_date", "order_id", "line_no")
        try await db.schema("material_documents")
            .id()
            .field("code", .string, .required)
            .field("kind", .string, .required)
            .field("status", .string, .required)
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("to_supplier_id", .uuid, .references("organizations", "id"))
            .field("order_id", .uuid, .references("outsourcing_orders", "id"))
            .field("condition", .string)
            .field("reason", .string, .required)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("decision_note", .string, .required)
            .unique(on: "code")
            .create()
        try await createIndex(db, "material_documents_supplier_idx", on: "material_documents", "supplier_id", "created_at")
        try await createIndex(db, "material_documents_order_idx", on: "material_documents", "order_id")
        try await createIndex(db, "material_documents_status_idx", on: "material_documents", "status", "created_at")
        try await db.schema("material_document_lines")
            .id()
            .field("document_id", .uuid, .required, .references("material_documents", "id", onDelete: .cascade))
            .field("no", .int, .required)
            .field("order_line_no", .int)
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("lot", .string, .required)
            .field("quantity", .int64, .required)
            .field("confirmed_quantity", .int64)
            .field("confirmed_by", .uuid)
            .field("confirmed_at", .datetime)
            .unique(on: "document_id", "no")
            .create()
        try await db.schema("material_movements")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("lot", .string, .required)
            .field("kind", .string, .required)
            .field("quantity", .int64, .required)
            .field("allowance", .int64, .required)
            .field("order_id", .uuid)
            .field("order_line_no", .int)
            .field("document_id", .uuid)
            .field("receipt_line_id", .uuid)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "material_movements_key_idx", on: "material_movements", "supplier_id", "item_id", "lot")
        try await createIndex(db, "material_movements_item_lot_idx", on: "material_movements", "item_id", "lot")
        try await createIndex(db, "material_movements_order_idx", on: "material_movements", "order_id")
        try await createIndex(db, "material_movements_created_idx", on: "material_movements", "created_at")
        try await db.schema("delivery_notes")
            .id()
            .field("code", .string, .required)
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id"))
            .field("ship_date", .string, .required)
            .field("status", .string, .required)
            .field("note", .string, .required)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await createIndex(db, "delivery_notes_supplier_idx", on: "delivery_notes", "supplier_id", "created_at")
        try await createIndex(db, "delivery_notes_status_idx", on: "delivery_notes", "status", "ship_date")
        try await createIndex(db, "delivery_notes_order_idx", on: "delivery_notes", "order_id")
        try await db.schema("delivery_note_lines")
            .id()
            .field("note_id", .uuid, .required, .references("delivery_notes", "id", onDelete: .cascade))
            .field("no", .int, .required)
            .field("order_line_no", .int, .required)
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("lot", .string, .required)
            .field("quantity", .int64, .required)
            .field("received_quantity", .int64, .required)
            .unique(on: "note_id", "no")
            .create()
        try await db.schema("goods_receipts")
            .id()
            .field("code", .string, .required)
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id"))
            .field("delivery_note_id", .uuid, .references("delivery_notes", "id"))
            .field("note", .string, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
        try await createIndex(db, "goods_receipts_order_idx", on: "goods_receipts", "order_id")
        try await createIndex(db, "goods_receipts_supplier_idx", on: "goods_receipts", "supplier_id", "created_at")
        try await db.schema("receipt_lines")
            .id()
            .field("receipt_id", .uuid, .required, .references("goods_receipts", "id", onDelete: .cascade))
            .field("no", .int, .required)
            .field("supplier_id", .uuid, .required)
            .field("order_id", .uuid, .required)
            .field("order_line_no", .int, .required)
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("lot", .string, .required)
            .field("quantity", .int64, .required)
            .field("status", .string, .required)
            .field("accepted_quantity", .int64, .required)
            .field("rejected_quantity", .int64, .required)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("version", .int, .required)
            .unique(on: "receipt_id", "no")
            .create()
        try await createIndex(db, "receipt_lines_order_idx", on: "receipt_lines", "order_id", "order_line_no")
        try await createIndex(db, "receipt_lines_status_idx", on: "receipt_lines", "status")
        try await createIndex(db, "receipt_lines_item_lot_idx", on: "receipt_lines", "item_id", "lot")
        try await db.schema("exceptions")
            .id()
            .field("code", .string, .required)
            .field("type", .string, .required)
            .field("severity", .string, .required)
            .field("status", .string, .required)
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("order_id", .uuid)
            .field("item_id", .uuid)
            .field("lot", .string, .required)
            .field("source", .string, .required)
            .field("source_id", .string, .required)
            .field("title", .string, .required)
            .field("description", .string, .required)
            .field("raised_by", .uuid)
            .field("created_at", .datetime, .required)
            .field("version", .int, .required)
            .unique(on: "code")
            .create()
        try await createIndex(db, "exceptions_supplier_idx", on: "exceptions", "supplier_id", "status")
        try await createIndex(db, "exceptions_source_idx", on: "exceptions", "source", "source_id")
        try await db.schema("deduction_proposals")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("period", .string, .required)
            .field("quantity", .int64, .required)
            .field("tolerance", .int64, .required)
            .field("status", .string, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "supplier_id", "item_id", "period")
            .create()
    }

    func revert(on db: any Database) async throws {
        for t in ["deduction_proposals", "exceptions", "receipt_lines", "goods_receipts", "delivery_note_lines", "delivery_notes",
                  "material_movements", "material_document_lines", "material_documents"] {
            try await db.schema(t).delete()
        }
        try await (db as! any SQLDatabase).raw("DROP INDEX order_lines_due_order_idx").run()
        try await (db as! any SQLDatabase).raw("DROP INDEX order_requirements_to_issue_idx").run()
        try await db.schema("order_requirements").deleteField("issued_quantity").update()
    }
}
