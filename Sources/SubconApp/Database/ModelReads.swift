import Fluent
import FluentSQL
import Foundation
import NIOCore
import SQLKit
import SQLiteKit
import Vapor

/// Fluent's model reads on the read connections of an SQLite file (see `ReadConnections`).
///
/// A change reads what it acts on before it begins (the order a progress report is for, the
/// receipt line being inspected: `DataScope.find`; the items and settings it needs) and, after
/// it commits, the rows of its answer. Through the driver each of those statements went to its
/// thread pool and came back through an event loop, and was prepared anew: in the workflow that
/// was six or seven statements a step. Here a model query runs on the caller's thread, on a
/// connection that keeps its statements prepared, as the write connection does for a change's
/// statements and the read connections for the hand-written hot reads.
///
/// For bounded reads only (a row by key, a document's lines): the caller's thread is one of
/// Swift's few cooperative threads, so long reads stay on `req.db`. Raw SQL on it goes to the
/// read connections too; a write or a transaction is refused before it reaches them (they are
/// `query_only` besides).
struct ModelReadDatabase: FluentKit.Database, SQLDatabase {
    let connections: ReadConnections
    let context: DatabaseContext
    private let loop: InlineEventLoop
    var inTransaction: Bool { false }
    var dialect: any SQLDialect { connections.dialect }

    init(connections: ReadConnections, logger: Logger, scheduler: any EventLoop) {
        self.connections = connections
        // Its own loop for each use: the loop's lock is held while a statement runs, and two
        // requests reading at once must not wait for each other.
        loop = InlineEventLoop(scheduler: scheduler)
        context = DatabaseContext(configuration: connections.modelConfiguration, logger: logger, eventLoop: loop, history: nil, pageSizeLimit: nil, shouldTrace: false)
    }

    func execute(query: DatabaseQuery, onOutput: @escaping @Sendable (any DatabaseOutput) -> ()) -> EventLoopFuture<Void> {
        switch query.action {
        case .read, .aggregate: break
        default: return loop.makeFailedFuture(ReadsOnly(what: "\(query.action) on \(query.schema)"))
        }
        let sql = SQLQueryConverter(delegate: SQLiteConverterDelegate()).convert(query)
        connections.modelReadsRun.withLockedValue { $0 += 1 }
        return loop.inline { try connections.run(sql) { onOutput(RowOutput(row: $0, schema: nil)) } }
    }

    func execute(schema: DatabaseSchema) -> EventLoopFuture<Void> {
        loop.makeFailedFuture(ReadsOnly(what: "schema changes"))
    }

    func execute(enum: DatabaseEnum) -> EventLoopFuture<Void> { loop.makeSucceededVoidFuture() }

    func transaction<T>(_ closure: @escaping @Sendable (any FluentKit.Database) -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        loop.makeFailedFuture(ReadsOnly(what: "transactions"))
    }

    func withConnection<T>(_ closure: @escaping @Sendable (any FluentKit.Database) -> EventLoopFuture<T>) -> EventLoopFuture<T> { closure(self) }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        loop.inline { try connections.run(query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try loop.inlineNow { try connections.run(query, onRow) }
    }

    struct ReadsOnly: Error, CustomStringConvertible {
        let what: String
        var description: String { "the model reads' database only reads: \(what)" }
    }
}

extension Application {
    /// The model reads' database where there are read connections (an SQLite file); nil on
    /// PostgreSQL, with `SQLITE_READ_CONNECTIONS=0` and in background work (whose reads keep to
    /// the background connections).
    func modelReads(logger: Logger, scheduler: any EventLoop) -> ModelReadDatabase? {
        guard BackgroundWork.databaseID == nil, let connections = readConnections else { return nil }
        return ModelReadDatabase(connections: connections, logger: logger, scheduler: scheduler)
    }

    /// Where the services' reads before a change go (the row it acts on, in the caller's scope;
    /// the items and settings it needs): `ModelReadDatabase`, else the database.
    var modelReads: any FluentKit.Database { modelReads(logger: logger, scheduler: eventLoopGroup.any()) ?? database }
}

extension Request {
    /// Where a handler's bounded model reads outside a change go: `ModelReadDatabase`, else `db`.
    var modelReads: any FluentKit.Database { application.modelReads(logger: logger, scheduler: eventLoop) ?? db }
}
