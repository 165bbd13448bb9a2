import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLiteNIO
import Vapor

/// Copies the SQLite write-ahead log back into the database file from a connection and thread of
/// its own, once a second. Left to SQLite, the commit that pushes the log past 1,000 pages does
/// it: on a database of gigabytes that is ~200 ms of scattered writes and an fsync inside some
/// request's write, holding its pool connection (measured: a goods receipt waited 215 ms on the
/// outbox's commit, and the receipt step of the workflow took 264 ms at p50 instead of ~30).
/// A passive checkpoint waits for no reader or writer, and a commit still makes the log durable
/// before it returns, so nothing about durability changes — only who pays for the copy.
struct WALCheckpointer: LifecycleHandler {
    let path: String
    let interval: TimeAmount
    private let running = NIOLockedValueBox<(task: Task<Void, Never>, connection: SQLiteConnection)?>(nil)
    private let threads = NIOThreadPool(numberOfThreads: 1)

    func didBootAsync(_ app: Application) async throws {
        threads.start()
        let connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threads, logger: app.logger,
                                                         on: app.eventLoopGroup.any())
        let interval = self.interval
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await connection.query("PRAGMA wal_checkpoint(PASSIVE)", []) { _ in }
                } catch {
                    app.logger.warning("WAL checkpoint failed: \(String(describing: error))")
                }
                try? await Task.sleep(nanoseconds: UInt64(interval.nanoseconds))
            }
        }
        running.withLockedValue { $0 = (task, connection) }
    }

    /// Stops between checkpoints, then closes the connection before its thread goes.
    func shutdownAsync(_ app: Application) async {
        guard let (task, connection) = running.withLockedValue({ r in defer { r = nil }; return r }) else { return }
        task.cancel()
        await task.value
        try? await connection.close()
        try? await threads.shutdownGracefully()
    }
}
