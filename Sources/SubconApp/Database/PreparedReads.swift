import FluentPostgresDriver
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Vapor

/// Reads by key on PostgreSQL as named prepared statements, each prepared once per connection.
///
/// The driver sends every statement unnamed, so PostgreSQL plans it on every run. For the reads
/// that run on every request the planning cost more than the work: with `pg_stat_statements`
/// under wrk, signing in planned for 0.195 ms and ran for 0.017 ms, and the order detail's three
/// statements planned for 0.42 ms and ran for 0.08 ms. A named statement is planned for its
/// first few runs and then, when PostgreSQL finds the plan does not depend on the values, never
/// again.
///
/// Only for reads whose best plan is the same for every value: rows by a primary or unique key,
/// and a supplier's own order list, which is best walked backwards along the supplier's index
/// whichever supplier and page (the generic plan checked for the largest and a small supplier, on
/// a deep page). A list with a filter whose selectivity varies (a status, a date range, a search)
/// is not one: a plan kept for one value would serve another badly, so those stay unprepared.
/// On SQLite the read connections already keep their prepared statements (see `ReadConnections`).
///
/// PostgreSQL keeps planning a statement afresh while the plan it would keep looks costlier than
/// the ones it made for the values given, and for a page of a list it always does: a kept plan
/// must assume an unknown offset, which PostgreSQL prices as a tenth of the table, so page 100 of
/// every order was planned anew on every run (0.8–1 ms of the 3 its statement took). The
/// statements here are by their nature ones whose plan does not depend on the values, so they run
/// on connections of their own that always use the kept plan (`plan_cache_mode`); the plan each
/// list keeps was checked with `EXPLAIN EXECUTE` on the large data set.
struct PreparedReads: DriverDialectDatabase {
    /// The pool's connections, for the statements.
    let database: any PostgresDatabase
    /// The same database through the driver, for its dialect and logging.
    let driver: any SQLDatabase
    let registry: PreparedStatementNames
    /// Whether statements are prepared under a name (`keyedReads`), or sent unnamed and planned
    /// for their values on every run (`reads`: lists whose best plan depends on them). Either
    /// way the rows are read by position (`PreparedRow`): through the driver, the lessons' 100
    /// rows decoded by name were a third of the server's time on PostgreSQL.
    var prepares = true

    var eventLoop: any EventLoop { driver.eventLoop }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await withSession { try await $0.execute(sql: query, onRow) }
    }

    /// Several reads on one connection, leased once: the order detail's three statements took a
    /// lease and a task of their own each, and the hand-offs between threads cost more of the
    /// server's time than PostgreSQL's work did.
    ///
    /// Only reads run here, so a session whose connection was lost (the server restarted, or its
    /// backend was ended) is run once more on a connection leased afresh.
    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        do {
            return try await leased(closure)
        } catch is ConnectionLost {
            // The pool hands out only connections that are open; a second loss is reported.
            return try await leased(closure)
        }
    }

    private func leased<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let done = eventLoop.makePromise(of: Void.self)
        let resumed = NIOLockedValueBox(false)
        let connection: PostgresConnection = try await withCheckedThrowingContinuation { continuation in
            database.withConnection { connection in
                if !resumed.withLockedValue({ was in defer { was = true }; return was }) { continuation.resume(returning: connection) }
                return done.futureResult
            }.whenFailure { error in
                if !resumed.withLockedValue({ was in defer { was = true }; return was }) { continuation.resume(throwing: error) }
            }
        }
        do {
            let result = try await closure(PreparedSession(connection: connection, reads: self))
            done.succeed()
            return result
        } catch {
            done.succeed()
            throw connection.isClosed ? ConnectionLost(underlying: error) : error
        }
    }

    /// The session's connection closed under it: nothing was written, and the read can be run
    /// again (503 "busy" if it is lost a second time).
    struct ConnectionLost: Error {
        /// What the statement failed with, if one was running when the connection closed.
        let underlying: (any Error)?
    }

    /// Values the server's types can be chosen for from the value alone (ids, text, numbers,
    /// flags, times, and no value), as the driver itself sends them.
    fileprivate static func append<T: Encodable>(_ value: T, to bindings: inout PostgresBindings) throws -> Bool {
        if (value as Optional<Any>) == nil {
            bindings.appendNull()
        } else if let encodable = value as? any PostgresThrowingDynamicTypeEncodable {
            try bindings.append(encodable, context: .default)
        } else {
            return false
        }
        return true
    }
}

