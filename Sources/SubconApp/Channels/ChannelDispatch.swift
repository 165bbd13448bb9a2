import Fluent
import Foundation
import NIOCore
import SQLKit
import SubconDomain
import Vapor

/// Takes each delivered outbox message out to the channels and mailboxes of the organizations
/// whose people received it, and sends what is due. Sending happens outside any transaction and
/// outside every request: a robot that is down delays only its own messages.
enum ChannelDispatch {
    /// This process, in the attempt log (which instance sent what).
    static let instance = ProcessInfo.processInfo.hostName + ":" + String(ProcessInfo.processInfo.processIdentifier) + ":" + UUID().uuidString.prefix(6)

    struct Payload: Codable {
        var messageKey: String
        var params: [String: String]
        var link: String?
        /// For a digest: the notices it gathers.
        var entries: [Entry]?
        struct Entry: Codable { let event: String; let messageKey: String; let params: [String: String]; let link: String?; let at: Date }
    }

    static func newDelivery(organization: UUID, channel: UUID?, user: UUID?, target: String, kind: String, outbox: UUID,
                            event: String, notice: Outbox.Notice, now: Date, status: DeliveryStatus = .pending) throws -> ChannelDelivery {
        let d = ChannelDelivery()
        d.id = UUID(); d.organizationID = organization; d.channelID = channel; d.userID = user; d.target = target; d.kind = kind
        d.outboxID = outbox; d.event = event
        d.payload = String(decoding: try JSONEncoder().encode(Payload(messageKey: notice.messageKey, params: notice.params, link: notice.link)), as: UTF8.self)
        d.status = status.rawValue; d.attempts = 0; d.nextAt = now; d.firstAt = now; d.createdAt = now
        return d
    }

    private struct Recipient: Decodable {
        let id: UUID; let organization_id: UUID; let roles: String; let email: String?
        let pref_inbox: Bool?; let pref_email: Bool?; let email_mode: String?
    }

    /// Who of the recipients turned the in-app notice of this event off.
    /// Called inside the outbox's transaction, with the deliveries planned in the same breath.
    static func fanOut(message: OutboxMessage, notice: Outbox.Notice, on db: any Database, now: Date) async throws -> Set<UUID> {
        let sql = db as! any SQLDatabase
        let ids = Array(Set(notice.recipients))
        guard !ids.isEmpty else { return [] }
        var people: [Recipient] = []
        // Bound lists of binds (PostgreSQL allows 65,535; SQLite 32,766).
        for chunk in stride(from: 0, to: ids.count, by: 5000).map({ Array(ids[$0..<min($0 + 5000, ids.count)]) }) {
            people += try await sql.raw("""
                SELECT u.id, u.organization_id, u.roles, u.email, p.inbox AS pref_inbox, p.email AS pref_email, s.email_mode
                FROM users u
                LEFT JOIN notification_preferences p ON p.user_id = u.id AND p.event = \(bind: message.event)
                LEFT JOIN notification_settings s ON s.user_id = u.id
                WHERE u.active = \(bind: true) AND u.id IN (\(binds: chunk))
                """).rows(decoding: Recipient.self)
        }
        let type = EventCatalog.find(message.event)
        var deliveries: [ChannelDelivery] = []
        // Personal email: on when the person says so, else when the event is urgent.
        for r in people {
            guard let email = r.email, ChannelCheck.email(email), r.pref_email ?? (type?.emailByDefault ?? false) else { continue }
            switch r.email_mode ?? "immediate" {
            case "daily":
                deliveries.append(try newDelivery(organization: r.organization_id, channel: nil, user: r.id, target: "email:\(r.id)", kind: "email",
                                                  outbox: message.id!, event: message.event, notice: notice, now: now, status: .digest))
            case "off": break
            default:
                deliveries.append(try newDelivery(organization: r.organization_id, channel: nil, user: r.id, target: "email:\(r.id)", kind: "email",
                                                  outbox: message.id!, event: message.event, notice: notice, now: now))
            }
        }
        // Organizations' channels: only those of organizations whose people received it, so a
        // supplier's robot never hears of another supplier's records.
        let orgs = Array(Set(people.map(\.organization_id)))
        if !orgs.isEmpty {
            let channels = try await Channel.query(on: db).filter(\.$organizationID ~~ orgs).filter(\.$enabled == true).all()
            for c in channels {
                if !c.events.isEmpty && !c.eventList.contains(message.event) { continue }
                let members = people.filter { $0.organization_id == c.organizationID }
                if !c.roles.isEmpty {
                    let wanted = Set(c.roleList)
                    guard members.contains(where: { !wanted.isDisjoint(with: $0.roles.split(separator: ",").map(String.init)) }) else { continue }
                }
                deliveries.append(try newDelivery(organization: c.organizationID, channel: c.id, user: nil, target: "channel:\(c.id!)", kind: c.kind,
                                                  outbox: message.id!, event: message.event, notice: notice, now: now))
            }
        }
        for d in deliveries {
            // Unique per message and target: a message handled twice plans nothing new.
            try await sql.insert(into: ChannelDelivery.schema)
                .columns("id", "organization_id", "channel_id", "user_id", "target", "kind", "outbox_id", "event", "payload", "status",
                         "attempts", "next_at", "first_at", "created_at")
                .values(SQLBind(d.id!), SQLBind(d.organizationID), SQLBind(d.channelID), SQLBind(d.userID), SQLBind(d.target), SQLBind(d.kind),
                        SQLBind(d.outboxID), SQLBind(d.event), SQLBind(d.payload), SQLBind(d.status), SQLBind(0), SQLBind(d.nextAt),
                        SQLBind(d.firstAt), SQLBind(d.createdAt))
                .ignoringConflicts(with: ["outbox_id", "target"]).run()
        }
        return Set(people.filter { $0.pref_inbox == false }.map(\.id))
    }

