import Fluent
import Foundation
import SubconDomain
import Vapor

struct SupplierProfileAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let o = routes.grouped("organizations", ":id")
        o.get("profile", use: show)
        o.patch("profile", use: update)
        o.post("status", use: status)
        o.post("certificates", use: addCertificate)
    }

    func show(req: Request) async throws -> SupplierProfileDTO {
        try await SupplierProfileService.dto(try req.requirePrincipal(), try req.idParameter(), today: BOMsAPI.today(req), on: req.db)
    }

    func update(req: Request) async throws -> SupplierProfileDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await SupplierProfileService.profile(p, id, on: req.db)
        try p.require(.manageSuppliers)
        try await SupplierProfileService.update(p, id, try req.decodeStrict(SupplierProfilePatchInput.self), app: req.application)
        return try await show(req: req)
    }

    func status(req: Request) async throws -> SupplierProfileDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await SupplierProfileService.profile(p, id, on: req.db)
        try p.require(.manageSuppliers)
        try await SupplierProfileService.changeStatus(p, id, try req.decodeStrict(StatusChangeInput.self), app: req.application)
        return try await show(req: req)
    }

    func addCertificate(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await SupplierProfileService.profile(p, id, on: req.db)
        try p.require(.manageSuppliers)
        _ = try await SupplierProfileService.addCertificate(p, id, try req.decodeStrict(CertificateInput.self), app: req.application)
        let r = try await show(req: req).encodeResponse(for: req)
        r.status = .created
        return r
    }
}
