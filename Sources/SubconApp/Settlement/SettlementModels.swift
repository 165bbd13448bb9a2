import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A supplier's month-end count (月末盘点) for one period: counted by the supplier, or closed by
/// the buyer on its behalf with a reason. The differences are `adjusted` movements in the ledger.
final class StockCount: Model, @unchecked Sendable {
    static let schema = "stock_counts"
    @ID(key: .id) var id: UUID?
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "period") var period: String
    /// counted (by the supplier) or closed (by the buyer, without a count).
    @Field(key: "status") var status: String
    @Field(key: "reason") var reason: String
    @Field(key: "differences") var differences: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

extension StockCount: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// One counted material and lot: the ledger's figure when counted, and the supplier's.
final class StockCountLine: Model, @unchecked Sendable {
    static let schema = "stock_count_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "count_id") var countID: UUID
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "lot") var lot: String
    @Field(key: "ledger") var ledger: Int64
    @Field(key: "counted") var counted: Int64
    init() {}
}

/// A reconciliation statement (对账单) of one supplier for one period. Its money is the sum of
/// the lines of its current revision, stored so lists are one query.
final class Statement: Model, @unchecked Sendable {
    static let schema = "statements"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "period") var period: String
    /// StatementLifecycle.State.
    @Field(key: "status") var status: String
    /// The numbered version the parties talk about (1, 2, …): a revision after a dispute adds one.
    @Field(key: "revision") var revision: Int
    /// Optimistic concurrency: every write adds one.
    @Field(key: "version") var version: Int
    @Field(key: "currency") var currency: String
    @Field(key: "tax_percent") var taxPercent: Int64
    @Field(key: "goods") var goods: Int64
    @Field(key: "deductions") var deductions: Int64
    @Field(key: "adjustments") var adjustments: Int64
    @Field(key: "net") var net: Int64
    @Field(key: "tax") var tax: Int64
    @Field(key: "gross") var gross: Int64
    /// Position in the change feed an ERP polls ("changed since").
    @Field(key: "change_seq") var changeSeq: Int64
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    @OptionalField(key: "sent_by") var sentBy: UUID?
    @OptionalField(key: "sent_at") var sentAt: Date?
    @OptionalField(key: "confirmed_by") var confirmedBy: UUID?
    @OptionalField(key: "confirmed_at") var confirmedAt: Date?
    @OptionalField(key: "locked_by") var lockedBy: UUID?
    @OptionalField(key: "locked_at") var lockedAt: Date?
    init() {}

    var state: StatementLifecycle.State { StatementLifecycle.State(rawValue: status) ?? .draft }

    var auditSnapshot: [String: String?] {
        ["code": code, "period": period, "status": status, "revision": String(revision),
         "goods": FixedDecimal(units: goods).description, "deductions": FixedDecimal(units: deductions).description,
         "adjustments": FixedDecimal(units: adjustments).description, "net": FixedDecimal(units: net).description,
         "tax": FixedDecimal(units: tax).description, "gross": FixedDecimal(units: gross).description]
    }
}

extension Statement: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// One line of one revision of a statement: goods, a deduction or an adjustment, with the record
/// it came from, and the dispute and the buyer's answer when there was one.
final class StatementLine: Model, @unchecked Sendable {
    static let schema = "statement_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "statement_id") var statementID: UUID
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "revision") var revision: Int
    @Field(key: "no") var number: Int
    /// goods, deduction, adjustment.
    @Field(key: "kind") var kind: String
    /// receipt_line, exception, write_off, late_delivery, manual.
    @Field(key: "source_type") var sourceType: String
    @Field(key: "source_id") var sourceID: String
    @OptionalField(key: "item_id") var itemID: UUID?
    /// Codes and figures the pages put into words (never a sentence in one language).
    @Field(key: "reference") var reference: String
    @Field(key: "reason") var reason: String
    @Field(key: "quantity") var quantity: Int64
    @Field(key: "unit_price") var unitPrice: Int64
    @Field(key: "amount") var amount: Int64
    /// Graded penalties: which occurrence this is, and whether it goes without a penalty.
    @Field(key: "occurrence") var occurrence: Int
    @Field(key: "waived") var waived: Bool
    /// Belongs to an earlier period whose statement was already locked or generated.
    @Field(key: "late") var late: Bool
    @Field(key: "origin_period") var originPeriod: String
    /// An adjustment correcting a line of a locked statement.
    @OptionalField(key: "refers_to") var refersTo: UUID?
    @Field(key: "disputed") var disputed: Bool
    @Field(key: "dispute_comment") var disputeComment: String
    @OptionalField(key: "supplier_figure") var supplierFigure: Int64?
    /// accept, keep, correct — the buyer's answer to a dispute.
    @Field(key: "answer") var answer: String
    @Field(key: "answer_reason") var answerReason: String
    /// The amount the answer gives the line (the supplier's figure, the kept or the corrected one).
    @OptionalField(key: "answer_amount") var answerAmount: Int64?
    @OptionalField(key: "answered_by") var answeredBy: UUID?
    init() {}
}

