import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import PostgresKit
import SQLKit
import Vapor

/// Something that happened to an order, for open pages and lists to update without a reload.
struct LiveEvent: Codable, Sendable, Equatable {
    /// progress, promise, delay…
    let kind: String
    let orderId: UUID
    let supplierId: UUID
    let line: Int?
}

/// Fan-out of live events to this instance's open streams. On PostgreSQL every instance hears
/// every event through `LISTEN`/`NOTIFY` (`LiveListener`); on SQLite there is one instance.
final class LiveEvents: Sendable {
    private let subscribers = NIOLockedValueBox<[UUID: AsyncStream<LiveEvent>.Continuation]>([:])

    func subscribe() -> (id: UUID, events: AsyncStream<LiveEvent>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<LiveEvent>.makeStream(bufferingPolicy: .bufferingNewest(100))
        subscribers.withLockedValue { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.withLockedValue { $0.removeValue(forKey: id) }?.finish()
    }

    var count: Int { subscribers.withLockedValue { $0.count } }

    func deliver(_ event: LiveEvent) {
        for c in subscribers.withLockedValue({ Array($0.values) }) { c.yield(event) }
    }
}

/// Events of one transaction, sent when it commits (never for a rolled-back change).
final class PendingLiveEvents: Sendable {
    private let box = NIOLockedValueBox<[LiveEvent]>([])
    func add(_ e: LiveEvent) { box.withLockedValue { $0.append(e) } }
    var all: [LiveEvent] { box.withLockedValue { $0 } }
}

extension Change {
    /// Publishes an event when this change commits: on PostgreSQL with `pg_notify` inside the
    /// transaction (PostgreSQL delivers it to every listening instance at commit), on SQLite to
    /// this instance's streams after the commit.
    func publish(_ event: LiveEvent, channel: String) async throws {
        if postgres {
            let payload = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
            try await (db as! any SQLDatabase).raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").run()
        } else {
            live.add(event)
        }
    }
}

/// Keeps one PostgreSQL connection listening on the installation's channel and hands what it
/// hears to this instance's streams; reconnects after a second when the connection drops.
struct LiveListener: LifecycleHandler {
    let configuration: PostgresConnection.Configuration
    let channel: String
    private let task = TaskBox()
    private let ready = NIOLockedValueBox(false)

    init(configuration: PostgresConnection.Configuration, channel: String) {
        self.configuration = configuration; self.channel = channel
    }

    func didBootAsync(_ app: Application) async throws {
        let (configuration, channel, logger) = (self.configuration, self.channel, app.logger)
        let live = app.subcon.live
        let started = AsyncStream<Void>.makeStream()
        task.set(Task {
            var first = true
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(on: app.eventLoopGroup.any(), configuration: configuration, id: 0, logger: logger)
                    defer { Task { try? await connection.close() } }
                    try await connection.listen(on: channel) { notifications in
                        if first { first = false; started.continuation.yield(); started.continuation.finish() }
                        for try await n in notifications {
                            if let e = try? JSONDecoder().decode(LiveEvent.self, from: Data(n.payload.utf8)) { live.deliver(e) }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("live updates: listening failed (\(String(describing: error))); retrying")
                    try? await Task.sleep(nanoseconds: 1_000_000_000)
                }
            }
            started.continuation.finish()
        })
        // Boot waits until the first LISTEN is in place, so nothing published after start-up is missed.
        for await _ in started.stream { break }
    }

    func shutdownAsync(_ app: Application) async { task.cancel() }
}
