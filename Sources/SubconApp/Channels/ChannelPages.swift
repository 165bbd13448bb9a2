import Fluent
import Foundation
import SubconDomain
import Vapor

/// Channel settings with a test button, the delivery log with retry, and each person's
/// notification preferences.
struct ChannelPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let c = routes.grouped("channels")
        c.get(use: list)
        c.post(use: create)
        c.get(":id", use: show)
        c.post(":id", use: update)
        c.post(":id", "test", use: test)
        c.post(":id", "delete", use: delete)
        c.post(":id", "retry-failed", use: retryFailed)
        routes.get("channel-deliveries", use: deliveries)
        routes.post("channel-deliveries", ":id", "retry", use: retry)
        routes.get("account", "notifications", use: preferences)
        routes.post("account", "notifications", use: savePreferences)
    }

    struct Choice: Encodable { let value: String; let label: String; let checked: Bool }

    struct FormView: Encodable {
        let channel: ChannelDTO?
        let kinds: [Option]
        let locales: [Option]
        let events: [Choice]
        let roles: [Choice]
        let forSupplier: Bool
        let errors: FormErrors
        let form: String
        let values: [String: String]
    }

    struct ListView: Encodable {
        let rows: [ChannelDTO]
        let add: FormView
        /// Only the manufacturer's admin sees other organizations' channels.
        let showOrganization: Bool
    }

    struct ChannelForm: Content {
        var kind: String?; var name: String?; var url: String?; var secret: String?; var clearSecret: String?
        var events: [String]?; var roles: [String]?; var locale: String?; var enabled: String?; var version: String?
    }

    private func formView(_ req: Request, channel: ChannelDTO?, supplier: Bool, problem: Problem?, form: String, values: [String: String],
                          events: [String]? = nil, roles: [String]? = nil) -> FormView {
        let kind = values["kind"] ?? channel?.kind ?? ChannelKind.wecom.rawValue
        let locale = values["locale"] ?? channel?.locale ?? req.locale.rawValue
        let chosenEvents = Set(events ?? channel?.events ?? [])
        let chosenRoles = Set(roles ?? channel?.roles ?? [])
        let side: OrganizationKind = supplier ? .supplier : .manufacturer
        return FormView(
            channel: channel,
            kinds: ChannelKind.allCases.map { Option(value: $0.rawValue, label: req.t("channel.kind.\($0.rawValue)"), selected: kind == $0.rawValue) },
            locales: AppLocale.allCases.map { Option(value: $0.rawValue, label: req.t("locale.\($0.rawValue)"), selected: locale == $0.rawValue) },
            events: EventCatalog.all.filter { $0.concerns(side) && $0.key != "channel.test" }.map {
                Choice(value: $0.key, label: req.t("event.\($0.key)"), checked: chosenEvents.contains($0.key))
            },
            roles: supplier ? [] : Role.roles(for: .manufacturer).map { Choice(value: $0.rawValue, label: req.t("role.\($0.rawValue)"), checked: chosenRoles.contains($0.rawValue)) },
            forSupplier: supplier, errors: req.formErrors(problem), form: form, values: values)
    }

    private func isSupplier(_ req: Request, organization: UUID) async throws -> Bool {
        try await Organization.find(organization, on: req.db)?.kind == OrganizationKind.supplier.rawValue
    }

    func renderList(_ req: Request, problem: Problem?, values: [String: String], events: [String]? = nil, roles: [String]? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let rows = try await ChannelService.list(p, organization: nil, on: req.db)
        return try await req.renderForm("channels", titleKey: "channel.title", ListView(
            rows: rows, add: formView(req, channel: nil, supplier: p.isSupplier, problem: problem, form: problem == nil ? "" : "add",
                                      values: values, events: events, roles: roles),
            showOrganization: p.can(.administerInstallation)), problem: problem)
    }

    func list(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.manageChannels)
        return try await renderList(req, problem: nil, values: [:])
    }

    private func values(_ f: ChannelForm) -> [String: String] {
        ["kind": f.kind ?? "", "name": f.name ?? "", "url": f.url ?? "", "locale": f.locale ?? ""]
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageChannels)
        let f = try req.content.decode(ChannelForm.self)
        var created: Channel?
        let problem = try await attempt {
            created = try await ChannelService.create(p, ChannelInput(kind: f.kind ?? "", name: f.name ?? "", url: f.url ?? "", secret: f.secret,
                                                                      events: f.events, roles: f.roles, locale: f.locale, enabled: true), app: req.application)
        }
        if let problem { return try await renderList(req, problem: problem, values: values(f), events: f.events, roles: f.roles) }
        return req.redirect(to: "/channels/\(created!.id!)?ok=created")
    }

    struct DetailView: Encodable {
        let c: ChannelDTO
        let edit: FormView
        let recent: [ChannelDeliveryDTO]
        let test: ChannelTestResult?
        /// What the receiver's failure means, in the reader's language.
        let testError: String?
    }

    func render(_ req: Request, id: UUID, problem: Problem?, form: String = "", values: [String: String] = [:],
                events: [String]? = nil, roles: [String]? = nil, test: ChannelTestResult? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let c = try await ChannelService.detail(p, id, on: req.db)
        let recent = try await DeliveryLog.list(p, filter: .init(channelID: id), page: PageRequest(page: 1, per: 20), locale: req.locale, app: req.application)
        let supplier = try await isSupplier(req, organization: c.organizationId)
        return try await req.renderForm("channel", titleKey: "channel.heading", titleParams: ["name": c.name], DetailView(
            c: c, edit: formView(req, channel: c, supplier: supplier, problem: problem, form: form, values: values, events: events, roles: roles),
            recent: recent.items, test: test, testError: test?.error.map { DeliveryLog.errorText($0, locale: req.locale, app: req.application) }),
            problem: problem)
    }

    func show(req: Request) async throws -> Response { try await render(req, id: try req.idParameter(), problem: nil) }

    func update(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ChannelService.load(p, id, on: req.db)
        let f = try req.content.decode(ChannelForm.self)
        let problem = try await attempt {
            let secret: String? = f.clearSecret == "on" ? "" : ((f.secret ?? "").isEmpty ? nil : f.secret)
            _ = try await ChannelService.update(p, id, ChannelPatch(version: f.version.flatMap(Int.init) ?? -1, name: f.name, url: (f.url ?? "").isEmpty ? nil : f.url,
                                                                  secret: secret, events: f.events ?? [], roles: f.roles ?? [], locale: f.locale,
                                                                  enabled: f.enabled == "on"), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/channels/\(id)?ok=saved") }
        return try await render(req, id: id, problem: problem, form: "edit", values: values(f), events: f.events ?? [], roles: f.roles ?? [])
    }

    func retryFailed(req: Request) async throws -> Response {
        let id = try req.idParameter()
        _ = try await DeliveryLog.retryAll(try req.requirePrincipal(), channel: id, app: req.application)
        return req.redirect(to: "/channels/\(id)?ok=saved")
    }

    struct TestForm: Content { var text: String? }

    func test(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ChannelService.load(p, id, on: req.db)
        let f = try req.content.decode(TestForm.self)
        var result: ChannelTestResult?
        let problem = try await attempt {
            let input = ChannelTestInput(text: f.text)
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            result = try await ChannelService.sendTest(p, id, input, app: req.application)
        }
        return try await render(req, id: id, problem: problem, form: "test", values: ["text": f.text ?? ""], test: result)
    }

    struct DeleteForm: Content { var version: String? }

    func delete(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ChannelService.load(p, id, on: req.db)
        let f = try req.content.decode(DeleteForm.self)
        let problem = try await attempt { try await ChannelService.delete(p, id, version: f.version.flatMap(Int.init) ?? -1, app: req.application) }
        guard let problem else { return req.redirect(to: "/channels?ok=deleted") }
        return try await render(req, id: id, problem: problem, form: "edit")
    }

    // MARK: Delivery log

    struct LogView: Encodable {
        let rows: [ChannelDeliveryDTO]
        let pager: Pager
        let statuses: [Option]
        let status: String
        let failed: Int
    }

    func deliveries(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.manageChannels)
        let filter = try ChannelAPI.filter(req)
        let page = try await DeliveryLog.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50), locale: req.locale, app: req.application)
        let failed = try await DeliveryLog.list(p, filter: .init(status: "failed"), page: PageRequest(page: 1, per: 1), locale: req.locale, app: req.application).total
        let status = filter.status ?? ""
        let statuses = [Option(value: "", label: req.t("channel.allStatuses"), selected: status.isEmpty)]
            + DeliveryStatus.allCases.map { Option(value: $0.rawValue, label: req.t("channel.status.\($0.rawValue)"), selected: status == $0.rawValue) }
        return try await req.renderPage("channel_deliveries", titleKey: "channel.log", LogView(
            rows: page.items, pager: Pager(page, req), statuses: statuses, status: status, failed: failed))
    }

    func retry(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await DeliveryLog.retry(p, id, locale: req.locale, app: req.application)
        return req.redirect(to: "/channel-deliveries?ok=saved")
    }

    // MARK: Preferences

    struct PreferencesView: Encodable {
        let prefs: PreferencesDTO
        let modes: [Option]
        let errors: FormErrors
    }

    func renderPreferences(_ req: Request, problem: Problem?) async throws -> Response {
        let p = try req.requirePrincipal()
        let prefs = try await NotificationPreferences.get(p, locale: req.locale, app: req.application)
        let modes = NotificationPreferences.modes.map { Option(value: $0, label: req.t("channel.emailMode.\($0)"), selected: prefs.emailMode == $0) }
        return try await req.renderForm("notification_preferences", titleKey: "channel.preferences", PreferencesView(
            prefs: prefs, modes: modes, errors: req.formErrors(problem)), problem: problem)
    }

    func preferences(req: Request) async throws -> Response { try await renderPreferences(req, problem: nil) }

    struct PreferencesForm: Content { var version: String?; var emailMode: String?; var inbox: [String]?; var email: [String]? }

    func savePreferences(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let f = try req.content.decode(PreferencesForm.self)
        let problem = try await attempt {
            let current = try await NotificationPreferences.get(p, locale: req.locale, app: req.application)
            // Unticked boxes are not sent: every event on the page is set from what was ticked.
            let inbox = Set(f.inbox ?? []), email = Set(f.email ?? [])
            let input = PreferencesInput(version: f.version.flatMap(Int.init) ?? -1, emailMode: f.emailMode,
                                         events: current.events.map { .init(event: $0.event, inbox: inbox.contains($0.event), email: email.contains($0.event)) })
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await NotificationPreferences.put(p, input, locale: req.locale, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/account/notifications?ok=saved") }
        return try await renderPreferences(req, problem: problem)
    }
}
