import Fluent
import FluentSQL
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import SQLiteKit
import Vapor

/// The connection every change (`Application.write`) runs on, on SQLite.
///
/// SQLite has one writer at a time anyway (the write gate queues them), and a change runs a
/// dozen or more statements: the rows it reads, its inserts and updates, the audit chain's end
/// and entry, the outbox. Through the driver each statement went from the change's task to the
/// driver's thread pool and back through an event loop, and was prepared anew: a workflow step
/// ran about 20 statements at 4–25 ms, and `strace` counted about 190 futex calls per request.
/// Here a change's statements run on the thread of the change's task, on one connection that
/// keeps its prepared statements — as `ReadConnections` do for the hottest reads.
///
/// Fluent's model queries return futures; they are made on an `InlineEventLoop`, so a statement
/// and the future that answers it complete before the caller awaits it, with no hop.
///
/// Only one change holds the connection at a time: `Application.transactionInGate` lends it inside
/// the write gate (to changes, the outbox and the channels' claims). Other writes (migrations,
/// seeding, housekeeping) keep using the driver's connections, still one writer at a time.
final class WriteConnection: SQLDatabase, @unchecked Sendable {
    let loop: InlineEventLoop
    private let handle: SQLiteHandle
    private let encoder = SQLiteDataEncoder()
    private let decoder = SQLiteDataDecoder()
    let logger: Logger
    var eventLoop: any EventLoop { loop }
    let dialect: any SQLDialect = SchemaNamesDialect()
    /// sqlite-kit's in-memory database was not where it keeps it.
    struct NotFound: Error, CustomStringConvertible {
        let path: String
        var description: String { "no SQLite database at \(path) for the write connection" }
    }

    /// Statements run since start, for tests that must know a change came this way.
    let statementsRun = NIOLockedValueBox(0)
    let reprepared = RepreparedStatements()
    /// Where changes run while they hold the write gate (`Application.changeTransaction`).
    let writer = WriterThread(name: "subcon-writer")

    init(path: String, mapBytes: Int, cacheKiB: Int, synchronousFull: Bool, scheduler: any EventLoop, logger: Logger) throws {
        self.logger = logger
        handle = try SQLiteHandle(path: path, mapBytes: mapBytes, purpose: .writes(cacheKiB: cacheKiB, synchronousFull: synchronousFull),
                                  reprepared: reprepared)
        loop = InlineEventLoop(scheduler: scheduler)
    }

    /// Runs `body` in a transaction on this connection. The caller holds the write gate.
    func transaction<T>(_ body: () async throws -> T) async throws -> T {
        try loop.inlineNow {
            // A change whose rollback failed would otherwise leave its transaction open and
            // every later change refused ("cannot start a transaction within a transaction").
            if handle.inTransaction {
                logger.warning("the write connection had a transaction left open; rolled back")
                try handle.run("ROLLBACK", [], decoder: decoder, { _ in })
            }
            try handle.run("BEGIN IMMEDIATE", [], decoder: decoder, { _ in })
        }
        do {
            let result = try await body()
            try loop.inlineNow {
                try handle.run("COMMIT", [], decoder: decoder, { _ in })
                commitsRun.withLockedValue { $0 += 1 }
            }
            return result
        } catch {
            // SQLite may have ended the transaction itself (a full disk); then there is nothing to undo.
            try? loop.inlineNow { if handle.inTransaction { try handle.run("ROLLBACK", [], decoder: decoder, { _ in }) } }
            throw error
        }
    }

    /// The changes of the open commit group that have ended well and wait for its COMMIT, and
    /// whether a group's transaction is open (one left open otherwise is a failed rollback's).
    /// Touched only by the holder of the write gate's turn; the lock orders the hand-overs.
    private let group = NIOLockedValueBox<(open: Bool, waiting: [CheckedContinuation<Void, any Error>])>((false, []))
    /// When (monotonic nanoseconds) a group of more than one change last committed: changes
    /// are arriving together while that was recently (see `groupedTransaction`).
    private let lastCrowd = NIOLockedValueBox<UInt64?>(nil)
    /// How recently a group of several must have committed for a change to wait for company.
    static let crowdMemory: UInt64 = 100_000_000
    /// COMMITs run since start, for tests that must know changes shared one.
    let commitsRun = NIOLockedValueBox(0)

