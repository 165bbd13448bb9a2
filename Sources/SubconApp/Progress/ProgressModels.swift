import Fluent
import Foundation
import SQLKit
import Vapor

/// A progress report (报工) on an order line, from the supplier's shop floor.
final class ProgressReport: Model, @unchecked Sendable {
    static let schema = "progress_reports"
    @ID(key: .id) var id: UUID?
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "supplier_id") var supplierID: UUID
    @Field(key: "line_no") var lineNumber: Int
    @OptionalField(key: "operation") var operation: String?
    /// This report's good and scrap quantities (not running totals).
    @Field(key: "good_quantity") var goodQuantity: Int64
    @Field(key: "scrap_quantity") var scrapQuantity: Int64
    @Field(key: "stage") var stage: String
    @Field(key: "note") var note: String
    /// The installation's calendar day it was reported on (the pace is measured in days).
    @Field(key: "report_day") var reportDay: String
    @Field(key: "reported_by") var reportedBy: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

extension ProgressReport: SupplierOwned { static var ownerKey: FieldKey { "supplier_id" } }

/// A completion date the supplier promised for a line; the latest is in force, the rest is history.
final class LinePromise: Model, @unchecked Sendable {
    static let schema = "line_promises"
    @ID(key: .id) var id: UUID?
    @Field(key: "order_id") var orderID: UUID
    @Field(key: "line_no") var lineNumber: Int
    @Field(key: "promised_date") var promisedDate: String
    @Field(key: "reason") var reason: String
    @OptionalField(key: "delay_reason") var delayReason: String?
    @Field(key: "promised_by") var promisedBy: UUID
    @Field(key: "created_at") var createdAt: Date
    init() {}
}

struct CreateProgress: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("progress_reports")
            .id()
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id"))
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("line_no", .int, .required)
            .field("operation", .string)
            .field("good_quantity", .int64, .required)
            .field("scrap_quantity", .int64, .required)
            .field("stage", .string, .required)
            .field("note", .string, .required)
            .field("report_day", .string, .required)
            .field("reported_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "progress_reports_order_idx", on: "progress_reports", "order_id", "line_no")
        try await db.schema("line_promises")
            .id()
            .field("order_id", .uuid, .required, .references("outsourcing_orders", "id"))
            .field("line_no", .int, .required)
            .field("promised_date", .string, .required)
            .field("reason", .string, .required)
            .field("promised_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "line_promises_order_idx", on: "line_promises", "order_id", "line_no")
        // Order lists flag orders with an open delay exception.
        try await createIndex(db, "exceptions_order_idx", on: "exceptions", "order_id", "type")
    }

    func revert(on db: any Database) async throws {
        try await db.schema("line_promises").delete()
        try await db.schema("progress_reports").delete()
    }
}

/// A line's sums (good, scrap, first and last day) read from the order's index alone.
///
/// Every progress report reads its order's lines with their sums inside the write gate
/// (`ProgressService.lineFacts`), and the index of (order, line) made it look up each report's
/// row: on the large data set, an order with 500 reports took 0.16 ms of SQLite's time a report,
/// 0.075 ms with the sums' columns in the index.
struct CoverProgressSums: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "progress_reports_order_sums_idx", on: "progress_reports", "order_id", "line_no", "report_day",
                              "good_quantity", "scrap_quantity")
        try await (db as! any SQLDatabase).drop(index: "progress_reports_order_idx").run()
    }

    func revert(on db: any Database) async throws {
        try await createIndex(db, "progress_reports_order_idx", on: "progress_reports", "order_id", "line_no")
        try await (db as! any SQLDatabase).drop(index: "progress_reports_order_sums_idx").run()
    }
}
