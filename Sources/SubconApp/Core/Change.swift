import Fluent
import Foundation
import PostgresNIO
import SQLKit
import SubconDomain
import Vapor

/// One unit of work: a database transaction that also records the audit trail and queues
/// notifications, so the change, its history and its messages commit together or not at all.
struct Change: Sendable {
    let db: any Database
    let actor: AuditActor
    let now: Date
    let postgres: Bool
    /// Live events to send once this change has committed (SQLite; PostgreSQL notifies itself).
    let live: PendingLiveEvents
    /// The installation's calendar day at `now`, and when a projected slip counts as a delay:
    /// what a change needs to keep the stored lateness of order lines true.
    let today: Day
    let delayThresholdDays: Int

    /// Records before → after of the changed fields (nothing when nothing changed).
    func audit(_ entity: String, _ id: UUID?, _ action: String,
               before: [String: String?] = [:], after: [String: String?] = [:]) async throws {
        let changes = FieldChanges.between(before, after)
        if action == "update" && changes.isEmpty { return }
        try await AuditLog.append(on: db, postgres: postgres, actor: actor, entity: entity,
                                  entityID: id?.uuidString ?? "-", action: action, changes: changes, at: now)
    }

    func notify(_ event: String, recipients: [UUID], messageKey: String, params: [String: String] = [:], link: String? = nil) async throws {
        // An event outside the catalog would reach no channel and no preference: a programming
        // error that tests must catch (debug builds stop here); production still delivers it.
        assert(EventCatalog.contains(event), "event \(event) is not in EventCatalog")
        guard !recipients.isEmpty else { return }
        try await Outbox.enqueue(on: db, event: event,
                                 notice: .init(recipients: recipients, messageKey: messageKey, params: params, link: link), now: now)
    }

    /// A task's reminders are read once the task is done: the unread notices about it (by event
    /// and link) leave the unread count of the side that acted, or of everybody.
    func settleNotices(_ events: [String], link: String, forUsersOf organization: UUID? = nil) async throws {
        var b = (db as! any SQLDatabase).update("notifications").set("read_at", to: now)
            .where("link", .equal, link).where("read_at", .is, SQLLiteral.null)
        b = b.where("event", .in, events)
        if let organization {
            let people = (db as! any SQLDatabase).select().column("id").from("users").where("organization_id", .equal, organization)
            b = b.where(SQLIdentifier("user_id"), .in, SQLGroupExpression(people.select))
        }
        try await b.run()
        // Remembered for notices still in the outbox: they are delivered read.
        for event in events {
            try await (db as! any SQLDatabase).insert(into: "settled_notices").columns("id", "event", "link", "organization_id", "settled_at")
                .values(SQLBind(UUID()), SQLBind(event), SQLBind(link), SQLBind(organization), SQLBind(now)).run()
        }
    }

    /// Optimistic concurrency: applies `sets` only if the row still has `expected` version, and
    /// bumps the version. A stale version is a 409 that names the current one.
    func updateVersioned(_ table: String, id: UUID, expected: Int, sets: [String: any Encodable & Sendable]) async throws {
        let sql = db as! any SQLDatabase
        var b = sql.update(table)
        for (column, value) in sets.sorted(by: { $0.key < $1.key }) { b = b.set(column, to: value) }
        b = b.set(SQLIdentifier("version"), to: SQLBinaryExpression(SQLIdentifier("version"), .add, SQLLiteral.numeric("1")))
        let rows = try await b.where("id", .equal, id).where("version", .equal, expected).returning("id").all()
        if rows.isEmpty {
            let current = try await sql.select().column("version").from(table).where("id", .equal, id).first()
            guard let current else { throw Problem.notFound }
            throw Problem.staleVersion(current: try current.decode(column: "version", as: Int.self))
        }
    }
}

