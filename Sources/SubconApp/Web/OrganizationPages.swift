import Fluent
import Foundation
import SubconDomain
import Vapor

struct OrganizationPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let o = routes.grouped("admin", "organizations")
        o.get(use: list)
        o.get("new", use: newForm)
        o.post(use: create)
        o.get(":id", use: show)
        o.post(":id", use: update)
        routes.post("admin", "sites", use: createSite)
        o.post(":id", "profile", use: saveProfile)
        o.post(":id", "status", use: changeStatus)
        o.post(":id", "certificates", use: addCertificate)
        o.post(":id", "qualification", ":check", use: reviewCheck)
        o.on(.POST, ":id", "qualification", ":check", "evidence", body: .collect(maxSize: "10mb"), use: uploadEvidence)
    }

    struct ListView: Encodable { let rows: [OrganizationDTO]; let pager: Pager; let q: String; let canCreate: Bool }

    func list(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let q = req.queryText("q") ?? ""
        let page = try await OrganizationService.list(p, filter: .init(search: q), page: try PageRequest(req, defaultPer: 50), on: req.db)
        return try await req.renderPage("organizations", titleKey: "orgs.title",
                                        ListView(rows: page.items, pager: Pager(page, req), q: q, canCreate: p.can(.administerInstallation)))
    }

    struct FormView: Encodable { let values: [String: String]; let errors: FormErrors }

    func newForm(req: Request) async throws -> Response {
        try req.requirePrincipal().require(.administerInstallation)
        return try await req.renderForm("organization_new", titleKey: "orgs.new", FormView(values: [:], errors: req.formErrors(nil)), problem: nil)
    }

    struct OrgForm: Content { var code: String?; var name: String?; var version: String?; var active: String? }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.administerInstallation)
        let form = try req.content.decode(OrgForm.self)
        var created: Organization?
        let problem = try await attempt {
            let input = NewOrganizationInput(code: (form.code ?? "").trimmingCharacters(in: .whitespaces), name: form.name ?? "")
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            created = try await OrganizationService.createSupplier(p, input, app: req.application)
        }
        if let created { return req.redirect(to: "/admin/organizations/\(created.id!)?ok=created") }
        return try await req.renderForm("organization_new", titleKey: "orgs.new",
                                        FormView(values: ["code": form.code ?? "", "name": form.name ?? ""], errors: req.formErrors(problem)),
                                        problem: problem)
    }

    struct DetailView: Encodable {
        let org: OrganizationDTO
        let isManufacturer: Bool
        let users: [UserDTO]
        let sites: [SiteDTO]
        let canEdit: Bool
        let canManageUsers: Bool
        /// May download everything about this supplier in one archive.
        let canArchive: Bool
        /// May move this supplier's open lines to another supplier.
        let canHandOver: Bool
        let values: [String: String]
        let errors: FormErrors
        let siteErrors: FormErrors
        let profile: SupplierProfileDTO?
        let canManageSupplier: Bool
        let statusOptions: [Option]
        let profileErrors: FormErrors
        let profileForm: String?
        let qualification: QualificationDTO?
        let canUploadEvidence: Bool
        /// The check whose form the errors belong to.
        let qualificationCheck: String?
        let qualificationErrors: FormErrors
        let results: [Option]
        /// The supplier's score over the last 12 months, as on its scorecard.
        let scoreTrend: String?
        let scoreTrendTitle: String
    }


    func render(_ req: Request, _ org: Organization, values: [String: String]? = nil, problem: Problem? = nil,
                siteProblem: Problem? = nil, profileProblem: Problem? = nil, profileForm: String? = nil,
                qualificationProblem: Problem? = nil, qualificationCheck: String? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        let profile = org.organizationKind == .supplier
            ? try await SupplierProfileService.dto(p, org.id!, today: BOMsAPI.today(req), on: req.db) : nil
        let users = try await p.scope.query(User.self, on: req.db).filter(\.$organization.$id == org.id!).sort(\.$login).all()
        let sites = org.organizationKind == .manufacturer ? try await OrganizationService.listSites(p, on: req.db) : []
        var scoreTrend: String?
        if org.organizationKind == .supplier, p.can(.viewScorecards) {
            let last = ScorePeriod.month(of: req.subcon.today()).previous
            let card = try await ScorecardService.scorecard(p, supplier: org.id!, period: last, app: req.application)
            scoreTrend = SVGChart.line(zip(last.trailing(ScorecardService.trendLength), card.trend).map { period, t in
                SVGChart.Point(label: t.label, value: t.score.map { Int64($0) }, display: t.score.map { "\($0 / 10)" } ?? "",
                               href: "/scorecards/\(org.id!)?period=\(period)")
            }, title: req.t("scorecard.scoreTrend", ["span": req.t("scorecard.span.month")]), empty: req.t("scorecard.noData"))
        }
        let view = DetailView(org: OrganizationDTO(org), isManufacturer: org.organizationKind == .manufacturer,
                              users: users.map(UserDTO.init), sites: sites, canEdit: p.can(.administerInstallation),
                              canManageUsers: UserAdministration.mayManage(actor: p.administrationActor, organizationID: org.id!.uuidString),
                              canArchive: org.organizationKind == .supplier && (p.isSupplier ? p.can(.manageOwnOrganizationUsers) : p.can(.manageSuppliers)),
                              canHandOver: org.organizationKind == .supplier && !p.isSupplier && p.can(.handOverSuppliers),
                              values: values ?? ["name": org.name, "version": String(org.version), "active": org.active ? "true" : ""],
                              errors: req.formErrors(problem), siteErrors: req.formErrors(siteProblem),
                              profile: profile, canManageSupplier: p.can(.manageSuppliers),
                              statusOptions: (profile?.allowedNext ?? []).map { Option(value: $0, label: req.t("supplier.status.\($0)")) },
                              profileErrors: req.formErrors(profileProblem), profileForm: profileForm,
                              qualification: profile == nil ? nil : try await QualificationService.get(p, org.id!, on: req.db),
                              canUploadEvidence: p.can(.manageSuppliers) || p.isSupplier, qualificationCheck: qualificationCheck,
                              qualificationErrors: req.formErrors(qualificationProblem),
                              results: QualificationResult.allCases.map { Option(value: $0.rawValue, label: req.t("qualification.result.\($0.rawValue)")) },
                              scoreTrend: scoreTrend, scoreTrendTitle: req.t("scorecard.scoreTrend", ["span": req.t("scorecard.span.month")]))
        return try await req.renderForm("organization", titleKey: "orgs.detail", view,
                                        problem: problem ?? siteProblem ?? profileProblem ?? qualificationProblem)
    }

    func show(req: Request) async throws -> Response {
        try await render(req, try await OrganizationService.get(try req.requirePrincipal(), try req.idParameter(), on: req.db))
    }

    func update(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let org = try await OrganizationService.get(p, id, on: req.db)
        try p.require(.administerInstallation)
        let form = try req.content.decode(OrgForm.self)
        let problem = try await attempt {
            guard let version = form.version.flatMap(Int.init) else { throw Problem.validation([FieldProblem("version", "required")]) }
            let input = OrganizationPatchInput(version: version, name: form.name ?? "", active: form.active == "true")
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await OrganizationService.update(p, id, input, app: req.application)
        }
        if problem == nil { return req.redirect(to: "/admin/organizations/\(id)?ok=saved") }
        if problem?.kind == "stale-version" {
            // Someone saved first: show their version, so nothing is overwritten unseen.
            return try await render(req, try await OrganizationService.get(p, id, on: req.db), problem: problem)
        }
        return try await render(req, org, values: ["name": form.name ?? "", "version": form.version ?? "", "active": form.active ?? ""],
                                problem: problem)
    }

    struct SiteForm: Content { var kind: String?; var code: String?; var name: String?; var plantId: String? }

    func createSite(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.administerInstallation)
        let form = try req.content.decode(SiteForm.self)
        guard let manufacturer = try await Organization.query(on: req.db).filter(\.$kind == OrganizationKind.manufacturer.rawValue).first() else {
            throw Problem.notFound
        }
        let problem = try await attempt {
            let input = NewSiteInput(kind: form.kind ?? "", code: (form.code ?? "").trimmingCharacters(in: .whitespaces), name: form.name ?? "",
                                     plantId: form.plantId.flatMap(UUID.init(uuidString:)))
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await OrganizationService.createSite(p, input, app: req.application)
        }
        if problem == nil { return req.redirect(to: "/admin/organizations/\(manufacturer.id!)?ok=created") }
        return try await render(req, manufacturer, siteProblem: problem)
    }
}

