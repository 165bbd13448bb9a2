import Fluent
import Foundation
import SQLKit
import SubconDomain

/// How an item is inspected when it comes in: sampling (ISO 2859-1 level and AQL), its
/// characteristics and defect codes. Characteristics and codes are kept as JSON because they are
/// always edited and read together with the plan.
final class InspectionPlan: Model, @unchecked Sendable {
    static let schema = "inspection_plans"
    @ID(key: .id) var id: UUID?
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "level") var level: String
    @Field(key: "aql") var aql: String
    /// The responsible authority allows reduced inspection (9.3.3 c).
    @Field(key: "reduced_allowed") var reducedAllowed: Bool
    /// Accepted lots in a row after which a supplier's lots of this item are exempt (0: never).
    @Field(key: "exempt_after") var exemptAfter: Int
    @Field(key: "characteristics") var characteristics: String
    @Field(key: "defect_codes") var defectCodes: String
    @Field(key: "version") var version: Int
    @OptionalField(key: "updated_by") var updatedBy: UUID?
    @Field(key: "updated_at") var updatedAt: Date
    init() {}
}

struct Characteristic: Codable, Sendable, Equatable {
    var name: String
    /// measured (values against limits) or attribute (conforming or not).
    var kind: String
    var nominal: FixedDecimal?
    var lower: FixedDecimal?
    var upper: FixedDecimal?
    var unit: String?
}

struct DefectCode: Codable, Sendable, Equatable {
    var code: String
    var name: String
    /// critical, major, minor.
    var severity: String
}

/// The switching state of one item from one supplier, and whether it is exempt from inspection.
final class QualityState: Model, @unchecked Sendable {
    static let schema = "quality_states"
    @ID(key: .id) var id: UUID?
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "item_id") var itemID: UUID
    /// normal, tightened, reduced, discontinued (mirrors `switching` for queries).
    @Field(key: "state") var state: String
    @Field(key: "switching") var switching: String
    @Field(key: "exempt") var exempt: Bool
    @OptionalField(key: "exempt_since") var exemptSince: Date?
    @Field(key: "lots") var lots: Int
    @Field(key: "version") var version: Int
    @Field(key: "updated_at") var updatedAt: Date
    init() {}

    var rules: Switching {
        get { Self.rules(from: switching) }
        set { switching = String(decoding: try! JSONEncoder().encode(newValue), as: UTF8.self); state = newValue.state.rawValue }
    }

    /// The rules kept as JSON in `switching` (read without the model in the work list).
    static func rules(from switching: String) -> Switching {
        (try? JSONDecoder().decode(Switching.self, from: Data(switching.utf8))) ?? Switching()
    }
}

extension QualityState: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// The incoming inspection (来料检验) of one receipt line: the plan used, what was found and the decision.
final class Inspection: Model, @unchecked Sendable {
    static let schema = "inspections"
    @ID(key: .id) var id: UUID?
    @Field(key: "code") var code: String
    @Field(key: "receipt_id") var receiptID: UUID
    @Field(key: "receipt_line_id") var receiptLineID: UUID
    @Field(key: "receipt_line_no") var receiptLineNumber: Int
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "item_id") var itemID: UUID
    @Field(key: "lot") var lot: String
    @Field(key: "lot_quantity") var lotQuantity: Int64
    @Field(key: "severity") var severity: String
    @Field(key: "level") var level: String
    @Field(key: "aql") var aql: String
    @Field(key: "code_letter") var codeLetter: String
    @Field(key: "sample_size") var sampleSize: Int
    @Field(key: "acceptance") var acceptance: Int
    @Field(key: "rejection") var rejection: Int
    @Field(key: "nonconforming") var nonconforming: Int
    @Field(key: "critical") var critical: Int
    @Field(key: "results") var results: String
    @Field(key: "defects") var defects: String
    /// The sample met the plan (no critical defect, nonconforming ≤ Ac).
    @Field(key: "sample_passed") var samplePassed: Bool
    /// accept, reject, concession, partial.
    @Field(key: "decision") var decision: String
    @Field(key: "accepted_quantity") var acceptedQuantity: Int64
    @Field(key: "rejected_quantity") var rejectedQuantity: Int64
    @OptionalField(key: "approver_id") var approverID: UUID?
    @Field(key: "exempt") var exempt: Bool
    @Field(key: "note") var note: String
    @OptionalField(key: "exception_id") var exceptionID: UUID?
    @Field(key: "inspector_id") var inspectorID: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

extension Inspection: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

struct CharacteristicResult: Codable, Sendable, Equatable {
    var no: Int
    var name: String
    var values: [FixedDecimal]
    var nonconforming: Int
}