extension StatementLine: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// What the totals of a statement are made of.
protocol StatementLineFigures {
    var kind: String { get }
    var amount: Int64 { get }
}

extension StatementLine: StatementLineFigures {}

/// A statement line about to be written, as plain values. A busy supplier's month is 57,000
/// lines; as models (a class per field and a boxed value per column) they took 400 MB of the
/// server's memory while the statement was generated, as values about 25 MB.
struct StatementLineValues: StatementLineFigures, Sendable {
    var id = UUID()
    var statementID: UUID
    var supplierID: UUID
    var revision: Int
    var number: Int
    var kind: String
    var sourceType: String
    var sourceID: String
    var itemID: UUID?
    var reference: String
    var reason = ""
    var quantity: Int64
    var unitPrice: Int64
    var amount: Int64
    var occurrence = 0
    var waived = false
    var late: Bool
    var originPeriod: String
    var refersTo: UUID?
    var disputed = false
    var disputeComment = ""
    var supplierFigure: Int64?
    var answer = ""
    var answerReason = ""
    var answerAmount: Int64?
    var answeredBy: UUID?
}

extension StatementLineValues {
    init(_ l: StatementLine) {
        self.init(id: l.id!, statementID: l.statementID, supplierID: l.supplierID, revision: l.revision, number: l.number, kind: l.kind,
                  sourceType: l.sourceType, sourceID: l.sourceID, itemID: l.itemID, reference: l.reference, reason: l.reason,
                  quantity: l.quantity, unitPrice: l.unitPrice, amount: l.amount, occurrence: l.occurrence, waived: l.waived, late: l.late,
                  originPeriod: l.originPeriod, refersTo: l.refersTo, disputed: l.disputed, disputeComment: l.disputeComment,
                  supplierFigure: l.supplierFigure, answer: l.answer, answerReason: l.answerReason, answerAmount: l.answerAmount,
                  answeredBy: l.answeredBy)
    }

    /// The line in the next revision: a new id, the dispute and answer left behind.
    init(revising l: StatementLine, to revision: Int) {
        self.init(statementID: l.statementID, supplierID: l.supplierID, revision: revision, number: l.number, kind: l.kind,
                  sourceType: l.sourceType, sourceID: l.sourceID, itemID: l.itemID, reference: l.reference, reason: l.reason,
                  quantity: l.quantity, unitPrice: l.unitPrice, amount: l.amount, occurrence: l.occurrence, waived: l.waived, late: l.late,
                  originPeriod: l.originPeriod, refersTo: l.refersTo)
    }
}

/// Which statement took a source record. The unique key on (source_type, source_id) is what
/// makes "in at most one statement" hold even when two people generate at the same moment.
final class StatementClaim: Model, @unchecked Sendable {
    static let schema = "statement_claims"
    @ID(key: .id) var id: UUID?
    @Field(key: "source_type") var sourceType: String
    @Field(key: "source_id") var sourceID: UUID
    @Field(key: "statement_id") var statementID: UUID
    init() {}
}