    // MARK: Sending

    struct Result: Sendable {
        let outcome: AttemptOutcome
        let status: Int?
        let error: String?
        let milliseconds: Int
    }

    private struct Due: Decodable { let id: UUID }

    static let perChannelInRound = 5

    /// Claims due deliveries (on PostgreSQL with `FOR UPDATE SKIP LOCKED` and a lease, so each
    /// is sent by one instance), sends them concurrently and records each attempt. Returns how
    /// many it claimed.
    static func sendDue(app: Application, limit: Int = 16) async throws -> Int {
        let services = app.subcon
        let token = UUID()
        let now = services.clock.now()
        let claimed: [ChannelDelivery] = try await services.writeGate.run {
            try await app.transactionInGate { db in
                let sql = db as! any SQLDatabase
                var select = sql.select().column("id").from(ChannelDelivery.schema)
                    .where("status", .equal, DeliveryStatus.pending.rawValue)
                    .where("next_at", .lessThanOrEqual, now)
                    .where(SQLGroupExpression(SQLBinaryExpression(SQLBinaryExpression(SQLIdentifier("lease_until"), .is, SQLLiteral.null), .or,
                                                                  SQLBinaryExpression(SQLIdentifier("lease_until"), .lessThan, SQLBind(now)))))
                    .orderBy("next_at").limit(limit)
                if services.isPostgres { select = select.lockingClause(SQLRaw("FOR UPDATE SKIP LOCKED")) }
                let ids = try await select.rows(decoding: Due.self).map(\.id)
                guard !ids.isEmpty else { return [] }
                // Longer than one attempt can take: a crashed instance's claim lapses and another sends.
                try await sql.update(ChannelDelivery.schema).set("lease_until", to: now.addingTimeInterval(services.settings.channels.timeout * 3 + 30))
                    .set("lease_token", to: token).where("id", .in, ids).run()
                return try await ChannelDelivery.query(on: db).filter(\.$id ~~ ids).all()
            }
        }
        guard !claimed.isEmpty else { return 0 }
        // Robots' published rate limits, counted over every instance's sends of the last minute.
        let channelIDs = Array(Set(claimed.compactMap(\.channelID)))
        var sentLastMinute: [UUID: Int] = [:]
        if !channelIDs.isEmpty {
            struct Count: Decodable { let channel_id: UUID; let n: Int }
            let rows = try await (app.database as! any SQLDatabase).raw("""
                SELECT channel_id, COUNT(*) AS n FROM channel_deliveries
                WHERE channel_id IN (\(binds: channelIDs)) AND sent_at > \(bind: now.addingTimeInterval(-60)) GROUP BY channel_id
                """).rows(decoding: Count.self)
            for r in rows { sentLastMinute[r.channel_id] = r.n }
        }
        var toSend: [ChannelDelivery] = [], deferred: [ChannelDelivery] = [], later: [ChannelDelivery] = []
        var inBatch: [UUID: Int] = [:]
        for d in claimed {
            if let c = d.channelID {
                // A few per receiver at a time (Feishu takes 5 a second): one slow receiver does
                // not fill a round, and the rest of its queue waits for the next.
                inBatch[c, default: 0] += 1
                if inBatch[c]! > perChannelInRound { later.append(d); continue }
                if let limit = ChannelKind(rawValue: d.kind)?.perMinute {
                    let used = sentLastMinute[c, default: 0]
                    if used >= limit { deferred.append(d); continue }
                    sentLastMinute[c] = used + 1
                }
            }
            toSend.append(d)
        }
        if !deferred.isEmpty || !later.isEmpty {
            try await services.writeGate.run {
                let sql = app.database as! any SQLDatabase
                if !deferred.isEmpty {
                    try await sql.update(ChannelDelivery.schema).set("next_at", to: now.addingTimeInterval(15)).set("lease_until", to: SQLLiteral.null)
                        .set("lease_token", to: SQLLiteral.null).where("id", .in, deferred.map { $0.id! }).where("lease_token", .equal, token).run()
                }
                if !later.isEmpty {
                    try await sql.update(ChannelDelivery.schema).set("lease_until", to: SQLLiteral.null).set("lease_token", to: SQLLiteral.null)
                        .where("id", .in, later.map { $0.id! }).where("lease_token", .equal, token).run()
                }
            }
        }
        let results = await withTaskGroup(of: (UUID, Result).self) { group in
            for d in toSend { group.addTask { (d.id!, await attempt(d, app: app)) } }
            var out: [UUID: Result] = [:]
            for await (id, r) in group { out[id] = r }
            return out
        }
        try await record(toSend, results: results, token: token, app: app)
        return claimed.count
    }