struct DefectCount: Codable, Sendable, Equatable {
    var code: String
    var severity: String
    var count: Int
}

/// Response, containment and resolution deadlines per exception type × severity (configurable).
final class ExceptionDeadline: Model, @unchecked Sendable {
    static let schema = "exception_deadlines"
    @ID(key: .id) var id: UUID?
    @Field(key: "type") var type: String
    @Field(key: "severity") var severity: String
    @Field(key: "response_hours") var responseHours: Int
    @Field(key: "containment_hours") var containmentHours: Int
    @Field(key: "resolve_days") var resolveDays: Int
    @Field(key: "version") var version: Int
    @Field(key: "updated_at") var updatedAt: Date
    init() {}

    var deadlines: ExceptionRules.Deadlines {
        ExceptionRules.Deadlines(responseHours: responseHours, containmentHours: containmentHours, resolveDays: resolveDays)
    }
}

final class ExceptionComment: Model, @unchecked Sendable {
    static let schema = "exception_comments"
    @ID(key: .id) var id: UUID?
    @Field(key: "exception_id") var exceptionID: UUID
    @OptionalField(key: "author_id") var authorID: UUID?
    /// buyer, supplier or system (gate moves and escalations are written into the thread too).
    @Field(key: "side") var side: String
    /// For system entries: what happened (8d.submit, 8d.approve, 8d.return, close, reopen,
    /// escalate) and what it refers to (a step such as D4, or an escalation level); pages
    /// translate it. Empty for what people wrote.
    @Field(key: "event") var event: String
    @Field(key: "ref") var ref: String
    @Field(key: "body") var body: String
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

/// One discipline of an exception's 8D report.
final class EightDStep: Model, @unchecked Sendable {
    static let schema = "eight_d_steps"
    @ID(key: .id) var id: UUID?
    @Field(key: "exception_id") var exceptionID: UUID
    @Field(key: "step") var step: Int
    /// open, submitted, approved, returned.
    @Field(key: "state") var state: String
    @Field(key: "content") var content: String
    @Field(key: "return_reason") var returnReason: String
    @OptionalField(key: "submitted_by") var submittedBy: UUID?
    @OptionalField(key: "submitted_at") var submittedAt: Date?
    @OptionalField(key: "decided_by") var decidedBy: UUID?
    @OptionalField(key: "decided_at") var decidedAt: Date?
    init() {}
}

struct CreateQuality: AsyncMigration {
    /// Columns the exception workflow adds to the exceptions table of the material flow.
    static let exceptionColumns: [(String, DatabaseSchema.DataType, Bool)] = [
        ("buyer_owner_id", .uuid, false), ("supplier_owner_id", .uuid, false),
        ("response_by", .datetime, false), ("containment_by", .datetime, false), ("resolve_by", .datetime, false),
        ("responded_at", .datetime, false), ("contained_at", .datetime, false), ("closed_at", .datetime, false),
        ("closed_by", .uuid, false), ("response_minutes", .int, false), ("closure_minutes", .int, false),
        ("receipt_line_id", .uuid, false),
    ]

