import SQLKit

extension SQLDatabase {
    /// Inserts many rows with multi-row `INSERT`s (400 rows each, well under SQLite's and
    /// PostgreSQL's bind-parameter limits for our widest tables): imports and bulk seeding.
    func insertRows(into table: String, columns: [String], _ rows: [[any SQLExpression]]) async throws {
        try await insertRows(into: table, columns: columns, rows) { $0 }
    }

    /// The same, each row's expressions made only when its batch is written: 57,000 rows of 26
    /// boxed binds made at once took more memory than the rows themselves.
    func insertRows<Value>(into table: String, columns: [String], _ values: [Value], row: (Value) -> [any SQLExpression]) async throws {
        for start in stride(from: 0, to: values.count, by: 400) {
            var b = insert(into: table).columns(columns)
            for value in values[start..<min(start + 400, values.count)] { b = b.values(row(value)) }
            try await b.run()
        }
    }
}
