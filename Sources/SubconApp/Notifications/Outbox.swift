import NIOConcurrencyHelpers
import NIOCore
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

enum Outbox {
    /// What an in-app notification says, as catalog key + parameters, and who gets it.
    struct Notice: Codable, Sendable {
        var recipients: [UUID]
        var messageKey: String
        var params: [String: String]
        var link: String?
    }

    static func enqueue(on db: any Database, event: String, notice: Notice, now: Date) async throws {
        let payload = String(decoding: try JSONEncoder().encode(notice), as: UTF8.self)
        try await OutboxMessage(event: event, payload: payload, now: now).create(on: db)
    }

    static let maxAttempts = 10

    /// Delivers due messages to the recipients' inboxes. Safe to run on several instances at once:
    /// on PostgreSQL each claims its own rows with `FOR UPDATE SKIP LOCKED`; delivering a message
    /// twice inserts nothing new (unique outbox id per recipient). Returns how many it delivered.
    static func deliverPending(app: Application, limit: Int = 100) async throws -> Int {
        // A few at a time: every other writer waits while a batch is delivered, and a busy
        // workflow leaves dozens of messages a second.
        var delivered = 0
        while delivered < limit {
            let batch = try await deliverBatch(app: app, limit: min(batchSize, limit - delivered))
            delivered += batch
            if batch == 0 { break }
        }
        return delivered
    }

    static let batchSize = 10

    private static func deliverBatch(app: Application, limit: Int) async throws -> Int {
        let services = app.subcon
        return try await services.writeGate.run {
            try await app.transactionInGate { db in
                let sql = db as! any SQLDatabase
                let now = services.clock.now()
                var select = sql.select().column("id").from("outbox")
                    .where("processed_at", .is, SQLLiteral.null)
                    .where("available_at", .lessThanOrEqual, now)
                    .where("attempts", .lessThan, maxAttempts)
                    .orderBy("created_at").limit(limit)
                if services.isPostgres { select = select.lockingClause(SQLRaw("FOR UPDATE SKIP LOCKED")) }
                let ids = try await select.all().map { try $0.decode(column: "id", as: UUID.self) }
                guard !ids.isEmpty else { return 0 }
                let messages = try await OutboxMessage.query(on: db).filter(\.$id ~~ ids).all()
                for message in messages {
                    do {
                        try await deliver(message, on: db, now: now)
                        message.processedAt = now
                    } catch {
                        // Retries later with a growing delay; the error stays visible on the row.
                        message.attempts += 1
                        message.lastError = String(describing: error).prefix(500).description
                        message.availableAt = now.addingTimeInterval(Double(1 << min(message.attempts, 10)))
                    }
                    try await message.save(on: db)
                }
                return messages.count
            }
        }
    }

    private static func deliver(_ message: OutboxMessage, on db: any Database, now: Date) async throws {
        let notice = try JSONDecoder().decode(Notice.self, from: Data(message.payload.utf8))
        let params = String(decoding: try JSONEncoder().encode(notice.params), as: UTF8.self)
        let already = Set(try await InboxItem.query(on: db).filter(\.$outboxID == message.id!).all(\.$user.$id))
        // Chat groups, webhooks and email are planned with the inbox, in the same transaction.
        let inboxOff = try await ChannelDispatch.fanOut(message: message, notice: notice, on: db, now: now)
        // In the order of their ids: each insert takes its recipient's kept counts (see
        // `KeptCounts.notifications`), and two deliveries taking them in one order wait for each
        // other instead of deadlocking on PostgreSQL.
        for recipient in Set(notice.recipients).subtracting(inboxOff).subtracting(already).sorted(by: { $0.uuidString < $1.uuidString }) {
            let item = InboxItem()
            item.$user.id = recipient
            item.event = message.event
            item.messageKey = notice.messageKey
            item.params = params
            item.link = notice.link
            item.createdAt = now
            item.outboxID = message.id!
            try await item.create(on: db)
        }
        // A task done before its notice was delivered: the notice arrives already read.
        if let link = notice.link {
            try await (db as! any SQLDatabase).raw("""
                UPDATE notifications SET read_at = \(bind: now)
                WHERE outbox_id = \(bind: message.id!) AND read_at IS NULL AND EXISTS (
                    SELECT 1 FROM settled_notices s WHERE s.link = \(bind: link) AND s.event = \(bind: message.event)
                      AND s.settled_at >= \(bind: message.createdAt)
                      AND (s.organization_id IS NULL OR s.organization_id = (SELECT u.organization_id FROM users u WHERE u.id = notifications.user_id)))
                """).run()
        }
    }
}