    func prepare(on db: any Database) async throws {
        for (name, type, _) in Self.exceptionColumns { try await db.schema("exceptions").field(.definition(name: .key(.init(stringLiteral: name)), dataType: type, constraints: [])).update() }
        try await db.schema("exceptions").field("resolution", .string, .required, .sql(.default(""))).update()
        try await db.schema("exceptions").field("escalation_level", .int, .required, .sql(.default(0))).update()
        try await db.schema("exceptions").field("defect_codes", .string, .required, .sql(.default(""))).update()
        try await db.schema("exceptions").field("eight_d", .bool, .required, .sql(.default(false))).update()
        try await db.schema("exceptions").field("reopened", .int, .required, .sql(.default(0))).update()
        try await createIndex(db, "exceptions_status_created_idx", on: "exceptions", "status", "created_at")
        // Open exceptions are listed by resolution deadline, closed ones by closing time.
        try await createIndex(db, "exceptions_status_resolve_idx", on: "exceptions", "status", "resolve_by")
        try await createIndex(db, "exceptions_status_closed_idx", on: "exceptions", "status", "closed_at")
        try await createIndex(db, "exceptions_item_idx", on: "exceptions", "item_id")

        try await db.schema("inspection_plans")
            .id()
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("level", .string, .required)
            .field("aql", .string, .required)
            .field("reduced_allowed", .bool, .required)
            .field("exempt_after", .int, .required)
            .field("characteristics", .string, .required)
            .field("defect_codes", .string, .required)
            .field("version", .int, .required)
            .field("updated_by", .uuid)
            .field("updated_at", .datetime, .required)
            .unique(on: "item_id")
            .create()
        try await db.schema("quality_states")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("state", .string, .required)
            .field("switching", .string, .required)
            .field("exempt", .bool, .required)
            .field("exempt_since", .datetime)
            .field("lots", .int, .required)
            .field("version", .int, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "supplier_id", "item_id")
            .create()
        try await db.schema("inspections")
            .id()
            .field("code", .string, .required)
            .field("receipt_id", .uuid, .required, .references("goods_receipts", "id"))
            .field("receipt_line_id", .uuid, .required, .references("receipt_lines", "id"))
            .field("receipt_line_no", .int, .required)
            .field("supplier_id", .uuid, .required)
            .field("order_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("lot", .string, .required)
            .field("lot_quantity", .int64, .required)
            .field("severity", .string, .required)
            .field("level", .string, .required)
            .field("aql", .string, .required)
            .field("code_letter", .string, .required)
            .field("sample_size", .int, .required)
            .field("acceptance", .int, .required)
            .field("rejection", .int, .required)
            .field("nonconforming", .int, .required)
            .field("critical", .int, .required)
            .field("results", .string, .required)
            .field("defects", .string, .required)
            .field("sample_passed", .bool, .required)
            .field("decision", .string, .required)
            .field("accepted_quantity", .int64, .required)
            .field("rejected_quantity", .int64, .required)
            .field("approver_id", .uuid)
            .field("exempt", .bool, .required)
            .field("note", .string, .required)
            .field("exception_id", .uuid)
            .field("inspector_id", .uuid, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .unique(on: "receipt_line_id")
            .create()
        try await createIndex(db, "inspections_supplier_created_idx", on: "inspections", "supplier_id", "created_at")
        try await createIndex(db, "inspections_created_idx", on: "inspections", "created_at")
        try await db.schema("exception_deadlines")
            .id()
            .field("type", .string, .required)
            .field("severity", .string, .required)
            .field("response_hours", .int, .required)
            .field("containment_hours", .int, .required)
            .field("resolve_days", .int, .required)
            .field("version", .int, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "type", "severity")
            .create()
        for kind in ExceptionRules.Kind.allCases {
            for severity in ExceptionRules.Severity.allCases {
                let d = ExceptionRules.defaultDeadlines(kind, severity)
                let row = ExceptionDeadline()
                row.type = kind.rawValue; row.severity = severity.rawValue; row.responseHours = d.responseHours
                row.containmentHours = d.containmentHours; row.resolveDays = d.resolveDays; row.version = 1; row.updatedAt = Date()
                try await row.create(on: db)
            }
        }
        try await db.schema("exception_comments")
            .id()
            .field("exception_id", .uuid, .required, .references("exceptions", "id"))
            .field("author_id", .uuid)
            .field("side", .string, .required)
            .field("event", .string, .required)
            .field("ref", .string, .required)
            .field("body", .string, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "exception_comments_exception_idx", on: "exception_comments", "exception_id", "created_at")
        try await db.schema("eight_d_steps")
            .id()
            .field("exception_id", .uuid, .required, .references("exceptions", "id"))
            .field("step", .int, .required)
            .field("state", .string, .required)
            .field("content", .string, .required)
            .field("return_reason", .string, .required)
            .field("submitted_by", .uuid)
            .field("submitted_at", .datetime)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .unique(on: "exception_id", "step")
            .create()
        // Exceptions raised before the workflow existed get the default deadlines from when they were raised.
        let sql = db as! any SQLDatabase
        struct E: Decodable { let id: UUID; let type: String; let severity: String; let created_at: Date }
        for e in try await sql.raw("SELECT id, type, severity, created_at FROM exceptions").rows(decoding: E.self) {
            let d = ExceptionRules.due(from: e.created_at, ExceptionRules.defaultDeadlines(ExceptionRules.Kind(rawValue: e.type) ?? .other,
                                                                                            ExceptionRules.Severity(rawValue: e.severity) ?? .major))
            try await sql.update("exceptions").set("response_by", to: d.responseBy).set("containment_by", to: d.containmentBy)
                .set("resolve_by", to: d.resolveBy).where("id", .equal, e.id).run()
        }
    }

    func revert(on db: any Database) async throws {
        for t in ["eight_d_steps", "exception_comments", "exception_deadlines", "inspections", "quality_states", "inspection_plans"] {
            try await db.schema(t).delete()
        }
        for c in Self.exceptionColumns.map(\.0) + ["resolution", "escalation_level", "defect_codes", "eight_d", "reopened"] {
            try await db.schema("exceptions").deleteField(.init(stringLiteral: c)).update()
        }
    }
}
