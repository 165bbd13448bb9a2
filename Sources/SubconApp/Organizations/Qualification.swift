import Fluent
import Foundation
import SubconDomain
import Vapor

/// One check of a supplier's qualification checklist, with its result. Evidence files are
/// documents attached to this row.
final class QualificationCheckRow: Model, @unchecked Sendable {
    static let schema = "supplier_qualification_checks"

    @ID(key: .id) var id: UUID?
    @Field(key: "organization_id") var organizationID: UUID
    @Field(key: "check") var check: String
    @Field(key: "result") var result: String
    @Field(key: "note") var note: String
    @OptionalField(key: "reviewed_by") var reviewedBy: UUID?
    @OptionalField(key: "reviewed_at") var reviewedAt: Date?
    @Field(key: "version") var version: Int

    init() {}

    init(organizationID: UUID, check: QualificationCheck) {
        self.organizationID = organizationID; self.check = check.rawValue; result = QualificationResult.pending.rawValue; note = ""; version = 1
    }
}

extension QualificationCheckRow: SupplierOwned { static var ownerKey: FieldKey { "organization_id" } }

struct CreateQualificationChecks: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("supplier_qualification_checks")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("check", .string, .required)
            .field("result", .string, .required)
            .field("note", .string, .required)
            .field("reviewed_by", .uuid)
            .field("reviewed_at", .datetime)
            .field("version", .int, .required)
            .unique(on: "organization_id", "check")
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("supplier_qualification_checks").delete() }
}

struct QualificationDTO: Content {
    struct Entry: Content {
        let check: String
        let result: String
        let note: String
        let reviewedBy: String?
        let reviewedAt: Date?
        /// 0 until the check is first reviewed or given evidence.
        let version: Int
        let evidence: [DocumentDTO]
    }
    let organizationId: UUID
    let entries: [Entry]
    struct Gap: Content { let check: String; let reason: String }
    /// What still stands between this supplier and `qualified`.
    let gaps: [Gap]
    let ready: Bool
}

struct QualificationReviewInput: StrictInput {
    static let fields: Set<String> = ["result", "note", "version"]
    var result: String
    var note: String?
    /// The entry's current version (0 when it has never been touched).
    var version: Int
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if QualificationResult(rawValue: result) == nil { p.append(FieldProblem("result", "invalidValue")) }
        Check.text(note, "note", required: false, max: 1000, into: &p)
        return p
    }
}

/// The qualification checklist: the buyer reviews each check; evidence comes from either side
/// (the supplier uploads its licence, the buyer its audit report). A prospect becomes qualified
/// only when the checklist is complete.
enum QualificationService {
    static let evidenceTypes: Set<FileType> = [.pdf, .jpeg, .png, .webp, .officeZip]

    static func rows(_ orgID: UUID, on db: any Database) async throws -> [QualificationCheckRow] {
        try await QualificationCheckRow.query(on: db).filter(\.$organizationID == orgID).all()
    }

    static func domain(_ rows: [QualificationCheckRow], evidence: [String: Int]) -> [QualificationEntry] {
        rows.compactMap { r in
            QualificationCheck(rawValue: r.check).map {
                QualificationEntry(check: $0, result: QualificationResult(rawValue: r.result) ?? .pending, note: r.note,
                                   evidenceCount: evidence[r.id!.uuidString] ?? 0)
            }
        }
    }

    static func describe(_ gap: Qualification.Gap) -> QualificationDTO.Gap {
        switch gap {
        case .notReviewed(let c): .init(check: c.rawValue, reason: "notReviewed")
        case .failed(let c): .init(check: c.rawValue, reason: "failed")
        case .noEvidence(let c): .init(check: c.rawValue, reason: "noEvidence")
        case .notApplicableWithoutReason(let c): .init(check: c.rawValue, reason: "noReason")
        }
    }

