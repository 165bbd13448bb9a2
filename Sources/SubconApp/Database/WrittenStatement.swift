import Foundation
import SQLKit

/// A statement written out once for a dialect, run many times with one value bound anew: its
/// text and every other bind are kept as written. For statements long to build and write whose
/// text depends only on who asks, not on the value (see `TodoQueries.written`).
struct WrittenStatement: Sendable {
    /// Stands for the value while the statement is written; no row has it.
    static let slot = UUID()

    let sql: String
    /// The binds in order; nil where the value goes.
    let binds: [(any Encodable & Sendable)?]

    /// `query` written with `slot` where the value goes.
    init(_ query: SQLQueryString, on database: any SQLDatabase) {
        var serializer = SQLSerializer(database: database)
        query.serialize(to: &serializer)
        sql = serializer.sql
        binds = serializer.binds.map { ($0 as? UUID) == Self.slot ? nil : $0 }
    }

    /// The statement with `value` in each place of the slot. A whole statement: its binds are
    /// numbered from the first.
    func run(with value: UUID?) -> SQLQueryString {
        "\(Filled(sql: sql, binds: binds.map { $0 ?? value }))"
    }

    private struct Filled: SQLExpression {
        let sql: String
        let binds: [(any Encodable & Sendable)?]

        func serialize(to serializer: inout SQLSerializer) {
            serializer.write(sql)
            // A slot without a value never happens: a statement for nobody has no slot.
            serializer.binds.append(contentsOf: binds.map { $0 ?? Optional<UUID>.none })
        }
    }
}
