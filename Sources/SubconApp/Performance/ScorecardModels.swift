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
        // Why the release of a plan proposed each line's supplier (routing, preferred, lowest price).
        try await db.schema("production_plan_lines").field("supplier_choice", .string).update()
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
        // A closed 8D watched for its defect to come back (效果验证).
        try await db.schema("corrective_checks")
            .field("exception_id", .uuid, .identifier(auto: false))
            .field("supplier_id", .uuid, .required)
            .field("item_id", .uuid, .required)
            .field("defect_code", .string, .required)
            .field("opened_at", .datetime, .required)
            .field("closed_at", .datetime, .required)
            .field("status", .string, .required)
            .field("before_lots", .int, .required)
            .field("before_defective", .int, .required)
            .field("after_lots", .int, .required)
            .field("after_defective", .int, .required)
            .field("linked_exception_id", .uuid)
            .field("judged_at", .datetime)
            .field("updated_at", .datetime, .required)
            .create()
        try await createIndex(db, "corrective_checks_status_idx", on: "corrective_checks", "status")
        // Improvement suggestions (优化建议) from the rules over a month's scorecard.
        try await db.schema("suggestions")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("period", .string, .required)
            .field("rule", .string, .required)
            .field("params", .string, .required)
            .field("status", .string, .required)
            .field("reason", .string, .required)
            .field("exception_id", .uuid)
            .field("decided_by", .uuid)
            .field("decided_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("version", .int, .required)
            .unique(on: "supplier_id", "period", "rule")
            .create()
        // Supplier reviews (定期沟通) with their minutes and action items.
        try await db.schema("supplier_reviews")
            .id()
            .field("supplier_id", .uuid, .required, .references("organizations", "id"))
            .field("cadence", .string, .required)
            .field("period", .string, .required)
            .field("scheduled_on", .string, .required)
            .field("status", .string, .required)
            .field("agenda", .string, .required)
            .field("minutes", .string, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("held_at", .datetime)
            .field("version", .int, .required)
            .create()
        try await createIndex(db, "supplier_reviews_supplier_idx", on: "supplier_reviews", "supplier_id", "scheduled_on")
        try await db.schema("review_actions")
            .id()
            .field("review_id", .uuid, .required, .references("supplier_reviews", "id"))
            .field("supplier_id", .uuid, .required)
            .field("title", .string, .required)
            .field("owner_side", .string, .required)
            .field("due_on", .string, .required)
            .field("status", .string, .required)
            .field("done_by", .uuid)
            .field("done_at", .datetime)
            .field("created_at", .datetime, .required)
            .field("version", .int, .required)
            .create()
        try await createIndex(db, "review_actions_open_idx", on: "review_actions", "status", "supplier_id", "due_on")
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
        try await db.schema("review_actions").delete()
        try await db.schema("supplier_reviews").delete()
        try await db.schema("suggestions").delete()
        try await db.schema("corrective_checks").delete()
        try await db.schema("status_proposals").delete()
        try await db.schema("closed_score_months").delete()
        try await db.schema("supplier_grades").delete()
        try await db.schema("score_weights").delete()
        try await db.schema("production_plan_lines").deleteField("supplier_choice").update()
    }
}

/// One supplier's progress reports in the order the timeliness window reads them (line, then
/// time), with the day it compares: see `ScorecardQueries.reportsIndex`.
struct AddReportLineOrderIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "progress_reports_line_order_idx", on: "progress_reports", "supplier_id", "order_id", "line_no", "created_at", "report_day")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "progress_reports_line_order_idx").run()
    }
}
