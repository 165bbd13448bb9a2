import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// Background passes on SQLite use connections of their own, so a long pass never makes the
/// requests on its event loop wait for their connection.
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

    @Test func everyPassOfTheWorkersRunsWhileRequestsHoldTheirConnections() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("subcon-background-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await TestApp.run(scenario: true, adjust: { s in
            if case .sqliteMemory = s.database {
                s.database = .sqliteFile(path: dir.path + "/subcon.sqlite")
                // Registers the background connections; the workers themselves are not booted.
                s.runBackgroundWorkers = true
            }
        }) { t in
            guard !t.app.subcon.isPostgres else { return }
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
            // Requests, outside the background work, still use the default connections.
            #expect(BackgroundWork.databaseID == nil)
        }
    }
}
