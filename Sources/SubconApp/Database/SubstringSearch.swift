import Fluent
import NIOConcurrencyHelpers
import SQLKit

/// "Contains" searches (case-insensitive, anywhere in the text) over a table's text columns,
/// answered from a trigram index instead of a scan of every row.
///
/// The people directory's search ran `LOWER(column) LIKE '%text%'` over every user twice (the
/// count and the page): 0.067 of the HTTP ceiling with a p99 of 105 ms on the large data set, the
/// one list of 50 far from the target. The items' search scans 50,000 items the same way, and the
/// order list's search 200,000 orders, each joined to its supplier.
///
/// - SQLite: an FTS5 table with the trigram tokenizer over the columns, kept by triggers (its
///   rows are the table's rowids, which `VACUUM INTO`, the backups, keeps). A phrase of the text
///   matches where its trigrams follow each other, so where the text occurs. Text of fewer than
///   three characters has no trigram and is still searched by the scan.
/// - PostgreSQL: `pg_trgm`'s GIN indexes on the lower-cased columns, which the planner uses for
///   the same `LIKE` itself. Where the extension cannot be created (no rights, no contrib
///   package), the search keeps its scan.
struct SubstringSearch: Sendable {
    let table: String
    let columns: [String]
    var index: String { "\(table)_search" }

    static let users = SubstringSearch(table: "users", columns: ["login", "display_name"])
    static let items = SubstringSearch(table: "items", columns: ["code", "name", "specification"])
    /// Orders by their code (the order list's search also finds them by their supplier).
    static let orders = SubstringSearch(table: "outsourcing_orders", columns: ["code"])
    /// Organizations by code and name: the order list's search finds a supplier's orders.
    static let organizations = SubstringSearch(table: "organizations", columns: ["code", "name"])
    static let all = [users, items, orders, organizations]

    /// The search over exactly these columns of `table`, if there is one.
    static func over(_ table: String, _ columns: [String]) -> SubstringSearch? {
        all.first { $0.table == table && $0.columns == columns }
    }

    /// Trigrams: text shorter than this has none.
    static let shortestIndexed = 3

    /// The condition on the index, or nil where the scan answers (short text).
    func condition(_ text: String, on sql: any SQLDatabase, counts: TrigramCounts?) async throws -> SQLQueryString? {
        try await matches(text, on: sql, counts: counts).map { Self.key(sql) + " IN (" + $0 + ")" }
    }

    /// The column that `matches` returns and that a row is found by: SQLite's index holds the
    /// table's rowids, PostgreSQL's indexes are on the table itself.
    static func key(_ sql: any SQLDatabase) -> SQLQueryString { sql.dialect.name == "sqlite" ? "rowid" : "id" }

    /// The row (of the table named `alias` in the query, if given) among the common table `hits`
    /// that holds the search's matches.
    static func among(_ hits: String, alias: String? = nil, on sql: any SQLDatabase) -> SQLQueryString {
        let prefix = alias.map { $0 + "." } ?? ""
        return sql.dialect.name == "sqlite" ? "\(unsafeRaw: prefix)rowid IN \(ident: hits)" : "\(unsafeRaw: prefix)id IN (SELECT id FROM \(ident: hits))"
    }