    static func get(_ p: Principal, _ orgID: UUID, on db: any Database) async throws -> QualificationDTO {
        _ = try await SupplierProfileService.profile(p, orgID, on: db)
        let rows = try await rows(orgID, on: db)
        let docs = try await DocumentService.list(entity: "qualification", ids: rows.map { $0.id!.uuidString }, on: db)
        let byRow = Dictionary(grouping: docs, by: \.entityID)
        let reviewers = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$id ~~ Set(rows.compactMap(\.reviewedBy))).all()
            .map { ($0.id!, $0.displayName) })
        let entries = QualificationCheck.allCases.map { c -> QualificationDTO.Entry in
            guard let r = rows.first(where: { $0.check == c.rawValue }) else {
                return .init(check: c.rawValue, result: QualificationResult.pending.rawValue, note: "", reviewedBy: nil, reviewedAt: nil, version: 0, evidence: [])
            }
            return .init(check: c.rawValue, result: r.result, note: r.note, reviewedBy: r.reviewedBy.flatMap { reviewers[$0] },
                         reviewedAt: r.reviewedAt, version: r.version, evidence: (byRow[r.id!.uuidString] ?? []).map(DocumentDTO.init))
        }
        let gaps = Qualification.gaps(domain(rows, evidence: byRow.mapValues(\.count)))
        return QualificationDTO(organizationId: orgID, entries: entries, gaps: gaps.map(describe), ready: gaps.isEmpty)
    }

    /// The row for a check, created on first use inside the transaction.
    private static func row(_ orgID: UUID, _ check: QualificationCheck, in change: Change) async throws -> QualificationCheckRow {
        if let r = try await QualificationCheckRow.query(on: change.db).filter(\.$organizationID == orgID).filter(\.$check == check.rawValue).first() {
            return r
        }
        let r = QualificationCheckRow(organizationID: orgID, check: check)
        try await r.create(on: change.db)
        return r
    }

    static func review(_ p: Principal, _ orgID: UUID, _ check: QualificationCheck, _ input: QualificationReviewInput, app: Application) async throws {
        _ = try await SupplierProfileService.profile(p, orgID, on: app.database)
        try p.require(.manageSuppliers)
        try await app.write(as: p.auditActor) { change in
            let existing = try await QualificationCheckRow.query(on: change.db).filter(\.$organizationID == orgID).filter(\.$check == check.rawValue).first()
            guard input.version == (existing?.version ?? 0) else { throw Problem.staleVersion(current: existing?.version ?? 0) }
            let r = try await row(orgID, check, in: change)
            let evidence = try await Document.query(on: change.db).filter(\.$entity == "qualification").filter(\.$entityID == r.id!.uuidString).count()
            let result = QualificationResult(rawValue: input.result)!
            let note = (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if let gap = Qualification.check(QualificationEntry(check: check, result: result, note: note, evidenceCount: evidence)) {
                throw Problem.validation([FieldProblem(gap == .noEvidence(check) ? "result" : "note",
                                                       gap == .noEvidence(check) ? "evidenceRequired" : "reasonRequired")])
            }
            let before: [String: String?] = ["check": check.rawValue, "result": r.result, "note": r.note]
            try await change.updateVersioned(QualificationCheckRow.schema, id: r.id!, expected: r.version, sets: [
                "result": result.rawValue, "note": note, "reviewed_by": p.userID, "reviewed_at": change.now])
            try await change.audit("supplier_qualification", orgID, "review", before: before,
                                   after: ["check": check.rawValue, "result": result.rawValue, "note": note])
        }
    }

    /// Evidence may come from the buyer's supplier managers or from the supplier's own people.
    /// The supplier itself (its licence, its certificates) or the buyer's supplier managers.
    static func mayAddEvidence(_ p: Principal) -> Bool { p.can(.manageSuppliers) || p.isSupplier }

    static func addEvidence(_ p: Principal, _ orgID: UUID, _ check: QualificationCheck, filename: String, data: Data,
                            app: Application) async throws -> Document {
        _ = try await SupplierProfileService.profile(p, orgID, on: app.database)
        guard mayAddEvidence(p) else { throw Problem.forbidden }
        return try await app.write(as: p.auditActor) { change in
            let r = try await row(orgID, check, in: change)
            return try await DocumentService.store(data, filename: filename, allowed: evidenceTypes, owner: orgID, entity: "qualification",
                                                   entityID: r.id!.uuidString, by: p.userID, in: change)
        }
    }

    /// Whether a status change may go ahead; the refusal lists what is missing.
    static func requireReady(_ orgID: UUID, from: SupplierStatus, to: SupplierStatus, catalog: Catalog, locale: AppLocale, on db: any Database) async throws {
        guard from.needsChecklist(to: to) else { return }
        let rows = try await rows(orgID, on: db)
        let docs = try await DocumentService.list(entity: "qualification", ids: rows.map { $0.id!.uuidString }, on: db)
        let gaps = Qualification.gaps(domain(rows, evidence: Dictionary(grouping: docs, by: \.entityID).mapValues(\.count)))
        guard !gaps.isEmpty else { return }
        let names = gaps.map { catalog.text("qualification.check.\(describe($0).check)", locale) }
        throw Problem.validation([FieldProblem("status", "checklistIncomplete", ["missing": names.joined(separator: "、")])])
    }
}

struct QualificationAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let q = routes.grouped("organizations", ":id", "qualification")
        q.get(use: show)
        q.put(":check", use: review)
        q.on(.POST, ":check", "evidence", body: .collect(maxSize: "10mb"), use: addEvidence)
    }

    static func check(_ req: Request) throws -> QualificationCheck {
        guard let c = req.parameters.get("check").flatMap(QualificationCheck.init(rawValue:)) else { throw Problem.notFound }
        return c
    }

    func show(req: Request) async throws -> QualificationDTO {
        try await QualificationService.get(try req.requirePrincipal(), try req.idParameter(), on: req.db)
    }

    func review(req: Request) async throws -> QualificationDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let check = try Self.check(req)
        _ = try await SupplierProfileService.profile(p, id, on: req.db)
        try p.require(.manageSuppliers)
        try await QualificationService.review(p, id, check, try req.decodeStrict(QualificationReviewInput.self), app: req.application)
        return try await show(req: req)
    }

    /// The file is the body; `?filename=` names it.
    func addEvidence(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let check = try Self.check(req)
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await QualificationService.addEvidence(p, id, check, filename: req.queryText("filename") ?? "evidence",
                                                             data: Data(buffer: body), app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }
}
