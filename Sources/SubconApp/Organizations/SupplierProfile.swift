import Fluent
import Foundation
import SubconDomain
import Vapor

/// What the manufacturer keeps about a supplier: qualification status (准入), contacts,
/// capabilities, certificates.
final class SupplierProfile: Model, @unchecked Sendable {
    static let schema = "supplier_profiles"

    @ID(key: .id) var id: UUID?
    @Parent(key: "organization_id") var organization: Organization
    @Field(key: "status") var status: String
    @Field(key: "contact_name") var contactName: String
    @Field(key: "contact_phone") var contactPhone: String
    @Field(key: "contact_email") var contactEmail: String
    @Field(key: "address") var address: String
    /// Processes the supplier can do (e.g. machining, plating), comma-separated.
    @Field(key: "capabilities") var capabilities: String
    @Field(key: "version") var version: Int
    @Field(key: "updated_at") var updatedAt: Date

    init() {}

    init(organizationID: UUID, status: SupplierStatus, now: Date) {
        $organization.id = organizationID; self.status = status.rawValue; contactName = ""; contactPhone = ""; contactEmail = ""
        address = ""; capabilities = ""; version = 1; updatedAt = now
    }

    var supplierStatus: SupplierStatus { SupplierStatus(rawValue: status) ?? .prospect }

    var auditSnapshot: [String: String?] {
        ["status": status, "contact_name": contactName, "contact_phone": contactPhone, "contact_email": contactEmail,
         "address": address, "capabilities": capabilities]
    }
}

extension SupplierProfile: SupplierOwned { static var ownerKey: FieldKey { "organization_id" } }

final class SupplierCertificate: Model, @unchecked Sendable {
    static let schema = "supplier_certificates"

    @ID(key: .id) var id: UUID?
    @Parent(key: "organization_id") var organization: Organization
    /// e.g. ISO 9001, IATF 16949, ISO 14001.
    @Field(key: "kind") var kind: String
    @Field(key: "number") var number: String
    @Field(key: "valid_to") var validTo: String
    @OptionalField(key: "reminded_at") var remindedAt: Date?
    @Field(key: "created_at") var createdAt: Date

    init() {}

    var auditSnapshot: [String: String?] { ["kind": kind, "number": number, "valid_to": validTo] }
}

extension SupplierCertificate: SupplierOwned { static var ownerKey: FieldKey { "organization_id" } }

struct CreateSupplierProfiles: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supplier_profiles")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("status", .string, .required)
            .field("contact_name", .string, .required)
            .field("contact_phone", .string, .required)
            .field("contact_email", .string, .required)
            .field("address", .string, .required)
            .field("capabilities", .string, .required)
            .field("version", .int, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "organization_id")
            .create()
        try await db.schema("supplier_certificates")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("kind", .string, .required)
            .field("number", .string, .required)
            .field("valid_to", .string, .required)
            .field("reminded_at", .datetime)
            .field("created_at", .datetime, .required)
            .create()
        try await createIndex(db, "supplier_certificates_org_idx", on: "supplier_certificates", "organization_id")
        try await createIndex(db, "supplier_certificates_expiry_idx", on: "supplier_certificates", "valid_to")
    }
    func revert(on db: any Database) async throws {
        try await db.schema("supplier_certificates").delete()
        try await db.schema("supplier_profiles").delete()
    }
}

struct SupplierProfileDTO: Content {
    struct Certificate: Content { let id: UUID; let kind: String; let number: String; let validTo: String; let expiresSoon: Bool; let expired: Bool }
    let organizationId: UUID
    let status: String
    let allowedNext: [String]
    let contactName: String
    let contactPhone: String
    let contactEmail: String
    let address: String
    let capabilities: [String]
    let version: Int
    let certificates: [Certificate]
}

struct SupplierProfilePatchInput: StrictInput {
    static let fields: Set<String> = ["version", "contactName", "contactPhone", "contactEmail", "address", "capabilities"]
    var version: Int
    var contactName: String?
    var contactPhone: String?
    var contactEmail: String?
    var address: String?
    var capabilities: [String]?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(contactName, "contactName", required: false, max: 100, into: &p)
        Check.text(contactPhone, "contactPhone", required: false, max: 40, into: &p)
        Check.email(contactEmail, "contactEmail", into: &p)
        Check.text(address, "address", required: false, max: 300, into: &p)
        if (capabilities?.count ?? 0) > 50 { p.append(FieldProblem("capabilities", "tooMany", ["max": "50"])) }
        return p
    }
}

