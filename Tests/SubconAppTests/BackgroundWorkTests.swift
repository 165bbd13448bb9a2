import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// Long work — a background pass, a slow statement, a password being hashed — never makes the
/// other requests wait for a database connection or for a thread to run their statements on.
@Suite struct BackgroundWorkTests {
    /// Every request connection (SQLite has one per event loop) is held in turn while `body` runs.
    static func holdingEveryRequestConnection(_ app: Application, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let loops = Array(app.eventLoopGroup.makeIterator())
        @Sendable func hold(_ i: Int) async throws {
            guard i < loops.count else { return try await body() }
            try await app.databases.database(.sqlite, logger: app.logger, on: loops[i])!.withConnection { _ in try await hold(i + 1) }
        }
        try await hold(0)
    }

    /// A pass's Swift code runs on the background thread, before and after its statements, not
    /// on the caller's (`subcon serve` runs tasks on the event loops, which a pass must not hold).
    @Test func backgroundPassesRunOnTheirOwnThread() async throws {
        try await TestApp.run { t in
            #expect(!BackgroundExecutor.shared.isCurrent)
            let (before, after) = try await BackgroundWork.run(on: t.app) {
                let before = BackgroundExecutor.shared.isCurrent
                _ = try await (t.app.database as! any SQLDatabase).raw("SELECT COUNT(*) AS n FROM organizations").all()
                return (before, BackgroundExecutor.shared.isCurrent)
            }
            #expect(before && after)
            #expect(!BackgroundExecutor.shared.isCurrent)
        }
    }

    @Test func everyPassOfTheWorkersRunsWhileRequestsHoldTheirConnections() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let app = t.app
            #expect(app.databases.ids().contains(.sqliteBackground))
            let waiting = try await OutboxMessage.query(on: t.db).filter(\.$processedAt == nil).all(\.$id)
            #expect(!waiting.isEmpty, "the demo leaves notices in the outbox")
            // On shared connections each pass would wait here for the pool's timeout and fail.
            try await Self.holdingEveryRequestConnection(app) {
                try await OutboxWorker.round(0, app: app)
                try await ChannelWorker.round(0, lane: 0, app: app)
            }
            // (The round's own escalations may have queued new ones after it drained the outbox.)
            #expect(try await OutboxMessage.query(on: t.db).filter(\.$id ~~ waiting).filter(\.$processedAt == nil).count() == 0)
        }
    }

    /// SQLite's statements and password hashing share the app's thread pool. Two jobs that hold a
    /// thread each (as two sign-ins or two long statements do) must leave a thread for a quick read.
    @Test func aQuickReadRunsWhileTwoSlowJobsHoldThreadsOfThePool() async throws {
        try await TestApp.run { t in
            let gate = DispatchSemaphore(value: 0)
            let loop = t.app.eventLoopGroup.any()
            let slow = (0..<2).map { _ in t.app.threadPool.runIfActive(eventLoop: loop) { gate.wait() } }
            let db = t.db
            let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { _ = try await User.query(on: db).count(); return true }
                group.addTask { try? await Task.sleep(nanoseconds: 5_000_000_000); return false }
                let first = try await group.next()!
                group.cancelAll()
                // Free the pool either way, so that a read stuck behind the jobs ends too.
                gate.signal(); gate.signal()
                try await group.waitForAll()
                return first
            }
            #expect(finished, "the read waited for a thread while two slow jobs held the pool")
            for job in slow { try await job.get() }
        }
    }
}
