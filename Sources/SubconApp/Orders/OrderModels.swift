import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

final class ProductionPlan: Model, @unchecked Sendable {
    static let schema = "production_plans"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "plant_id") var plantID: UUID
    /// The month or period planned, as people name it (e.g. 2026-12).
    @Field(key: "period") var period: String
    @Field(key: "status") var status: String
    @Field(key: "note") var note: String
    @Field(key: "version") var version: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "released_at") var releasedAt: Date?
    init() {}

    var auditSnapshot: [String: String?] { ["code": code, "period": period, "status": status, "note": note] }
}

final class PlanLineRow: Model, @unchecked Sendable {
    static let schema = "production_plan_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "plan_id") var planID: UUID
    @Field(key: "line_no") var number: Int
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "quantity") var quantity: Int64
    @Field(key: "due_date") var dueDate: String
    /// Who the release proposed and why (`supplier:choice`, one per outsourced operation).
    @OptionalField(key: "supplier_choice") var supplierChoice: String?
    init() {}
}

final class OutsourcingOrder: Model, @unchecked Sendable {
    static let schema = "outsourcing_orders"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "supplier_id") var supplierID: UUID
    @OptionalField(key: "plan_id") var planID: UUID?
    @Field(key: "status") var status: String
    @Field(key: "currency") var currency: String
    /// The revision in force (0 while a draft).
    @Field(key: "revision") var revision: Int
    @Field(key: "note") var note: String
    @Field(key: "version") var version: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "updated_at") var updatedAt: Date
    init() {}

    var orderStatus: OrderStatus { OrderStatus(rawValue: status) ?? .draft }
}

extension OutsourcingOrder: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// An order line as it stands now (the revisions keep every earlier state).
final class OrderLineRow: Model, @unchecked Sendable {
    static let schema = "order_lines"
    @ID(key: .id) var id: UUID?
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "line_no") var number: Int
    @Field(key: "item_id") var itemID: UUID
    @OptionalField(key: "operation") var operation: String?
    @Field(key: "quantity") var quantity: Int64
    @Field(key: "due_date") var dueDate: String
    @Field(key: "unit_price") var unitPrice: Int64
    @Field(key: "state") var state: String
    @OptionalField(key: "plan_line_id") var planLineID: UUID?
    init() {}
}

/// One numbered state of a released order, with what changed and the supplier's answer to it.
final class OrderRevisionRow: Model, @unchecked Sendable {
    static let schema = "order_revisions"
    @ID(key: .id) var id: UUID?
    @Field(key: "order_id") var orderID: UUID
    /// The order's, so the scorecard finds a supplier's revisions by an index of its own.
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "number") var number: Int
    /// The full set of lines (JSON), so any revision can be shown and compared as it was.
    @Field(key: "lines") var linesJSON: String
    /// The line-level diff against the previous revision (JSON).
    @Field(key: "changes") var changesJSON: String
    @Field(key: "reason") var reason: String
    /// pending (awaiting the supplier), acknowledged, change_proposed, rejected, superseded.
    @Field(key: "status") var status: String
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "released_at") var releasedAt: Date
    @OptionalField(key: "answered_at") var answeredAt: Date?
    @OptionalField(key: "answered_by") var answeredBy: UUID?
    /// Seconds from release to the supplier's answer, for the scorecard.
    @OptionalField(key: "response_seconds") var responseSeconds: Int?
    /// 0 none, 1 purchaser told, 2 admins told (ResponseClock.Stage).
    @Field(key: "escalation") var escalation: Int
    /// Which round of answers is current (a declined counter-proposal asks again).
    @Field(key: "round") var round: Int
    init() {}
}

final class OrderAnswerRow: Model, @unchecked Sendable {
    static let schema = "order_answers"
    @ID(key: .id) var id: UUID?
    @Field(key: "revision_id") var revisionID: UUID
    @Field(key: "round") var round: Int
    @Field(key: "line_no") var lineNumber: Int
    /// accept, counter, reject.
    @Field(key: "answer") var answer: String
    @OptionalField(key: "quantity") var quantity: Int64?
    @OptionalField(key: "due_date") var dueDate: String?
    @Field(key: "reason") var reason: String
    @OptionalField(key: "decision") var decision: String?
    @OptionalField(key: "decided_by") var decidedBy: UUID?
    @OptionalField(key: "decided_at") var decidedAt: Date?
    @Field(key: "answered_by") var answeredBy: UUID
    @Field(key: "answered_at") var answeredAt: Date
    init() {}

    var domain: LineAnswer {
        switch answer {
        case "counter": .counter(quantity: quantity.map(FixedDecimal.init(units:)), dueDate: dueDate.flatMap(Day.init), reason: reason)
        case "reject": .reject(reason: reason)
        default: .accept
        }
    }
}

/// The component requirements (用料清单) fixed at release, per order line.
final class OrderRequirementRow: Model, @unchecked Sendable {
    static let schema = "order_requirements"
    @ID(key: .id) var id: UUID?
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "line_no") var lineNumber: Int
    @Field(key: "component_id") var componentID: UUID
    @Field(key: "quantity_per") var quantityPer: Int64
    @Field(key: "scrap_percent") var scrapPercent: Int64
    @Field(key: "supply_by") var supplyBy: String
    @Field(key: "gross_quantity") var grossQuantity: Int64
    /// What has been issued against it so far (kept with every issue that takes effect, so
    /// the warehouse's list of what is still to issue is a plain comparison).
    @Field(key: "issued_quantity") var issuedQuantity: Int64
    init() {}
}

