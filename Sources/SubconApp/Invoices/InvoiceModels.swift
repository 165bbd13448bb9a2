import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A supplier's VAT invoice (增值税专用发票) registered against one of its locked statements.
/// Money in the fen units of `FixedDecimal` (scale 4, whole fen). `paid` is the sum of its
/// payments, kept with them in one transaction so lists need no second query.
final class Invoice: Model, @unchecked Sendable {
    static let schema = "invoices"
    @ID(key: .id) var id: UUID?
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "statement_id") var statementID: UUID
    /// The invoice number (发票号码) and, for older invoices, the invoice code (发票代码).
    @Field(key: "number") var number: String
    @Field(key: "invoice_code") var invoiceCode: String
    @Field(key: "issue_date") var issueDate: String
    @Field(key: "net") var net: Int64
    @Field(key: "tax_percent") var taxPercent: Int64
    @Field(key: "tax") var tax: Int64
    @Field(key: "gross") var gross: Int64
    /// InvoiceLifecycle.State.
    @Field(key: "status") var status: String
    /// InvoiceMatching.Flag raw values, comma-separated; empty when the invoice fits.
    @Field(key: "flags") var flags: String
    @Field(key: "decision_reason") var decisionReason: String
    @OptionalField(key: "decided_by") var decidedBy: UUID?
    @OptionalField(key: "decided_at") var decidedAt: Date?
    @Field(key: "paid") var paid: Int64
    @Field(key: "version") var version: Int
    /// Position in the feed an ERP polls (`/invoices/changes?after=N`).
    @Field(key: "change_seq") var changeSeq: Int64
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}

    var state: InvoiceLifecycle.State { InvoiceLifecycle.State(rawValue: status) ?? .registered }
    var flagList: [InvoiceMatching.Flag] { flags.split(separator: ",").compactMap { InvoiceMatching.Flag(rawValue: String($0)) } }
    var figures: InvoiceMatching.Figures {
        .init(net: FixedDecimal(units: net), taxPercent: FixedDecimal(units: taxPercent), tax: FixedDecimal(units: tax), gross: FixedDecimal(units: gross))
    }

    var auditSnapshot: [String: String?] {
        ["number": number, "invoice_code": invoiceCode, "issue_date": issueDate, "net": FixedDecimal(units: net).description,
         "tax_percent": FixedDecimal(units: taxPercent).description, "tax": FixedDecimal(units: tax).description,
         "gross": FixedDecimal(units: gross).description, "status": status, "flags": flags, "reason": decisionReason,
         "paid": FixedDecimal(units: paid).description]
    }
}

extension Invoice: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// A payment finance recorded against an accepted invoice.
final class InvoicePayment: Model, @unchecked Sendable {
    static let schema = "invoice_payments"
    @ID(key: .id) var id: UUID?
    @Field(key: "invoice_id") var invoiceID: UUID
    @Field(key: "statement_id") var statementID: UUID
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "paid_on") var paidOn: String
    @Field(key: "amount") var amount: Int64
    /// The bank's or the ERP's reference of the transfer.
    @Field(key: "reference") var reference: String
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

extension InvoicePayment: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

struct CreateInvoices: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("invoices")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("statement_id", .uuid, .required, .references("statements", "id"))
            .field("number", .string, .required)
            .field("invoice_code", .string, .required)
            .field("issue_date", .string, .required)
            .field("net", .int64, .required)
            .field("tax_percent", .int64, .required)
            .field("tax", .int64, .required)
            .field("gross", .int64, .required)
            .field("status", .string, .required)
            .field("flags", .string, .required)
            .field("decision_reason", .string, .required)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("paid", .int64, .required)
            .field("version", .int, .required)
            .field("change_seq", .int64, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            // What makes "a number once per supplier" hold when two phones send it at once.
            .unique(on: "supplier_id", "number")
            .create()
        try await createIndex(db, "invoices_statement_idx", on: "invoices", "statement_id")
        try await createIndex(db, "invoices_seq_idx", on: "invoices", "change_seq")
        try await createIndex(db, "invoices_status_created_idx", on: "invoices", "status", "created_at")
        try await db.schema("invoice_payments")
            .id()
            .field("invoice_id", .uuid, .required, .references("invoices", "id"))
            .field("statement_id", .uuid, .required, .references("statements", "id"))
            .field("supplier_id", .uuid, .required)
            .field("paid_on", .string, .required)
            .field("amount", .int64, .required)
            .field("reference", .string, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "invoice_payments_invoice_idx", on: "invoice_payments", "invoice_id")
        try await createIndex(db, "invoice_payments_statement_idx", on: "invoice_payments", "statement_id")
        // Locked statements by when they were locked: the aging list reads them in one range.
        try await createIndex(db, "statements_locked_idx", on: "statements", "status", "locked_at")
        // The invoices' own counter in the row the statements' feed already uses for its lock.
        try await (db as! any SQLDatabase).raw("INSERT INTO statement_feed (id, seq) VALUES (2, 0)").run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("DELETE FROM statement_feed WHERE id = 2").run()
        try await (db as! any SQLDatabase).drop(index: "statements_locked_idx").run()
        try await db.schema("invoice_payments").delete()
        try await db.schema("invoices").delete()
    }
}

/// The invoice list is ordered by invoice date: read in that order from an index (all of them,
/// or one supplier's) instead of sorting every invoice for each page (55 ms → under 1 ms for
/// 23,000 invoices).
struct AddInvoiceListIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "invoices_issued_idx", on: "invoices", "issue_date", "created_at", "id")
        try await createIndex(db, "invoices_supplier_issued_idx", on: "invoices", "supplier_id", "issue_date", "created_at", "id")
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "invoices_supplier_issued_idx").run()
        try await sql.drop(index: "invoices_issued_idx").run()
    }
}