/// One leased connection of `PreparedReads`.
struct PreparedSession: DriverDialectDatabase {
    let connection: PostgresConnection
    let reads: PreparedReads

    var driver: any SQLDatabase { reads.driver }
    var eventLoop: any EventLoop { connection.eventLoop }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        // PostgresNIO writes a statement to its channel without a promise and waits for its
        // handler to answer; once the channel has closed the handler is gone, so a statement
        // written then is never answered and the read would wait for good. Asked first, the
        // connection says so (what remains is the instant between this check and the write).
        guard !connection.isClosed else { throw PreparedReads.ConnectionLost(underlying: nil) }
        let (sql, binds) = serialize(query)
        var bindings = PostgresBindings(capacity: binds.count)
        var known = true
        for bind in binds where known { known = try PreparedReads.append(bind, to: &bindings) }
        guard known else { return try await connection.sql(queryLogLevel: queryLogLevel).execute(sql: query, onRow) }
        guard reads.prepares else {
            if let level = queryLogLevel { logger.log(level: level, "Executing query", metadata: ["sql": .string(sql)]) }
            var columns: ReadColumns?
            for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: connection.logger) {
                let names = columns ?? PreparedRow.columns(of: row)
                columns = names
                onRow(PreparedRow(columns: names, row: row))
            }
            return
        }
        // A value the fast path does not know, or a text that cannot be prepared: the driver's way.
        guard let name = reads.registry.name(for: sql) else {
            return try await connection.sql(queryLogLevel: queryLogLevel).execute(sql: query, onRow)
        }
        if let level = queryLogLevel { logger.log(level: level, "Executing prepared query", metadata: ["sql": .string(sql), "name": .string(name)]) }
        do {
            try await NamedStatement.$text.withValue((name, sql)) {
                var columns: ReadColumns?
                for try await row in try await connection.execute(NamedStatement(bindings: bindings), logger: connection.logger) {
                    let names = columns ?? PreparedRow.columns(of: row)
                    columns = names
                    onRow(PreparedRow(columns: names, row: row))
                }
            }
        } catch {
            // A statement whose preparation failed stays failed under its name on that
            // connection: the next run takes a new name and prepares again.
            if PreparedStatementNames.leftFailedStatement(error) { reads.registry.failed(sql, name: name) }
            throw error
        }
    }
}

/// A row of a prepared read, its columns found once per result (see `ReadRowDecoder`). The
/// common column types are read from their cells directly, as PostgresKit's own row does after
/// its dynamic casts; any other type is decoded by PostgresKit's row.
struct PreparedRow: PositionalRow {
    let columns: ReadColumns
    let row: PostgresRow
    let cells: PostgresRandomAccessRow

    init(columns: ReadColumns, row: PostgresRow) {
        self.columns = columns
        self.row = row
        cells = row.makeRandomAccess()
    }

    /// The result's columns by name. Where two have one name PostgresNIO finds the last, so
    /// the others are hidden here too.
    static func columns(of row: PostgresRow) -> ReadColumns {
        var names = row.map(\.columnName)
        for i in names.indices where names[(i + 1)...].contains(names[i]) { names[i] = "\u{0}hidden" }
        return ReadColumns(names)
    }

    var allColumns: [String] { row.map(\.columnName) }
    func contains(column: String) -> Bool { columns.position(column) != nil }
    func isNull(at i: Int) -> Bool { cells[i].bytes == nil }

