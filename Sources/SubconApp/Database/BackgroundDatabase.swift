import Fluent
import Vapor

extension DatabaseID {
    /// A second set of connections to the same SQLite file, for background passes only.
    static let sqliteBackground = DatabaseID(string: "sqlite-background")
}

/// SQLite's driver gives each event loop exactly one connection, and requests and background
/// passes shared them: a pass over a large table (the corrective checks, the sweep of late
/// lines, the scorecard grading — seconds on a million order lines, longer under load) held the
/// connection of its loop, and every request on that loop waited behind it until the pool's
/// timeout (seen as a burst of 503s in the middle of an unrelated benchmark). Background passes
/// now run on connections of their own; writes still take turns through the write gate, and
/// WAL lets their reads go on beside the requests'. PostgreSQL's pool already has several
/// connections per loop, so there it changes nothing.
enum BackgroundWork {
    @TaskLocal static var databaseID: DatabaseID?

    /// Runs `body` with `app.database` on the background connections (where there are any), and
    /// its Swift code on the background thread (`BackgroundExecutor`).
    static func run<T>(on app: Application, _ body: () async throws -> T) async rethrows -> T {
        let id: DatabaseID? = app.databases.ids().contains(.sqliteBackground) ? .sqliteBackground : nil
        return try await withTaskExecutorPreference(BackgroundExecutor.shared) {
            try await $databaseID.withValue(id) { try await body() }
        }
    }
}

/// A thread of its own for the background passes' Swift code. `subcon serve` runs Swift's tasks
/// on the event loops (see `Subcon.main`); a pass computing for tens of milliseconds between two
/// statements (the scorecards' grading of every supplier, the sweep's projections) would hold
/// one of the two loops, and every connection on it, for that long: the ceiling's p99 went from
/// 18 to 41–62 ms while the passes of a start ran. On this thread the kernel shares the cores
/// between them and the loops, as it did when tasks had a pool of their own (20 ms again).
final class BackgroundExecutor: TaskExecutor {
    static let shared = BackgroundExecutor()
    private let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    /// Whether the caller runs on this thread (for tests).
    var isCurrent: Bool { loop.inEventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job), executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

extension Application {
    /// The database for the work at hand: the default one for requests, the background
    /// connections inside `BackgroundWork.run`. Read it in the task doing the work: a Fluent
    /// transaction runs its body in a new task without the caller's task-local values.
    var database: any Database { db(BackgroundWork.databaseID) }
}
