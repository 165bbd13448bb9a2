import Fluent
import SQLKit
import SubconDomain

/// How many days each progress report came after the latest day reported on its line before it
/// (`days_since_previous`, NULL for a line's first report), kept on the report when it is written.
///
/// The scorecard counts a report on time when it came within the silent-days limit of the line's
/// report before it. Found when a scorecard was asked for, that took a window over every report
/// of the period and 60 days before it: 162,000 reports for the largest supplier's trend of
/// years, 150–300 ms, most of that scorecard's time. With the gap kept, the count is a sum over
/// one index range per period. A report's gap never changes once written: reports are not edited,
/// and a later report does not come before an earlier one.
enum ReportGaps {
    /// The gap of a report made on `day` on a line whose latest report so far was on `last`.
    static func days(since last: String?, to day: Day) -> Int? {
        ReportTimeliness.gap(previous: last.flatMap(Day.init), day: day)
    }

    /// Works every report's gap out again from the reports before it on its line (by time, then
    /// id): the migration's fill, and after loads that write reports in bulk or move their days.
    static func rebuild(on sql: any SQLDatabase) async throws {
        let gap = ScorecardQueries.dayDiff("report_day", minus: "previous", postgres: sql.dialect.name == "postgresql")
        try await sql.raw("""
            UPDATE progress_reports SET days_since_previous = g.gap
              FROM (SELECT id, \(unsafeRaw: gap) AS gap
                      FROM (SELECT id, report_day, MAX(report_day) OVER (PARTITION BY order_id, line_no ORDER BY created_at, id
                                                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous
                              FROM progress_reports) w) g
             WHERE g.id = progress_reports.id
            """).run()
    }
}

/// Progress reports keep their gap to the line's report before (`ReportGaps`), and one
/// supplier's reports are read by time with it from one index. That index replaces the two the
/// window read: by supplier and time (a month's scorecard) and by supplier and line
/// (`AddReportLineOrderIndex`, a year's), one index less to write with every report.
struct AddReportGaps: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("progress_reports").field("days_since_previous", .int).update()
        try await ReportGaps.rebuild(on: db as! any SQLDatabase)
        try await createIndex(db, "progress_reports_supplier_gap_idx", on: "progress_reports", "supplier_id", "created_at", "days_since_previous")
        for name in ["progress_reports_line_order_idx", "progress_reports_supplier_created_idx"] { try await (db as! any SQLDatabase).drop(index: name).run() }
    }

    func revert(on db: any Database) async throws {
        try await createIndex(db, "progress_reports_supplier_created_idx", on: "progress_reports", "supplier_id", "created_at")
        try await createIndex(db, "progress_reports_line_order_idx", on: "progress_reports", "supplier_id", "order_id", "line_no", "created_at", "report_day")
        try await (db as! any SQLDatabase).drop(index: "progress_reports_supplier_gap_idx").run()
        try await db.schema("progress_reports").deleteField("days_since_previous").update()
    }
}