extension Application {
    /// Runs `body` in a transaction (queued behind other writers on SQLite).
    func write<T: Sendable>(as actor: AuditActor, _ body: @escaping @Sendable (Change) async throws -> T) async throws -> T {
        let services = self.subcon
        // Read here, in the request's task: Fluent runs the transaction's body from an event
        // loop callback in a new task, where the request's task-local values are gone (the
        // write connection runs it in this task, but PostgreSQL's is Fluent's).
        let claim = IdempotencyClaim.current
        var attempt = 0
        while true {
            attempt += 1
            let live = PendingLiveEvents()
            do {
                let (result, signInChanged) = try await changeTransaction { tx in
                    let result = try await body(Change(db: tx, actor: actor, now: services.clock.now(), postgres: services.isPostgres, live: live,
                                                       today: services.today(), delayThresholdDays: services.settings.delayThresholdDays))
                    try await claim?.recordOnce(on: tx)
                    return (result, services.signInCache == nil ? false : try await Self.signInChanged(tx))
                }
                for e in live.all { services.live.deliver(e) }
                if signInChanged, let cache = services.signInCache {
                    // Who may sign in changed: answered only once every instance has heard it or
                    // stopped trusting its cache (see `SignInCache`). The change has committed,
                    // so a cancelled wait is no reason to report it failed.
                    cache.forgetAll()
                    try? await Task.sleep(for: cache.settle)
                }
                return result
            } catch where attempt < 4 && Self.mayRetry(error) {
                // PostgreSQL broke a deadlock (or a serialization conflict) by rolling this
                // transaction back, whole: running it again is safe and nearly always succeeds.
                // Writers take rows in different orders (a receipt locks its order and then, by
                // trigger, its lines; a progress report its lines and then its order).
                try await Task.sleep(nanoseconds: UInt64(attempt) * 20_000_000 + UInt64.random(in: 0...20_000_000))
            }
        }
    }

    /// A change's transaction: on an SQLite file, one of a commit group on the write connection
    /// (`WriteConnection.groupedTransaction`; SQLITE_GROUP_COMMIT=1 commits each change alone);
    /// otherwise its own, behind the write gate where there is one.
    /// It runs on the write connection's own thread from before it queues for the gate until its
    /// group has committed (`WriterThread`).
    private func changeTransaction<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        let services = self.subcon
        guard let connection = writeConnection else { return try await services.writeGate.run { try await database.transaction(body) } }
        return try await withTaskExecutorPreference(connection.writer) {
            if services.settings.sqliteGroupCommit > 1 {
                let tx = connection.database(context: database.context)
                return try await connection.groupedTransaction(gate: services.writeGate, maxGroup: services.settings.sqliteGroupCommit,
                                                              linger: services.settings.sqliteGroupLinger) { try await body(tx) }
            }
            return try await services.writeGate.run { try await self.transactionInGate(body) }
        }
    }

    /// A transaction for a writer that holds the write gate: on the write connection on an SQLite
    /// file (see `WriteConnection`), on the database otherwise (inside background work, its
    /// connections).
    func transactionInGate<T: Sendable>(_ body: @escaping @Sendable (any Database) async throws -> T) async throws -> T {
        if let connection = writeConnection {
            let tx = connection.database(context: database.context)
            return try await connection.transaction { try await body(tx) }
        }
        return try await database.transaction(body)
    }

    /// Whether this transaction changed who may sign in: the sign-in triggers mark it
    /// (`AddSignInChangeNotices`).
    static func signInChanged(_ tx: any Database) async throws -> Bool {
        try await (tx as! any SQLDatabase).raw("SELECT COALESCE(current_setting('subcon.signin_changed', true), '') = 'on' AS c").first()?
            .decode(column: "c", as: Bool.self) ?? false
    }

    /// SQLSTATE 40P01 (deadlock detected) and 40001 (serialization failure).
    static func mayRetry(_ error: any Error) -> Bool {
        guard let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }
}

extension Request {
    func write<T: Sendable>(_ body: @escaping @Sendable (Change) async throws -> T) async throws -> T {
        let actor = principal?.auditActor ?? .system
        return try await application.write(as: actor, body)
    }
}