    /// Runs `body` as one change of a commit group: group commit, as databases do for a log whose
    /// writes wait for the disk.
    ///
    /// With `synchronous=FULL` every COMMIT waits for the disk (an fsync of the WAL), one change
    /// after another behind the write gate. Here a change that ends well while another change
    /// waits for the gate leaves the transaction open and passes its turn on; the last change of
    /// the group (nobody waiting, or `maxGroup` reached, or a waiter that is not a change) commits
    /// for all of them, and only then does any of them answer. So no change is acknowledged before
    /// it is on disk, and the disk is waited for once a group instead of once a change.
    ///
    /// Each change runs inside a savepoint: one that fails is rolled back alone and fails alone.
    /// If SQLite ends the whole transaction itself (a full disk, an I/O error), every change of the
    /// group still waiting fails (`GroupLost`), and none of them has answered yet.
    ///
    /// A group ends when nobody waits for the gate, but under load the changes on their way are
    /// still being read and decoded on the event loops: at 64 connections the groups held about
    /// three changes, and each of their COMMITs wrote its pages to the WAL and waited for the disk
    /// again. So while changes arrive together (the group so far holds more than one, or a group
    /// of several committed in the last 0.1 s), a change that would end its group first waits up
    /// to `linger` for the next one to queue, and passes its turn on as soon as one does
    /// (`TurnGate.awaitArrival`). A client that writes alone, one change after another, never
    /// waits. (Counting only the group so far was not enough: after a group of 32 the event loops
    /// are busy answering it, the next change's wait runs out alone, and without the memory of
    /// the last crowded group the groups stayed small until two changes happened to meet again.)
    func groupedTransaction<T>(gate: TurnGate, maxGroup: Int, linger: Duration = .zero, _ body: () async throws -> T) async throws -> T {
        try await gate.enter(joinsGroup: true)
        // This change holds the turn until it passes it on or ends the group.
        let outcome: Result<T, any Error>
        do {
            try loop.inlineNow {
                let open = group.withLockedValue { $0.open }
                if handle.inTransaction && !open {
                    logger.warning("the write connection had a transaction left open; rolled back")
                    try handle.run("ROLLBACK", [], decoder: decoder, { _ in })
                }
                if !handle.inTransaction {
                    try handle.run("BEGIN IMMEDIATE", [], decoder: decoder, { _ in })
                    group.withLockedValue { $0.open = true }
                }
                try handle.run("SAVEPOINT change", [], decoder: decoder, { _ in })
            }
            do {
                let value = try await body()
                try loop.inlineNow { try handle.run("RELEASE change", [], decoder: decoder, { _ in }) }
                outcome = .success(value)
            } catch {
                try? loop.inlineNow {
                    if handle.inTransaction {
                        try handle.run("ROLLBACK TO change", [], decoder: decoder, { _ in })
                        try handle.run("RELEASE change", [], decoder: decoder, { _ in })
                    }
                }
                outcome = .failure(error)
            }
        } catch {
            outcome = .failure(error)
        }
        if !handle.inTransaction {
            // SQLite ended the transaction (or it never began): what the group did is gone. The
            // others are told so, not given this change's error (another user's request, whose
            // refusal may name its fields).
            let lost = group.withLockedValue { g in defer { g = (false, []) }; return g.waiting }
            for waiting in lost { waiting.resume(throwing: GroupLost()) }
            if case .success = outcome { gate.leave(); throw GroupLost() }
        }
        switch outcome {
        case .success(let value):
            if linger > .zero, gate.waiting == 0 {
                let members = group.withLockedValue { $0.waiting.count } + 1
                let crowded = members > 1 || lastCrowd.withLockedValue { $0.map { DispatchTime.now().uptimeNanoseconds - $0 < Self.crowdMemory } ?? false }
                if members < maxGroup, crowded { await gate.awaitArrival(within: linger) }
            }
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                let members = group.withLockedValue { g in g.waiting.append(done); return g.waiting.count }
                if members < maxGroup && gate.passToGroupMember() { return }
                endGroup(gate)
            }
            return value
        case .failure(let error):
            if !gate.passToGroupMember() { endGroup(gate) }
            throw error
        }
    }

    /// Commits the open group (if any), gives the turn back, and answers every change that waits.
    private func endGroup(_ gate: TurnGate) {
        let waiting = group.withLockedValue { g in defer { g = (false, []) }; return g.waiting }
        if waiting.count > 1 { lastCrowd.withLockedValue { $0 = DispatchTime.now().uptimeNanoseconds } }
        var failure: (any Error)?
        do {
            try loop.inlineNow {
                guard handle.inTransaction else { return }
                try handle.run("COMMIT", [], decoder: decoder, { _ in })
                commitsRun.withLockedValue { $0 += 1 }
            }
        } catch {
            failure = error
            try? loop.inlineNow { if handle.inTransaction { try handle.run("ROLLBACK", [], decoder: decoder, { _ in }) } }
        }
        gate.leave()
        for change in waiting {
            if let failure { change.resume(throwing: failure) } else { change.resume() }
        }
    }

    /// The transaction a change had done its work in was ended by SQLite before it could commit.
    struct GroupLost: Error, CustomStringConvertible {
        var description: String { "the database ended the transaction before this change could commit" }
    }

    /// Runs one statement; the caller is in `loop` (so Fluent's checks that output arrives on
    /// the database's loop hold).
    fileprivate func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, binds) = try sqliteStatement(query, encoder: encoder)
        try handle.run(sql, binds, decoder: decoder, onRow)
        statementsRun.withLockedValue { $0 += 1 }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        loop.inline { try run(query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try loop.inlineNow { try run(query, onRow) }
    }

    /// The Fluent and SQLKit database a change sees.
    func database(context: DatabaseContext) -> WriteDatabase {
        WriteDatabase(connection: self, context: DatabaseContext(configuration: context.configuration, logger: context.logger, eventLoop: loop,
                                                                  history: nil, pageSizeLimit: context.pageSizeLimit, shouldTrace: false))
    }
}

