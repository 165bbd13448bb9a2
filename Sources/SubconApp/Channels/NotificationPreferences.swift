import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct PreferencesDTO: Content {
    struct Event: Content {
        let event: String
        let name: String
        let inbox: Bool
        let email: Bool
        let emailByDefault: Bool
    }
    /// `immediate`, `daily` (one digest a day) or `off`.
    let emailMode: String
    /// The address email goes to (set on the account); without one no email is sent.
    let email: String?
    let digestHour: Int
    let version: Int
    let events: [Event]
}

struct PreferencesInput: StrictInput {
    static let fields: Set<String> = ["version", "emailMode", "events"]
    struct Event: Decodable, Sendable { var event: String; var inbox: Bool?; var email: Bool? }
    var version: Int
    var emailMode: String?
    var events: [Event]?

    func validate() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if let m = emailMode, !NotificationPreferences.modes.contains(m) { problems.append(FieldProblem("emailMode", "invalidValue")) }
        let events = self.events ?? []
        if events.count > EventCatalog.all.count { problems.append(FieldProblem("events", "tooMany", ["max": String(EventCatalog.all.count)])) }
        for (i, e) in events.enumerated() where !EventCatalog.contains(e.event) || e.event == "channel.test" {
            problems.append(FieldProblem("events[\(i)].event", "unknownEvent", ["event": String(e.event.prefix(60))]))
        }
        return problems
    }
}

/// A person's choice of what reaches them where: per event in the inbox and by email, and
/// whether email comes at once or as one digest a day.
enum NotificationPreferences {
    static let modes = ["immediate", "daily", "off"]

    private struct Row: Decodable { let event: String; let inbox: Bool; let email: Bool }
    private struct Setting: Decodable { let email_mode: String; let version: Int }

    static func get(_ p: Principal, locale: AppLocale, app: Application) async throws -> PreferencesDTO {
        let sql = app.database as! any SQLDatabase
        let rows = try await sql.select().columns("event", "inbox", "email").from("notification_preferences")
            .where("user_id", .equal, p.userID).rows(decoding: Row.self)
        let setting = try await sql.select().columns("email_mode", "version").from("notification_settings")
            .where("user_id", .equal, p.userID).firstRow(decoding: Setting.self)
        let user = try await User.find(p.userID, on: app.database)
        let chosen = Dictionary(rows.map { ($0.event, $0) }, uniquingKeysWith: { a, _ in a })
        let side: OrganizationKind = p.isSupplier ? .supplier : .manufacturer
        let catalog = app.subcon.catalog
        let events = EventCatalog.all.filter { $0.concerns(side) && $0.key != "channel.test" }.map { e in
            PreferencesDTO.Event(event: e.key, name: catalog.text("event.\(e.key)", locale), inbox: chosen[e.key]?.inbox ?? true,
                                 email: chosen[e.key]?.email ?? e.emailByDefault, emailByDefault: e.emailByDefault)
        }
        return PreferencesDTO(emailMode: setting?.email_mode ?? "immediate", email: user?.email, digestHour: app.subcon.settings.channels.digestHour,
                              version: setting?.version ?? 0, events: events)
    }

    static func put(_ p: Principal, _ input: PreferencesInput, locale: AppLocale, app: Application) async throws -> PreferencesDTO {
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            let current = try await sql.select().columns("email_mode", "version").from("notification_settings")
                .where("user_id", .equal, p.userID).firstRow(decoding: Setting.self)
            guard (current?.version ?? 0) == input.version else { throw Problem.staleVersion(current: current?.version ?? 0) }
            let mode = input.emailMode ?? current?.email_mode ?? "immediate"
            if current == nil {
                try await sql.insert(into: "notification_settings").columns("id", "user_id", "email_mode", "version")
                    .values(SQLBind(UUID()), SQLBind(p.userID), SQLBind(mode), SQLBind(1)).run()
            } else {
                try await sql.update("notification_settings").set("email_mode", to: mode).set("version", to: input.version + 1)
                    .where("user_id", .equal, p.userID).run()
            }
            var changed: [String: String?] = ["email_mode": mode]
            for e in input.events ?? [] {
                let type = EventCatalog.find(e.event)!
                let existing = try await sql.select().columns("event", "inbox", "email").from("notification_preferences")
                    .where("user_id", .equal, p.userID).where("event", .equal, e.event).firstRow(decoding: Row.self)
                let inbox = e.inbox ?? existing?.inbox ?? true
                let email = e.email ?? existing?.email ?? type.emailByDefault
                if existing == nil {
                    try await sql.insert(into: "notification_preferences").columns("id", "user_id", "event", "inbox", "email")
                        .values(SQLBind(UUID()), SQLBind(p.userID), SQLBind(e.event), SQLBind(inbox), SQLBind(email)).run()
                } else {
                    try await sql.update("notification_preferences").set("inbox", to: inbox).set("email", to: email)
                        .where("user_id", .equal, p.userID).where("event", .equal, e.event).run()
                }
                changed[e.event] = "inbox=\(inbox) email=\(email)"
            }
            try await change.audit("notification_preferences", p.userID, "update", after: changed)
        }
        return try await get(p, locale: locale, app: app)
    }

    static func markDigest(user: UUID, at: Date, on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        let n = try await sql.update("notification_settings").set("last_digest_at", to: at).where("user_id", .equal, user).returning("id").all()
        if n.isEmpty {
            try await sql.insert(into: "notification_settings").columns("id", "user_id", "email_mode", "last_digest_at", "version")
                .values(SQLBind(UUID()), SQLBind(user), SQLBind("daily"), SQLBind(at), SQLBind(1)).run()
        }
    }
}
