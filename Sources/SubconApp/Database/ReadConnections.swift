import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import SQLiteKit
import Vapor
// SQLite's C interface as sqlite-nio builds it. It must be this copy and no other: two copies of
// SQLite in one process keep separate tables of POSIX locks, and closing a file in one drops the
// other's locks on the same database (SQLite's "multiple copies" corruption case).
import VaporCSQLite

/// Connections of their own for the hottest reads on an SQLite file: signing in each request, the
/// order detail, the lists of orders, exceptions and inspections a user opens all day.
///
/// SQLite's driver prepares every statement anew and passes each statement, and then each row,
/// from thread to thread: the request's task hands the statement to the thread pool, which hands
/// every row to the event loop, which resumes the task. On a small read those hand-offs cost more
/// than SQLite's work — one statement cut a request's throughput to a quarter of the ceiling, and
/// a profile of the order detail put a fifth of its time in the kernel's thread wake-ups and a
/// tenth in preparing statements. Here each connection keeps its prepared statements, and a read
/// runs on the calling thread, its rows going straight to the caller.
///
/// Running on the caller's thread (one of Swift's few cooperative threads, or for signing in the
/// event loop) is right only for bounded reads: rows by key, or a page of a list by an index —
/// microseconds to a few milliseconds of work that has to be done on some core anyway. Handing
/// lists to the thread pool instead was measured and served a fifth fewer (the supplier's order
/// list 715 against 858 req/s). Reports and other long reads stay on the driver, whose thread
/// pool keeps them off those threads.
///
/// Reads only: each connection is `query_only`. With WAL every statement sees everything
/// committed before it began, so a revoked token or a deactivated user is refused by the very
/// next request, as with the driver's connections. Writes, transactions and PostgreSQL keep
/// using Fluent (see `Application.reads`).
final class ReadConnections: SQLDatabase, @unchecked Sendable {
    let path: String
    let logger: Logger
    let eventLoop: any EventLoop
    let dialect: any SQLDialect = SchemaNamesDialect()
    let queryLogLevel: Logger.Level? = .debug
    private let mapBytes: Int
    private let encoder = SQLiteDataEncoder()
    private let decoder = SQLiteDataDecoder()
    private let idle = NIOLockedValueBox<[SQLiteHandle]>([])
    /// Connections kept open between reads; more are opened while more reads run at once.
    private let keep: Int
    /// The database's Fluent configuration, which the context of `ModelReadDatabase` carries.
    let modelConfiguration: any DatabaseConfiguration

    init(path: String, keep: Int, mapBytes: Int, modelConfiguration: any DatabaseConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.path = path; self.keep = keep; self.mapBytes = mapBytes; self.modelConfiguration = modelConfiguration
        self.eventLoop = eventLoop; self.logger = logger
    }

    /// Statements run since start, for tests that must know a read came this way.
    let statementsRun = NIOLockedValueBox(0)
    /// Of those, Fluent's model queries (`ModelReadDatabase`).
    let modelReadsRun = NIOLockedValueBox(0)
    let reprepared = RepreparedStatements()

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try run(query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        eventLoop.makeCompletedFuture { try self.run(query, onRow) }
    }

    /// The rows of a read, for the places that answer without suspending (signing a request in,
    /// in its middleware on the event loop).
    func rowsNow(_ query: any SQLExpression) throws -> [any SQLRow] {
        var rows: [any SQLRow] = []
        try run(query) { rows.append($0) }
        return rows
    }

    /// Runs a read on an idle connection, on the calling thread.
    func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, binds) = try sqliteStatement(query, encoder: encoder)
        let connection = try idle.withLockedValue { $0.popLast() } ?? SQLiteHandle(path: path, mapBytes: mapBytes, purpose: .reads, reprepared: reprepared)
        defer {
            idle.withLockedValue { if $0.count < keep { $0.append(connection) } }
        }
        try connection.run(sql, binds, decoder: decoder, onRow)
        statementsRun.withLockedValue { $0 += 1 }
    }
}

