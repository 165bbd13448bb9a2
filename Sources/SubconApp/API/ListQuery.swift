import Foundation
import SQLKit

/// Hot list endpoints read through SQLKit into plain rows: Fluent's model decoding costs more
/// than the query itself (see docs/performance.md). Filters are applied identically to the
/// count and to the page.
struct ListQuery: Sendable {
    let sql: any SQLDatabase
    let table: String
    var conditions: [any SQLExpression] = []
    /// A search that a trigram index answers: its rows' keys, read once per statement as the
    /// common table `search_hits` (the page and its total both name it).
    private var searchMatches: SQLQueryString?
    /// The common table's name (the order list names it too).
    static let searchHits = "search_hits"

    init(_ sql: any SQLDatabase, _ table: String) { self.sql = sql; self.table = table }

    mutating func equal(_ column: String, _ value: some Encodable & Sendable) {
        conditions.append(SQLBinaryExpression(SQLColumn(column), .equal, SQLBind(value)))
    }

    mutating func isNull(_ column: String) {
        conditions.append(SQLBinaryExpression(SQLColumn(column), .is, SQLLiteral.null))
    }

    /// Case-insensitive "contains" over several columns; `%`, `_` and `\` in the text match literally.
    /// Answered from the columns' trigram index where they have one (`SubstringSearch`).
    /// `counts` say which trigrams are common (`SubstringSearch.matches`).
    mutating func contains(_ text: String, in columns: [String], counts: TrigramCounts?) async throws {
        if let search = SubstringSearch.over(table, columns), let matches = try await search.matches(text, on: sql, counts: counts) {
            searchMatches = matches
            conditions.append(SubstringSearch.among(Self.searchHits, on: sql))
            return
        }
        let pattern = Self.containsPattern(text)
        conditions.append(SQLGroupExpression(SQLList(columns.map { Self.like($0, pattern) }, separator: SQLRaw(" OR "))))
    }

    /// `LOWER(column) LIKE pattern ESCAPE '\'` for a pattern from `containsPattern`. The column is
    /// the query's own text (a qualified name such as `o.code` too), never input.
    static func like(_ column: String, _ pattern: String) -> SQLQueryString {
        "LOWER(\(unsafeRaw: column)) LIKE \(bind: pattern) ESCAPE '\\'"
    }

    /// The LIKE pattern for "contains `text`", lower-cased, for use with `ESCAPE '\'`.
    static func containsPattern(_ text: String) -> String {
        "%" + text.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
    }

    private func filtered(_ b: SQLSelectBuilder) -> SQLSelectBuilder {
        if let searchMatches { b.with(Self.searchHits, as: searchMatches) }
        return conditions.reduce(b) { $0.where($1) }
    }

    /// The page and the list's total in one statement (an empty page has no row to carry the
    /// total, and is counted apart). Where an index answers the search, the statement reads the
    /// search's matches once for both (the items' search read them twice, in two statements:
    /// 0.25 ms of SQLite's time a page of 50 on the large data set, 0.15 ms in one). Lists
    /// without such a search were a count and a page, two round trips on PostgreSQL.
    /// The page's columns are the ones the row type reads.
    func pageAndTotal<Row: ReadByPosition>(_ type: Row.Type, orderBy: [(String, SQLDirection)],
                                           page: PageRequest) async throws -> (rows: [Row], total: Int) {
        let total: SQLQueryString = "(SELECT COUNT(*) FROM \(ident: table)"
            + (conditions.isEmpty ? "" : " WHERE \(SQLList(conditions, separator: SQLRaw(" AND ")))") + ")"
        var b = filtered(sql.select().columns(Row.columnNames.map { SQLColumn($0) }).column(total, as: Self.totalColumn).from(table))
        for (column, direction) in orderBy { b = b.orderBy(SQLColumn(column), direction) }
        let raw = try await b.limit(page.per).offset(page.offset).all()
        guard let first = raw.first else { return ([], try await count()) }
        return (try RowDecoding.rows(raw, as: Row.self), try first.decode(column: Self.totalColumn, as: Int.self))
    }

    private static let totalColumn = "list_total"

    func count() async throws -> Int {
        let row = try await filtered(sql.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)).first()
        return try row?.decode(column: "n", as: Int.self) ?? 0
    }
}
