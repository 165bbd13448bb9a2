import Fluent
import Foundation
import SubconDomain
import Vapor

struct EventTypeDTO: Content {
    let key: String
    let name: String
    let audience: String
    let roles: [String]
    let emailByDefault: Bool
    let recordType: String
}

/// Channels, their delivery log, the event catalog and personal preferences over the API.
struct ChannelAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let c = routes.grouped("channels")
        c.get(use: list)
        c.post(use: create)
        c.get(":id", use: show)
        c.patch(":id", use: update)
        c.delete(":id", use: delete)
        c.post(":id", "test", use: test)
        c.post(":id", "retry-failed", use: retryFailed)
        let d = routes.grouped("channel-deliveries")
        d.get(use: deliveries)
        d.get(":id", use: delivery)
        d.post(":id", "retry", use: retry)
        routes.get("event-types", use: eventTypes)
        routes.get("me", "notification-preferences", use: preferences)
        routes.put("me", "notification-preferences", use: savePreferences)
    }

    func list(req: Request) async throws -> [ChannelDTO] {
        try await ChannelService.list(try req.requirePrincipal(), organization: try req.uuidQuery("organizationId"), on: req.db)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageChannels)
        let c = try await ChannelService.create(p, try req.decodeStrict(ChannelInput.self), app: req.application)
        return try await .created(try await ChannelService.detail(p, c.id!, on: req.db), for: req)
    }

    func show(req: Request) async throws -> ChannelDTO {
        try await ChannelService.detail(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func update(req: Request) async throws -> ChannelDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ChannelService.load(p, id, on: req.db)
        _ = try await ChannelService.update(p, id, try req.decodeStrict(ChannelPatch.self), app: req.application)
        return try await ChannelService.detail(p, id, on: req.db)
    }

    /// `?version=N`, as a removal must not undo a change it has not seen.
    func delete(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ChannelService.load(p, id, on: req.db)
        guard let text = req.queryText("version"), let version = Int(text) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("version", "required")])
        }
        try await ChannelService.delete(p, id, version: version, app: req.application)
        return .noContent
    }

    func test(req: Request) async throws -> ChannelTestResult {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ChannelService.load(p, id, on: req.db)
        let input = req.body.data == nil ? ChannelTestInput(text: nil) : try req.decodeStrict(ChannelTestInput.self)
        return try await ChannelService.sendTest(p, id, input, app: req.application)
    }

    func retryFailed(req: Request) async throws -> DeliveryLog.RetriedDTO {
        DeliveryLog.RetriedDTO(retried: try await DeliveryLog.retryAll(try req.requirePrincipal(), channel: try req.idParameter(), app: req.application))
    }

    static func filter(_ req: Request) throws -> DeliveryLog.Filter {
        DeliveryLog.Filter(status: req.queryText("status").flatMap { $0.isEmpty ? nil : $0 },
                           channelID: try req.uuidQuery("channelId"), event: req.queryText("event").flatMap { $0.isEmpty ? nil : $0 })
    }

    func deliveries(req: Request) async throws -> Page<ChannelDeliveryDTO> {
        try await DeliveryLog.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), locale: req.locale, app: req.application)
    }

    func delivery(req: Request) async throws -> ChannelDeliveryDTO {
        try await DeliveryLog.detail(try req.requirePrincipal(), try req.idParameter(), locale: req.locale, app: req.application)
    }

    func retry(req: Request) async throws -> ChannelDeliveryDTO {
        try await DeliveryLog.retry(try req.requirePrincipal(), try req.idParameter(), locale: req.locale, app: req.application)
    }

    func eventTypes(req: Request) async throws -> [EventTypeDTO] {
        _ = try req.requirePrincipal()
        return EventCatalog.all.filter { $0.key != "channel.test" }.map {
            EventTypeDTO(key: $0.key, name: req.t("event.\($0.key)"), audience: $0.audience.rawValue, roles: $0.roles.map(\.rawValue),
                         emailByDefault: $0.emailByDefault, recordType: $0.recordType)
        }
    }

    func preferences(req: Request) async throws -> PreferencesDTO {
        try await NotificationPreferences.get(try req.requirePrincipal(), locale: req.locale, app: req.application)
    }

    func savePreferences(req: Request) async throws -> PreferencesDTO {
        let p = try req.requirePrincipal()
        return try await NotificationPreferences.put(p, try req.decodeStrict(PreferencesInput.self), locale: req.locale, app: req.application)
    }
}
