import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct ChannelDeliveryDTO: Content {
    struct Attempt: Content {
        let at: Date
        let milliseconds: Int
        let httpStatus: Int?
        let outcome: String
        let error: String?
        let instance: String
    }
    let id: UUID
    let organizationId: UUID
    let channelId: UUID?
    let channelName: String?
    let userId: UUID?
    let userName: String?
    let kind: String
    let event: String
    let eventName: String
    let eventId: UUID
    let status: String
    let attempts: Int
    let nextAt: Date?
    let lastStatus: Int?
    let lastError: String?
    /// The error in the reader's language where it is one of the usual ones.
    let lastErrorText: String?
    let sentAt: Date?
    let createdAt: Date
    var attemptLog: [Attempt]?
}

struct RetryInput: StrictInput {
    static let fields: Set<String> = []
}

/// Every message on its way out, every attempt, and the admins' retry of what was given up.
enum DeliveryLog {
    struct Filter { var status: String?; var channelID: UUID?; var event: String? }

    private struct Row: Decodable {
        let id: UUID; let organization_id: UUID; let channel_id: UUID?; let channel_name: String?; let user_id: UUID?; let user_name: String?
        let kind: String; let event: String; let outbox_id: UUID; let status: String; let attempts: Int; let next_at: Date
        let last_status: Int?; let last_error: String?; let sent_at: Date?; let created_at: Date
    }

    /// One delivery as the log shows it: with its channel's and person's names.
    private static let selectRows = """
        SELECT d.id, d.organization_id, d.channel_id, c.name AS channel_name, d.user_id, u.display_name AS user_name, d.kind, d.event,
               d.outbox_id, d.status, d.attempts, d.next_at, d.last_status, d.last_error, d.sent_at, d.created_at
        FROM channel_deliveries d LEFT JOIN channels c ON c.id = d.channel_id LEFT JOIN users u ON u.id = d.user_id
        """

    private static func scope(_ p: Principal) throws -> UUID? {
        try p.require(.manageChannels)
        return p.can(.administerInstallation) ? nil : p.organizationID
    }