    func decodeNil(column: String) throws -> Bool {
        guard let i = columns.position(column) else { return true }
        return isNull(at: i)
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let i = columns.position(column) else { return try row.sql().decode(column: column, as: D.self) }
        return try decode(at: i, as: D.self)
    }

    func decode<D: Decodable>(at i: Int, as type: D.Type) throws -> D {
        let cell = cells[i]
        if cell.bytes != nil {
            if D.self == String.self, let v = try? cell.decode(String.self) { return unsafeBitCast(v, to: D.self) }
            if D.self == UUID.self, let v = try? cell.decode(UUID.self) { return unsafeBitCast(v, to: D.self) }
            if D.self == Int.self, let v = try? cell.decode(Int.self) { return unsafeBitCast(v, to: D.self) }
            if D.self == Int64.self, let v = try? cell.decode(Int64.self) { return unsafeBitCast(v, to: D.self) }
            if D.self == Bool.self, let v = try? cell.decode(Bool.self) { return unsafeBitCast(v, to: D.self) }
            if D.self == Date.self, let v = try? cell.decode(Date.self) { return unsafeBitCast(v, to: D.self) }
        }
        return try row.sql().decode(column: columns.names[i], as: D.self)
    }
}

/// The two database values above speak the driver's dialect and log as it does, and answer
/// SQLKit's future-based entry point through their async one.
protocol DriverDialectDatabase: SQLDatabase {
    var driver: any SQLDatabase { get }
}

extension DriverDialectDatabase {
    var logger: Logger { driver.logger }
    var version: (any SQLDatabaseReportedVersion)? { driver.version }
    var dialect: any SQLDialect { driver.dialect }
    var queryLogLevel: Logger.Level? { driver.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }
}

/// A prepared statement whose name and text are given for the duration of one run: PostgresNIO
/// takes both from the type, and reads them before the run's first suspension.
private struct NamedStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow
    @TaskLocal static var text: (name: String, sql: String) = ("", "")
    static var name: String { text.name }
    static var sql: String { text.sql }

    let bindings: PostgresBindings
    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// One name per statement text for the whole process, so each connection prepares each text
/// once. Bounded: every connection keeps what it prepared until it closes, so past a few hundred
/// texts (which the fixed reads of this app never reach) reads go unprepared.
final class PreparedStatementNames: Sendable {
    private struct State {
        var names: [String: String] = [:]
        var failures: [String: Int] = [:]
        var next = 0
    }
    private let state = NIOLockedValueBox(State())
    let capacity: Int

    init(capacity: Int = 256) { self.capacity = capacity }

    func name(for sql: String) -> String? {
        state.withLockedValue { s in
            if let name = s.names[sql] { return name }
            // A text that keeps failing to prepare is not tried again.
            guard s.names.count < capacity, s.failures[sql, default: 0] < 3 else { return nil }
            s.next += 1
            let name = "subcon_read_\(s.next)"
            s.names[sql] = name
            return name
        }
    }

    func failed(_ sql: String, name: String) {
        state.withLockedValue { s in
            guard s.names[sql] == name else { return }
            s.names[sql] = nil
            s.failures[sql, default: 0] += 1
        }
    }

    var count: Int { state.withLockedValue { $0.names.count } }

    /// Whether a run's error may have left the statement failed under its name on a connection
    /// that goes on: an error the server reported at severity ERROR. A lost connection, a FATAL
    /// (the server ends that connection) or a wait for the pool that ran out leave nothing behind,
    /// and must not count against the text: when the database restarts every read in flight
    /// fails, and signing in would otherwise never be prepared again.
    static func leftFailedStatement(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, error.code == .server else { return false }
        return error.serverInfo?[.severity] == "ERROR"
    }
}

extension DatabaseID {
    /// The connections of `PreparedReads` on PostgreSQL.
    static let psqlPrepared = DatabaseID(string: "psql-prepared")
}

extension Application {
    private struct PreparedStatementNamesKey: StorageKey, LockKey {
        typealias Value = PreparedStatementNames
    }