    /// The test button: one attempt now, recorded like the rest (a failure is retried later).
    static func deliverNow(_ d: ChannelDelivery, app: Application) async throws -> Result {
        let r = await attempt(d, app: app)
        try await record([d], results: [d.id!: r], token: nil, app: app)
        return r
    }

    private static func record(_ deliveries: [ChannelDelivery], results: [UUID: Result], token: UUID?, app: Application) async throws {
        let services = app.subcon
        let settings = services.settings.channels
        try await services.writeGate.run {
            try await app.transactionInGate { db in
                let sql = db as! any SQLDatabase
                let now = services.clock.now()
                for d in deliveries {
                    guard let r = results[d.id!] else { continue }
                    try await sql.insert(into: "delivery_attempts").columns("id", "delivery_id", "at", "duration_ms", "http_status", "outcome", "error", "instance")
                        .values(SQLBind(UUID()), SQLBind(d.id!), SQLBind(now), SQLBind(r.milliseconds), SQLBind(r.status), SQLBind(r.outcome.rawValue),
                                SQLBind(r.error.map { String($0.prefix(500)) }), SQLBind(instance)).run()
                    var update = sql.update(ChannelDelivery.schema).set("attempts", to: d.attempts + 1).set("last_status", to: r.status)
                        .set("last_error", to: r.error.map { String($0.prefix(500)) }).set("lease_until", to: SQLLiteral.null).set("lease_token", to: SQLLiteral.null)
                    // A test message answers the person who pressed the button; it is not tried again.
                    let outcome = d.event == "channel.test" && r.outcome == .retry ? .failed : r.outcome
                    switch outcome {
                    case .delivered:
                        update = update.set("status", to: DeliveryStatus.sent.rawValue).set("sent_at", to: now)
                    case .failed:
                        update = update.set("status", to: DeliveryStatus.failed.rawValue)
                    case .retry:
                        if DeliveryPolicy.givesUp(firstTriedAt: d.firstAt, now: now, after: settings.giveUpAfter) {
                            update = update.set("status", to: DeliveryStatus.failed.rawValue)
                        } else {
                            let wait = DeliveryPolicy.delay(afterAttempt: d.attempts + 1, base: settings.retryBase, random: Double.random(in: 0...1))
                            update = update.set("next_at", to: now.addingTimeInterval(wait))
                            // The receiver is down or busy: the rest of its queue waits as long,
                            // rather than each message spending a timeout on it now.
                            if let channel = d.channelID {
                                try await sql.update(ChannelDelivery.schema).set("next_at", to: now.addingTimeInterval(wait))
                                    .where("channel_id", .equal, channel).where("status", .equal, DeliveryStatus.pending.rawValue)
                                    .where("next_at", .lessThan, now.addingTimeInterval(wait)).where("lease_token", .is, SQLLiteral.null).run()
                            }
                        }
                    }
                    update = update.where("id", .equal, d.id!)
                    // A claim that lapsed and was taken by another instance is that instance's to record.
                    if let token { update = update.where("lease_token", .equal, token) }
                    try await update.run()
                }
            }
        }
    }

