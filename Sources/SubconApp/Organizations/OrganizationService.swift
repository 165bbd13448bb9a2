import Fluent
import Foundation
import SubconDomain
import Vapor

struct OrganizationDTO: Content {
    let id: UUID
    let kind: String
    let code: String
    let name: String
    let active: Bool
    let version: Int
    let createdAt: Date
    let updatedAt: Date

    init(_ o: Organization) {
        id = o.id!; kind = o.kind; code = o.code; name = o.name; active = o.active; version = o.version
        createdAt = o.createdAt; updatedAt = o.updatedAt
    }
}

struct NewOrganizationInput: StrictInput {
    static let fields: Set<String> = ["code", "name"]
    var code: String
    var name: String
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.code(code, "code", into: &p)
        Check.text(name, "name", max: 200, into: &p)
        return p
    }
}

/// A rename and/or (de)activation, guarded by the record's version.
struct OrganizationPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "name", "active"]
    var version: Int
    var name: String?
    var active: Bool?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if let name { Check.text(name, "name", max: 200, into: &p) }
        return p
    }
}

struct SiteDTO: Content {
    let id: UUID
    let organizationId: UUID
    let kind: String
    let code: String
    let name: String
    let plantId: UUID?
    let active: Bool
    let version: Int

    init(_ s: Site) {
        id = s.id!; organizationId = s.$organization.id; kind = s.kind; code = s.code; name = s.name
        plantId = s.plantID; active = s.active; version = s.version
    }
}

struct NewSiteInput: StrictInput {
    static let fields: Set<String> = ["kind", "code", "name", "plantId"]
    var kind: String
    var code: String
    var name: String
    var plantId: UUID?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if SiteKind(rawValue: kind) == nil { p.append(FieldProblem("kind", "invalidValue")) }
        Check.code(code, "code", into: &p)
        Check.text(name, "name", max: 200, into: &p)
        return p
    }
}

/// Sites change the same way organizations do: rename, (de)activate.
typealias SitePatchInput = OrganizationPatchInput

/// The manufacturer, its plants and warehouses, and supplier organizations.
enum OrganizationService {
    struct ListFilter: Sendable {
        var kind: OrganizationKind?
        var search: String?
        var active: Bool?
    }

    static func list(_ principal: Principal, filter: ListFilter, page: PageRequest, on db: any Database) async throws -> Page<OrganizationDTO> {
        try principal.require(.viewDirectory)
        var q = principal.scope.query(Organization.self, on: db)
        if let kind = filter.kind { q = q.filter(\.$kind == kind.rawValue) }
        if let active = filter.active { q = q.filter(\.$active == active) }
        if let s = filter.search?.trimmingCharacters(in: .whitespaces), !s.isEmpty {
            q = q.group(.or) { $0.filter(\.$code ~~ s).filter(\.$name ~~ s) }
        }
        let total = try await q.count()
        let rows = try await q.sort(\.$kind).sort(\.$code).range(page.offset..<(page.offset + page.per)).all()
        return Page(items: rows.map(OrganizationDTO.init), page: page.page, per: page.per, total: total)
    }

    static func get(_ principal: Principal, _ id: UUID, on db: any Database) async throws -> Organization {
        try principal.require(.viewDirectory)
        return try await principal.scope.find(Organization.self, id, on: db)
    }

    /// Only suppliers are created here: the manufacturer exists once, from installation.
    static func createSupplier(_ principal: Principal, _ input: NewOrganizationInput, app: Application) async throws -> Organization {
        try principal.require(.administerInstallation)
        if try await Organization.query(on: app.database).filter(\.$code == input.code).count() > 0 {
            throw Problem.conflict("problem.conflict.codeTaken", fields: [FieldProblem("code", "taken")])
        }
        return try await app.write(as: principal.auditActor) { change in
            let org = Organization(kind: .supplier, code: input.code, name: input.name.trimmingCharacters(in: .whitespaces), now: change.now)
            try await org.create(on: change.db)
            try await change.audit("organization", org.id, "create", after: org.auditSnapshot)
            // Every new supplier starts as a prospect; qualification is a separate, reasoned step.
            try await SupplierProfile(organizationID: org.id!, status: .prospect, now: change.now).create(on: change.db)
            try await change.notify("organization.created", recipients: try await admins(on: change.db),
                                    messageKey: "notice.supplierCreated", params: ["name": org.name], link: "/admin/organizations/\(org.id!)")
            return org
        }
    }