    /// Where a read whose plan does not depend on its values goes: on PostgreSQL a named prepared
    /// statement on connections that keep its generic plan (see `PreparedReads`), on SQLite the
    /// same as `reads`.
    var keyedReads: any SQLDatabase {
        if let handles = storage[KeyedReadHandlesKey.self], let kept = handles[ObjectIdentifier(eventLoopGroup.any())] { return kept }
        guard readConnections == nil, let sql = database as? any SQLDatabase, sql.dialect.name == "postgresql" else { return reads }
        let pool = databases.ids().contains(.psqlPrepared) ? db(.psqlPrepared) : database
        guard let pool = pool as? any PostgresDatabase else { return reads }
        keepKeyedReadHandles()
        return PreparedReads(database: pool, driver: sql, registry: preparedStatementNames)
    }

    /// Fluent makes a database handle anew on every `db(_:)` (locks, the history and paging
    /// settings, the driver's lookup), and a list asked for two of them per read, on every
    /// read: 3% of a list's time on PostgreSQL. The handles are made once per event loop; a
    /// read still goes to the loop `eventLoopGroup.any()` picks, as `db` would send it.
    private struct KeyedReadHandlesKey: StorageKey, LockKey {
        typealias Value = [ObjectIdentifier: PreparedReads]
    }

    /// Plain reads on PostgreSQL (`Application.reads`): unnamed statements on the main pool, whose
    /// connections plan each for its values, with rows read by position. Made once per event loop.
    private struct PlainReadHandlesKey: StorageKey, LockKey {
        typealias Value = [ObjectIdentifier: PreparedReads]
    }

    var plainPostgresReads: PreparedReads? {
        if let handles = storage[PlainReadHandlesKey.self] { return handles[ObjectIdentifier(eventLoopGroup.any())] }
        guard readConnections == nil, (database as? any SQLDatabase)?.dialect.name == "postgresql",
              let handles = postgresReadHandles(pool: nil, prepares: false) else { return nil }
        return locks.lock(for: PlainReadHandlesKey.self).withLock {
            if storage[PlainReadHandlesKey.self] == nil { storage[PlainReadHandlesKey.self] = handles }
            return storage[PlainReadHandlesKey.self]?[ObjectIdentifier(eventLoopGroup.any())]
        }
    }

    /// A `PreparedReads` for each event loop over the pool `id` (the default one when nil), or
    /// nil where the database is not PostgreSQL.
    private func postgresReadHandles(pool id: DatabaseID?, prepares: Bool) -> [ObjectIdentifier: PreparedReads]? {
        var handles: [ObjectIdentifier: PreparedReads] = [:]
        for loop in eventLoopGroup.makeIterator() {
            guard let driver = databases.database(logger: logger, on: loop) as? any SQLDatabase,
                  let pool = databases.database(id, logger: logger, on: loop) as? any PostgresDatabase else { return nil }
            handles[ObjectIdentifier(loop)] = PreparedReads(database: pool, driver: driver, registry: preparedStatementNames, prepares: prepares)
        }
        return handles
    }

    private func keepKeyedReadHandles() {
        guard BackgroundWork.databaseID == nil, storage[KeyedReadHandlesKey.self] == nil else { return }
        let id: DatabaseID? = databases.ids().contains(.psqlPrepared) ? .psqlPrepared : nil
        guard let handles = postgresReadHandles(pool: id, prepares: true) else { return }
        locks.lock(for: KeyedReadHandlesKey.self).withLock {
            if storage[KeyedReadHandlesKey.self] == nil { storage[KeyedReadHandlesKey.self] = handles }
        }
    }

    var preparedStatementNames: PreparedStatementNames {
        if let names = storage[PreparedStatementNamesKey.self] { return names }
        return locks.lock(for: PreparedStatementNamesKey.self).withLock {
            if let names = storage[PreparedStatementNamesKey.self] { return names }
            let names = PreparedStatementNames()
            storage[PreparedStatementNamesKey.self] = names
            return names
        }
    }
}
