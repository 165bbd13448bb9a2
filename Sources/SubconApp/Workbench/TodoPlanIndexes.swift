import Fluent
import SQLKit

/// A supplier's to-do with one kept plan on PostgreSQL. PostgreSQL planned the to-do's two
/// statements (eleven kinds each, a supplier's) on every view of a home page: 20 ms of planning
/// for SUP-JG on the large data set, against 14 ms of running. Kept as prepared statements
/// (`keyedReads`), the plan made without the supplier must suit the largest and the smallest;
/// it did, except where no index held a kind's rows in the order it asks for:
///
/// - the exceptions to answer, first three by their answer deadline and the nearest deadline,
///   were sorted from all of SUP-JG's 3,384 (8.5 ms);
/// - the lines late without a reason, their earliest due day, were found among all the
///   supplier's late lines (1,458 for SUP-JG; 3.3 ms).
///
/// Each now has a partial index in the order it is read, under the condition the to-do writes.
/// The exceptions' condition names the status as an expression, as `exceptions_unanswered_idx`
/// does (see `AddSupplierTodoKeptCounts`); PostgreSQL gets statistics of that expression, as
/// for the open notes (`AddOpenNoteStatistics`), without which it guessed one exception to answer
/// per supplier and walked the wrong index.
struct AddTodoPlanIndexes: AsyncMigration {
    /// An open line late or at risk nobody has given a reason for, of an order still worked on:
    /// the to-do's "explain the delay", of a row's columns (`prefix` "l." or none).
    static func unexplained(_ prefix: String = "") -> String {
        "\(prefix)state = 'open' AND \(prefix)risk IN (\(AddWorkbenchFigures.late)) AND \(prefix)delay_reason IS NULL AND \(prefix)order_status IN (\(AddWorkbenchFigures.live))"
    }

    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.raw("""
            CREATE INDEX exceptions_to_answer_idx ON exceptions (supplier_id, response_by, created_at)
              WHERE \(unsafeRaw: AddSupplierTodoKeptCounts.unanswered())
            """).run()
        try await sql.raw("CREATE INDEX order_lines_unexplained_idx ON order_lines (supplier_id, due_date) WHERE \(unsafeRaw: Self.unexplained())").run()
        guard sql.dialect.name == "postgresql" else { return }
        try await sql.raw("CREATE STATISTICS exceptions_open_stats ON (status || '') FROM exceptions").run()
        try await sql.raw("ANALYZE exceptions").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "postgresql" { try await sql.raw("DROP STATISTICS exceptions_open_stats").run() }
        try await sql.drop(index: "order_lines_unexplained_idx").run()
        try await sql.drop(index: "exceptions_to_answer_idx").run()
    }
}
