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
    static func store(_ orderID: UUID, in change: Change) async throws {
        let lines = try await ProgressService.lines(orderID: orderID, today: change.today, threshold: change.delayThresholdDays, on: change.db)
        let sql = change.db as! any SQLDatabase
        for l in lines {
            try await sql.update("order_lines")
                .set("eta", to: l.eta).set("days_late", to: l.daysLate).set("risk", to: l.risk).set("promised_date", to: l.promisedDate)
                .where("order_id", .equal, orderID).where("line_no", .equal, l.line)
                .run()
        }
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