struct StatusChangeInput: StrictInput {
    static let fields: Set<String> = ["status", "reason"]
    var status: String
    var reason: String
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if SupplierStatus(rawValue: status) == nil { p.append(FieldProblem("status", "invalidValue")) }
        Check.text(reason, "reason", max: 500, into: &p)
        return p
    }
}

struct CertificateInput: StrictInput {
    static let fields: Set<String> = ["kind", "number", "validTo"]
    var kind: String
    var number: String
    var validTo: Day
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(kind, "kind", max: 60, into: &p)
        Check.text(number, "number", max: 100, into: &p)
        return p
    }
}

enum SupplierProfileService {
    /// The profile of a supplier organization, created on first use (suppliers made before
    /// profiles existed, or by `create-admin`).
    static func profile(_ p: Principal, _ orgID: UUID, on db: any Database) async throws -> (Organization, SupplierProfile) {
        let org = try await p.scope.find(Organization.self, orgID, on: db)
        guard org.organizationKind == .supplier else { throw Problem.notFound }
        if let existing = try await SupplierProfile.query(on: db).filter(\.$organization.$id == orgID).first() { return (org, existing) }
        return (org, SupplierProfile(organizationID: orgID, status: .prospect, now: Date()))
    }

    static func dto(_ p: Principal, _ orgID: UUID, today: Day, on db: any Database) async throws -> SupplierProfileDTO {
        let (_, profile) = try await profile(p, orgID, on: db)
        let certs = try await p.scope.query(SupplierCertificate.self, on: db).filter(\.$organization.$id == orgID).sort(\.$validTo).all()
        return SupplierProfileDTO(
            organizationId: orgID, status: profile.status, allowedNext: profile.supplierStatus.next.map(\.rawValue).sorted(),
            contactName: profile.contactName, contactPhone: profile.contactPhone, contactEmail: profile.contactEmail,
            address: profile.address, capabilities: profile.capabilities.split(separator: ",").map(String.init),
            version: profile.version,
            certificates: certs.map {
                let state = Day($0.validTo).map { CertificateExpiry.state(validTo: $0, today: today) } ?? .expired
                return .init(id: $0.id!, kind: $0.kind, number: $0.number, validTo: $0.validTo,
                             expiresSoon: state == .expiringSoon, expired: state == .expired)
            })
    }

    /// Saves a profile that may not exist yet, guarded by its version.
    private static func save(_ profile: SupplierProfile, expected: Int, in change: Change) async throws {
        if profile.id == nil {
            guard expected == 1 else { throw Problem.staleVersion(current: 1) }
            profile.updatedAt = change.now
            try await profile.create(on: change.db)
        } else {
            try await change.updateVersioned(SupplierProfile.schema, id: profile.id!, expected: expected, sets: [
                "status": profile.status, "contact_name": profile.contactName, "contact_phone": profile.contactPhone,
                "contact_email": profile.contactEmail, "address": profile.address, "capabilities": profile.capabilities,
                "updated_at": change.now,
            ])
            profile.version = expected + 1
        }
    }