    // MARK: One attempt

    private struct Context: Decodable {
        let url: String?; let secret: String?; let locale: String?; let email: String?; let user_locale: String?; let display_name: String?
    }

    static func attempt(_ d: ChannelDelivery, app: Application) async -> Result {
        let started = DispatchTime.now().uptimeNanoseconds
        func done(_ o: AttemptOutcome, _ status: Int?, _ error: String?) -> Result {
            Result(outcome: o, status: status, error: error, milliseconds: Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000))
        }
        do {
            let sql = app.database as! any SQLDatabase
            let ctx = try await sql.raw("""
                SELECT c.url, c.secret, c.locale, u.email, u.locale AS user_locale, u.display_name
                FROM channel_deliveries d LEFT JOIN channels c ON c.id = d.channel_id LEFT JOIN users u ON u.id = d.user_id
                WHERE d.id = \(bind: d.id!)
                """).firstRow(decoding: Context.self)
            guard let ctx else { return done(.failed, nil, "deliveryGone") }
            let payload = try JSONDecoder().decode(Payload.self, from: Data(d.payload.utf8))
            let kind = ChannelKind(rawValue: d.kind) ?? .webhook
            let locale = AppLocale(rawValue: (d.channelID != nil ? ctx.locale : ctx.user_locale) ?? "") ?? .fallback
            let message = render(d, payload, locale: locale, app: app)
            if kind == .email {
                guard let to = d.channelID != nil ? ctx.url : ctx.email, ChannelCheck.email(to) else { return done(.failed, nil, "noEmailAddress") }
                let html = d.event == "digest" ? digestHTML(payload, locale: locale, app: app) : nil
                let (o, e) = await Mailer.send(app.subcon.settings.channels, to: to, message: message, html: html)
                return done(o, nil, e)
            }
            guard let url = ctx.url else { return done(.failed, nil, "channelRemoved") }
            let out = ChannelPayload.request(kind: kind, url: url, secret: ctx.secret, message: message, now: app.subcon.clock.now())
            var headers = HTTPHeaders(out.headers)
            headers.replaceOrAdd(name: .userAgent, value: "Subcon")
            let timeout = app.subcon.settings.channels.timeout
            let response = try await app.client.send(ClientRequest(method: .POST, url: URI(string: out.url), headers: headers,
                                                                   body: ByteBuffer(bytes: out.body), timeout: .milliseconds(Int64(timeout * 1000))))
            let body = response.body.map { Array($0.readableBytesView.prefix(4096)) } ?? []
            let (o, e) = DeliveryPolicy.outcome(kind: kind, status: Int(response.status.code), body: body)
            return done(o, Int(response.status.code), e)
        } catch {
            // Timeouts, refused connections, TLS: the receiver may come back.
            return done(.retry, nil, networkProblem(error))
        }
    }

    /// A transport failure as a word the log can show in the reader's language
    /// (`channel.error.<code>`), with the technical text only when it is none of the usual ones.
    static func networkProblem(_ error: any Error) -> String {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("deadline") || lower.contains("timeout") || lower.contains("timed out") { return "timeout" }
        if lower.contains("connection refused") || lower.contains("errno: 111") { return "connectionRefused" }
        if lower.contains("resolve") || lower.contains("lookup") || lower.contains("nodename") || lower.contains("name or service") { return "unknownHost" }
        if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") { return "tlsFailed" }
        return String(text.prefix(300))
    }

    static func render(_ d: ChannelDelivery, _ p: Payload, locale: AppLocale, app: Application) -> ChannelMessage {
        let catalog = app.subcon.catalog
        let base = app.subcon.settings.publicURL
        let title: String, text: String
        if d.event == "digest" {
            title = catalog.text("channel.digestTitle", locale, ["n": String(p.entries?.count ?? 0)])
            text = digestSections(p, locale: locale, app: app).map(digestText).joined(separator: "\n\n")
        } else {
            title = catalog.text("event.\(d.event)", locale)
            text = catalog.text(p.messageKey, locale, p.params)
        }
        let record = p.link.flatMap { $0.split(separator: "?").first?.split(separator: "/").last.map(String.init) }.flatMap { UUID(uuidString: $0)?.uuidString }
        return ChannelMessage(id: d.outboxID.uuidString, event: d.event, title: title, text: text, link: p.link.map { base + $0 },
                              linkLabel: catalog.text("channel.open", locale), occurredAt: d.createdAt,
                              recordType: EventCatalog.find(d.event)?.recordType ?? d.event, recordID: record)
    }

    /// A digest's notices in the reader's language, grouped by event.
    static func digestSections(_ p: Payload, locale: AppLocale, app: Application) -> [SubconDomain.Digest.Section] {
        let catalog = app.subcon.catalog
        let base = app.subcon.settings.publicURL
        return SubconDomain.Digest.sections((p.entries ?? []).map { e in
            SubconDomain.Digest.Entry(eventName: catalog.text("event.\(e.event)", locale), text: catalog.text(e.messageKey, locale, e.params),
                         link: e.link.map { base + $0 }, at: e.at)
        })
    }

    private static func digestText(_ s: SubconDomain.Digest.Section) -> String {
        let lines: [String] = s.entries.map { e in
            let link: String = e.link.map { " " + $0 } ?? ""
            return "· " + e.text + link
        }
        return "【\(s.eventName)】\(s.entries.count)\n" + lines.joined(separator: "\n")
    }

    static func digestHTML(_ p: Payload, locale: AppLocale, app: Application) -> String {
        digestSections(p, locale: locale, app: app).map { s -> String in
            let items: [String] = s.entries.map { e in
                let text = Mailer.escape(e.text)
                guard let link = e.link else { return "<li>" + text + "</li>" }
                return "<li><a href=\"" + Mailer.escape(link) + "\">" + text + "</a></li>"
            }
            return "<h3>" + Mailer.escape(s.eventName) + " (\(s.entries.count))</h3><ul>" + items.joined() + "</ul>"
        }.joined()
    }

    // MARK: Digest

    private struct Held: Decodable { let user_id: UUID; let organization_id: UUID; let last_digest_at: Date? }

    /// Gathers each person's held notices into one email once the digest hour has passed.
    /// Returns how many digests it made.
    static func makeDigests(app: Application) async throws -> Int {
        let services = app.subcon
        let now = services.clock.now()
        let held = try await (app.database as! any SQLDatabase).raw("""
            SELECT d.user_id, d.organization_id, MAX(s.last_digest_at) AS last_digest_at
            FROM channel_deliveries d LEFT JOIN notification_settings s ON s.user_id = d.user_id
            WHERE d.status = 'digest' GROUP BY d.user_id, d.organization_id
            """).rows(decoding: Held.self)
        var made = 0
        for h in held where Digest.isDue(now: now, last: h.last_digest_at, hour: services.settings.channels.digestHour, calendar: services.settings.calendar) {
            try await app.write(as: .system) { change in
                let rows = try await ChannelDelivery.query(on: change.db).filter(\.$userID == h.user_id)
                    .filter(\.$status == DeliveryStatus.digest.rawValue).sort(\.$createdAt).limit(500).all()
                guard !rows.isEmpty else { return }
                let entries = try rows.map { r in
                    let p = try JSONDecoder().decode(Payload.self, from: Data(r.payload.utf8))
                    return Payload.Entry(event: r.event, messageKey: p.messageKey, params: p.params, link: p.link, at: r.createdAt)
                }
                let d = ChannelDelivery()
                d.id = UUID(); d.organizationID = h.organization_id; d.userID = h.user_id; d.target = "digest:\(h.user_id)"; d.kind = "email"
                d.outboxID = UUID(); d.event = "digest"; d.status = DeliveryStatus.pending.rawValue; d.attempts = 0
                d.nextAt = change.now; d.firstAt = change.now; d.createdAt = change.now
                d.payload = String(decoding: try JSONEncoder().encode(Payload(messageKey: "", params: [:], link: "/inbox", entries: entries)), as: UTF8.self)
                try await d.create(on: change.db)
                try await (change.db as! any SQLDatabase).update(ChannelDelivery.schema).set("status", to: DeliveryStatus.digested.rawValue)
                    .where("id", .in, rows.map { $0.id! }).run()
                try await NotificationPreferences.markDigest(user: h.user_id, at: change.now, on: change.db)
            }
            made += 1
        }
        return made
    }
}