extension SQLDatabase {
    /// A query's text and its values as the SQLite driver binds them (ids as their text, written
    /// by `UUIDText`), for the connections of our own; logged at debug level as the driver does.
    func sqliteStatement(_ query: any SQLExpression, encoder: SQLiteDataEncoder) throws -> (sql: String, binds: [SQLiteData]) {
        let (sql, encodable) = serialize(query)
        let binds = try encodable.map { value -> SQLiteData in
            if let id = value as? UUID { return .text(UUIDText.text(id)) }
            return try encoder.encode(value)
        }
        if logger.logLevel <= .debug { logger.debug("\(sql) \(binds)") }
        return (sql, binds)
    }
}

/// The error of a statement on these connections (or the write connection), with SQLite's own
/// message. A broken constraint is a `DatabaseError`'s constraint failure, as the driver's is, so
/// that it answers 409 and the places that expect one (a second claim, a duplicate number) see it.
struct SQLiteHandleError: Error, CustomStringConvertible, DatabaseError {
    let code: Int32
    let message: String
    var description: String { "SQLite error \(code): \(message)" }
    /// The primary code, without the extended code's detail (SQLITE_CONSTRAINT_UNIQUE is 2067).
    private var primary: Int32 { code & 0xff }
    var isConstraintFailure: Bool { primary == SQLITE_CONSTRAINT }
    var isSyntaxError: Bool { primary == SQLITE_ERROR || primary == SQLITE_SCHEMA }
    var isConnectionClosed: Bool { primary == SQLITE_MISUSE || primary == SQLITE_CANTOPEN }
}

/// Statements SQLite prepared again when run, by text.
///
/// SQLite plans some statements for the values bound to them — a value compared with a partial
/// index's condition (`status = ?` against an index of the pending ones), a LIKE pattern — and
/// then prepares them again whenever such a value is bound anew. A kept statement prepared on
/// every run costs as much as the driver's: the sign-in of every request, the outbox's and the
/// channels' polls and a few changes were, while the connections cleared their values after each
/// run and those constants were bound. Tests read this to keep the hot statements off that path.
final class RepreparedStatements: Sendable {
    /// By text, for at most `limit` texts: statements whose text varies (an IN list) must not
    /// grow it without end in a long-running server.
    let count = NIOLockedValueBox<[String: Int]>([:])
    static let limit = 1_000
    /// The statements prepared again more than once (the first run after a change of schema is
    /// prepared again by design).
    var repeated: [String: Int] { count.withLockedValue { $0.filter { $0.value > 1 } } }
}

/// One connection and its prepared statements; used by one thread at a time (the read pool hands
/// it out, the write gate lends the write connection), so it is opened without SQLite's own mutex.
final class SQLiteHandle {
    private var handle: OpaquePointer?
    private var statements: [String: Prepared] = [:]

    /// A statement with its result's column names, which stay the same between runs.
    private struct Prepared {
        let statement: OpaquePointer
        let columns: ReadColumns
    }

    /// Statements kept per connection; the app's hot reads are a few dozen fixed texts, so this
    /// bound is only reached by reads whose text varies (an IN list), and then the cache restarts.
    private static let maxStatements = 200

    enum Purpose {
        case reads
        /// The one connection that writes (see `WriteConnection`): the settings the driver's
        /// connections get in `configure`, foreign keys on as sqlite-kit turns them on.
        case writes(cacheKiB: Int, synchronousFull: Bool)
    }

    /// Where this connection counts its statements prepared again (its owner's).
    let reprepared: RepreparedStatements

    init(path: String, mapBytes: Int, purpose: Purpose, reprepared: RepreparedStatements) throws {
        self.reprepared = reprepared
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE
        let opened = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard opened == SQLITE_OK else {
            let error = SQLiteHandleError(code: opened, message: handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "cannot open \(path)")
            sqlite_nio_sqlite3_close(handle)
            throw error
        }
        // A reader waits for a checkpoint's moment of exclusivity rather than failing; the
        // writer, for a reader of a file without WAL (the tests') to finish.
        sqlite_nio_sqlite3_busy_timeout(handle, 10_000)
        try exec("PRAGMA mmap_size = \(mapBytes)")
        switch purpose {
        case .reads:
            try exec("PRAGMA query_only = 1")
            try exec("PRAGMA cache_size = -8192")
        case .writes(let cacheKiB, let synchronousFull):
            try exec("PRAGMA foreign_keys = ON")
            try exec("PRAGMA cache_size = -\(cacheKiB)")
            try exec("PRAGMA synchronous = \(synchronousFull ? "FULL" : "NORMAL")")
            // Each change of a commit group runs in a savepoint, whose journal (the pages as
            // they were before the change) went to a temporary file once past 64 KiB, with a
            // write call for every page the change touched: 4% of a progress report's time,
            // inside the write gate. A change's pages are a few dozen, so memory is the place.
            try exec("PRAGMA temp_store = MEMORY")
        }
    }

