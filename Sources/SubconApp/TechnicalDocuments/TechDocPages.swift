import Fluent
import Foundation
import SubconDomain
import Vapor

/// Technical documents on pages: the buyer uploads and revises, sees who has read the current
/// revision and who downloaded what, and shares by hand; a supplier (often on a phone) opens
/// what is shared with it and acknowledges each new revision with one tap.
struct TechDocPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let d = routes.grouped("technical-documents")
        d.get(use: list)
        d.get("new", use: newForm)
        d.on(.POST, "new", body: .collect(maxSize: "21mb"), use: create)
        d.get(":id", use: show)
        d.on(.POST, ":id", "revisions", body: .collect(maxSize: "21mb"), use: revise)
        d.post(":id", "acknowledge", use: acknowledge)
        d.post(":id", "grants", use: grant)
        d.post(":id", "settings", use: settings)
        d.get(":id", "revisions", ":revision", "file") { req in
            try await TechDocService.download(req, document: try req.idParameter(), revision: try req.idParameter("revision"))
        }
    }

    static func kinds(_ req: Request, selected: String, all: Bool) -> [Option] {
        (all ? [Option(value: "", label: req.t("techDoc.allKinds"), selected: selected.isEmpty)] : [])
            + TechnicalDocumentKind.allCases.map { Option(value: $0.rawValue, label: req.t("techDoc.kind.\($0.rawValue)"), selected: selected == $0.rawValue) }
    }

    // MARK: List

    struct ListView: Encodable {
        let rows: [TechDocumentDTO]
        let pager: Pager
        let kinds: [Option]
        let q: String
        let pending: Bool
        let isSupplier: Bool
        let canManage: Bool
        let itemId: String
    }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.viewTechnicalDocuments)
        let filter = try TechDocAPI.filter(req)
        let page = try await TechDocService.list(p, filter: filter, page: try PageRequest(req, defaultPer: 50), on: req.db)
        return try await req.renderPage("tech_documents", titleKey: "techDoc.title", ListView(
            rows: page.items, pager: Pager(page, req), kinds: Self.kinds(req, selected: filter.kind ?? "", all: true), q: filter.search ?? "",
            pending: filter.pending, isSupplier: p.isSupplier, canManage: p.can(.manageTechnicalDocuments), itemId: filter.itemID?.uuidString ?? ""))
    }

    // MARK: New document

    struct NewView: Encodable {
        let kinds: [Option]
        let values: [String: String]
        let errors: FormErrors
        let maxMB: Int
    }

    func renderNew(_ req: Request, problem: Problem?, values: [String: String]) async throws -> Response {
        try await req.renderForm("tech_document_new", titleKey: "techDoc.new", NewView(
            kinds: Self.kinds(req, selected: values["kind"] ?? "drawing", all: false), values: values, errors: req.formErrors(problem),
            maxMB: TechDocService.maxBytes / 1024 / 1024), problem: problem)
    }

    func newForm(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageTechnicalDocuments)
        var values: [String: String] = [:]
        if let code = req.queryText("item") { values["itemCode"] = code }
        return try await renderNew(req, problem: nil, values: values)
    }

    struct NewForm: Content {
        var itemCode: String?; var kind: String?; var title: String?; var operation: String?; var note: String?; var file: File?
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageTechnicalDocuments)
        let f = try req.content.decode(NewForm.self)
        let values = ["itemCode": f.itemCode ?? "", "kind": f.kind ?? "", "title": f.title ?? "", "operation": f.operation ?? "", "note": f.note ?? ""]
        var created: UUID?
        let problem = try await attempt {
            var problems: [FieldProblem] = []
            let code = (f.itemCode ?? "").trimmingCharacters(in: .whitespaces)
            let item = code.isEmpty ? nil : try await Item.query(on: req.db).filter(\.$code == code).first()
            if item == nil { problems.append(FieldProblem("itemCode", code.isEmpty ? "required" : "unknownItem")) }
            let input = TechDocumentInput(itemId: item?.id ?? UUID(), kind: f.kind ?? "", title: f.title ?? "", operation: f.operation, orderId: nil)
            problems += input.validate()
            guard let file = f.file, file.data.readableBytes > 0 else { throw Problem.validation(problems + [FieldProblem("file", "fileEmpty")]) }
            if !problems.isEmpty { throw Problem.validation(problems) }
            created = try await TechDocService.create(p, input, file: (Data(buffer: file.data), file.filename, f.note ?? ""), app: req.application)
        }
        if let problem { return try await renderNew(req, problem: problem, values: values) }
        return req.redirect(to: "/technical-documents/\(created!)?ok=created")
    }

    // MARK: One document

    struct DetailView: Encodable {
        let d: TechDocumentDetailDTO
        let current: TechDocumentRevisionDTO?
        let canManage: Bool
        let isSupplier: Bool
        /// The supplier's read receipt is due (a current revision it has not acknowledged).
        let mustAcknowledge: Bool
        let acknowledgedCount: Int
        let receiptCount: Int
        let grants: [DocumentGrantDTO]
        let grantStates: [Option]
        let errors: FormErrors
        let form: String
        let values: [String: String]
    }

    func render(_ req: Request, id: UUID, problem: Problem?, form: String = "", values: [String: String] = [:]) async throws -> Response {
        let p = try req.requirePrincipal()
        let d = try await TechDocService.detail(p, id, on: req.db)
        let canManage = p.can(.manageTechnicalDocuments)
        let grants = canManage ? try await TechDocService.grants(p, item: d.document.itemId, on: req.db) : []
        let states = ["granted", "withheld", "none"].map { Option(value: $0, label: req.t("techDoc.grant.\($0)"), selected: (values["state"] ?? "granted") == $0) }
        return try await req.renderForm("tech_document", titleKey: "techDoc.heading", titleParams: ["title": d.document.title], DetailView(
            d: d, current: d.revisions.first { $0.current }, canManage: canManage, isSupplier: p.isSupplier,
            mustAcknowledge: p.isSupplier && d.document.acknowledged == false, acknowledgedCount: (d.receipts ?? []).filter { $0.acknowledgedAt != nil }.count, receiptCount: (d.receipts ?? []).count,
            grants: grants, grantStates: states, errors: req.formErrors(problem), form: form, values: values), problem: problem)
    }

    func show(req: Request) async throws -> Response { try await render(req, id: try req.idParameter(), problem: nil) }

    struct ReviseForm: Content { var version: String?; var note: String?; var file: File? }

    func revise(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await TechDocService.load(p, id, on: req.db)
        try p.require(.manageTechnicalDocuments)
        let f = try req.content.decode(ReviseForm.self)
        let problem = try await attempt {
            guard let file = f.file, file.data.readableBytes > 0 else { throw Problem.validation([FieldProblem("file", "fileEmpty")]) }
            _ = try await TechDocService.addRevision(p, id, data: Data(buffer: file.data), filename: file.filename, note: f.note ?? "",
                                                     version: f.version.flatMap(Int.init) ?? -1, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/technical-documents/\(id)?ok=created") }
        return try await render(req, id: id, problem: problem, form: "revise", values: problem.status == .conflict ? [:] : ["note": f.note ?? ""])
    }

    struct AcknowledgeForm: Content { var revisionId: String? }

    func acknowledge(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await TechDocService.load(p, id, on: req.db)
        guard p.isSupplier else { throw Problem.forbidden }
        let f = try req.content.decode(AcknowledgeForm.self)
        let problem = try await attempt {
            guard let rev = f.revisionId.flatMap(UUID.init(uuidString:)) else { throw Problem.validation([FieldProblem("revisionId", "required")]) }
            try await TechDocService.acknowledge(p, id, AcknowledgeInput(revisionId: rev), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/technical-documents/\(id)?ok=acknowledged") }
        return try await render(req, id: id, problem: problem, form: "acknowledge")
    }

    struct GrantForm: Content { var supplierCode: String?; var state: String?; var reason: String? }

    func grant(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let doc = try await TechDocService.load(p, id, on: req.db)
        try p.require(.manageTechnicalDocuments)
        let f = try req.content.decode(GrantForm.self)
        let values = ["supplierCode": f.supplierCode ?? "", "state": f.state ?? "", "reason": f.reason ?? ""]
        let problem = try await attempt {
            let code = (f.supplierCode ?? "").trimmingCharacters(in: .whitespaces)
            let org = code.isEmpty ? nil : try await Organization.query(on: req.db).filter(\.$code == code).filter(\.$kind == "supplier").first()
            guard let org else { throw Problem.validation([FieldProblem("supplierCode", code.isEmpty ? "required" : "unknownSupplier")]) }
            try await TechDocService.setGrant(p, GrantInput(itemId: doc.item_id, supplierId: org.id!, state: f.state ?? "", reason: f.reason),
                                              app: req.application)
        }
        guard let problem else { return req.redirect(to: "/technical-documents/\(id)?ok=saved#sharing") }
        return try await render(req, id: id, problem: problem, form: "grant", values: values)
    }

    struct SettingsForm: Content { var requireAcknowledgment: String? }

    func settings(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let doc = try await TechDocService.load(p, id, on: req.db)
        try p.require(.manageTechnicalDocuments)
        let f = try req.content.decode(SettingsForm.self)
        try await TechDocService.setRequireAcknowledgment(p, item: doc.item_id,
                                                          DocumentSettingsInput(requireAcknowledgment: f.requireAcknowledgment == "on" || f.requireAcknowledgment == "true"),
                                                          app: req.application)
        return req.redirect(to: "/technical-documents/\(id)?ok=saved#receipts")
    }
}