    static func list(_ p: Principal, filter: Filter, page: PageRequest, locale: AppLocale, app: Application) async throws -> Page<ChannelDeliveryDTO> {
        let org = try scope(p)
        if let s = filter.status, DeliveryStatus(rawValue: s) == nil { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("status", "invalidValue")]) }
        var conditions: [SQLQueryString] = []
        if let org { conditions.append("d.organization_id = \(bind: org)") }
        if let s = filter.status { conditions.append("d.status = \(bind: s)") }
        if let c = filter.channelID { conditions.append("d.channel_id = \(bind: c)") }
        if let e = filter.event { conditions.append("d.event = \(bind: e)") }
        let whereClause: SQLQueryString = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = app.database as! any SQLDatabase
        let total = try await sql.raw("SELECT COUNT(*) AS n FROM channel_deliveries d \(whereClause)").first()?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await sql.raw("""
            \(unsafeRaw: selectRows)
            \(whereClause)
            ORDER BY d.created_at DESC, d.id DESC LIMIT \(unsafeRaw: String(page.per)) OFFSET \(unsafeRaw: String(page.offset))
            """).rows(decoding: Row.self)
        return Page(items: rows.map { dto($0, locale: locale, app: app) }, page: page.page, per: page.per, total: total)
    }

    private static func dto(_ r: Row, locale: AppLocale, app: Application) -> ChannelDeliveryDTO {
        let name = r.event == "digest" ? app.subcon.catalog.text("channel.digest", locale) : app.subcon.catalog.text("event.\(r.event)", locale)
        return ChannelDeliveryDTO(id: r.id, organizationId: r.organization_id, channelId: r.channel_id, channelName: r.channel_name, userId: r.user_id,
                                  userName: r.user_name, kind: r.kind, event: r.event, eventName: name, eventId: r.outbox_id, status: r.status,
                                  attempts: r.attempts, nextAt: r.status == DeliveryStatus.pending.rawValue ? r.next_at : nil,
                                  lastStatus: r.last_status, lastError: r.last_error, lastErrorText: r.last_error.map { errorText($0, locale: locale, app: app) },
                                  sentAt: r.sent_at, createdAt: r.created_at, attemptLog: nil)
    }

    static let errorCodes: Set<String> = ["timeout", "connectionRefused", "unknownHost", "tlsFailed", "deliveryGone", "channelRemoved", "noEmailAddress", "noMailer"]

    static func errorText(_ error: String, locale: AppLocale, app: Application) -> String {
        guard errorCodes.contains(error) else { return error }
        return app.subcon.catalog.text("channel.error." + error, locale)
    }

    static func detail(_ p: Principal, _ id: UUID, locale: AppLocale, app: Application) async throws -> ChannelDeliveryDTO {
        let org = try scope(p)
        let sql = app.database as! any SQLDatabase
        let row = try await sql.raw("""
            \(unsafeRaw: selectRows)
            WHERE d.id = \(bind: id)
            """).firstRow(decoding: Row.self)
        guard let row, org == nil || row.organization_id == org else { throw Problem.notFound }
        struct A: Decodable { let at: Date; let duration_ms: Int; let http_status: Int?; let outcome: String; let error: String?; let instance: String }
        let attempts = try await sql.raw("""
            SELECT at, duration_ms, http_status, outcome, error, instance FROM delivery_attempts WHERE delivery_id = \(bind: id) ORDER BY at DESC LIMIT 100
            """).rows(decoding: A.self)
        var d = dto(row, locale: locale, app: app)
        d.attemptLog = attempts.map { ChannelDeliveryDTO.Attempt(at: $0.at, milliseconds: $0.duration_ms, httpStatus: $0.http_status, outcome: $0.outcome, error: $0.error, instance: $0.instance) }
        return d
    }

    struct RetriedDTO: Content { let retried: Int }

    /// Every given-up message of one channel goes out again (after its address was fixed).
    static func retryAll(_ p: Principal, channel id: UUID, app: Application) async throws -> Int {
        let c = try await ChannelService.load(p, id, on: app.database)
        guard ChannelService.mayManage(p, organization: c.organizationID) else { throw Problem.forbidden }
        return try await app.write(as: p.auditActor) { change in
            let rows = try await (change.db as! any SQLDatabase).update(ChannelDelivery.schema).set("status", to: DeliveryStatus.pending.rawValue)
                .set("next_at", to: change.now).set("first_at", to: change.now).set("lease_until", to: SQLLiteral.null)
                .where("channel_id", .equal, id).where("status", .equal, DeliveryStatus.failed.rawValue)
                .where("event", .notEqual, "channel.test").returning("id").all()
            if !rows.isEmpty { try await change.audit("channel", id, "retry", after: ["retried": String(rows.count)]) }
            return rows.count
        }
    }

    /// A given-up message goes out again, with a fresh give-up clock.
    static func retry(_ p: Principal, _ id: UUID, locale: AppLocale, app: Application) async throws -> ChannelDeliveryDTO {
        let current = try await detail(p, id, locale: locale, app: app)
        guard current.status == DeliveryStatus.failed.rawValue else { throw Problem.conflict("problem.delivery.notFailed") }
        try await app.write(as: p.auditActor) { change in
            let n = try await (change.db as! any SQLDatabase).update(ChannelDelivery.schema).set("status", to: DeliveryStatus.pending.rawValue)
                .set("next_at", to: change.now).set("first_at", to: change.now).set("lease_until", to: SQLLiteral.null)
                .where("id", .equal, id).where("status", .equal, DeliveryStatus.failed.rawValue).returning("id").all()
            guard !n.isEmpty else { throw Problem.conflict("problem.delivery.notFailed") }
            try await change.audit("channel_delivery", id, "retry", before: ["status": current.status], after: ["status": DeliveryStatus.pending.rawValue])
        }
        return try await detail(p, id, locale: locale, app: app)
    }
}