extension OrganizationPages {
    struct ProfileForm: Content {
        var version: String?; var contactName: String?; var contactPhone: String?; var contactEmail: String?; var address: String?
        var capabilities: String?
    }

    func saveProfile(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let org = try await OrganizationService.get(p, id, on: req.db)
        try p.require(.manageSuppliers)
        let form = try req.content.decode(ProfileForm.self)
        let problem = try await attempt {
            let input = SupplierProfilePatchInput(version: form.version.flatMap(Int.init) ?? 0, contactName: form.contactName ?? "",
                                                  contactPhone: form.contactPhone ?? "", contactEmail: form.contactEmail ?? "",
                                                  address: form.address ?? "",
                                                  capabilities: SupplierImport.capabilities(form.capabilities ?? ""))
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            try await SupplierProfileService.update(p, id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/admin/organizations/\(id)?ok=saved") }
        return try await render(req, org, profileProblem: problem, profileForm: "profile")
    }

    struct StatusForm: Content { var status: String?; var reason: String? }

    func changeStatus(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let org = try await OrganizationService.get(p, id, on: req.db)
        try p.require(.manageSuppliers)
        let form = try req.content.decode(StatusForm.self)
        let problem = try await attempt {
            let input = StatusChangeInput(status: form.status ?? "", reason: form.reason ?? "")
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            try await SupplierProfileService.changeStatus(p, id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/admin/organizations/\(id)?ok=saved") }
        return try await render(req, org, profileProblem: problem, profileForm: "status")
    }

    struct CertificateForm: Content { var kind: String?; var number: String?; var validTo: String? }

    func addCertificate(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let org = try await OrganizationService.get(p, id, on: req.db)
        try p.require(.manageSuppliers)
        let form = try req.content.decode(CertificateForm.self)
        let problem = try await attempt {
            guard let day = form.validTo.flatMap(Day.init) else { throw Problem.validation([FieldProblem("validTo", "badDate")]) }
            let input = CertificateInput(kind: form.kind ?? "", number: form.number ?? "", validTo: day)
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await SupplierProfileService.addCertificate(p, id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/admin/organizations/\(id)?ok=created") }
        return try await render(req, org, profileProblem: problem, profileForm: "certificate")
    }

    struct ReviewForm: Content { var result: String?; var note: String?; var version: String? }

    func reviewCheck(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let org = try await OrganizationService.get(p, id, on: req.db)
        let check = try QualificationAPI.check(req)
        try p.require(.manageSuppliers)
        let form = try req.content.decode(ReviewForm.self)
        let problem = try await attempt {
            let input = QualificationReviewInput(result: form.result ?? "", note: form.note, version: form.version.flatMap(Int.init) ?? -1)
            let problems = input.validate()
            if !problems.isEmpty { throw Problem.validation(problems) }
            try await QualificationService.review(p, id, check, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/admin/organizations/\(id)?ok=saved#q-\(check.rawValue)") }
        return try await render(req, org, qualificationProblem: problem, qualificationCheck: check.rawValue)
    }

    struct EvidenceForm: Content { var file: File? }

    func uploadEvidence(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let org = try await OrganizationService.get(p, id, on: req.db)
        guard QualificationService.mayAddEvidence(p) else { throw Problem.forbidden }
        let check = try QualificationAPI.check(req)
        let form = try req.content.decode(EvidenceForm.self)
        let problem = try await attempt {
            guard let file = form.file, file.data.readableBytes > 0 else { throw Problem.validation([FieldProblem("file", "fileEmpty")]) }
            _ = try await QualificationService.addEvidence(p, id, check, filename: file.filename, data: Data(buffer: file.data), app: req.application)
        }
        guard let problem else { return req.redirect(to: "/admin/organizations/\(id)?ok=created#q-\(check.rawValue)") }
        return try await render(req, org, qualificationProblem: problem, qualificationCheck: check.rawValue)
    }
}
