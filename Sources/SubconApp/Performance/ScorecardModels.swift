import Fluent
import Foundation
import SQLKit
import SubconDomain

/// Weights and grade thresholds, one row per saved version; the highest version is in force and
/// version 0 (no row) is the built-in default.
struct CreateScorecards: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("score_weights")
            .id()
            .field("version", .int, .required)
            .field("delivery", .int, .required)
            .field("quality", .int, .required)
            .field("exceptions", .int, .required)
            .field("cost", .int, .required)
            .field("communication", .int, .required)
            .field("grade_a", .int, .required)
            .field("grade_b", .int, .required)
            .field("grade_c", .int, .required)
            .field("silent_days", .int, .required)
            .field("cost_limit_percent", .int, .required)
            .field("reason", .string, .required)
            .field("created_by", .uuid)
            .field("created_at", .datetime, .required)
            .unique(on: "version")
            .create()
        // The grade each supplier got for a closed month, and the weights it was computed with:
        // what "two D grades in a row" and "preferred next month" are read from.
        try await db.schema("supplier_grades")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("period", .string, .required)
            .field("score", .int)
            .field("grade", .string)
            .field("weights_version", .int, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "supplier_id", "period")
            .create()
        // Months whose grades are closed: once each, whichever instance gets there first.
        try await db.schema("closed_score_months")
            .field("period", .string, .identifier(auto: false))
            .field("weights_version", .int, .required)
            .field("suppliers", .int, .required)
            .field("closed_by", .uuid)
            .field("closed_at", .datetime, .required)
            .create()
        // Probation proposed to an admin after two D grades; confirmed or declined with a reason.
        try await db.schema("status_proposals")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("proposed_status", .string, .required)
            .field("period", .string, .required)
            .field("exception_id", .uuid)
            .field("status", .string, .required)
            .field("reason", .string, .required)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("version", .int, .required)
            .unique(on: "supplier_id", "period", "proposed_status")
            .create()
        // The scorecard's sums read one supplier's records of a period, or every supplier's of a
        // month for the ranking, by time (inspections already have both indexes).
        try await createIndex(db, "exceptions_supplier_created_idx", on: "exceptions", "supplier_id", "created_at")
        try await createIndex(db, "exceptions_created_idx", on: "exceptions", "created_at")
        try await createIndex(db, "progress_reports_supplier_created_idx", on: "progress_reports", "supplier_id", "created_at")
        try await createIndex(db, "progress_reports_created_idx", on: "progress_reports", "created_at")
        try await createIndex(db, "receipt_lines_supplier_received_idx", on: "receipt_lines", "supplier_id", "received_at")
        try await createIndex(db, "receipt_lines_received_idx", on: "receipt_lines", "received_at")
        try await createIndex(db, "order_revisions_released_idx", on: "order_revisions", "released_at")
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        for name in ["order_revisions_released_idx", "receipt_lines_received_idx", "receipt_lines_supplier_received_idx", "progress_reports_created_idx",
                     "progress_reports_supplier_created_idx", "exceptions_created_idx", "exceptions_supplier_created_idx"] {
            try await sql.drop(index: name).run()
        }
        try await db.schema("status_proposals").delete()
        try await db.schema("closed_score_months").delete()
        try await db.schema("supplier_grades").delete()
        try await db.schema("score_weights").delete()
    }
}