/// A change's database on the write connection: already in its transaction.
struct WriteDatabase: FluentKit.Database, SQLDatabase {
    let connection: WriteConnection
    let context: DatabaseContext
    var inTransaction: Bool { true }
    var dialect: any SQLDialect { SchemaNamesDialect() }

    func execute(query: DatabaseQuery, onOutput: @escaping @Sendable (any DatabaseOutput) -> ()) -> EventLoopFuture<Void> {
        var sql = SQLQueryConverter(delegate: SQLiteConverterDelegate()).convert(query)
        // As the SQLite driver does: a create returns the ids it generated (an empty custom id
        // key marks a composite id, for which it does not).
        if case .create = query.action, query.customIDKey != .some(.string("")) {
            sql = SQLKit.SQLList([sql, SQLReturning(.init((query.customIDKey ?? .id).description))], separator: SQLRaw(" "))
        }
        return connection.loop.inline { try connection.run(sql) { onOutput(RowOutput(row: $0, schema: nil)) } }
    }

    func execute(schema: DatabaseSchema) -> EventLoopFuture<Void> {
        connection.loop.makeFailedFuture(Unsupported(what: "schema changes inside a change"))
    }

    func execute(enum: DatabaseEnum) -> EventLoopFuture<Void> { connection.loop.makeSucceededVoidFuture() }

    func transaction<T>(_ closure: @escaping @Sendable (any FluentKit.Database) -> EventLoopFuture<T>) -> EventLoopFuture<T> { closure(self) }

    func withConnection<T>(_ closure: @escaping @Sendable (any FluentKit.Database) -> EventLoopFuture<T>) -> EventLoopFuture<T> { closure(self) }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        connection.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await connection.execute(sql: query, onRow)
    }

    struct Unsupported: Error, CustomStringConvertible {
        let what: String
        var description: String { "not supported on the write connection: \(what)" }
    }
}