    deinit {
        for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
        sqlite_nio_sqlite3_close(handle)
    }

    func exec(_ sql: String) throws {
        let ret = sqlite_nio_sqlite3_exec(handle, sql, nil, nil, nil)
        guard ret == SQLITE_OK else { throw failure(ret) }
    }

    private func failure(_ code: Int32) -> SQLiteHandleError {
        SQLiteHandleError(code: code, message: String(cString: sqlite_nio_sqlite3_errmsg(handle)))
    }

    /// Whether a transaction is open on this connection (SQLite ends one by itself on some errors).
    var inTransaction: Bool { sqlite_nio_sqlite3_get_autocommit(handle) == 0 }

    private func prepared(_ sql: String) throws -> Prepared {
        if let prepared = statements[sql] { return prepared }
        if statements.count >= Self.maxStatements {
            for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
            statements.removeAll()
        }
        var statement: OpaquePointer?
        let ret = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard ret == SQLITE_OK, let statement else { throw failure(ret) }
        let count = sqlite_nio_sqlite3_column_count(statement)
        let names = (0..<count).map { String(cString: sqlite_nio_sqlite3_column_name(statement, $0)) }
        let prepared = Prepared(statement: statement, columns: ReadColumns(names))
        statements[sql] = prepared
        return prepared
    }

    func run(_ sql: String, _ binds: [SQLiteData], decoder: SQLiteDataDecoder, _ onRow: (any SQLRow) -> Void) throws {
        let prepared = try prepared(sql)
        let statement = prepared.statement
        // Every run binds every parameter, so the last run's values are never read and are not
        // cleared: clearing marks a statement planned for its values as out of date, and SQLite
        // then prepares it again on its next run (see `reprepared`).
        defer { sqlite_nio_sqlite3_reset(statement) }
        guard binds.count == Int(sqlite_nio_sqlite3_bind_parameter_count(statement)) else {
            throw SQLiteHandleError(code: SQLITE_RANGE, message: "\(binds.count) values for \(sqlite_nio_sqlite3_bind_parameter_count(statement)) parameters")
        }
        for (offset, bind) in binds.enumerated() {
            let i = Int32(offset + 1), ret: Int32
            switch bind {
            case .blob(let value):
                ret = value.withUnsafeReadableBytes {
                    sqlite_nio_sqlite3_bind_blob64(statement, i, $0.baseAddress, UInt64($0.count), transient)
                }
            case .float(let value): ret = sqlite_nio_sqlite3_bind_double(statement, i, value)
            case .integer(let value): ret = sqlite_nio_sqlite3_bind_int64(statement, i, Int64(value))
            case .null: ret = sqlite_nio_sqlite3_bind_null(statement, i)
            case .text(let value):
                ret = sqlite_nio_sqlite3_bind_text64(statement, i, value, UInt64(value.utf8.count), transient, UInt8(SQLITE_UTF8))
            }
            guard ret == SQLITE_OK else { throw failure(ret) }
        }
        let width = prepared.columns.names.count
        while true {
            let ret = sqlite_nio_sqlite3_step(statement)
            if ret == SQLITE_DONE { noteReprepare(sql, statement); return }
            guard ret == SQLITE_ROW else { throw failure(ret) }
            var values: [SQLiteData] = []
            values.reserveCapacity(width)
            for column in 0..<Int32(width) { values.append(value(statement, column)) }
            onRow(ReadRow(columns: prepared.columns, values: values, decoder: decoder))
        }
    }

    private func noteReprepare(_ sql: String, _ statement: OpaquePointer) {
        guard sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 1) > 0 else { return }
        reprepared.count.withLockedValue { counts in
            if counts[sql] != nil || counts.count < RepreparedStatements.limit { counts[sql, default: 0] += 1 }
        }
    }

    /// The column's value as sqlite-nio reads it, so the same decoders give the same results.
    private func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let blob = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: blob, count: count))
            }
            return .blob(buffer)
        default: return .null
        }
    }
}

