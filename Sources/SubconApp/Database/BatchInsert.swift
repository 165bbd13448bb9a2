import SQLKit

extension SQLDatabase {
    /// Inserts many rows with multi-row `INSERT`s (400 rows each, well under SQLite's and
    /// PostgreSQL's bind-parameter limits for our widest tables): imports and bulk seeding.
    func insertRows(into table: String, columns: [String], _ rows: [[any SQLExpression]]) async throws {
        for start in stride(from: 0, to: rows.count, by: 400) {
            var b = insert(into: table).columns(columns)
            for row in rows[start..<min(start + 400, rows.count)] { b = b.values(row) }
            try await b.run()
        }
    }
}