    /// The keys (`key`) of the rows the index finds, as a statement of their own, or nil where
    /// the scan answers.
    ///
    /// An index reads the whole list of rows of every trigram in the text. A trigram that most
    /// rows hold (`bx-` and `x-0` in every order's code `BX-0…`) costs a walk over all of them:
    /// on SQLite the order search `BX-01999` read 500,000 entries for its 100 rows (1 ms a
    /// statement, two a request: 0.04 of the HTTP ceiling); on PostgreSQL `pg_trgm`'s GIN index
    /// took 16 ms for the same walk. Where that walk costs more than checking the rows the rare
    /// trigrams find, only those are asked of the index (`01999`: 112 rows, 0.12 ms on SQLite,
    /// 0.9 on PostgreSQL), and the rows are checked against the whole text as the scan would
    /// (`LOWER(column)` holding it), so the answer is the same. `counts` says which trigrams
    /// are common; without it the whole text is asked for.
    ///
    /// On PostgreSQL the matches are a statement of their own too, for the lists to read first:
    /// with the text's `LIKE` among a list's conditions, the planner walked the list's order
    /// index and filtered every row (the items' search 7.9 ms, the orders' 49 ms), expecting the
    /// matches to be spread evenly along it; they were not.
    func matches(_ text: String, on sql: any SQLDatabase, counts: TrigramCounts?) async throws -> SQLQueryString? {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= Self.shortestIndexed else { return nil }
        var pieces = [text], pruned = false
        if let counts, scalars.count > Self.shortestIndexed, scalars.count - 2 <= Self.mostTrigramsCounted {
            let trigrams = (0...(scalars.count - 3)).map { String(String.UnicodeScalarView(scalars[$0..<($0 + 3)])) }
            let found = try await counts.counts(of: trigrams, in: self, on: sql)
            let runs = Self.rareRuns(found)
            if runs != [found.indices] {
                let rare = runs.map { String(String.UnicodeScalarView(scalars[$0.lowerBound..<($0.upperBound + 2)])) }
                let dropped = found.indices.filter { i in !runs.contains { $0.contains(i) } }.reduce(0) { $0 &+ found[$1] }
                let left = try await counts.counts(of: rare, in: self, on: sql).min() ?? 0
                if counts.worthLeavingOut(walked: dropped, checked: left) { pieces = rare; pruned = true }
            }
        }
        let lowered = text.lowercased()
        if sql.dialect.name == "sqlite" {
            let match: SQLQueryString = "SELECT rowid FROM \(ident: index) WHERE \(ident: index) MATCH \(bind: pieces.map(Self.phrase).joined(separator: " AND "))"
            guard pruned else { return match }
            // `instr` finds what the scan's `LOWER(column) LIKE '%text%'` finds (the text lower-cased
            // the same way, taken literally), but a bound LIKE pattern makes SQLite prepare the
            // statement again on every run (a tenth of the order search's time).
            return match + " AND (" + columns.map { "instr(LOWER(\(ident: $0)), \(bind: lowered)) > 0" as SQLQueryString }.joined(separator: " OR ") + ")"
        }
        // The pieces are in the column that holds the text, so each column is asked for all of them.
        let found = columns.map { column in
            "(" + pieces.map { ListQuery.like(column, ListQuery.containsPattern($0)) }.joined(separator: " AND ") + ")" as SQLQueryString
        }.joined(separator: " OR ")
        let select: SQLQueryString = "SELECT id FROM \(ident: table) WHERE (" + found + ")"
        guard pruned else { return select }
        return select + " AND (" + columns.map { "strpos(LOWER(\(ident: $0)), \(bind: lowered)) > 0" as SQLQueryString }.joined(separator: " OR ") + ")"
    }

    /// A trigram is common when more rows hold it than this many times the rows of the text's
    /// rarest trigram.
    static let commonFactor = 32

    /// Longer text is asked of the index whole, as before: counting each of its trigrams would
    /// let one request walk hundreds of lists.
    static let mostTrigramsCounted = 32

    /// The runs of the text's trigrams (by position) that are not common, in order; all of them,
    /// as one run, when none is.
    static func rareRuns(_ counts: [Int]) -> [Range<Int>] {
        let rarest = counts.min() ?? 0
        let limit = rarest > Int.max / commonFactor ? Int.max : rarest * commonFactor
        var runs: [Range<Int>] = [], start: Int? = nil
        for i in 0...counts.count {
            if i < counts.count, counts[i] <= limit {
                if start == nil { start = i }
            } else if let s = start {
                runs.append(s..<i)
                start = nil
            }
        }
        return runs
    }