/// SQLite copies a bound value when told its destructor is -1 (SQLITE_TRANSIENT, a macro Swift
/// does not import).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A result's column names and where each is, shared by all its rows.
final class ReadColumns: Sendable {
    let names: [String]
    let index: [String: Int]
    init(_ names: [String]) {
        self.names = names
        index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Where a column is, the first of that name. A row is decoded by name, column by column,
    /// two to four look-ups each; comparing a few short names is cheaper than hashing one.
    @inline(__always) func position(_ name: String) -> Int? {
        guard names.count <= 24 else { return index[name] }
        for i in names.indices where names[i] == name { return i }
        return nil
    }
}

struct ReadRow: PositionalRow {
    let columns: ReadColumns
    let values: [SQLiteData]
    let decoder: SQLiteDataDecoder

    func isNull(at i: Int) -> Bool { values[i] == .null }

    var allColumns: [String] { columns.names }
    func contains(column: String) -> Bool { columns.position(column) != nil }
    func decodeNil(column: String) throws -> Bool {
        guard let i = columns.position(column) else { return true }
        return values[i] == .null
    }
    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let i = columns.position(column) else {
            throw DecodingError.keyNotFound(ReadColumnKey(column), .init(codingPath: [], debugDescription: "No column \(column)"))
        }
        return try decode(at: i, as: D.self)
    }

    func decode<D: Decodable>(at i: Int, as type: D.Type) throws -> D {
        // The common column types straight from their values, without the decoder's dynamic
        // casts, and ids without Foundation's `sscanf` (see `UUIDText`).
        switch values[i] {
        case .text(let text):
            if D.self == String.self { return unsafeBitCast(text, to: D.self) }
            if D.self == UUID.self, let id = UUIDText.parse(text) { return unsafeBitCast(id, to: D.self) }
        case .integer(let n):
            if D.self == Int.self { return unsafeBitCast(n, to: D.self) }
            if D.self == Int64.self { return unsafeBitCast(Int64(n), to: D.self) }
            // As sqlite-nio converts them: 0 and 1 only are booleans, whole seconds are dates.
            if D.self == Bool.self, n == 0 || n == 1 { return unsafeBitCast(n == 1, to: D.self) }
            if D.self == Date.self { return unsafeBitCast(Date(timeIntervalSince1970: Double(n)), to: D.self) }
            if D.self == Double.self { return unsafeBitCast(Double(n), to: D.self) }
        case .float(let x):
            if D.self == Date.self { return unsafeBitCast(Date(timeIntervalSince1970: x), to: D.self) }
            if D.self == Double.self { return unsafeBitCast(x, to: D.self) }
        default: break
        }
        return try decoder.decode(D.self, from: values[i])
    }
}

struct ReadColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Application {
    private struct ReadConnectionsKey: StorageKey {
        typealias Value = ReadConnections
    }

    /// Opens the read connections for an SQLite file (the tests' "in-memory" database is a
    /// temporary file too; nothing to open on PostgreSQL), after the database is configured.
    func useReadConnections(path: String, mapBytes: Int) {
        guard let configuration = databases.configuration(for: .sqlite) else { return }
        // One connection for each thread that runs Swift's tasks or an event loop, at most.
        let loops = Array(eventLoopGroup.makeIterator()).count
        storage[ReadConnectionsKey.self] = ReadConnections(path: path, keep: 2 * loops, mapBytes: mapBytes, modelConfiguration: configuration,
                                                           eventLoop: eventLoopGroup.any(), logger: logger)
    }

    /// Where a plain read outside any transaction goes: the read connections on an SQLite file;
    /// on PostgreSQL its pool, with the rows read by position (`PreparedReads`, unnamed
    /// statements); inside background work, whose reads must not take the request's connections
    /// (see `BackgroundWork`), the database itself. A read that must see its own transaction's
    /// writes uses that transaction instead.
    var reads: any SQLDatabase {
        guard BackgroundWork.databaseID == nil else { return database as! any SQLDatabase }
        if let connections = storage[ReadConnectionsKey.self] { return connections }
        return plainPostgresReads ?? database as! any SQLDatabase
    }

    /// The read connections, for tests.
    var readConnections: ReadConnections? { storage[ReadConnectionsKey.self] }
}
