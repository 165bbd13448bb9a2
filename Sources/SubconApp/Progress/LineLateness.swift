import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// The projection of every open order line (Projection.project, one function), kept on the
/// line itself so that lists, filters, the home page and reports read the same lateness the
/// order page shows, with SQL instead of a projection per row. Written with every report,
/// promise and change of the lines, and again by the periodic sweep as the calendar moves.
enum LineLateness {
    /// Returns the lines as projected, for checks that follow in the same write.
    @discardableResult
    static func store(_ orderID: UUID, in change: Change) async throws -> [LineProgressDTO] {
        let lines = try await ProgressService.lines(orderIDs: [orderID], today: change.today, threshold: change.delayThresholdDays, on: change.db)[orderID] ?? []
        // A line may have closed too (a revision), which moves the order's lateness on its own.
        try await write(orderID, lines, orderToo: true, in: change)
        return lines.map(\.projected)
    }

    /// Writes the lines whose stored projection no longer holds (and the sums a report kept on
    /// its line: `reported`, the line's facts with the report added), then the order's lateness
    /// if a line moved or `orderToo`.
    static func write(_ orderID: UUID, _ lines: [ProgressService.ProjectedLine], reported: ProgressService.LineFacts? = nil,
                      orderToo: Bool = false, in change: Change) async throws {
        let sql = change.db as! any SQLDatabase
        var moved = false
        for l in lines {
            let sums = reported?.line_no == l.projected.line ? reported : nil
            guard !l.storedIsCurrent || sums != nil else { continue }
            moved = moved || !l.storedIsCurrent
            var update = sql.update("order_lines")
                .set("eta", to: l.projected.eta).set("days_late", to: l.projected.daysLate).set("risk", to: l.projected.risk)
                .set("promised_date", to: l.projected.promisedDate)
            if let sums {
                update = update.set("reported_quantity", to: sums.good ?? 0).set("reported_scrap", to: sums.scrap ?? 0)
                    .set("first_report_day", to: sums.first_day).set("last_report_day", to: sums.last_day)
            }
            try await update.where("order_id", .equal, orderID).where("line_no", .equal, l.projected.line).run()
        }
        guard moved || orderToo else { return }
        try await sql.raw("UPDATE outsourcing_orders SET days_late = " + lateness("outsourcing_orders.id") + " WHERE id = \(bind: orderID)").run()
    }

    /// An order's lateness: the most days late of its open lines projected late or at risk,
    /// NULL when none is. Kept on the order so that the late filter reads a partial index of
    /// the late orders instead of probing every order's lines.
    static func lateness(_ orderColumn: String) -> SQLQueryString {
        // Only the order's own lines are named in WHERE: given the risk too, SQLite without
        // statistics may walk every late line of every order instead.
        "(SELECT MAX(CASE WHEN l.risk IN (\(binds: Projection.Risk.lateValues)) THEN l.days_late END) FROM order_lines l WHERE l.order_id = \(unsafeRaw: orderColumn) AND l.state = 'open')"
    }

    /// Fills every order's lateness from its lines (the migration, and bulk loads).
    static func refreshOrders(on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE outsourcing_orders SET days_late = " + lateness("outsourcing_orders.id")).run()
    }

    /// The supplier's reason for a late line, stated with a promise (or on its own).
    static func explain(_ orderID: UUID, line: Int, reason: String, note: String, in change: Change) async throws {
        try await (change.db as! any SQLDatabase).update("order_lines").set("delay_reason", to: reason).set("delay_note", to: note)
            .where("order_id", .equal, orderID).where("line_no", .equal, line).run()
    }

    /// Order statuses whose open lines can be late: released and not yet finished.
    static let liveOrderStatuses: [String] = [OrderStatus.released, .acknowledged, .changeProposed, .rejected, .inProduction, .partiallyDelivered].map(\.rawValue)
}

/// Exceptions the system raises keep their words as catalog keys (ExceptionWords).
/// The order's lateness beside its lines' (see `LineLateness.lateness`).
struct AddOrderLateness: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("outsourcing_orders").field("days_late", .int).update()
        let sql = db as! any SQLDatabase
        try await LineLateness.refreshOrders(on: sql)
        try await sql.raw("CREATE INDEX orders_late_idx ON outsourcing_orders (created_at) WHERE days_late IS NOT NULL").run()
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).raw("DROP INDEX orders_late_idx").run()
        try await db.schema("outsourcing_orders").deleteField("days_late").update()
    }
}

struct AddExceptionWords: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("exceptions").field("words", .string).update()
    }

    func revert(on db: any Database) async throws {
        try await db.schema("exceptions").deleteField("words").update()
    }
}

struct AddLineLateness: AsyncMigration {
    func prepare(on db: any Database) async throws {
        // One column per statement: SQLite adds columns one at a time.
        try await db.schema("order_lines").field("eta", .string).update()
        try await db.schema("order_lines").field("days_late", .int, .required, .sql(.default(0))).update()
        try await db.schema("order_lines").field("risk", .string, .required, .sql(.default("unknown"))).update()
        try await db.schema("order_lines").field("promised_date", .string).update()
        try await db.schema("order_lines").field("delay_reason", .string).update()
        try await db.schema("order_lines").field("delay_note", .string, .required, .sql(.default(""))).update()
        try await db.schema("line_promises").field("delay_reason", .string).update()
        try await createIndex(db, "order_lines_risk_idx", on: "order_lines", "risk", "days_late")
    }

    func revert(on db: any Database) async throws {
        for c in ["eta", "days_late", "risk", "promised_date", "delay_reason", "delay_note"] { try await db.schema("order_lines").deleteField(.init(stringLiteral: c)).update() }
        try await db.schema("line_promises").deleteField("delay_reason").update()
    }
}
