import Fluent
import SQLKit

/// A statement takes every accepted receipt line and every penalised exception of its supplier
/// that no statement has taken yet, of any age (an old one comes in late). Finding them asked the
/// claims table about every such record the supplier ever had: on the large data set 51,000
/// receipt lines and 7,000 exceptions for SUP-JG, 200 ms of a month's statement, growing every
/// month. The sources now carry a `claimed` mark that the database keeps from the claims
/// (triggers, like `KeptCounts`: claims are written and removed in more than one place), and
/// partial indexes hold only the unclaimed ones, so a statement reads about one month's worth.
/// The claims stay the record (their unique key still refuses a second claim); the mark only
/// finds the candidates faster.
struct AddClaimedMarks: AsyncMigration {
    /// Each kind of source marked: its claim type, its table, and the index of its unclaimed
    /// rows with the condition a statement takes it on.
    static let sources: [(type: String, table: String, index: String, columns: String, condition: String)] = [
        ("receipt_line", "receipt_lines", "receipt_lines_unclaimed_idx", "supplier_id, received_at", unclaimedGoods()),
        ("exception", "exceptions", "exceptions_unclaimed_idx", "supplier_id, created_at", unclaimedPenalties()),
    ]

    /// The receipt lines a statement takes as goods and has not yet, of the table named `row`
    /// (or unqualified, as the index holds it): one text for the index, `StatementBuilder` and
    /// the seeded history, since SQLite uses a partial index only for a query that repeats its
    /// condition word for word.
    static func unclaimedGoods(_ row: String? = nil) -> String {
        let c = row.map { $0 + "." } ?? ""
        return "NOT \(c)claimed AND \(c)accepted_quantity > 0 AND \(c)status <> 'awaiting_inspection'"
    }

    /// The exceptions with a penalty a statement takes and has not yet, likewise.
    static func unclaimedPenalties(_ row: String? = nil) -> String {
        let c = row.map { $0 + "." } ?? ""
        return "NOT \(c)claimed AND \(c)penalty_kind <> ''"
    }

    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        for s in Self.sources {
            try await db.schema(s.table).field("claimed", .bool, .required, .sql(.default(false))).update()
            try await sql.raw("""
                UPDATE \(unsafeRaw: s.table) SET claimed = TRUE
                WHERE id IN (SELECT source_id FROM statement_claims WHERE source_type = \(literal: s.type))
                """).run()
            try await sql.raw("CREATE INDEX \(unsafeRaw: s.index) ON \(unsafeRaw: s.table) (\(unsafeRaw: s.columns)) WHERE \(unsafeRaw: s.condition)").run()
        }
        func mark(_ row: String, _ value: Bool) -> String {
            Self.sources.map { s in
                "UPDATE \(s.table) SET claimed = \(value ? "TRUE" : "FALSE") WHERE id = \(row).source_id AND \(row).source_type = '\(s.type)';"
            }.joined(separator: " ")
        }
        if sql.dialect.name == "sqlite" {
            try await sql.raw("CREATE TRIGGER statement_claims_mark AFTER INSERT ON statement_claims BEGIN \(unsafeRaw: mark("NEW", true)) END").run()
            try await sql.raw("CREATE TRIGGER statement_claims_unmark AFTER DELETE ON statement_claims BEGIN \(unsafeRaw: mark("OLD", false)) END").run()
        } else {
            try await sql.raw("""
                CREATE FUNCTION statement_claims_mark() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'INSERT' THEN \(unsafeRaw: mark("NEW", true)) ELSE \(unsafeRaw: mark("OLD", false)) END IF;
                  RETURN NULL;
                END $$
                """).run()
            // Claims are only ever inserted and deleted, never moved to another source.
            try await sql.raw("""
                CREATE TRIGGER statement_claims_mark AFTER INSERT OR DELETE ON statement_claims
                  FOR EACH ROW EXECUTE FUNCTION statement_claims_mark()
                """).run()
        }
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        if sql.dialect.name == "sqlite" {
            try await sql.raw("DROP TRIGGER statement_claims_mark").run()
            try await sql.raw("DROP TRIGGER statement_claims_unmark").run()
        } else {
            try await sql.raw("DROP TRIGGER statement_claims_mark ON statement_claims").run()
            try await sql.raw("DROP FUNCTION statement_claims_mark()").run()
        }
        for s in Self.sources {
            try await sql.drop(index: s.index).run()
            try await db.schema(s.table).deleteField("claimed").update()
        }
    }
}
