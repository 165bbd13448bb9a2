import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct ChannelInput: StrictInput {
    static let fields: Set<String> = ["kind", "name", "url", "secret", "events", "roles", "locale", "enabled", "organizationId"]
    var kind: String
    var name: String
    var url: String
    var secret: String?
    var events: [String]?
    var roles: [String]?
    var locale: String?
    var enabled: Bool?
    /// Only the manufacturer's admin sets up another organization's channel.
    var organizationId: UUID?
}

struct ChannelPatch: StrictInput {
    static let fields: Set<String> = ["version", "name", "url", "secret", "events", "roles", "locale", "enabled"]
    var version: Int
    var name: String?
    var url: String?
    /// Omitted: kept. Empty: removed. Anything else: replaces it.
    var secret: String?
    var events: [String]?
    var roles: [String]?
    var locale: String?
    var enabled: Bool?
}

struct ChannelTestInput: StrictInput {
    static let fields: Set<String> = ["text"]
    var text: String?
    func validate() -> [FieldProblem] {
        (text ?? "").count > ChannelCheck.maxTestText ? [FieldProblem("text", "tooLong", ["max": String(ChannelCheck.maxTestText)])] : []
    }
}

struct ChannelDTO: Content {
    let id: UUID
    let organizationId: UUID
    let organizationName: String
    let kind: String
    let name: String
    /// The address with its token hidden: the full address is never shown again.
    let address: String
    let hasSecret: Bool
    let events: [String]
    let roles: [String]
    let locale: String
    let enabled: Bool
    let version: Int
    let failed: Int
    let pending: Int
    let lastSentAt: Date?
    let createdAt: Date
    let updatedAt: Date
}

struct ChannelTestResult: Content {
    let deliveryId: UUID
    let delivered: Bool
    let httpStatus: Int?
    let error: String?
}

/// Channel settings per organization. A supplier's admin keeps its own; the manufacturer's admin
/// its teams' and, when asked, a supplier's.
enum ChannelService {
    static func mayManage(_ p: Principal, organization: UUID) -> Bool {
        guard p.can(.manageChannels) else { return false }
        return p.organizationID == organization || p.can(.administerInstallation)
    }

    /// The channel, if the caller may see it at all (another supplier's is a 404).
    static func load(_ p: Principal, _ id: UUID, on db: any Database) async throws -> Channel {
        try p.require(.manageChannels)
        guard let c = try await Channel.find(id, on: db), mayManage(p, organization: c.organizationID) else { throw Problem.notFound }
        return c
    }

    struct Fields {
        var kind: ChannelKind
        var name: String
        var url: String
        var events: [String]
        var roles: [String]
        var locale: String
    }

