import Foundation
import SubconDomain
import Vapor

/// Technical documents over the API: the buyer's side uploads revisions (the file as the raw
/// body, `?filename=&note=`), shares by hand and asks for read receipts; a supplier lists what is
/// shared with it, downloads and acknowledges.
struct TechDocAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let d = routes.grouped("technical-documents")
        d.get(use: list)
        d.post(use: create)
        d.get(":id", use: show)
        d.on(.POST, ":id", "revisions", body: .collect(maxSize: "21mb"), use: revise)
        d.get(":id", "revisions", ":revision", "file") { req in
            try await TechDocService.download(req, document: try req.idParameter(), revision: try req.idParameter("revision"))
        }
        d.post(":id", "acknowledge", use: acknowledge)
        routes.get("document-grants", use: grants)
        routes.post("document-grants", use: grant)
        routes.post("items", ":id", "document-settings", use: settings)
    }

    static func filter(_ req: Request) throws -> TechDocService.Filter {
        let kind = req.queryText("kind").flatMap { $0.isEmpty ? nil : $0 }
        if let kind, TechnicalDocumentKind(rawValue: kind) == nil {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("kind", "invalidValue")])
        }
        let pending = req.queryText("pending")
        guard pending == nil || ["true", "false", ""].contains(pending!) else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("pending", "invalidValue")])
        }
        return TechDocService.Filter(itemID: try req.uuidQuery("itemId"), kind: kind, pending: pending == "true",
                                     search: req.queryText("q"))
    }

    func list(req: Request) async throws -> Page<TechDocumentDTO> {
        try await TechDocService.list(try req.requirePrincipal(), filter: try Self.filter(req), page: try PageRequest(req), on: req.db)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.manageTechnicalDocuments)
        let id = try await TechDocService.create(p, try req.decodeStrict(TechDocumentInput.self), file: nil, app: req.application)
        return try await .created(try await TechDocService.detail(p, id, on: req.db), for: req)
    }

    func show(req: Request) async throws -> TechDocumentDetailDTO {
        try await TechDocService.detail(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    /// `?filename=drawing.pdf&note=why&version=N` with the file as the body.
    func revise(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await TechDocService.load(p, id, on: req.db)
        try p.require(.manageTechnicalDocuments)
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let version = try req.queryText("version").map { v -> Int in
            guard let n = Int(v), n > 0 else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("version", "invalidValue")]) }
            return n
        }
        _ = try await TechDocService.addRevision(p, id, data: Data(buffer: body), filename: req.queryText("filename") ?? "document",
                                                 note: req.queryText("note") ?? "", version: version, app: req.application)
        return try await .created(try await TechDocService.detail(p, id, on: req.db), for: req)
    }

    func acknowledge(req: Request) async throws -> TechDocumentDetailDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await TechDocService.load(p, id, on: req.db)
        guard p.isSupplier else { throw Problem.forbidden }
        try await TechDocService.acknowledge(p, id, try req.decodeStrict(AcknowledgeInput.self), app: req.application)
        return try await TechDocService.detail(p, id, on: req.db)
    }

    func grants(req: Request) async throws -> [DocumentGrantDTO] {
        let p = try req.requirePrincipal()
        try p.require(.manageTechnicalDocuments)
        guard let item = try req.uuidQuery("itemId") else {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("itemId", "required")])
        }
        return try await TechDocService.grants(p, item: item, on: req.db)
    }

    func grant(req: Request) async throws -> [DocumentGrantDTO] {
        let p = try req.requirePrincipal()
        try p.require(.manageTechnicalDocuments)
        let input = try req.decodeStrict(GrantInput.self)
        try await TechDocService.setGrant(p, input, app: req.application)
        return try await TechDocService.grants(p, item: input.itemId, on: req.db)
    }

    func settings(req: Request) async throws -> HTTPStatus {
        let p = try req.requirePrincipal()
        try p.require(.manageTechnicalDocuments)
        try await TechDocService.setRequireAcknowledgment(p, item: try req.idParameter(), try req.decodeStrict(DocumentSettingsInput.self), app: req.application)
        return .noContent
    }
}
