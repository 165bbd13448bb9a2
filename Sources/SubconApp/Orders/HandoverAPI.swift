import Foundation
import SubconDomain
import Vapor

/// Handovers over the API: the buyer hands lines over and keeps the checklist; the supplier
/// that hands over reads its handovers and signs for its side.
struct HandoverAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let h = routes.grouped("handovers")
        h.get(use: list)
        h.post(use: create)
        h.get(":id", use: show)
        h.post(":id", "checklist", ":no", use: tick)
        h.post(":id", "sign", use: sign)
        routes.get("handover-template") { req async throws -> [String: [String]] in
            try req.requirePrincipal().require(.handOverSuppliers)
            return ["items": try await HandoverService.template(req)]
        }
        routes.put("handover-template") { req async throws -> [String: [String]] in
            let p = try req.requirePrincipal()
            try p.require(.handOverSuppliers)
            try await HandoverService.setTemplate(p, try req.decodeStrict(HandoverTemplateInput.self), app: req.application)
            return ["items": try await HandoverService.template(req)]
        }
    }

    func list(req: Request) async throws -> Page<HandoverDTO> {
        try await HandoverService.list(try req.requirePrincipal(), page: try PageRequest(req), on: req.db)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.handOverSuppliers)
        let id = try await HandoverService.handOver(p, try req.decodeStrict(HandoverInput.self), app: req.application)
        return try await .created(try await HandoverService.detail(p, id, on: req.db), for: req)
    }

    func show(req: Request) async throws -> HandoverDTO {
        try await HandoverService.detail(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func tick(req: Request) async throws -> HandoverDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await HandoverService.load(p, id, on: req.db)
        try p.require(.handOverSuppliers)
        guard let no = req.parameters.get("no").flatMap(Int.init) else { throw Problem.notFound }
        try await HandoverService.tick(p, id, no: no, try req.decodeStrict(HandoverItemInput.self), app: req.application)
        return try await HandoverService.detail(p, id, on: req.db)
    }

    func sign(req: Request) async throws -> HandoverDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await HandoverService.load(p, id, on: req.db)
        if p.isSupplier { try p.require(.answerOrders) } else { try p.require(.handOverSuppliers) }
        try await HandoverService.sign(p, id, try req.decodeStrict(HandoverSignInput.self), app: req.application)
        return try await HandoverService.detail(p, id, on: req.db)
    }
}