/// Removes what has served its purpose: expired sessions, old login attempts, old idempotency
/// records and delivered outbox rows. None of it is business data.
enum Housekeeping {
    static func run(app: Application) async throws {
        let now = app.subcon.clock.now()
        try await app.subcon.writeGate.run {
            try await WebSession.query(on: app.database).filter(\.$expiresAt < now).delete()
            try await LoginAttempt.query(on: app.database).filter(\.$at < now.addingTimeInterval(-86400)).delete()
            // Notices are delivered within seconds; a month of settled tasks is plenty.
            try await (app.database as! any SQLDatabase).delete(from: "settled_notices").where("settled_at", .lessThan, now.addingTimeInterval(-30 * 86400)).run()
            try await IdempotencyRecord.query(on: app.database).filter(\.$createdAt < now.addingTimeInterval(-86400)).delete()
            try await OutboxMessage.query(on: app.database).filter(\.$processedAt < now.addingTimeInterval(-7 * 86400)).delete()
            // Delivered messages stay in the channels' log for 90 days; given-up ones until retried.
            let sql = app.database as! any SQLDatabase
            let old = now.addingTimeInterval(-90 * 86400)
            let done = [DeliveryStatus.sent.rawValue, DeliveryStatus.digested.rawValue]
            try await sql.delete(from: "delivery_attempts").where(SQLIdentifier("delivery_id"), .in, SQLGroupExpression(
                sql.select().column("id").from(ChannelDelivery.schema).where("status", .in, done).where("created_at", .lessThan, old).select)).run()
            try await sql.delete(from: ChannelDelivery.schema).where("status", .in, done).where("created_at", .lessThan, old).run()
        }
        try await SupplierProfileService.remindExpiringCertificates(app: app, today: app.subcon.today())
    }
}

/// Runs the outbox (and, now and then, housekeeping) in the background of `subcon serve`.
struct OutboxWorker: LifecycleHandler {
    let interval: TimeAmount
    private let task = TaskBox()

    func didBootAsync(_ app: Application) async throws {
        let interval = self.interval
        task.set(Task {
            var rounds = 0
            while !Task.isCancelled {
                do {
                    try await Self.round(rounds, app: app)
                } catch {
                    app.logger.warning("background work failed: \(String(describing: error))")
                }
                rounds += 1
                try? await Task.sleep(nanoseconds: UInt64(interval.nanoseconds))
            }
        })
    }

    func shutdownAsync(_ app: Application) async {
        await task.stop()
    }

    /// One round, about a second apart: the outbox every time, escalations every minute, the
    /// long passes every ten — all on the background connections.
    static func round(_ rounds: Int, app: Application) async throws {
        try await BackgroundWork.run(on: app) {
            while try await Outbox.deliverPending(app: app) > 0 {}
            if rounds % 60 == 0 { _ = try await OrderEscalation.run(app: app) }
            if rounds % 600 == 0 {
                try await Housekeeping.run(app: app); try await ProgressService.sweep(app: app)
                try await CorrectiveChecks.run(app: app)
                try await ScorecardGrading.closeDueMonth(app: app)
            }
            if rounds % 60 == 0 { try await ExceptionService.escalate(app: app) }
            if rounds % 60 == 0 { try await ScheduledBackup.runIfDue(app: app) }
        }
    }
}

final class TaskBox: Sendable {
    private let box = NIOLockedValueBox<Task<Void, Never>?>(nil)
    func set(_ t: Task<Void, Never>) { box.withLockedValue { $0 = t } }
    func cancel() { box.withLockedValue { $0?.cancel() } }
    /// Cancels the task and waits for it to end: a pass caught between the cancellation and its
    /// next check reached for the databases after shutdown had closed them, and crashed the
    /// process on SIGTERM (seen under the bench's load).
    func stop() async {
        let task = box.withLockedValue { $0 }
        task?.cancel()
        await task?.value
    }
}