/// Runs the channel sender (and the daily digest) in the background of `subcon serve`, apart
/// from the in-app outbox so a slow receiver never holds up the inbox. Several lanes send at
/// once, so a receiver that takes its full timeout holds up only the lane it is in.
struct ChannelWorker: LifecycleHandler {
    let interval: TimeAmount
    static let lanes = 4
    private let tasks = (0..<ChannelWorker.lanes).map { _ in TaskBox() }

    func didBootAsync(_ app: Application) async throws {
        let interval = self.interval
        for (lane, box) in tasks.enumerated() {
            box.set(Task {
                var rounds = 0
                while !Task.isCancelled {
                    do {
                        try await Self.round(rounds, lane: lane, app: app)
                    } catch {
                        app.logger.warning("channel delivery failed: \(String(describing: error))")
                    }
                    rounds += 1
                    try? await Task.sleep(nanoseconds: UInt64(interval.nanoseconds))
                }
            })
        }
    }

    func shutdownAsync(_ app: Application) async {
        for t in tasks { t.cancel() }
        for t in tasks { await t.stop() }
    }

    /// One lane's round: what is due now, and (lane 0, every minute) the digests.
    static func round(_ rounds: Int, lane: Int, app: Application) async throws {
        try await BackgroundWork.run(on: app) {
            while try await ChannelDispatch.sendDue(app: app, limit: 8) > 0 {}
            if lane == 0 && rounds % 60 == 0 { _ = try await ChannelDispatch.makeDigests(app: app) }
        }
    }
}