/// A change of a released plan line, waiting for the planner to turn it into an order revision.
final class PlanChangeProposal: Model, @unchecked Sendable {
    static let schema = "plan_change_proposals"
    @ID(key: .id) var id: UUID?
    @Field(key: "plan_id") var planID: UUID
    @Field(key: "plan_line_no") var planLineNumber: Int
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "order_line_no") var orderLineNumber: Int
    @Field(key: "quantity") var quantity: Int64
    @Field(key: "due_date") var dueDate: String
    /// pending, confirmed, dismissed.
    @Field(key: "status") var status: String
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

struct CreateOrders: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("sequences")
            .field("name", .string, .identifier(auto: false))
            .field("value", .int64, .required)
            .create()
        try await db.schema("production_plans")
            .id()
            .field("code", .string, .required)
            .field("plant_id", .uuid, .required, .references("sites", "id"))
            .field("period", .string, .required)
            .field("status", .string, .required)
            .field("note", .string, .required)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("released_at", .datetime)
            .unique(on: "code")
            .create()
        try await db.schema("production_plan_lines")
            .id()
            .field("plan_id", .uuid, .required, .references("production_plans", "id", onDelete: .cascade))
            .field("line_no", .int, .required)
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("quantity", .int64, .required)
            .field("due_date", .string, .required)
            .unique(on: "plan_id", "line_no")
            .create()
        try await db.schema("outsourcing_orders")
            .id()
            .field("code", .string, .required)
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("plan_id", .uuid, .references("production_plans", "id"))
            .field("status", .string, .required)
            .field("currency", .string, .required)
            .field("revision", .int, .required)
            .field("note", .string, .required)
            .field("version", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "code")
            .create()
        // Lists filter by supplier or status and show the newest first.
        try await createIndex(db, "orders_supplier_created_idx", on: "outsourcing_orders", "supplier_id", "created_at")
        try await createIndex(db, "orders_status_created_idx", on: "outsourcing_orders", "status", "created_at")
        try await createIndex(db, "orders_created_idx", on: "outsourcing_orders", "created_at")
        try await db.schema("order_lines")
            .id()
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id", onDelete: .cascade))
            .field("line_no", .int, .required)
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("operation", .string)
            .field("quantity", .int64, .required)
            .field("due_date", .string, .required)
            .field("unit_price", .int64, .required)
            .field("state", .string, .required)
            .field("plan_line_id", .uuid)
            .unique(on: "order_id", "line_no")
            .create()
        try await createIndex(db, "order_lines_due_idx", on: "order_lines", "due_date")
        try await createIndex(db, "order_lines_plan_line_idx", on: "order_lines", "plan_line_id")
        try await db.schema("order_revisions")
            .id()
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id", onDelete: .cascade))
            .field("number", .int, .required)
            .field("lines", .string, .required)
            .field("changes", .string, .required)
            .field("reason", .string, .required)
            .field("status", .string, .required)
            .field("created_by", .uuid, .required)
            .field("released_at", .datetime, .required)
            .field("answered_at", .datetime)
            .field("answered_by", .uuid)
            .field("response_seconds", .int)
            .field("escalation", .int, .required)
            .field("round", .int, .required)
            .unique(on: "order_id", "number")
            .create()
        try await createIndex(db, "order_revisions_pending_idx", on: "order_revisions", "status", "released_at")
        try await createIndex(db, "order_revisions_order_status_idx", on: "order_revisions", "order_id", "status")
        try await db.schema("order_answers")
            .id()
            .field("revision_id", .uuid, .required, .references("order_revisions", "id", onDelete: .cascade))
            .field("round", .int, .required)
            .field("line_no", .int, .required)
            .field("answer", .string, .required)
            .field("quantity", .int64)
            .field("due_date", .string)
            .field("reason", .string, .required)
            .field("decision", .string)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("answered_by", .uuid, .required)
            .field("answered_at", .datetime, .required)
            .unique(on: "revision_id", "round", "line_no")
            .create()
        try await db.schema("order_requirements")
            .id()
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id", onDelete: .cascade))
            .field("line_no", .int, .required)
            .field("component_id", .uuid, .required, .references("items", "id"))
            .field("quantity_per", .int64, .required)
            .field("scrap_percent", .int64, .required)
            .field("supply_by", .string, .required)
            .field("gross_quantity", .int64, .required)
            .create()
        try await createIndex(db, "order_requirements_order_idx", on: "order_requirements", "order_id")
        try await db.schema("plan_change_proposals")
            .id()
            .field("plan_id", .uuid, .required, .references("production_plans", "id", onDelete: .cascade))
            .field("plan_line_no", .int, .required)
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id"))
            .field("order_line_no", .int, .required)
            .field("quantity", .int64, .required)
            .field("due_date", .string, .required)
            .field("status", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
    }

    func revert(on db: any Database) async throws {
        for t in ["plan_change_proposals", "order_requirements", "order_answers", "order_revisions", "order_lines",
                  "outsourcing_orders", "production_plan_lines", "production_plans", "sequences"] {
            try await db.schema(t).delete()
        }
    }
}

/// Gapless-enough running numbers for human codes (WX202612-0001), taken inside the caller's
/// transaction: the row update serializes concurrent takers on both databases.
enum Sequences {
    static func next(_ name: String, on db: any Database) async throws -> Int64 {
        let row = try await (db as! any SQLDatabase).raw("""
            INSERT INTO sequences (name, value) VALUES (\(bind: name), 1)
            ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1 RETURNING value
            """).first()
        return try row!.decode(column: "value", as: Int64.self)
    }
}