    /// One FTS5 phrase, quoted: inside quotes every character is text (a `"` is doubled).
    static func phrase(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    func create(on sql: any SQLDatabase, logger: Logger) async throws {
        if sql.dialect.name == "sqlite" {
            let list = columns.joined(separator: ", ")
            let new = columns.map { "new.\($0)" }.joined(separator: ", ")
            let old = columns.map { "old.\($0)" }.joined(separator: ", ")
            try await sql.raw("CREATE VIRTUAL TABLE \(unsafeRaw: index) USING fts5(\(unsafeRaw: list), content='\(unsafeRaw: table)', tokenize='trigram')").run()
            try await sql.raw("""
                CREATE TRIGGER \(unsafeRaw: index)_insert AFTER INSERT ON \(unsafeRaw: table) BEGIN
                  INSERT INTO \(unsafeRaw: index)(rowid, \(unsafeRaw: list)) VALUES (new.rowid, \(unsafeRaw: new));
                END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER \(unsafeRaw: index)_delete AFTER DELETE ON \(unsafeRaw: table) BEGIN
                  INSERT INTO \(unsafeRaw: index)(\(unsafeRaw: index), rowid, \(unsafeRaw: list)) VALUES ('delete', old.rowid, \(unsafeRaw: old));
                END
                """).run()
            try await sql.raw("""
                CREATE TRIGGER \(unsafeRaw: index)_update AFTER UPDATE OF \(unsafeRaw: list) ON \(unsafeRaw: table) BEGIN
                  INSERT INTO \(unsafeRaw: index)(\(unsafeRaw: index), rowid, \(unsafeRaw: list)) VALUES ('delete', old.rowid, \(unsafeRaw: old));
                  INSERT INTO \(unsafeRaw: index)(rowid, \(unsafeRaw: list)) VALUES (new.rowid, \(unsafeRaw: new));
                END
                """).run()
            try await sql.raw("INSERT INTO \(unsafeRaw: index)(\(unsafeRaw: index)) VALUES ('rebuild')").run()
        } else {
            do {
                // In `public`, once per database: the tests' schemas come and go.
                try await sql.raw("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public").run()
                for column in columns {
                    try await sql.raw("""
                        CREATE INDEX \(unsafeRaw: index)_\(unsafeRaw: column)_idx ON \(unsafeRaw: table) USING gin (LOWER(\(unsafeRaw: column)) public.gin_trgm_ops)
                        """).run()
                }
            } catch {
                logger.warning("no trigram index for searching \(table) (\(String(reflecting: error))): its searches scan the table")
            }
        }
    }

    func drop(on sql: any SQLDatabase) async throws {
        if sql.dialect.name == "sqlite" {
            for trigger in ["insert", "delete", "update"] { try await sql.raw("DROP TRIGGER IF EXISTS \(unsafeRaw: index)_\(unsafeRaw: trigger)").run() }
            try await sql.raw("DROP TABLE IF EXISTS \(unsafeRaw: index)").run()
        } else {
            for column in columns { try await sql.raw("DROP INDEX IF EXISTS \(unsafeRaw: index)_\(unsafeRaw: column)_idx").run() }
        }
    }
}

/// Trigram indexes for the searches of people, items and orders.
struct AddSubstringSearch: AsyncMigration {
    private static let searches: [SubstringSearch] = [.users, .items, .orders]

    func prepare(on db: any Database) async throws {
        for search in Self.searches { try await search.create(on: db as! any SQLDatabase, logger: db.logger) }
    }

    func revert(on db: any Database) async throws {
        for search in Self.searches.reversed() { try await search.drop(on: db as! any SQLDatabase) }
    }
}

/// A trigram index of organizations by code and name. The order list's search scanned all of
/// them twice a request (its count and its page) for the suppliers whose orders it also finds:
/// 0.5 ms of SQLite's time each on the large data set's thousand organizations.
struct AddOrganizationSearch: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await SubstringSearch.organizations.create(on: db as! any SQLDatabase, logger: db.logger)
    }

    func revert(on db: any Database) async throws {
        try await SubstringSearch.organizations.drop(on: db as! any SQLDatabase)
    }
}