    static func update(_ p: Principal, _ orgID: UUID, _ input: SupplierProfilePatchInput, app: Application) async throws {
        let (_, profile) = try await profile(p, orgID, on: app.database)
        try p.require(.manageSuppliers)
        guard input.version == profile.version else { throw Problem.staleVersion(current: profile.version) }
        let before = profile.id == nil ? [:] : profile.auditSnapshot
        if let v = input.contactName { profile.contactName = v }
        if let v = input.contactPhone { profile.contactPhone = v }
        if let v = input.contactEmail { profile.contactEmail = v }
        if let v = input.address { profile.address = v }
        if let v = input.capabilities {
            profile.capabilities = v.map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: " ") }
                .filter { !$0.isEmpty }.joined(separator: ",")
        }
        try await app.write(as: p.auditActor) { change in
            try await save(profile, expected: input.version, in: change)
            try await change.audit("supplier_profile", orgID, "update", before: before, after: profile.auditSnapshot)
        }
    }

    /// A status change needs a reason; it is audited and told to the supplier's admins and the purchasers.
    static func changeStatus(_ p: Principal, _ orgID: UUID, _ input: StatusChangeInput, app: Application) async throws {
        let (org, profile) = try await profile(p, orgID, on: app.database)
        try p.require(.manageSuppliers)
        let target = try await checkStatusChange(p, profile, input, app: app)
        try await app.write(as: p.auditActor) { change in
            try await applyStatus(org, profile, target, reason: input.reason, in: change)
        }
    }

    /// Whether the supplier may go to the status asked for, with the qualification it needs.
    static func checkStatusChange(_ p: Principal, _ profile: SupplierProfile, _ input: StatusChangeInput, app: Application) async throws -> SupplierStatus {
        let target = SupplierStatus(rawValue: input.status)!
        let from = profile.supplierStatus
        do { _ = try from.change(to: target, reason: input.reason) } catch {
            switch error {
            case .reasonRequired: throw Problem.validation([FieldProblem("reason", "required")])
            case .notAllowed: throw Problem.validation([FieldProblem("status", "statusNotAllowed", ["from": from.rawValue, "to": target.rawValue])])
            }
        }
        try await QualificationService.requireReady(profile.$organization.id, from: from, to: target, catalog: app.subcon.catalog,
                                                    locale: p.preferredLocale ?? .fallback, on: app.database)
        return target
    }

    /// Writes a checked status change inside the caller's transaction, audited, and tells the
    /// supplier's admins and the purchasers.
    static func applyStatus(_ org: Organization, _ profile: SupplierProfile, _ target: SupplierStatus, reason: String, in change: Change) async throws {
        let orgID = org.id!
        let expected = profile.version
        let before: [String: String?] = profile.id == nil ? ["status": profile.status] : profile.auditSnapshot
        profile.status = target.rawValue
        try await save(profile, expected: expected, in: change)
        var after = profile.auditSnapshot
        after["reason"] = reason
        try await change.audit("supplier_profile", orgID, "status_change", before: before, after: after)
        let recipients = try await User.query(on: change.db).filter(\.$active == true).all()
            .filter { ($0.$organization.id == orgID && $0.roles.contains(.supplierAdmin)) || $0.roles.contains(.purchaser) }.map { $0.id! }
        try await change.notify("supplier.status_changed", recipients: recipients, messageKey: "notice.supplierStatus",
                                params: ["name": org.name, "status": target.rawValue, "reason": reason],
                                link: "/admin/organizations/\(orgID)")
    }

    static func addCertificate(_ p: Principal, _ orgID: UUID, _ input: CertificateInput, app: Application) async throws -> SupplierCertificate {
        _ = try await profile(p, orgID, on: app.database)
        try p.require(.manageSuppliers)
        return try await app.write(as: p.auditActor) { change in
            let c = SupplierCertificate()
            c.$organization.id = orgID; c.kind = input.kind; c.number = input.number; c.validTo = input.validTo.description
            c.createdAt = change.now
            try await c.create(on: change.db)
            try await change.audit("supplier_certificate", c.id, "create", after: c.auditSnapshot)
            return c
        }
    }

    /// Tells the purchasers, once per certificate, when one expires within 30 days. Run by the
    /// background worker; returns how many reminders it queued.
    @discardableResult
    static func remindExpiringCertificates(app: Application, today: Day) async throws -> Int {
        let horizon = CertificateExpiry.reminderHorizon(today).description
        return try await app.write(as: .system) { change in
            let due = try await SupplierCertificate.query(on: change.db).filter(\.$remindedAt == nil)
                .filter(\.$validTo <= horizon).with(\.$organization).all()
            guard !due.isEmpty else { return 0 }
            let purchasers = try await User.query(on: change.db).filter(\.$active == true).all().filter { $0.roles.contains(.purchaser) }.map { $0.id! }
            for c in due {
                try await change.notify("certificate.expiring", recipients: purchasers, messageKey: "notice.certificateExpiring",
                                        params: ["name": c.organization.name, "kind": c.kind, "date": c.validTo],
                                        link: "/admin/organizations/\(c.$organization.id)")
                try await SupplierCertificate.query(on: change.db).filter(\.$id == c.id!).set(\.$remindedAt, to: change.now).update()
            }
            return due.count
        }
    }
}
