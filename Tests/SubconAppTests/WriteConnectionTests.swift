import Fluent
import FluentSQL
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// Changes on SQLite run on a connection of their own (`WriteConnection`), statement after
/// statement on the change's thread. Every test of the suite that writes goes through it on
/// SQLite; these check what is particular to it: that changes take it, that a failed change leaves
/// nothing, that SQLite's errors mean what the driver's mean, and that Fluent's futures (eager
/// loads finish on another task) and many changes at once are safe. On PostgreSQL there is no
/// write connection and nothing to check.
@Suite struct WriteConnectionTests {
    static func item(_ code: String, now: Date) -> Item {
        Item(code: code, name: "写连接测试 " + code, specification: "", uom: "PCS", kind: .raw, defaultSiteID: nil, now: now)
    }

    @Test func changesRunOnTheWriteConnectionAndCommit() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres else { return }
            let connection = try #require(t.app.writeConnection, "an SQLite installation writes on its own connection")
            let before = connection.statementsRun.withLockedValue { $0 }
            let now = t.clock.now()
            let id = try await t.app.write(as: .system) { change -> UUID in
                #expect(change.db is WriteDatabase)
                let item = Self.item("WC-1", now: now)
                try await item.create(on: change.db)
                // A model's insert returns its id, an SQLKit read in the same change sees it.
                let seen = try await (change.db as! any SQLDatabase).select().column("name").from("items").where("id", .equal, item.id!).first()
                #expect(try seen?.decode(column: "name", as: String.self) == "写连接测试 WC-1")
                try await change.audit("item", item.id, "create", after: item.auditSnapshot)
                return try #require(item.id)
            }
            #expect(connection.statementsRun.withLockedValue { $0 } >= before + 4, "the insert, the read, the audit chain's end and entry")
            // The driver's connections see the committed row, field for field.
            let stored = try #require(try await Item.find(id, on: t.db))
            #expect(stored.code == "WC-1" && stored.active && stored.version == 1 && stored.createdAt == now)
        }
    }

    /// A change runs on the write connection's own thread while it holds the gate, so that the
    /// next holder is never queued behind the event loops' requests; the request around it does
    /// not, and the thread ends with the application.
    @Test func changesRunOnTheWriterThreadWhichEndsWithTheApplication() async throws {
        let writer = NIOLockedValueBox<WriterThread?>(nil)
        try await TestApp.run(demo: false) { t in
            guard let connection = t.app.writeConnection else { return }
            writer.withLockedValue { $0 = connection.writer }
            let now = t.clock.now()
            let onWriter = try await t.app.write(as: .system) { change in
                try await Self.item("WT-1", now: now).create(on: change.db)
                return connection.writer.isCurrent
            }
            #expect(onWriter, "the change's body ran on the writer thread")
            #expect(!connection.writer.isCurrent, "the request goes on where it was")
            #expect(!connection.writer.hasEnded)
        }
        guard let ended = writer.withLockedValue({ $0 }) else { return }
        // Shutdown only asks the thread to stop; wait for it (a slow machine is no failure).
        for _ in 0..<600 where !ended.hasEnded { try await Task.sleep(for: .milliseconds(100)) }
        #expect(ended.hasEnded, "the writer thread ended with the application")
    }

    /// A change that comes after the writer thread has ended still runs (on a thread started
    /// for it), instead of waiting for ever.
    @Test(.timeLimit(.minutes(10))) func aJobAfterTheWriterThreadEndedStillRuns() async throws {
        let writer = WriterThread(name: "test-writer")
        writer.stop()
        for _ in 0..<600 where !writer.hasEnded { try await Task.sleep(for: .milliseconds(100)) }
        #expect(writer.hasEnded)
        let ran = await withTaskExecutorPreference(writer) { writer.isCurrent }
        #expect(ran)
        for _ in 0..<600 where !writer.hasEnded { try await Task.sleep(for: .milliseconds(100)) }
        #expect(writer.hasEnded, "it ends again once idle")
    }

    /// Our connections write names without searching them for quotes (`SchemaNamesDialect`);
    /// what they send is what the driver's dialect writes, for Fluent's queries, SQLKit's
    /// builders and hand-written statements (a string literal with a quote still escaped).
    @Test func ourConnectionsWriteStatementsAsTheDriverDoes() async throws {
        try await TestApp.run(demo: false) { t in
            guard let writes = t.app.writeConnection else { return }
            let driver = t.sql
            #expect(!(driver.dialect is SchemaNamesDialect) && writes.dialect is SchemaNamesDialect)
            let fluent = SQLQueryConverter(delegate: SQLiteConverterDelegate()).convert(
                OutsourcingOrder.query(on: t.db).filter(\.$status == "draft").filter(\.$supplierID == UUID()).sort(\.$createdAt, .descending).limit(5).query)
            let statements: [any SQLExpression] = [
                fluent,
                driver.select().column("id").from("outbox").where("processed_at", .is, SQLLiteral.null).orderBy("created_at").limit(10).select,
                driver.update("order_lines").set("eta", to: "2026-01-01").where("order_id", .equal, UUID()).update,
                driver.insert(into: "sequences").columns("name", "value").values("x", 1).insert,
                SQLQueryString("SELECT \(ident: "code"), \(ident: "name") FROM \(ident: "items") WHERE \(ident: "name") = \(literal: "it's") AND id = \(bind: UUID())"),
            ]
            for statement in statements {
                let ours = writes.serialize(statement).sql, theirs = driver.serialize(statement).sql
                #expect(ours == theirs)
                #expect(ours.contains("\""))
            }
        }
    }

    @Test func aFailedChangeLeavesNothingAndTheNextOneCommits() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres else { return }
            struct Boom: Error {}
            let now = t.clock.now()
            let auditRows = try await t.sql.raw("SELECT COUNT(*) AS n FROM audit_log").first(decoding: Count.self)?.n
            await #expect(throws: Boom.self) {
                try await t.app.write(as: .system) { change in
                    try await Self.item("WC-2", now: now).create(on: change.db)
                    try await change.audit("item", nil, "create", after: ["code": "WC-2"])
                    throw Boom()
                }
            }
            #expect(try await Item.query(on: t.db).filter(\.$code == "WC-2").count() == 0)
            #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM audit_log").first(decoding: Count.self)?.n == auditRows)
            try await t.app.write(as: .system) { change in try await Self.item("WC-2", now: now).create(on: change.db) }
            #expect(try await Item.query(on: t.db).filter(\.$code == "WC-2").count() == 1)
        }
    }

    @Test func aTransactionLeftOpenDoesNotStopTheNextChange() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres else { return }
            let connection = try #require(t.app.writeConnection)
            let now = t.clock.now()
            // As if a change's rollback had failed: its transaction and its row are still there.
            try await connection.raw("BEGIN").run()
            try await Self.item("WC-L1", now: now).create(on: connection.database(context: t.app.db.context))
            try await t.app.write(as: .system) { change in try await Self.item("WC-L2", now: now).create(on: change.db) }
            #expect(try await Item.query(on: t.db).filter(\.$code == "WC-L1").count() == 0, "the abandoned change is undone")
            #expect(try await Item.query(on: t.db).filter(\.$code == "WC-L2").count() == 1)
        }
    }

    @Test func aBrokenConstraintIsAConflictAndTheChangeGoesOn() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres else { return }
            let now = t.clock.now()
            try await t.app.write(as: .system) { change in try await Self.item("WC-3", now: now).create(on: change.db) }
            // A second item of the same code: the unique index refuses it, as a constraint
            // failure (which answers 409), and the change may carry on (as a second claim of a statement does).
            try await t.app.write(as: .system) { change in
                do {
                    try await Self.item("WC-3", now: now).create(on: change.db)
                    Issue.record("the duplicate was stored")
                } catch let e as any DatabaseError where e.isConstraintFailure {
                    #expect(e is SQLiteHandleError)
                }
                try await Self.item("WC-4", now: now).create(on: change.db)
            }
            #expect(try await Item.query(on: t.db).filter(\.$code ~~ ["WC-3", "WC-4"]).count() == 2)
            // A statement SQLite cannot prepare is an error of the change, not a crash.
            await #expect(throws: SQLiteHandleError.self) {
                try await t.app.write(as: .system) { change in try await (change.db as! any SQLDatabase).raw("SELECT nope FROM items").run() }
            }
        }
    }

    @Test func eagerLoadsAndManyChangesAtOnce() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres else { return }
            let now = t.clock.now()
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let item = Self.item("WC-5", now: now)
            try await t.app.write(as: .system) { change in try await item.create(on: change.db) }
            let input = RoutingInput(version: 0, operations: [
                .init(sequence: 10, code: "CUT", name: "下料", mode: "in_house", defaultSupplier: nil),
                .init(sequence: 20, code: "PLT", name: "电镀", mode: "outsourced", defaultSupplier: "SUP-JG"),
            ])
            _ = try await RoutingService.replace(admin, itemID: item.id!, input, app: t.app)
            // Fluent finishes an eager load on a task of its own, which completes the future the
            // change waits for from another thread.
            let routing = try await t.app.write(as: .system) { change in try await RoutingService.get(admin, itemID: item.id!, on: change.db) }
            #expect(routing.operations.map(\.code) == ["CUT", "PLT"] && routing.operations.last?.defaultSupplierCode == "SUP-JG")

            // Forty changes at once take their turns on the one connection; none is lost.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await t.app.write(as: .system) { change in
                            try await Self.item("WC-M\(i)", now: now).create(on: change.db)
                            _ = try await RoutingHeader.query(on: change.db).filter(\.$item.$id == item.id!).with(\.$operations).all()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await Item.query(on: t.db).filter(\.$code =~ "WC-M").count() == 40)
        }
    }

    /// Changes that queue for the gate share one COMMIT (group commit), and none of them answers
    /// before that COMMIT: each, once answered, is seen by the driver's connections, which see
    /// only what has committed. One that fails in the group is rolled back alone.
    @Test(.timeLimit(.minutes(10))) func changesThatQueueShareOneCommitAndAnswerAfterIt() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres, let connection = t.app.writeConnection else { return }
            #expect(t.app.subcon.settings.sqliteGroupCommit > 1)
            struct Boom: Error {}
            let now = t.clock.now(), gate = t.app.subcon.writeGate
            let entered = Latch(), release = Latch()
            let commitsBefore = connection.commitsRun.withLockedValue { $0 }
            let auditBefore = try await t.sql.raw("SELECT COUNT(*) AS n FROM audit_log").first(decoding: Count.self)?.n ?? 0
            try await withThrowingTaskGroup(of: String?.self) { group in
                // The first change holds the gate until the others queue behind it.
                group.addTask {
                    try await t.app.write(as: .system) { change in
                        try await Self.item("GC-0", now: now).create(on: change.db)
                        entered.open()
                        await release.wait()
                    }
                    return try await Item.query(on: t.db).filter(\.$code == "GC-0").count() == 1 ? nil : "GC-0"
                }
                await entered.wait()
                for i in 1...10 {
                    group.addTask {
                        do {
                            try await t.app.write(as: .system) { change in
                                try await Self.item("GC-\(i)", now: now).create(on: change.db)
                                try await change.audit("item", nil, "create", after: ["code": "GC-\(i)"])
                                if i == 5 { throw Boom() }
                            }
                        } catch is Boom { return nil }
                        // Answered: so committed, and visible to any other connection.
                        return try await Item.query(on: t.db).filter(\.$code == "GC-\(i)").count() == 1 ? nil : "GC-\(i)"
                    }
                }
                while gate.waiting < 10 { await Task.yield() }
                release.open()
                for try await unseen in group { #expect(unseen == nil, "answered before it was committed") }
            }
            let commits = connection.commitsRun.withLockedValue { $0 } - commitsBefore
            // Ten changes that succeeded, alone, would have committed ten times; a background
            // pass that takes its turn between them may split the group once.
            #expect(commits >= 1 && commits <= 3, "\(commits) commits for ten changes that queued together")
            let codes = try await Item.query(on: t.db).filter(\.$code =~ "GC-").all().map(\.code).sorted()
            #expect(codes == (0...10).filter { $0 != 5 }.map { "GC-\($0)" }.sorted(), "the failed change alone was undone")
            let audit = try await t.sql.raw("SELECT COUNT(*) AS n FROM audit_log").first(decoding: Count.self)?.n ?? 0
            #expect(audit == auditBefore + 9)
            #expect(try await AuditLog.verify(on: t.db).failure == nil, "the chain holds across the group's savepoints")
        }
    }

    /// While changes arrive together, a change that would commit its group alone waits for the
    /// next one to queue and passes its turn on as soon as it does; a waiter that is not a change
    /// ends the wait and the group. Without the wait, A and B would commit together and C alone.
    @Test(.timeLimit(.minutes(10))) func aChangeAboutToCommitAloneWaitsForTheNextWhileChangesArriveTogether() async throws {
        // A wait as long as 30 s: the cooperative pool has two threads on CI's two cores, other
        // tests block them, and a task may wait seconds for one (5 s were passed once). A wait
        // that runs its time out still takes longer than the bound below.
        try await TestApp.run(adjust: { $0.sqliteGroupLinger = .seconds(30) }) { t in
            guard !t.app.subcon.isPostgres, let connection = t.app.writeConnection else { return }
            let now = t.clock.now(), gate = t.app.subcon.writeGate
            let entered = Latch(), release = Latch()
            let commitsBefore = connection.commitsRun.withLockedValue { $0 }
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: String?.self) { group in
                func change(_ code: String, _ body: @escaping @Sendable () async -> Void = {}) {
                    group.addTask {
                        try await t.app.write(as: .system) { change in
                            try await Self.item(code, now: now).create(on: change.db)
                            await body()
                        }
                        // Answered: so committed, and visible to any other connection.
                        return try await Item.query(on: t.db).filter(\.$code == code).count() == 1 ? nil : code
                    }
                }
                change("GW-A") { entered.open(); await release.wait() }
                await entered.wait()
                change("GW-B")
                while gate.waiting < 1 { await Task.yield() }
                release.open()
                // B ends the group of two it joined, so it waits for a third instead of committing.
                let bWaits = await Self.eventually { gate.lingering }
                let cRan = Latch()
                change("GW-C") { cRan.open() }
                // C queued and B passed its turn on at once; then C waits in turn, nothing committed yet.
                await cRan.wait()
                let cWaits = await Self.eventually { gate.lingering } && connection.commitsRun.withLockedValue { $0 } == commitsBefore
                // A waiter that is not a change (the outbox, a background pass) ends the wait and the group.
                group.addTask { try await gate.run {}; return nil }
                #expect(bWaits, "B committed the group of two instead of waiting for the next change")
                #expect(cWaits, "C did not join B's group and wait in turn")
                for try await unseen in group { #expect(unseen == nil, "answered before it was committed") }
            }
            #expect(connection.commitsRun.withLockedValue { $0 } - commitsBefore == 1, "A, B and C share one COMMIT")
            #expect(ContinuousClock.now - started < .seconds(30), "each wait ended when the next one queued, not when its time ran out")
        }
    }

    /// Whether `condition` comes true within a minute (checked every millisecond).
    static func eventually(_ condition: @Sendable () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    /// A client that writes alone, one change after another, never waits for company: five
    /// changes take far less than one wait would.
    @Test(.timeLimit(.minutes(10))) func aClientWritingAloneNeverWaits() async throws {
        try await TestApp.run(adjust: { $0.sqliteGroupLinger = .seconds(30) }) { t in
            guard !t.app.subcon.isPostgres, let connection = t.app.writeConnection else { return }
            let now = t.clock.now(), started = ContinuousClock.now
            let commitsBefore = connection.commitsRun.withLockedValue { $0 }
            for i in 1...5 {
                try await t.app.write(as: .system) { change in try await Self.item("GA-\(i)", now: now).create(on: change.db) }
            }
            #expect(connection.commitsRun.withLockedValue { $0 } - commitsBefore == 5)
            #expect(ContinuousClock.now - started < .seconds(30), "a change written alone waited for others")
        }
    }

    /// If SQLite ends the transaction of a group (as it does itself on a full disk or an I/O
    /// error), every change of the group that has not answered fails, and the next change
    /// begins a new transaction.
    struct Boom: Error {}

    @Test(.timeLimit(.minutes(10))) func aGroupWhoseTransactionEndsFailsEveryMember() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres, t.app.writeConnection != nil else { return }
            let now = t.clock.now(), gate = t.app.subcon.writeGate
            let entered = Latch(), release = Latch()
            var outcomes: [String: String] = [:]
            try await withThrowingTaskGroup(of: (String, String).self) { group in
                func change(_ code: String, _ body: @escaping @Sendable (Change) async throws -> Void) {
                    group.addTask {
                        do {
                            try await t.app.write(as: .system) { change in
                                try await Self.item(code, now: now).create(on: change.db)
                                try await body(change)
                            }
                            return (code, "ok")
                        } catch is Boom { return (code, "its own error")
                        } catch is WriteConnection.GroupLost { return (code, "lost")
                        } catch { return (code, "\(error)") }
                    }
                }
                change("GL-A") { _ in entered.open(); await release.wait() }
                await entered.wait()
                change("GL-B") { _ in }
                while gate.waiting < 1 { await Task.yield() }
                change("GL-C") { change in
                    try await (change.db as! any SQLDatabase).raw("ROLLBACK").run()
                    throw Boom()
                }
                while gate.waiting < 2 { await Task.yield() }
                release.open()
                for try await (code, ok) in group { outcomes[code] = ok }
            }
            // The change that ended it fails with its own error; the others are told their
            // change was lost, not given another request's error.
            #expect(outcomes == ["GL-A": "lost", "GL-B": "lost", "GL-C": "its own error"])
            // Answered as "busy, try again" (nothing of theirs was written), not as a 500.
            let answer = ProblemMiddleware.problem(for: WriteConnection.GroupLost(), request: Request(application: t.app, on: t.app.eventLoopGroup.next()))
            #expect(answer.status == .serviceUnavailable && answer.headers.first(name: .retryAfter) == "5")
            #expect(try await Item.query(on: t.db).filter(\.$code =~ "GL-").count() == 0)
            try await t.app.write(as: .system) { change in try await Self.item("GL-D", now: now).create(on: change.db) }
            #expect(try await Item.query(on: t.db).filter(\.$code == "GL-D").count() == 1)
        }
    }

    /// Opens once; whoever waits, and whoever comes after, goes on.
    final class Latch: Sendable {
        private let state = NIOLockedValueBox<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let open = state.withLockedValue { s in
                    if !s.open { s.waiting.append(c) }
                    return s.open
                }
                if open { c.resume() }
            }
        }
        func open() {
            let waiting = state.withLockedValue { s in
                s.open = true
                defer { s.waiting = [] }
                return s.waiting
            }
            for c in waiting { c.resume() }
        }
    }

    private struct Count: Decodable { let n: Int }
}