    static func update(_ principal: Principal, _ id: UUID, _ input: OrganizationPatchInput, app: Application) async throws -> Organization {
        try principal.require(.administerInstallation)
        let org = try await principal.scope.find(Organization.self, id, on: app.database)
        guard input.version == org.version else { throw Problem.staleVersion(current: org.version) }
        if input.active == false && org.organizationKind == .manufacturer {
            throw Problem.validation([FieldProblem("active", "cannotDeactivateManufacturer")])
        }
        let before = org.auditSnapshot
        if let name = input.name { org.name = name.trimmingCharacters(in: .whitespaces) }
        if let active = input.active { org.active = active }
        let deactivated = before["active"] == "true" && !org.active
        return try await app.write(as: principal.auditActor) { change in
            try await change.updateVersioned(Organization.schema, id: id, expected: input.version,
                                             sets: ["name": org.name, "active": org.active, "updated_at": change.now])
            org.version = input.version + 1
            org.updatedAt = change.now
            try await change.audit("organization", id, "update", before: before, after: org.auditSnapshot)
            if deactivated {
                // A deactivated supplier's people are signed out everywhere at once.
                for userID in try await User.query(on: change.db).filter(\.$organization.$id == id).all(\.$id) {
                    try await AuthService.revokeEverything(of: userID, in: change)
                }
            }
            return org
        }
    }

    static func listSites(_ principal: Principal, on db: any Database) async throws -> [SiteDTO] {
        try principal.require(.viewDirectory)
        return try await principal.scope.query(Site.self, on: db).sort(\.$kind).sort(\.$code).all().map(SiteDTO.init)
    }

    static func createSite(_ principal: Principal, _ input: NewSiteInput, app: Application) async throws -> Site {
        try principal.require(.administerInstallation)
        guard let manufacturer = try await Organization.query(on: app.database).filter(\.$kind == OrganizationKind.manufacturer.rawValue).first() else {
            throw Problem.notFound
        }
        if let plantID = input.plantId {
            guard let plant = try await Site.find(plantID, on: app.database), plant.kind == SiteKind.plant.rawValue else {
                throw Problem.validation([FieldProblem("plantId", "unknownPlant")])
            }
        }
        if try await Site.query(on: app.database).filter(\.$code == input.code).count() > 0 {
            throw Problem.conflict("problem.conflict.codeTaken", fields: [FieldProblem("code", "taken")])
        }
        return try await app.write(as: principal.auditActor) { change in
            let site = Site(organizationID: manufacturer.id!, kind: SiteKind(rawValue: input.kind)!, code: input.code,
                            name: input.name, plantID: input.plantId, now: change.now)
            try await site.create(on: change.db)
            try await change.audit("site", site.id, "create", after: site.auditSnapshot)
            return site
        }
    }

    static func updateSite(_ principal: Principal, _ id: UUID, _ input: SitePatchInput, app: Application) async throws -> Site {
        try principal.require(.administerInstallation)
        let site = try await principal.scope.find(Site.self, id, on: app.database)
        guard input.version == site.version else { throw Problem.staleVersion(current: site.version) }
        let before = site.auditSnapshot
        if let name = input.name { site.name = name }
        if let active = input.active { site.active = active }
        return try await app.write(as: principal.auditActor) { change in
            try await change.updateVersioned(Site.schema, id: id, expected: input.version, sets: ["name": site.name, "active": site.active])
            site.version = input.version + 1
            try await change.audit("site", id, "update", before: before, after: site.auditSnapshot)
            return site
        }
    }

    static func admins(on db: any Database) async throws -> [UUID] {
        try await User.query(on: db).filter(\.$active == true).all()
            .filter { $0.roles.contains(.admin) }.map { $0.id! }
    }
}