/// The SQLite driver's types for Fluent's schema (its own delegate is internal to it).
struct SQLiteConverterDelegate: SQLConverterDelegate {
    func customDataType(_ dataType: DatabaseSchema.DataType) -> (any SQLExpression)? {
        switch dataType {
        case .string, .enum: SQLRaw("TEXT")
        case .datetime: SQLRaw("REAL")
        case .int64: SQLRaw("INTEGER")
        default: nil
        }
    }
}

/// A row as Fluent's models read it (the driver's own adapter is internal to it).
struct RowOutput: DatabaseOutput {
    let row: any SQLRow
    let schema: String?
    var description: String { String(describing: row) }
    private func column(_ key: FieldKey) -> String {
        (schema.map { .prefix(.prefix(.string($0), "_"), key) } ?? key).description
    }
    func schema(_ schema: String) -> any DatabaseOutput { RowOutput(row: row, schema: schema) }
    func contains(_ key: FieldKey) -> Bool { row.contains(column: column(key)) }
    func decodeNil(_ key: FieldKey) throws -> Bool { try row.decodeNil(column: column(key)) }
    func decode<T: Decodable>(_ key: FieldKey, as: T.Type) throws -> T { try row.decode(column: column(key), as: T.self) }
}

/// An event loop that runs what it is given on the calling thread, one caller at a time.
///
/// NIO's futures are not locked: they rely on their loop to run every callback on one thread.
/// Here "in the loop" means "holding this loop's lock": a statement runs and its future is
/// completed while the lock is held, and a caller that then awaits the future adds its callback
/// under the lock too (`execute`), where the completed future resumes it at once. A future that
/// another task completes (Fluent's eager loads make one with `makeFutureWithTask`) is completed
/// under the same lock. Timers go to a real loop.
final class InlineEventLoop: EventLoop, @unchecked Sendable {
    private let scheduler: any EventLoop
    private let lock = NSRecursiveLock()
    /// The thread holding `lock`, and how many times it holds it.
    private let owner = NIOLockedValueBox<(thread: pthread_t?, depth: Int)>((nil, 0))

    init(scheduler: any EventLoop) { self.scheduler = scheduler }

    var inEventLoop: Bool {
        owner.withLockedValue { o in o.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    private func enter() {
        lock.lock()
        owner.withLockedValue { o in o.thread = pthread_self(); o.depth += 1 }
    }

    private func leave() {
        owner.withLockedValue { o in
            o.depth -= 1
            if o.depth == 0 { o.thread = nil }
        }
        lock.unlock()
    }

    func execute(_ task: @escaping @Sendable () -> Void) {
        enter()
        defer { leave() }
        task()
    }

    /// Runs `body` in the loop and answers with a completed future.
    func inline<T: Sendable>(_ body: () throws -> T) -> EventLoopFuture<T> {
        enter()
        defer { leave() }
        do { return makeSucceededFuture(try body()) } catch { return makeFailedFuture(error) }
    }

    /// Runs `body` in the loop and answers directly.
    func inlineNow<T>(_ body: () throws -> T) throws -> T {
        enter()
        defer { leave() }
        return try body()
    }

    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduler.scheduleTask(deadline: deadline, task)
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduler.scheduleTask(in: delay, task)
    }

    func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not in the write connection's loop", file: file, line: line)
    }

    func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "in the write connection's loop", file: file, line: line)
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { callback(nil) }
    }
}

extension Application {
    private struct WriteConnectionKey: StorageKey {
        typealias Value = WriteConnection
    }

    /// Opens the write connection for an SQLite file (after migrations: it keeps statements
    /// prepared against the schema).
    func useWriteConnection(path: String, mapBytes: Int, synchronousFull: Bool) throws {
        let connection = try WriteConnection(path: path, mapBytes: mapBytes, cacheKiB: 65536, synchronousFull: synchronousFull,
                                             scheduler: eventLoopGroup.any(), logger: logger)
        storage.set(WriteConnectionKey.self, to: connection, onShutdown: { $0.writer.stop() })
    }

    /// The write connection, if this installation has one (an SQLite file).
    var writeConnection: WriteConnection? { storage[WriteConnectionKey.self] }
}
