import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// Reads by key as named prepared statements on PostgreSQL (`PreparedReads`): they answer what
/// the driver answers, prepare each text once, see every change at once, and a statement that
/// failed to prepare does not stay failed. On SQLite `keyedReads` is `reads` (one check).
@Suite struct PreparedReadsTests {
    @Test func keyedReadsAreNamedStatementsOnPostgreSQLAndAnswerWhatTheDriverAnswers() async throws {
        try await TestApp.run(scenario: true) { t in
            let app = t.app
            guard app.subcon.isPostgres else {
                #expect(!(app.keyedReads is PreparedReads))
                return
            }
            #expect(app.keyedReads is PreparedReads)
            // Their connections always keep a statement's generic plan; everything else goes on
            // being planned for its values.
            func planCacheMode(_ db: any SQLDatabase) async throws -> String? {
                try await db.raw("SELECT current_setting('plan_cache_mode') AS mode").first()?.decode(column: "mode", as: String.self)
            }
            #expect(try await planCacheMode(app.keyedReads) == "force_generic_plan")
            #expect(try await planCacheMode(t.sql) == "auto")
            // Nor do they memoize joins (a generic plan's caches are sized for thousands of rows).
            func memoize(_ db: any SQLDatabase) async throws -> String? {
                try await db.raw("SELECT current_setting('enable_memoize') AS m").first()?.decode(column: "m", as: String.self)
            }
            #expect(try await memoize(app.keyedReads) == "off")
            #expect(try await memoize(t.sql) == "on")
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let supplier = try await ReadConnectionsTests.principal(t, "supplier1")
            let order = try #require(try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == supplier.organizationID)
                .filter(\.$status != "draft").first())

            let names = app.preparedStatementNames
            let detail = try await OrderService.detail(admin, order.id!, app: app)
            let asSupplier = try await OrderService.detail(supplier, order.id!, app: app)
            let prepared = names.count
            #expect(prepared >= 3, "the order with its lines, with and without a supplier's scope; the revisions")
            for _ in 0..<8 { _ = try await OrderService.detail(admin, order.id!, app: app) }
            #expect(names.count == prepared, "each text is prepared under one name, run again and again")
            #expect(!detail.lines.isEmpty && detail.supplierName != "")

            // The same reads through the driver's own statements.
            #expect(try ReadConnectionsTests.json(try await OrderService.detail(admin, order.id!, app: app, on: t.sql)) == ReadConnectionsTests.json(detail))
            #expect(try ReadConnectionsTests.json(try await OrderService.detail(supplier, order.id!, app: app, on: t.sql)) == ReadConnectionsTests.json(asSupplier))
            let other = try await ReadConnectionsTests.principal(t, "supplier2")
            await #expect(throws: Problem.self) { _ = try await OrderService.detail(other, order.id!, app: app) }

            // A change is seen by the next run of the same prepared statement.
            try await t.sql.raw("UPDATE outsourcing_orders SET note = \(bind: "改过了") WHERE id = \(bind: order.id!)").run()
            #expect(try await OrderService.detail(admin, order.id!, app: app).note == "改过了")

            // Values of every kind the app binds, and none.
            let row = try await app.keyedReads.raw("""
                SELECT CAST(\(bind: order.id!) AS uuid) AS id, CAST(\(bind: "文字") AS text) AS s, CAST(\(bind: 42) AS bigint) AS n,
                       CAST(\(bind: true) AS boolean) AS b, CAST(\(bind: Date(timeIntervalSince1970: 1_700_000_000)) AS timestamptz) AS at,
                       CAST(\(bind: Optional<String>.none) AS text) AS nothing
                """).first()
            #expect(try row?.decode(column: "id", as: UUID.self) == order.id!)
            #expect(try row?.decode(column: "s", as: String.self) == "文字")
            #expect(try row?.decode(column: "n", as: Int.self) == 42)
            #expect(try row?.decode(column: "b", as: Bool.self) == true)
            #expect(try row?.decode(column: "at", as: Date.self) == Date(timeIntervalSince1970: 1_700_000_000))
            #expect(try row?.decodeNil(column: "nothing") == true)
        }
    }

    /// PostgresNIO keeps a failed preparation under its name on that connection for good: without
    /// a new name the read would fail there forever, even after the cause is gone.
    /// Plain reads on PostgreSQL are unnamed statements, planned for their values, on the main
    /// pool; their rows are read by position as the keyed reads' are, and answer what the
    /// driver answers.
    @Test func plainReadsOnPostgreSQLAreUnnamedAndReadByPosition() async throws {
        try await TestApp.run(scenario: true) { t in
            let app = t.app
            guard app.subcon.isPostgres else {
                #expect(app.reads is ReadConnections)
                return
            }
            let reads = try #require(app.reads as? PreparedReads)
            #expect(!reads.prepares)
            let names = app.preparedStatementNames.count
            let row = try #require(try await reads.raw("SELECT login, current_setting('plan_cache_mode') AS mode FROM users WHERE login = \(bind: "admin")").first())
            #expect(row is PreparedRow)
            #expect(try row.decode(column: "login", as: String.self) == "admin" && row.decode(column: "mode", as: String.self) == "auto")
            #expect(app.preparedStatementNames.count == names, "no statement was named")
            // A list read both ways gives the same page.
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let plain = try await UserService.list(admin, filter: .init(search: "sup"), page: PageRequest(page: 1, per: 50), on: reads, counts: nil)
            let driver = try await UserService.list(admin, filter: .init(search: "sup"), page: PageRequest(page: 1, per: 50), on: t.sql, counts: nil)
            #expect(plain.total > 0 && plain.items.map(\.login) == driver.items.map(\.login) && plain.total == driver.total)
            #expect(try ReadConnectionsTests.json(plain) == ReadConnectionsTests.json(driver))
        }
    }

    @Test func aStatementThatFailedToPrepareIsPreparedAgainUnderANewName() async throws {
        try await TestApp.run(demo: false) { t in
            let names = PreparedStatementNames(capacity: 2)
            let first = try #require(names.name(for: "SELECT 1"))
            #expect(names.name(for: "SELECT 1") == first)
            names.failed("SELECT 1", name: first)
            let second = try #require(names.name(for: "SELECT 1"))
            #expect(second != first)
            names.failed("SELECT 1", name: second)
            names.failed("SELECT 1", name: try #require(names.name(for: "SELECT 1")))
            #expect(names.name(for: "SELECT 1") == nil, "three failures: not prepared again")
            #expect(names.name(for: "SELECT 2") != nil && names.name(for: "SELECT 3") != nil)
            #expect(names.name(for: "SELECT 4") == nil, "past the capacity reads go unprepared")
            #expect(names.name(for: "SELECT 2") != nil, "texts already named keep their names")

            guard t.app.subcon.isPostgres else { return }
            let reads = t.app.keyedReads
            let missing = await #expect(throws: (any Error).self) { _ = try await reads.raw("SELECT n FROM prepared_probe WHERE n = \(bind: 1)").all() }
            #expect(missing.map(PreparedStatementNames.leftFailedStatement) == true, "the server refused it: an ERROR")
            #expect(!PreparedStatementNames.leftFailedStatement(Problem.notFound))
            try await t.sql.raw("CREATE TABLE prepared_probe (n bigint PRIMARY KEY)").run()
            try await t.sql.raw("INSERT INTO prepared_probe (n) VALUES (1)").run()
            // The pool hands back the connection used last, the one the failure happened on.
            for _ in 0..<10 {
                let n = try await reads.raw("SELECT n FROM prepared_probe WHERE n = \(bind: 1)").first()?.decode(column: "n", as: Int.self)
                #expect(n == 1)
            }
        }
    }

    /// A read whose connection is lost between two statements of a session: the next statement
    /// used to be written to a closed channel and wait for good. It is refused at once, and the
    /// session runs again on another connection.
    @Test func aSessionWhoseConnectionWasLostRunsAgainOnAnotherInsteadOfWaitingForGood() async throws {
        try await TestApp.run(demo: false) { t in
            guard t.app.subcon.isPostgres, let reads = t.app.keyedReads as? PreparedReads else { return }
            let attempts = NIOLockedValueBox<[Int]>([])
            let sql = t.sql
            let pid = try await Self.failingIfItHangs {
                try await reads.withSession { db in
                    let pid = try #require(try await db.raw("SELECT pg_backend_pid() AS pid").first()?.decode(column: "pid", as: Int.self))
                    let attempt = attempts.withLockedValue { $0.append(pid); return $0.count }
                    if attempt == 1 {
                        let session = try #require(db as? PreparedSession)
                        try await sql.raw("SELECT pg_terminate_backend(CAST(\(bind: pid) AS integer))").run()
                        try await session.connection.closeFuture.get()
                    }
                    return try #require(try await db.raw("SELECT pg_backend_pid() AS pid").first()?.decode(column: "pid", as: Int.self))
                }
            }
            let pids = attempts.withLockedValue { $0 }
            #expect(pids.count == 2, "the first connection's second statement is refused, and the whole session runs again")
            #expect(pid == pids.last && pid != pids.first)
        }
    }

    /// Runs `body`, failing the test instead of hanging the suite when it never returns (a task
    /// group would wait for the hung child, so the work runs as a task of its own).
    static func failingIfItHangs<R: Sendable>(_ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let (outcome, answer) = AsyncThrowingStream<R, any Error>.makeStream()
        let work = Task {
            do { answer.yield(try await body()); answer.finish() } catch { answer.finish(throwing: error) }
        }
        let timer = Task { try await Task.sleep(for: .seconds(60)); answer.finish() }
        defer { timer.cancel() }
        for try await value in outcome { return value }
        work.cancel()
        Issue.record("still waiting after a minute")
        throw CancellationError()
    }
}
