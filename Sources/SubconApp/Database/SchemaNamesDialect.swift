import SQLKit
import SQLiteKit

/// SQLite's dialect for the connections of our own (`WriteConnection`, `ReadConnections`,
/// `ModelReadDatabase`), with identifiers written between quotes as they are.
///
/// SQLKit escapes a quote inside every identifier it writes, with the standard library's
/// `replacing`, which on Linux searches each name character by character: in a profile of the
/// workflow it was half of SQLKit's writing of Fluent's queries, 4 % of the server's CPU. The
/// identifiers these connections see are the schema's own names — the models' field keys,
/// table names and the columns our statements name — never text from a request (a filter or a
/// sort parameter chooses among names written in the code), and none holds a quote.
/// String literals are still escaped.
struct SchemaNamesDialect: SQLDialect {
    private let sqlite = SQLiteDialect()

    /// Writes the quote itself; SQLKit then writes the name as it is.
    private struct Quote: SQLExpression {
        func serialize(to serializer: inout SQLSerializer) { serializer.write("\"") }
    }

    var name: String { sqlite.name }
    var identifierQuote: any SQLExpression { Quote() }
    var literalStringQuote: any SQLExpression { sqlite.literalStringQuote }
    func bindPlaceholder(at position: Int) -> any SQLExpression { sqlite.bindPlaceholder(at: position) }
    func literalBoolean(_ value: Bool) -> any SQLExpression { sqlite.literalBoolean(value) }
    var literalDefault: any SQLExpression { sqlite.literalDefault }
    var supportsIfExists: Bool { sqlite.supportsIfExists }
    var supportsDropBehavior: Bool { sqlite.supportsDropBehavior }
    var supportsAutoIncrement: Bool { sqlite.supportsAutoIncrement }
    var autoIncrementClause: any SQLExpression { sqlite.autoIncrementClause }
    var enumSyntax: SQLEnumSyntax { sqlite.enumSyntax }
    var triggerSyntax: SQLTriggerSyntax { sqlite.triggerSyntax }
    var alterTableSyntax: SQLAlterTableSyntax { sqlite.alterTableSyntax }
    var upsertSyntax: SQLUpsertSyntax { sqlite.upsertSyntax }
    var supportsReturning: Bool { sqlite.supportsReturning }
    var unionFeatures: SQLUnionFeatures { sqlite.unionFeatures }
    func customDataType(for dataType: SQLDataType) -> (any SQLExpression)? { sqlite.customDataType(for: dataType) }
    func nestedSubpathExpression(in column: any SQLExpression, for path: [String]) -> (any SQLExpression)? {
        sqlite.nestedSubpathExpression(in: column, for: path)
    }
}
