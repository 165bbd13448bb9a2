import Fluent
import Foundation
import SubconDomain
import Vapor

struct AuditPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("admin", "audit", use: log)
        routes.post("admin", "audit", "verify", use: verify)
        routes.get("history", ":entity", ":id", use: history)
    }

    struct Entry: Encodable {
        let seq: Int64
        let at: String
        let actor: String
        let entity: String
        let entityId: String
        let action: String
        let changes: [Line]
        let hash: String
    }
    struct Line: Encodable { let field: String; let before: String; let after: String }

    struct LogView: Encodable {
        let entries: [Entry]
        let pager: Pager
        let verification: String?
        let verified: Bool
        let heading: String?
    }

    /// A stored name (an entity, an action, a field, a code value) in the reader's words when the
    /// catalog has them; otherwise as stored.
    static func words(_ prefix: String, _ name: String, _ req: Request) -> String {
        let key = prefix + name
        let text = req.t(key)
        return text == key ? name : text
    }

    /// A value in the reader's words: the field's own word for it first (a responsibility's
    /// "supplier" is 工废, not 供应商), then the word for it anywhere, else the value itself.
    static func value(_ field: String, _ value: String, _ req: Request) -> String {
        let key = "audit.value.\(field).\(value)"
        let text = req.t(key)
        return text == key ? words("audit.value.", value, req) : text
    }

    static func entries(_ rows: [AuditEntry], _ req: Request) -> [Entry] {
        let timeZone = req.subcon.settings.timeZone
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        f.timeZone = TimeZone(identifier: timeZone)
        return rows.map { e in
            let changes = (try? JSONDecoder().decode([String: FieldChange].self, from: Data(e.changes.utf8))) ?? [:]
            return Entry(seq: e.id!, at: f.string(from: Date(timeIntervalSince1970: Double(e.atMilliseconds) / 1000)),
                         actor: e.actorLogin, entity: words("audit.entity.", e.entity, req), entityId: e.entityID, action: words("audit.action.", e.action, req),
                         changes: changes.keys.sorted().map { field in
                             Line(field: words("audit.field.", field, req), before: changes[field]!.before.map { value(field, $0, req) } ?? "∅",
                                  after: changes[field]!.after.map { value(field, $0, req) } ?? "∅")
                         },
                         hash: String(e.hash.prefix(12)))
        }
    }

    func log(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.verifyAuditChain)
        let page = try await AuditHistory.list(p, entity: nil, entityID: nil, page: try PageRequest(req, defaultPer: 50), on: req.db)
        return try await req.renderPage("audit", titleKey: "audit.title",
                                        LogView(entries: Self.entries(page.items, req), pager: Pager(page, req), verification: nil, verified: false, heading: nil))
    }

    func verify(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.verifyAuditChain)
        let result = try await AuditLog.verify(on: req.db)
        let message = result.failure.map { req.t("audit.verify.broken", ["reason": $0.description]) }
            ?? req.t("audit.verify.ok", ["count": String(result.checked)])
        let page = try await AuditHistory.list(p, entity: nil, entityID: nil, page: try PageRequest(req, defaultPer: 50), on: req.db)
        return try await req.renderPage("audit", titleKey: "audit.title",
                                        LogView(entries: Self.entries(page.items, req), pager: Pager(page, req), verification: message,
                                                verified: result.failure == nil, heading: nil))
    }

    /// The history of one record, for anyone who may see the record.
    func history(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        guard let entity = req.parameters.get("entity"), let id = req.parameters.get("id") else { throw Problem.notFound }
        if !(try await AuditHistory.visible(p, entity: entity, entityID: id, on: req.db)) { throw Problem.notFound }
        let page = try await AuditHistory.list(p, entity: entity, entityID: id, page: try PageRequest(req, defaultPer: 50), on: req.db)
        return try await req.renderPage("audit", titleKey: "audit.history",
                                        LogView(entries: Self.entries(page.items, req), pager: Pager(page, req), verification: nil,
                                                verified: false, heading: "\(Self.words("audit.entity.", entity, req)) \(id)"))
    }
}
