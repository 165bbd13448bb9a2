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

    /// Runs `body` with `app.database` on the background connections (where there are any).
    static func run<T>(on app: Application, _ body: () async throws -> T) async rethrows -> T {
        let id: DatabaseID? = app.databases.ids().contains(.sqliteBackground) ? .sqliteBackground : nil
        return try await $databaseID.withValue(id) { try await body() }
    }
}

extension Application {
    /// The database for the work at hand: the default one for requests, the background
    /// connections inside `BackgroundWork.run`. Read it in the task doing the work: a Fluent
    /// transaction runs its body in a new task without the caller's task-local values.
    var database: any Database { db(BackgroundWork.databaseID) }
}