struct CreateSettlement: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // What settlement needs from master data and exceptions.
        // Nullable: rows written before (and by code that never sets them) mean "none".
        try await db.schema("items").field("cost_price", .int64).update()
        try await db.schema("price_agreements").field("late_penalty_per_day", .int64).update()
        try await db.schema("price_agreements").field("late_penalty_cap", .int64).update()
        try await db.schema("exceptions").field("penalty_kind", .string).update()
        try await db.schema("exceptions").field("penalty_value", .int64).update()

        try await db.schema("stock_counts")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("period", .string, .required)
            .field("status", .string, .required)
            .field("reason", .string, .required)
            .field("differences", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "supplier_id", "period")
            .create()
        try await db.schema("stock_count_lines")
            .id()
            .field("count_id", .uuid, .required, .references("stock_counts", "id"))
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("lot", .string, .required)
            .field("ledger", .int64, .required)
            .field("counted", .int64, .required)
            .create()
        try await createIndex(db, "stock_count_lines_count_idx", on: "stock_count_lines", "count_id")

        try await db.schema("statements")
            .id()
            .field("code", .string, .required)
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("period", .string, .required)
            .field("status", .string, .required)
            .field("revision", .int, .required)
            .field("version", .int, .required)
            .field("currency", .string, .required)
            .field("tax_percent", .int64, .required)
            .field("goods", .int64, .required)
            .field("deductions", .int64, .required)
            .field("adjustments", .int64, .required)
            .field("net", .int64, .required)
            .field("tax", .int64, .required)
            .field("gross", .int64, .required)
            .field("change_seq", .int64, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .field("sent_by", .uuid)
            .field("sent_at", .datetime)
            .field("confirmed_by", .uuid)
            .field("confirmed_at", .datetime)
            .field("locked_by", .uuid)
            .field("locked_at", .datetime)
            .unique(on: "code")
            .unique(on: "supplier_id", "period")
            .create()
        // The list's order: newest period first, then by code (which begins with the supplier's).
        try await (db as! any SQLDatabase).raw("CREATE INDEX statements_list_idx ON statements (period DESC, code)").run()
        try await createIndex(db, "statements_seq_idx", on: "statements", "change_seq")
        try await createIndex(db, "statements_status_idx", on: "statements", "status", "period")

        try await db.schema("statement_lines")
            .id()
            .field("statement_id", .uuid, .required, .references("statements", "id"))
            .field("supplier_id", .uuid, .required)
            .field("revision", .int, .required)
            .field("no", .int, .required)
            .field("kind", .string, .required)
            .field("source_type", .string, .required)
            .field("source_id", .string, .required)
            .field("item_id", .uuid)
            .field("reference", .string, .required)
            .field("reason", .string, .required)
            .field("quantity", .int64, .required)
            .field("unit_price", .int64, .required)
            .field("amount", .int64, .required)
            .field("occurrence", .int, .required)
            .field("waived", .bool, .required)
            .field("late", .bool, .required)
            .field("origin_period", .string, .required)
            .field("refers_to", .uuid)
            .field("disputed", .bool, .required)
            .field("dispute_comment", .string, .required)
            .field("supplier_figure", .int64)
            .field("answer", .string, .required)
            .field("answer_reason", .string, .required)
            .field("answer_amount", .int64)
            .field("answered_by", .uuid)
            .create()
        try await createIndex(db, "statement_lines_statement_idx", on: "statement_lines", "statement_id", "revision", "no")
        try await createIndex(db, "statement_lines_source_idx", on: "statement_lines", "source_type", "source_id")

        try await db.schema("statement_claims")
            .id()
            .field("source_type", .string, .required)
            .field("source_id", .uuid, .required)
            .field("statement_id", .uuid, .required, .references("statements", "id"))
            .unique(on: "source_type", "source_id")
            .create()
        try await createIndex(db, "statement_claims_statement_idx", on: "statement_claims", "statement_id")

        // One row whose counter every statement change takes a number from: the row lock orders
        // concurrent writers, so an ERP polling "after N" never skips a change committed late.
        try await db.schema("statement_feed")
            .field("id", .int, .identifier(auto: false))
            .field("seq", .int64, .required)
            .create()
        try await (db as! any SQLDatabase).raw("INSERT INTO statement_feed (id, seq) VALUES (1, 0)").run()
    }

    func revert(on db: any Database) async throws {
        for t in ["statement_feed", "statement_claims", "statement_lines", "statements", "stock_count_lines", "stock_counts"] {
            try await db.schema(t).delete()
        }
    }
}

/// The statements list's order with each row's id, so a page's ids are found in the index alone
/// (`StatementService.list`); it replaces the index of the order without them.
struct AddStatementPageIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("CREATE INDEX statements_page_idx ON statements (period DESC, code, id)").run()
        try await sql.drop(index: "statements_list_idx").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("CREATE INDEX statements_list_idx ON statements (period DESC, code)").run()
        try await sql.drop(index: "statements_page_idx").run()
    }
}