/// How many rows hold each trigram of a search, per index, so that a search can leave out the
/// common ones (`SubstringSearch.matches`). They steer the index's work only: the rows found
/// are checked against the whole text, so a count that has grown stale makes a search slower,
/// never wrong. Kept for ten minutes by each instance (`SubconServices.trigramCounts`).
final class TrigramCounts: Sendable {
    private struct Counted { let rows: Int; let at: ContinuousClock.Instant }
    private typealias Counting = Task<[String: Int], any Error>
    private struct State {
        var kept: [String: Counted] = [:]
        /// Counts under way: the searches that need one while it runs wait for it. The first
        /// order searches after a start on PostgreSQL, 64 at once, each counted the same six
        /// trigrams (0.5 s of the database's time each, 34 s in all).
        var counting: [String: Counting] = [:]
    }
    private let state = NIOLockedValueBox(State())
    /// Count statements run, for tests.
    let statementsRun = NIOLockedValueBox(0)
    static let lifetime: Duration = .seconds(600)
    /// Past this many, the counts start again (a search box is not a way to fill memory).
    static let capacity = 20_000
    /// Entries of a trigram's list the index walks in the time it takes to check one row
    /// against the text: 1–2 ns against about 0.7 µs on the large data set, so a thousand, to be
    /// safe. Tests lower it, so that their few rows take the same path.
    let walkedPerChecked = NIOLockedValueBox(1_000)

    /// Whether leaving out trigrams whose lists hold `walked` entries in all is worth checking
    /// the `checked` rows that the rest find.
    func worthLeavingOut(walked: Int, checked: Int) -> Bool {
        let ratio = walkedPerChecked.withLockedValue { $0 }
        return checked.multipliedReportingOverflow(by: ratio).overflow ? false : walked > checked * ratio
    }

    /// How many rows hold each of `terms` (trigrams, or pieces of a search's text).
    func counts(of terms: [String], in search: SubstringSearch, on sql: any SQLDatabase) async throws -> [Int] {
        let now = ContinuousClock.now
        let keys = terms.map { search.index + "\u{0}" + $0 }
        var known: [Int?] = []
        var counting: [String: Counting] = [:]
        state.withLockedValue { held in
            known = keys.map { key in held.kept[key].flatMap { now - $0.at < Self.lifetime ? $0.rows : nil } }
            var missing: [String: String] = [:]
            for (i, key) in keys.enumerated() where known[i] == nil && counting[key] == nil {
                if let running = held.counting[key] { counting[key] = running } else { missing[key] = terms[i] }
            }
            guard !missing.isEmpty else { return }
            let batch = missing
            // Started under the lock, so that it cannot end (and take itself out) before it is in.
            let task = Counting { [self] in
                do {
                    statementsRun.withLockedValue { $0 += 1 }
                    let counted = try await Self.count(batch, in: search, on: sql)
                    state.withLockedValue { state in
                        if state.kept.count + counted.count > Self.capacity { state.kept.removeAll() }
                        for (key, rows) in counted { state.kept[key] = Counted(rows: rows, at: now) }
                        for key in batch.keys { state.counting[key] = nil }
                    }
                    return counted
                } catch {
                    state.withLockedValue { state in for key in batch.keys { state.counting[key] = nil } }
                    throw error
                }
            }
            for key in batch.keys { held.counting[key] = task; counting[key] = task }
        }
        var found: [Int] = []
        for (i, key) in keys.enumerated() {
            if let rows = known[i] { found.append(rows) } else { found.append(try await counting[key]!.value[key] ?? 0) }
        }
        return found
    }

    /// One statement for all of `terms` (by key); a count walks the lists of the term's trigrams
    /// once (on PostgreSQL it also reads the rows, 30–40 ms for a trigram of all 200,000 orders).
    private static func count(_ terms: [String: String], in search: SubstringSearch, on sql: any SQLDatabase) async throws -> [String: Int] {
        let sqlite = sql.dialect.name == "sqlite"
        let ordered = Array(terms)
        let columns = ordered.enumerated().map { i, term -> SQLQueryString in
            let holding: SQLQueryString = sqlite ? "\(ident: search.index) WHERE \(ident: search.index) MATCH \(bind: SubstringSearch.phrase(term.value))"
                : "\(ident: search.table) WHERE " + search.columns.map { ListQuery.like($0, ListQuery.containsPattern(term.value)) }.joined(separator: " OR ")
            return "(SELECT COUNT(*) FROM " + holding + ") AS \(unsafeRaw: "c\(i)")"
        }.joined(separator: ", ")
        guard let row = try await sql.raw("SELECT " + columns).first() else { return [:] }
        var counted: [String: Int] = [:]
        for (i, term) in ordered.enumerated() { counted[term.key] = try row.decode(column: "c\(i)", as: Int.self) }
        return counted
    }
}