    static func check(_ f: Fields, secret: String?, supplier: Bool, allowHTTP: Bool) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        let name = f.name.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { problems.append(FieldProblem("name", "required")) }
        if name.count > 100 { problems.append(FieldProblem("name", "tooLong", ["max": "100"])) }
        let url = f.url.trimmingCharacters(in: .whitespaces)
        if url.isEmpty {
            problems.append(FieldProblem("url", "required"))
        } else if f.kind == .email {
            if !ChannelCheck.email(url) { problems.append(FieldProblem("url", "invalidEmail")) }
        } else if let code = ChannelCheck.url(url, kind: f.kind, allowHTTP: allowHTTP) {
            problems.append(FieldProblem("url", code, ["max": String(ChannelCheck.maxURLLength)]))
        }
        if let secret, secret.count > ChannelCheck.maxSecretLength { problems.append(FieldProblem("secret", "tooLong", ["max": String(ChannelCheck.maxSecretLength)])) }
        if f.events.count > EventCatalog.all.count { problems.append(FieldProblem("events", "tooMany", ["max": String(EventCatalog.all.count)])) }
        for (i, e) in f.events.enumerated() where !EventCatalog.contains(e) || e == "channel.test" {
            problems.append(FieldProblem("events[\(i)]", "unknownEvent", ["event": String(e.prefix(60))]))
        }
        for (i, r) in f.roles.enumerated() {
            guard let role = Role(rawValue: r), role.side == .manufacturer else {
                problems.append(FieldProblem("roles[\(i)]", "unknownRole", ["role": String(r.prefix(40))])); continue
            }
            _ = role
        }
        if supplier && !f.roles.isEmpty { problems.append(FieldProblem("roles", "rolesOnlyForManufacturer")) }
        if AppLocale(rawValue: f.locale) == nil { problems.append(FieldProblem("locale", "invalidValue")) }
        return problems
    }

    static func create(_ p: Principal, _ input: ChannelInput, app: Application) async throws -> Channel {
        try p.require(.manageChannels)
        let org = input.organizationId ?? p.organizationID
        guard let organization = try await Organization.find(org, on: app.database) else {
            throw Problem.validation([FieldProblem("organizationId", "unknownOrganization")])
        }
        guard mayManage(p, organization: org) else { throw Problem.forbidden }
        guard let kind = ChannelKind(rawValue: input.kind) else { throw Problem.validation([FieldProblem("kind", "invalidValue")]) }
        let f = Fields(kind: kind, name: input.name, url: input.url, events: input.events ?? [], roles: input.roles ?? [],
                       locale: input.locale ?? AppLocale.fallback.rawValue)
        let problems = check(f, secret: input.secret, supplier: organization.kind == OrganizationKind.supplier.rawValue,
                             allowHTTP: app.subcon.settings.channels.allowHTTP)
        if !problems.isEmpty { throw Problem.validation(problems) }
        return try await app.write(as: p.auditActor) { change in
            let c = Channel()
            c.id = UUID(); c.organizationID = org; c.kind = kind.rawValue
            apply(f, to: c)
            c.secret = (input.secret ?? "").isEmpty ? nil : input.secret
            c.enabled = input.enabled ?? true; c.version = 1
            c.createdBy = p.userID; c.createdAt = change.now; c.updatedAt = change.now
            try await c.create(on: change.db)
            try await change.audit("channel", c.id, "create", after: c.auditSnapshot)
            return c
        }
    }

    private static func apply(_ f: Fields, to c: Channel) {
        c.name = f.name.trimmingCharacters(in: .whitespacesAndNewlines)
        c.url = f.url.trimmingCharacters(in: .whitespaces)
        c.events = f.events.joined(separator: ","); c.roles = f.roles.joined(separator: ","); c.locale = f.locale
    }

    static func update(_ p: Principal, _ id: UUID, _ input: ChannelPatch, app: Application) async throws -> Channel {
        let c = try await load(p, id, on: app.database)
        guard mayManage(p, organization: c.organizationID) else { throw Problem.forbidden }
        guard let organization = try await Organization.find(c.organizationID, on: app.database) else { throw Problem.notFound }
        let kind = ChannelKind(rawValue: c.kind) ?? .webhook
        let f = Fields(kind: kind, name: input.name ?? c.name, url: input.url ?? c.url, events: input.events ?? c.eventList,
                       roles: input.roles ?? c.roleList, locale: input.locale ?? c.locale)
        let problems = check(f, secret: input.secret, supplier: organization.kind == OrganizationKind.supplier.rawValue,
                             allowHTTP: app.subcon.settings.channels.allowHTTP)
        if !problems.isEmpty { throw Problem.validation(problems) }
        return try await app.write(as: p.auditActor) { change in
            let before = c.auditSnapshot
            apply(f, to: c)
            if let s = input.secret { c.secret = s.isEmpty ? nil : s }
            if let e = input.enabled { c.enabled = e }
            try await change.updateVersioned("channels", id: id, expected: input.version, sets: [
                "name": c.name, "url": c.url, "secret": c.secret, "events": c.events, "roles": c.roles, "locale": c.locale,
                "enabled": c.enabled, "updated_at": change.now])
            try await change.audit("channel", c.id, "update", before: before, after: c.auditSnapshot)
            c.version = input.version + 1
            return c
        }
    }

    /// Removing a channel keeps its delivery log; what was still waiting for it is dropped.
    static func delete(_ p: Principal, _ id: UUID, version: Int, app: Application) async throws {
        let c = try await load(p, id, on: app.database)
        guard mayManage(p, organization: c.organizationID) else { throw Problem.forbidden }
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            let gone = try await sql.delete(from: "channels").where("id", .equal, id).where("version", .equal, version).returning("id").all()
            if gone.isEmpty { throw Problem.staleVersion(current: c.version) }
            try await sql.update("channel_deliveries").set("status", to: DeliveryStatus.failed.rawValue).set("last_error", to: "channelRemoved")
                .where("channel_id", .equal, id).where("status", .equal, DeliveryStatus.pending.rawValue).run()
            try await change.audit("channel", id, "delete", before: c.auditSnapshot)
        }
    }

    private struct Row: Decodable {
        let id: UUID; let organization_id: UUID; let organization_name: String; let kind: String; let name: String; let url: String
        let has_secret: Int; let events: String; let roles: String; let locale: String; let enabled: Bool; let version: Int
        let created_at: Date; let updated_at: Date; let failed: Int; let pending: Int; let last_sent_at: Date?
    }

    /// The caller's organization's channels (the manufacturer's admin: every organization's, or
    /// one's), with their failed and waiting deliveries counted in the same statement.
    static func list(_ p: Principal, organization: UUID?, on db: any Database) async throws -> [ChannelDTO] {
        try p.require(.manageChannels)
        let sql = db as! any SQLDatabase
        var filter: SQLQueryString = ""
        if !p.can(.administerInstallation) {
            filter = "WHERE c.organization_id = \(bind: p.organizationID)"
        } else if let organization {
            filter = "WHERE c.organization_id = \(bind: organization)"
        }
        let rows = try await sql.raw("""
            SELECT c.id, c.organization_id, o.name AS organization_name, c.kind, c.name, c.url,
                   CASE WHEN c.secret IS NULL THEN 0 ELSE 1 END AS has_secret, c.events, c.roles, c.locale, c.enabled, c.version,
                   c.created_at, c.updated_at,
                   (SELECT COUNT(*) FROM channel_deliveries d WHERE d.channel_id = c.id AND d.status = 'failed' AND d.event <> 'channel.test') AS failed,
                   (SELECT COUNT(*) FROM channel_deliveries d WHERE d.channel_id = c.id AND d.status = 'pending') AS pending,
                   (SELECT MAX(d.sent_at) FROM channel_deliveries d WHERE d.channel_id = c.id) AS last_sent_at
            FROM channels c JOIN organizations o ON o.id = c.organization_id
            \(filter)
            ORDER BY o.name, c.name, c.id
            LIMIT 500
            """).rows(decoding: Row.self)
        return rows.map { r in
            ChannelDTO(id: r.id, organizationId: r.organization_id, organizationName: r.organization_name, kind: r.kind, name: r.name,
                       address: ChannelKind(rawValue: r.kind) == .email ? r.url : ChannelCheck.masked(r.url), hasSecret: r.has_secret != 0,
                       events: r.events.split(separator: ",").map(String.init), roles: r.roles.split(separator: ",").map(String.init),
                       locale: r.locale, enabled: r.enabled, version: r.version, failed: r.failed, pending: r.pending,
                       lastSentAt: r.last_sent_at, createdAt: r.created_at, updatedAt: r.updated_at)
        }
    }

    static func detail(_ p: Principal, _ id: UUID, on db: any Database) async throws -> ChannelDTO {
        let c = try await load(p, id, on: db)
        guard let dto = try await list(p, organization: c.organizationID, on: db).first(where: { $0.id == id }) else { throw Problem.notFound }
        return dto
    }

    /// Sends a test message now and says what the receiver answered. Logged like any delivery.
    static func sendTest(_ p: Principal, _ id: UUID, _ input: ChannelTestInput, app: Application) async throws -> ChannelTestResult {
        let c = try await load(p, id, on: app.database)
        guard mayManage(p, organization: c.organizationID) else { throw Problem.forbidden }
        let text = (input.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let notice = Outbox.Notice(recipients: [], messageKey: text.isEmpty ? "channel.testMessage" : "channel.testMessageWith",
                                   params: ["name": c.name, "text": text, "by": p.login], link: "/channels/\(id)")
        let delivery = try await app.write(as: p.auditActor) { change in
            let d = try ChannelDispatch.newDelivery(organization: c.organizationID, channel: c.id, user: nil, target: "test:\(UUID().uuidString)",
                                                    kind: c.kind, outbox: UUID(), event: "channel.test", notice: notice, now: change.now)
            // Sent by this request: the background sender must not take it meanwhile.
            d.leaseUntil = change.now.addingTimeInterval(app.subcon.settings.channels.timeout * 3 + 30)
            try await d.create(on: change.db)
            try await change.audit("channel", c.id, "test", after: ["text": text])
            return d
        }
        let result = try await ChannelDispatch.deliverNow(delivery, app: app)
        return ChannelTestResult(deliveryId: delivery.id!, delivered: result.outcome == .delivered, httpStatus: result.status, error: result.error)
    }
}
