import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

// MARK: - Inputs and views

struct ExceptionInput: StrictInput {
    static let fields: Set<String> = ["type", "severity", "supplierId", "orderId", "itemCode", "lot", "title", "description", "eightD"]
    var type: String
    var severity: String
    var supplierId: UUID?
    var orderId: UUID?
    var itemCode: String?
    var lot: String?
    var title: String
    var description: String?
    var eightD: Bool?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if ExceptionRules.Kind(rawValue: type) == nil { p.append(FieldProblem("type", "notOneOf", ["allowed": ExceptionRules.Kind.allCases.map(\.rawValue).joined(separator: ", ")])) }
        if ExceptionRules.Severity(rawValue: severity) == nil { p.append(FieldProblem("severity", "notOneOf", ["allowed": "critical, major, minor"])) }
        Check.text(title, "title", max: 200, into: &p)
        Check.text(description, "description", required: false, max: 4000, into: &p)
        Check.text(lot, "lot", required: false, max: 60, into: &p)
        return p
    }
}

struct OwnersInput: StrictInput {
    static let fields: Set<String> = ["version", "buyerOwnerId", "supplierOwnerId"]
    var version: Int
    var buyerOwnerId: UUID?
    var supplierOwnerId: UUID?
}

struct CommentInput: StrictInput {
    static let fields: Set<String> = ["body"]
    var body: String
    func validate() -> [FieldProblem] { var p: [FieldProblem] = []; Check.text(body, "body", max: 4000, into: &p); return p }
}

struct GateInput: StrictInput {
    static let fields: Set<String> = ["version", "action", "content", "reason"]
    var version: Int
    /// submit (supplier), approve or return (buyer).
    var action: String
    var content: String?
    var reason: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        switch action {
        case "submit": Check.text(content, "content", max: 8000, into: &p)
        case "return": Check.text(reason, "reason", max: 2000, into: &p)
        case "approve": Check.text(reason, "reason", required: false, max: 2000, into: &p)
        default: p.append(FieldProblem("action", "notOneOf", ["allowed": "submit, approve, return"]))
        }
        return p
    }
}

struct CloseInput: StrictInput {
    static let fields: Set<String> = ["version", "resolution"]
    var version: Int
    var resolution: String
    func validate() -> [FieldProblem] { var p: [FieldProblem] = []; Check.text(resolution, "resolution", max: 4000, into: &p); return p }
}

struct ReopenInput: StrictInput {
    static let fields: Set<String> = ["version", "reason", "fromStep"]
    var version: Int
    var reason: String
    /// The first 8D step to redo (1–8, default 4: root cause onwards).
    var fromStep: Int?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", max: 2000, into: &p)
        if let s = fromStep, EightD.Step(rawValue: s) == nil { p.append(FieldProblem("fromStep", "outOfRange", ["min": "1", "max": "8"])) }
        return p
    }
}

struct DeadlineInput: StrictInput {
    static let fields: Set<String> = ["version", "responseHours", "containmentHours", "resolveDays"]
    var version: Int
    var responseHours: Int
    var containmentHours: Int
    var resolveDays: Int
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        let h = ExceptionRules.Deadlines.limits.hours, d = ExceptionRules.Deadlines.limits.days
        for (v, f) in [(responseHours, "responseHours"), (containmentHours, "containmentHours")] where !h.contains(v) {
            p.append(FieldProblem(f, "outOfRange", ["min": String(h.lowerBound), "max": String(h.upperBound)]))
        }
        if !d.contains(resolveDays) { p.append(FieldProblem("resolveDays", "outOfRange", ["min": String(d.lowerBound), "max": String(d.upperBound)])) }
        return p
    }
}

/// A system-raised exception's title and description in words: catalog keys and parameters.
struct ExceptionWords: Codable, Sendable, Equatable {
    let title: String
    let description: String
    let params: [String: String]
}

struct ExceptionSummaryDTO: Content {
    let id: UUID
    let code: String
    let type: String
    let severity: String
    let status: String
    let title: String
    let description: String
    /// Set for exceptions the system raised: the title and description as catalog keys with
    /// their parameters (pages show them in the reader's language).
    let words: ExceptionWords?
    let createdAt: Date
    /// What raised it, e.g. `material_document` and that document's id.
    let source: String
    let sourceId: String
    let orderId: UUID?
    let supplierId: UUID
    let responseBy: Date?
    let resolveBy: Date?
    let respondedAt: Date?
    let closedAt: Date?
    let escalationLevel: Int
    /// The deadline that counts now has passed (response while unanswered, else resolution).
    let overdue: Bool
}

extension ExceptionSummaryDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) throws {
        o("id", id); o("code", code); o("type", type); o("severity", severity); o("status", status); o("title", title)
        o("description", description); try o("words", words); o("createdAt", createdAt); o("source", source); o("sourceId", sourceId)
        o("orderId", orderId); o("supplierId", supplierId); o("responseBy", responseBy); o("resolveBy", resolveBy)
        o("respondedAt", respondedAt); o("closedAt", closedAt); o("escalationLevel", escalationLevel); o("overdue", overdue)
    }
}

struct PersonDTO: Content { let id: UUID; let name: String; let login: String }

struct CommentDTO: Content {
    let id: UUID
    let side: String
    /// System entries: 8d.submit, 8d.approve, 8d.return, close, reopen, escalate ("" otherwise).
    let event: String
    /// The step (D1–D8) or escalation level the event refers to.
    let ref: String
    let author: String?
    let body: String
    let createdAt: Date
}

struct StepDTO: Content {
    let step: Int
    let code: String
    let key: String
    let state: String
    let content: String
    let returnReason: String
    let submittedAt: Date?
    let decidedAt: Date?
    /// This step is the one the supplier may submit now / the buyer may decide now.
    let submittable: Bool
    let decidable: Bool
}

struct ExceptionDTO: Content {
    let id: UUID
    let code: String
    let type: String
    let severity: String
    let status: String
    let title: String
    let description: String
    let words: ExceptionWords?
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let orderId: UUID?
    let orderCode: String?
    let itemId: UUID?
    let itemCode: String?
    let itemName: String?
    let lot: String
    let source: String
    let sourceId: String
    let receiptLineId: UUID?
    let inspectionId: UUID?
    let raisedBy: String?
    let createdAt: Date
    let buyerOwner: PersonDTO?
    let supplierOwner: PersonDTO?
    let responseBy: Date?
    let containmentBy: Date?
    let resolveBy: Date?
    let respondedAt: Date?
    let containedAt: Date?
    let closedAt: Date?
    let responseMinutes: Int?
    let closureMinutes: Int?
    let escalationLevel: Int
    let resolution: String
    let defectCodes: String
    /// Each defect code with its name from the item's inspection plan.
    let defects: [String]
    let eightD: Bool
    let reopened: Int
    /// The penalty set for the statement, if any, and the statements it went into.
    let penaltyKind: String?
    let penaltyValue: FixedDecimal?
    let statements: [StatementSourceDTO]
    let version: Int
    let comments: [CommentDTO]
    let steps: [StepDTO]
    let attachments: [DocumentDTO]
}

struct DeadlineDTO: Content {
    let type: String
    let severity: String
    let responseHours: Int
    let containmentHours: Int
    let resolveDays: Int
    let version: Int
}

// MARK: - The service

/// Exceptions (异常) from raising to closure: owners on both sides, deadlines from the table,
/// escalation, the comment thread with attachments, and the 8D loop.
enum ExceptionService {
    /// Comment on a case or attach to it: anyone who raises, handles or answers exceptions.
    static func mayTakePart(_ p: Principal) -> Bool {
        p.can(.raiseExceptions) || p.can(.handleExceptions) || p.can(.answerExceptions)
    }

    /// Name owners and move 8D steps: the handlers of either side.
    static func mayWorkOn(_ p: Principal) -> Bool { p.can(.handleExceptions) || p.can(.answerExceptions) }

    static let attachmentTypes: Set<FileType> = [.pdf, .jpeg, .png, .webp, .officeZip]

    /// Opens an exception with its deadlines. System callers notify as they see fit; `notify`
    /// tells the other side's owner or, without one, its people.
    static func raise(type: String, severity: String, supplier: UUID, order: UUID?, item: UUID?, lot: String, source: String, sourceID: String,
                      title: String, description: String, by user: UUID?, buyerOwner: UUID? = nil, supplierOwner: UUID? = nil,
                      receiptLine: UUID? = nil, defectCodes: String = "", eightD: Bool = false, notify: Bool = false,
                      words: ExceptionWords? = nil, in change: Change) async throws -> ExceptionCase {
        let e = ExceptionCase()
        e.id = UUID(); e.code = try await MaterialService.code("exception", prefix: "YC", in: change); e.type = type; e.severity = severity
        e.status = "open"; e.supplierID = supplier; e.orderID = order; e.itemID = item; e.lot = lot; e.source = source; e.sourceID = sourceID
        e.title = title; e.description = description; e.raisedBy = user; e.createdAt = change.now; e.version = 1
        let d = try await deadlines(type, severity, on: change.db)
        let due = ExceptionRules.due(from: change.now, d)
        e.responseBy = due.responseBy; e.containmentBy = due.containmentBy; e.resolveBy = due.resolveBy
        e.buyerOwnerID = buyerOwner; e.supplierOwnerID = supplierOwner; e.receiptLineID = receiptLine
        e.resolution = ""; e.escalationLevel = 0; e.defectCodes = defectCodes; e.eightD = eightD; e.reopened = 0
        e.wordsJSON = words.map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) }
        try await e.create(on: change.db)
        try await change.audit("exception", e.id, "create", after: [
            "code": e.code, "type": type, "severity": severity, "title": title, "description": description, "eight_d": eightD ? "yes" : "no",
            "response_by": due.responseBy.ISO8601Format(), "resolve_by": due.resolveBy.ISO8601Format()])
        if notify {
            var supplierSide = supplierOwner.map { [$0] } ?? []
            if supplierSide.isEmpty { supplierSide = try await OrderService.supplierUsers(supplier, on: change.db) }
            var buyerSide = buyerOwner.map { [$0] } ?? []
            if buyerSide.isEmpty { buyerSide = try await OrderService.manufacturerPeople(with: .quality, on: change.db) }
            try await change.notify("exception.raised", recipients: Array(Set(supplierSide + buyerSide)).filter { $0 != user },
                                    messageKey: "notice.exceptionRaised", params: ["code": e.code, "title": title], link: "/exceptions/\(e.id!)")
        }
        return e
    }

    static func deadlines(_ type: String, _ severity: String, on db: any Database) async throws -> ExceptionRules.Deadlines {
        if let row = try await ExceptionDeadline.query(on: db).filter(\.$type == type).filter(\.$severity == severity).first() { return row.deadlines }
        return ExceptionRules.defaultDeadlines(ExceptionRules.Kind(rawValue: type) ?? .other, ExceptionRules.Severity(rawValue: severity) ?? .major)
    }

    static func find(_ p: Principal, _ id: UUID, on db: any Database) async throws -> ExceptionCase {
        try await p.scope.find(ExceptionCase.self, id, on: db)
    }

    static func side(_ p: Principal) -> EightD.Side { p.isSupplier ? .supplier : .buyer }

    // MARK: Raising

    static func create(_ p: Principal, _ input: ExceptionInput, app: Application) async throws -> ExceptionCase {
        try p.require(.raiseExceptions)
        let db = app.database
        var supplierID: UUID
        if p.isSupplier {
            if let s = input.supplierId, s != p.organizationID { throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")]) }
            supplierID = p.organizationID
        } else {
            guard let s = input.supplierId, let org = try await Organization.find(s, on: db), org.kind == OrganizationKind.supplier.rawValue else {
                throw Problem.validation([FieldProblem("supplierId", input.supplierId == nil ? "required" : "unknownSupplier")])
            }
            supplierID = org.id!
        }
        if let oid = input.orderId {
            guard let o = try await p.scope.query(OutsourcingOrder.self, on: db).filter(\.$id == oid).first(), o.supplierID == supplierID else {
                throw Problem.validation([FieldProblem("orderId", "unknownOrder")])
            }
        }
        var itemID: UUID?
        if let code = input.itemCode?.trimmingCharacters(in: .whitespaces), !code.isEmpty {
            guard let item = try await Item.query(on: db).filter(\.$code == code).first() else {
                throw Problem.validation([FieldProblem("itemCode", "unknownItem", ["code": code])])
            }
            itemID = item.id
        }
        if input.eightD == true && p.isSupplier { throw Problem.validation([FieldProblem("eightD", "notYourSide")]) }
        let supplier = supplierID, item = itemID
        return try await app.write(as: p.auditActor) { change in
            try await raise(type: input.type, severity: input.severity, supplier: supplier, order: input.orderId, item: item, lot: input.lot ?? "",
                            source: "manual", sourceID: "", title: input.title.trimmingCharacters(in: .whitespacesAndNewlines),
                            description: input.description ?? "", by: p.userID, buyerOwner: p.isSupplier ? nil : p.userID,
                            supplierOwner: p.isSupplier ? p.userID : nil, eightD: input.eightD ?? false, notify: true, in: change)
        }
    }

    // MARK: Owners, comments, attachments

    static func assignOwners(_ p: Principal, _ id: UUID, _ input: OwnersInput, app: Application) async throws -> ExceptionCase {
        let e = try await find(p, id, on: app.database)
        var sets: [String: any Encodable & Sendable] = [:]
        var newOwner: UUID?
        if let b = input.buyerOwnerId {
            guard !p.isSupplier else { throw Problem.validation([FieldProblem("buyerOwnerId", "notYourSide")]) }
            try p.require(.handleExceptions)
            guard let u = try await User.find(b, on: app.database), u.active, try await isManufacturer(u.$organization.id, on: app.database) else {
                throw Problem.validation([FieldProblem("buyerOwnerId", "unknownUser")])
            }
            sets["buyer_owner_id"] = b; newOwner = b
        }
        if let s = input.supplierOwnerId {
            guard p.isSupplier else { throw Problem.validation([FieldProblem("supplierOwnerId", "notYourSide")]) }
            try p.require(.answerExceptions)
            guard let u = try await User.find(s, on: app.database), u.active, u.$organization.id == e.supplierID else {
                throw Problem.validation([FieldProblem("supplierOwnerId", "unknownUser")])
            }
            sets["supplier_owner_id"] = s; newOwner = s
        }
        if sets.isEmpty { throw Problem.validation([FieldProblem(p.isSupplier ? "supplierOwnerId" : "buyerOwnerId", "required")]) }
        let owner = newOwner, changes = sets
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(ExceptionCase.schema, id: id, expected: input.version, sets: changes)
            try await change.audit("exception", id, "assign", before: ["buyer_owner": e.buyerOwnerID?.uuidString, "supplier_owner": e.supplierOwnerID?.uuidString],
                                   after: ["buyer_owner": (input.buyerOwnerId ?? e.buyerOwnerID)?.uuidString, "supplier_owner": (input.supplierOwnerId ?? e.supplierOwnerID)?.uuidString])
            if let owner, owner != p.userID {
                try await change.notify("exception.assigned", recipients: [owner], messageKey: "notice.exceptionAssigned",
                                        params: ["code": e.code, "title": e.title], link: "/exceptions/\(id)")
            }
            return try await ExceptionCase.find(id, on: change.db)!
        }
    }

    static func isManufacturer(_ org: UUID, on db: any Database) async throws -> Bool {
        try await Organization.find(org, on: db)?.kind == OrganizationKind.manufacturer.rawValue
    }

    /// The supplier's first word (a comment, an attachment or an 8D step) is its response.
    static func markResponded(_ e: ExceptionCase, _ p: Principal, in change: Change) async throws {
        guard p.isSupplier, e.respondedAt == nil else { return }
        let minutes = ExceptionRules.minutes(from: e.createdAt, to: change.now)
        var q = (change.db as! any SQLDatabase).update(ExceptionCase.schema).set("responded_at", to: change.now).set("response_minutes", to: minutes)
        if e.supplierOwnerID == nil { q = q.set("supplier_owner_id", to: p.userID) }
        try await q.where("id", .equal, e.id!).where("responded_at", .is, SQLLiteral.null).run()
        try await change.settleNotices(["exception.raised", "exception.assigned"], link: "/exceptions/\(e.id!)", forUsersOf: p.organizationID)
        try await change.audit("exception", e.id, "respond", after: ["responded_at": change.now.ISO8601Format(), "response_minutes": String(minutes)])
        e.respondedAt = change.now
    }

    /// The other side's owner, or without one its people.
    static func otherSide(_ e: ExceptionCase, from p: Principal?, on db: any Database) async throws -> [UUID] {
        if p?.isSupplier ?? false {
            if let b = e.buyerOwnerID { return [b] }
            return try await OrderService.manufacturerPeople(with: .quality, on: db)
        }
        if let s = e.supplierOwnerID { return [s] }
        return try await OrderService.supplierUsers(e.supplierID, on: db)
    }

    static func comment(_ p: Principal, _ id: UUID, _ input: CommentInput, app: Application) async throws -> ExceptionComment {
        guard mayTakePart(p) else { throw Problem.forbidden }
        let e = try await find(p, id, on: app.database)
        return try await app.write(as: p.auditActor) { change in
            let c = try await addComment(e, side: p.isSupplier ? "supplier" : "buyer", author: p.userID, body: input.body, in: change)
            try await markResponded(e, p, in: change)
            try await change.notify("exception.comment", recipients: try await otherSide(e, from: p, on: change.db), messageKey: "notice.exceptionComment",
                                    params: ["code": e.code, "by": p.displayName], link: "/exceptions/\(id)")
            return c
        }
    }

    @discardableResult
    static func addComment(_ e: ExceptionCase, side: String, author: UUID?, body: String, event: String = "", ref: String = "",
                           in change: Change) async throws -> ExceptionComment {
        let c = ExceptionComment()
        c.id = UUID(); c.exceptionID = e.id!; c.authorID = author; c.side = side; c.body = body; c.event = event; c.ref = ref; c.createdAt = change.now
        try await c.create(on: change.db)
        try await change.audit("exception_comment", c.id, "create", after: ["exception": e.code, "side": side, "body": body])
        return c
    }

    static func attach(_ p: Principal, _ id: UUID, filename: String, data: Data, app: Application) async throws -> Document {
        guard mayTakePart(p) else { throw Problem.forbidden }
        let e = try await find(p, id, on: app.database)
        return try await app.write(as: p.auditActor) { change in
            let d = try await DocumentService.store(data, filename: filename, allowed: attachmentTypes, owner: e.supplierID, entity: "exception",
                                                    entityID: id.uuidString, by: p.userID, in: change)
            try await markResponded(e, p, in: change)
            return d
        }
    }

    // MARK: 8D

    static func steps(_ id: UUID, on db: any Database) async throws -> [Int: EightDStep] {
        Dictionary(uniqueKeysWithValues: try await EightDStep.query(on: db).filter(\.$exceptionID == id).all().map { ($0.step, $0) })
    }

    static func machine(_ e: ExceptionCase, _ rows: [Int: EightDStep]) -> EightD {
        EightD(steps: EightD.Step.allCases.map { EightD.StepState(rawValue: rows[$0.rawValue]?.state ?? "open") ?? .open },
               closed: e.status == "closed" && e.eightD)
    }

    static func gate(_ p: Principal, _ id: UUID, step number: Int, _ input: GateInput, app: Application) async throws -> ExceptionCase {
        guard let step = EightD.Step(rawValue: number) else { throw Problem.notFound }
        let e = try await find(p, id, on: app.database)
        let side = side(p)
        try p.require(side == .supplier ? .answerExceptions : .handleExceptions)
        if e.status == "closed" && !e.eightD { throw Problem.conflict("problem.exception.closed") }
        let move: EightD.Move = switch input.action {
        case "submit": .submit(step)
        case "approve": .approve(step)
        default: .sendBack(step)
        }
        return try await app.write(as: p.auditActor) { change in
            let rows = try await steps(id, on: change.db)
            let before = machine(e, rows)
            let after: EightD
            do throws(EightD.Refusal) { after = try before.applying(move, by: side) } catch { throw refusal(error) }
            let row = rows[number] ?? {
                let r = EightDStep(); r.id = UUID(); r.exceptionID = id; r.step = number; r.content = ""; r.returnReason = ""; r.state = "open"; return r
            }()
            row.state = after[step].rawValue
            switch move {
            case .submit: row.content = input.content ?? ""; row.returnReason = ""; row.submittedBy = p.userID; row.submittedAt = change.now
            case .sendBack: row.returnReason = input.reason ?? ""; row.decidedBy = p.userID; row.decidedAt = change.now
            default: row.decidedBy = p.userID; row.decidedAt = change.now
            }
            try await row.save(on: change.db)
            var sets: [String: any Encodable & Sendable] = ["eight_d": true]
            if move == .approve(.d3) { sets["contained_at"] = change.now }
            if after.closed {
                sets["status"] = "closed"; sets["closed_at"] = change.now; sets["closed_by"] = p.userID
                sets["closure_minutes"] = ExceptionRules.minutes(from: e.createdAt, to: change.now)
                sets["resolution"] = rows[EightD.Step.d8.rawValue]?.content ?? row.content
            }
            try await change.updateVersioned(ExceptionCase.schema, id: id, expected: input.version, sets: sets)
            try await change.audit("exception", id, "8d.\(input.action)", before: [step.code: before[step].rawValue],
                                   after: [step.code: after[step].rawValue, "content": input.action == "submit" ? input.content : nil,
                                           "reason": input.reason, "status": after.closed ? "closed" : nil])
            try await addComment(e, side: "system", author: p.userID, body: input.action == "submit" ? "" : input.reason ?? "",
                                 event: "8d.\(input.action)", ref: step.code, in: change)
            if side == .supplier { try await markResponded(e, p, in: change) }
            try await change.settleNotices(["exception.8d"], link: "/exceptions/\(id)", forUsersOf: p.organizationID)
            try await change.notify("exception.8d", recipients: try await otherSide(e, from: p, on: change.db),
                                    messageKey: after.closed ? "notice.exceptionClosed" : "notice.exception8D.\(input.action)",
                                    params: ["code": e.code, "step": step.code], link: "/exceptions/\(id)")
            return try await ExceptionCase.find(id, on: change.db)!
        }
    }

    static func refusal(_ r: EightD.Refusal) -> Problem {
        switch r {
        case .notYourMove: Problem.forbidden
        case .previousNotApproved(let s): Problem.conflict("problem.eightD.previousNotApproved", ["step": s.code])
        case .notSubmitted(let s): Problem.conflict("problem.eightD.notSubmitted", ["step": s.code])
        case .notOpen(let s): Problem.conflict("problem.eightD.notOpen", ["step": s.code])
        case .closed: Problem.conflict("problem.exception.closed")
        case .notClosed: Problem.conflict("problem.exception.notClosed")
        }
    }

    // MARK: Closing and reopening

    static func close(_ p: Principal, _ id: UUID, _ input: CloseInput, app: Application) async throws -> ExceptionCase {
        let e = try await find(p, id, on: app.database)
        try p.require(.handleExceptions)
        guard e.status == "open" else { throw Problem.conflict("problem.exception.closed") }
        // With an 8D under way, only the buyer's verification of D8 closes.
        guard !e.eightD else { throw Problem.conflict("problem.exception.closeThrough8D") }
        return try await app.write(as: p.auditActor) { change in
            let minutes = ExceptionRules.minutes(from: e.createdAt, to: change.now)
            try await change.updateVersioned(ExceptionCase.schema, id: id, expected: input.version, sets: [
                "status": "closed", "closed_at": change.now, "closed_by": p.userID, "closure_minutes": minutes, "resolution": input.resolution])
            try await change.audit("exception", id, "close", before: ["status": "open"], after: ["status": "closed", "resolution": input.resolution])
            try await addComment(e, side: "system", author: p.userID, body: input.resolution, event: "close", in: change)
            try await change.notify("exception.closed", recipients: try await otherSide(e, from: p, on: change.db), messageKey: "notice.exceptionClosed",
                                    params: ["code": e.code], link: "/exceptions/\(id)")
            return try await ExceptionCase.find(id, on: change.db)!
        }
    }

    /// A closed case that comes back: open again with a fresh resolution deadline; with an 8D,
    /// its steps from `fromStep` on are to be done again.
    static func reopen(_ p: Principal, _ id: UUID, _ input: ReopenInput, app: Application) async throws -> ExceptionCase {
        let e = try await find(p, id, on: app.database)
        try p.require(.handleExceptions)
        guard e.status == "closed" else { throw Problem.conflict("problem.exception.notClosed") }
        let from = EightD.Step(rawValue: input.fromStep ?? 4) ?? .d4
        return try await app.write(as: p.auditActor) { change in
            if e.eightD {
                let rows = try await steps(id, on: change.db)
                let after: EightD
                do throws(EightD.Refusal) { after = try machine(e, rows).applying(.reopen(from: from), by: .buyer) } catch { throw refusal(error) }
                for s in EightD.Step.allCases where after[s] == .open {
                    if let r = rows[s.rawValue] { r.state = "open"; try await r.save(on: change.db) }
                }
            }
            let d = try await deadlines(e.type, e.severity, on: change.db)
            var sets: [String: any Encodable & Sendable] = [
                "status": "open", "resolve_by": ExceptionRules.due(from: change.now, d).resolveBy, "reopened": e.reopened + 1, "escalation_level": 0]
            // The closing fields go back to empty; SQL NULL through the typed setter.
            sets["closed_at"] = Date?.none; sets["closed_by"] = UUID?.none; sets["closure_minutes"] = Int?.none
            if e.eightD && from <= .d3 { sets["contained_at"] = Date?.none; sets["containment_by"] = ExceptionRules.due(from: change.now, d).containmentBy }
            try await change.updateVersioned(ExceptionCase.schema, id: id, expected: input.version, sets: sets)
            try await change.audit("exception", id, "reopen", before: ["status": "closed"], after: ["status": "open", "reason": input.reason,
                                                                                                   "from": e.eightD ? from.code : nil])
            try await addComment(e, side: "system", author: p.userID, body: input.reason, event: "reopen", ref: e.eightD ? from.code : "", in: change)
            try await change.notify("exception.reopened", recipients: try await otherSide(e, from: p, on: change.db), messageKey: "notice.exceptionReopened",
                                    params: ["code": e.code], link: "/exceptions/\(id)")
            return try await ExceptionCase.find(id, on: change.db)!
        }
    }

    // MARK: Escalation

    /// Open exceptions whose deadlines passed climb one level per missed deadline; each new level
    /// tells a wider circle. Run by the background worker (tests call it with their clock), a
    /// batch at a time, oldest response deadline first: only those whose level would rise are
    /// read, so the open cases that sit at their level cost one indexed scan a round, not a model
    /// each. Returns how many were raised.
    @discardableResult
    static func escalate(app: Application, batch: Int = 200) async throws -> Int {
        let now = app.subcon.clock.now()
        struct Due: Decodable { let id: UUID }
        // The same sum as ExceptionRules.escalationLevel, to pick the candidates; the rule decides.
        let ids = try await (app.database as! any SQLDatabase).raw("""
            SELECT id FROM exceptions
             WHERE status = 'open' AND escalation_level < 3
               AND (CASE WHEN responded_at IS NULL AND response_by < \(bind: now) THEN 1 ELSE 0 END
                    + CASE WHEN eight_d = \(bind: true) AND contained_at IS NULL AND containment_by < \(bind: now) THEN 1 ELSE 0 END
                    + CASE WHEN resolve_by < \(bind: now) THEN 1 ELSE 0 END) > escalation_level
             ORDER BY response_by, id LIMIT \(literal: batch)
            """).rows(decoding: Due.self).map(\.id)
        guard !ids.isEmpty else { return 0 }
        let open = try await ExceptionCase.query(on: app.database).filter(\.$id ~~ ids).all()
        var raised = 0
        for e in open {
            guard let responseBy = e.responseBy, let containmentBy = e.containmentBy, let resolveBy = e.resolveBy else { continue }
            let level = ExceptionRules.escalationLevel(now: now, due: .init(responseBy: responseBy, containmentBy: containmentBy, resolveBy: resolveBy),
                                                       respondedAt: e.respondedAt, containedAt: e.containedAt, closedAt: e.closedAt,
                                                       needsContainment: e.eightD, current: e.escalationLevel)
            guard level > e.escalationLevel else { continue }
            let claimed = try await app.write(as: .system) { change -> Bool in
                // Raised only if nobody raised it meanwhile; no version bump, so nobody's open form goes stale.
                let rows = try await (change.db as! any SQLDatabase).update(ExceptionCase.schema).set("escalation_level", to: level)
                    .where("id", .equal, e.id!).where("escalation_level", .equal, e.escalationLevel).where("status", .equal, "open")
                    .returning("id").all()
                guard !rows.isEmpty else { return false }
                try await change.audit("exception", e.id, "escalate", before: ["level": String(e.escalationLevel)], after: ["level": String(level)])
                try await addComment(e, side: "system", author: nil, body: "", event: "escalate", ref: String(level), in: change)
                var people = [e.buyerOwnerID, e.supplierOwnerID].compactMap { $0 }
                people += try await User.query(on: change.db).filter(\.$organization.$id == e.supplierID).filter(\.$active == true).all()
                    .filter { $0.roles.contains(.supplierAdmin) }.map { $0.id! }
                if level >= 2 {
                    people += try await OrderService.manufacturerPeople(with: .quality, on: change.db)
                    people += try await OrderService.manufacturerPeople(with: .purchaser, on: change.db)
                }
                if level >= 3 { people += try await OrderService.manufacturerPeople(with: .admin, on: change.db) }
                try await change.notify("exception.escalated", recipients: Array(Set(people)), messageKey: "notice.exceptionEscalated",
                                        params: ["code": e.code, "title": e.title, "level": String(level)], link: "/exceptions/\(e.id!)")
                return true
            }
            if claimed { raised += 1 }
        }
        return raised
    }

    // MARK: Deadline table

    static func deadlineTable(on db: any Database) async throws -> [DeadlineDTO] {
        try await ExceptionDeadline.query(on: db).all().map {
            DeadlineDTO(type: $0.type, severity: $0.severity, responseHours: $0.responseHours, containmentHours: $0.containmentHours,
                        resolveDays: $0.resolveDays, version: $0.version)
        }.sorted { rank($0) < rank($1) }
    }

    private static func rank(_ d: DeadlineDTO) -> Int {
        let k = ExceptionRules.Kind.allCases.map(\.rawValue).firstIndex(of: d.type) ?? 9
        let s = ExceptionRules.Severity.allCases.map(\.rawValue).firstIndex(of: d.severity) ?? 9
        return k * 10 + s
    }

    /// New deadlines apply to exceptions raised from now on.
    static func setDeadline(_ p: Principal, type: String, severity: String, _ input: DeadlineInput, app: Application) async throws -> DeadlineDTO {
        try p.require(.configureQuality)
        guard let row = try await ExceptionDeadline.query(on: app.database).filter(\.$type == type).filter(\.$severity == severity).first() else { throw Problem.notFound }
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(ExceptionDeadline.schema, id: row.id!, expected: input.version, sets: [
                "response_hours": input.responseHours, "containment_hours": input.containmentHours, "resolve_days": input.resolveDays, "updated_at": change.now])
            try await change.audit("exception_deadline", row.id, "update",
                                   before: ["response_hours": String(row.responseHours), "containment_hours": String(row.containmentHours), "resolve_days": String(row.resolveDays)],
                                   after: ["response_hours": String(input.responseHours), "containment_hours": String(input.containmentHours), "resolve_days": String(input.resolveDays)])
            return DeadlineDTO(type: type, severity: severity, responseHours: input.responseHours, containmentHours: input.containmentHours,
                               resolveDays: input.resolveDays, version: input.version + 1)
        }
    }

    // MARK: Reading

    static func summary(_ e: ExceptionCase) -> ExceptionSummaryDTO {
        summary(e, now: Date())
    }

    static func summary(_ e: ExceptionCase, now: Date) -> ExceptionSummaryDTO {
        ExceptionSummaryDTO(id: e.id!, code: e.code, type: e.type, severity: e.severity, status: e.status, title: e.title,
                                   description: e.description, words: e.words, createdAt: e.createdAt, source: e.source, sourceId: e.sourceID, orderId: e.orderID,
                                   supplierId: e.supplierID, responseBy: e.responseBy, resolveBy: e.resolveBy, respondedAt: e.respondedAt,
                                   closedAt: e.closedAt, escalationLevel: e.escalationLevel,
                                   overdue: ExceptionRules.isOverdue(open: e.status == "open", respondedAt: e.respondedAt, responseBy: e.responseBy,
                                                                     resolveBy: e.resolveBy, now: now))
    }

    static func dto(_ e: ExceptionCase, for p: Principal, on db: any Database) async throws -> ExceptionDTO {
        let supplier = try await Organization.find(e.supplierID, on: db)
        let order = try await e.orderID.asyncMap { try await OutsourcingOrder.find($0, on: db) } ?? nil
        let item = try await e.itemID.asyncMap { try await Item.find($0, on: db) } ?? nil
        let comments = try await ExceptionComment.query(on: db).filter(\.$exceptionID == e.id!).sort(\.$createdAt).all()
        let peopleIDs = Set(comments.compactMap(\.authorID) + [e.buyerOwnerID, e.supplierOwnerID, e.raisedBy].compactMap { $0 })
        let people = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$id ~~ Array(peopleIDs)).all().map { ($0.id!, $0) })
        func person(_ id: UUID?) -> PersonDTO? { id.flatMap { people[$0] }.map { PersonDTO(id: $0.id!, name: $0.displayName, login: $0.login) } }
        let rows = try await steps(e.id!, on: db)
        let m = machine(e, rows)
        let side = side(p)
        let stepDTOs = EightD.Step.allCases.map { s in
            let r = rows[s.rawValue]
            let canSubmit = side == .supplier && p.can(.answerExceptions) && (try? m.applying(.submit(s), by: .supplier)) != nil
            let canDecide = side == .buyer && p.can(.handleExceptions) && (try? m.applying(.approve(s), by: .buyer)) != nil
            return StepDTO(step: s.rawValue, code: s.code, key: s.key, state: m[s].rawValue, content: r?.content ?? "", returnReason: r?.returnReason ?? "",
                           submittedAt: r?.submittedAt, decidedAt: r?.decidedAt, submittable: canSubmit, decidable: canDecide)
        }
        let inspection = try await e.receiptLineID.asyncMap { try await Inspection.query(on: db).filter(\.$receiptLineID == $0).first() } ?? nil
        // Defect codes with the names the item's inspection plan gives them.
        var defectNames: [String] = []
        if !e.defectCodes.isEmpty {
            let plan = try await e.itemID.asyncMap { try await InspectionPlan.query(on: db).filter(\.$itemID == $0).first() } ?? nil
            let known = (plan.flatMap { try? JSONDecoder().decode([DefectCode].self, from: Data($0.defectCodes.utf8)) } ?? [])
            defectNames = e.defectCodes.split(separator: ",").map { code in
                known.first { $0.code == code }.map { "\($0.code) \($0.name)" } ?? String(code)
            }
        }
        return ExceptionDTO(
            id: e.id!, code: e.code, type: e.type, severity: e.severity, status: e.status, title: e.title, description: e.description, words: e.words,
            supplierId: e.supplierID, supplierCode: supplier?.code ?? "", supplierName: supplier?.name ?? "", orderId: e.orderID, orderCode: order?.code,
            itemId: e.itemID, itemCode: item?.code, itemName: item?.name, lot: e.lot, source: e.source, sourceId: e.sourceID, receiptLineId: e.receiptLineID,
            inspectionId: inspection?.id, raisedBy: person(e.raisedBy)?.name, createdAt: e.createdAt, buyerOwner: person(e.buyerOwnerID),
            supplierOwner: person(e.supplierOwnerID), responseBy: e.responseBy, containmentBy: e.containmentBy, resolveBy: e.resolveBy,
            respondedAt: e.respondedAt, containedAt: e.containedAt, closedAt: e.closedAt, responseMinutes: e.responseMinutes,
            closureMinutes: e.closureMinutes, escalationLevel: e.escalationLevel, resolution: e.resolution, defectCodes: e.defectCodes, defects: defectNames,
            eightD: e.eightD, reopened: e.reopened,
            penaltyKind: (e.penaltyKind ?? "").isEmpty ? nil : e.penaltyKind,
            penaltyValue: (e.penaltyKind ?? "").isEmpty ? nil : FixedDecimal(units: e.penaltyValue ?? 0),
            statements: try await StatementService.sources(p, type: "exception", id: e.id!, on: db), version: e.version,
            comments: comments.map { CommentDTO(id: $0.id!, side: $0.side, event: $0.event, ref: $0.ref, author: person($0.authorID)?.name, body: $0.body,
                                                createdAt: $0.createdAt) },
            steps: stepDTOs,
            attachments: try await DocumentService.list(entity: "exception", ids: [e.id!.uuidString], on: db).map(DocumentDTO.init))
    }

    /// One row of a list: the summary's columns and the supplier's names.
    struct ListRow: ReadByPosition, Equatable {
        let id: UUID, code: String, type: String, severity: String, status: String, title: String, description: String
        let words: String?, created_at: Date, source: String, source_id: String, order_id: UUID?, supplier_id: UUID
        let response_by: Date?, resolve_by: Date?, responded_at: Date?, closed_at: Date?, escalation_level: Int
        let supplier_code: String, supplier_name: String

        static let columnNames = ["id", "code", "type", "severity", "status", "title", "description", "words", "created_at", "source",
                                  "source_id", "order_id", "supplier_id", "response_by", "resolve_by", "responded_at", "closed_at",
                                  "escalation_level", "supplier_code", "supplier_name"]
        init(_ r: inout ColumnReader) throws {
            id = try r.value(); code = try r.value(); type = try r.value(); severity = try r.value(); status = try r.value(); title = try r.value()
            description = try r.value(); words = try r.optional(); created_at = try r.value(); source = try r.value(); source_id = try r.value()
            order_id = try r.optional(); supplier_id = try r.value(); response_by = try r.optional(); resolve_by = try r.optional()
            responded_at = try r.optional(); closed_at = try r.optional(); escalation_level = try r.value()
            supplier_code = try r.value(); supplier_name = try r.value()
        }

        func summary(now: Date) -> ExceptionSummaryDTO {
            ExceptionSummaryDTO(id: id, code: code, type: type, severity: severity, status: status, title: title, description: description,
                                       words: words.flatMap { try? JSONDecoder().decode(ExceptionWords.self, from: Data($0.utf8)) },
                                       createdAt: created_at, source: source, sourceId: source_id, orderId: order_id, supplierId: supplier_id,
                                       responseBy: response_by, resolveBy: resolve_by, respondedAt: responded_at, closedAt: closed_at,
                                       escalationLevel: escalation_level,
                                       overdue: ExceptionRules.isOverdue(open: status == "open", respondedAt: responded_at, responseBy: response_by,
                                                                         resolveBy: resolve_by, now: now))
        }
    }

    /// Open exceptions in one deadline state (`ExceptionDeadlineState`), over `exceptions e`.
    static func condition(_ d: ExceptionDeadlineState, now: Date) -> SQLQueryString {
        switch d {
        case .overdueResponse: "(e.responded_at IS NULL AND e.response_by < \(bind: now))"
        case .awaitingResponse: "(" + awaitingResponseParts(now: now).map { "(" + $0 + ")" }.joined(separator: " OR ") + ")"
        case .inWork: "(e.responded_at IS NOT NULL AND (e.resolve_by IS NULL OR e.resolve_by >= \(bind: now)))"
        case .overdueResolution: "(e.responded_at IS NOT NULL AND e.resolve_by < \(bind: now))"
        case .overdue: "(" + condition(.overdueResponse, now: now) + " OR " + condition(.overdueResolution, now: now) + ")"
        }
    }

    /// Waiting for an answer in time, as two conditions no exception meets both of: no answer
    /// deadline, or one still ahead. Each is a range of the deadlines index, which their `OR` is
    /// not; the dashboard counts them apart and adds them.
    static func awaitingResponseParts(now: Date) -> [SQLQueryString] {
        ["e.responded_at IS NULL AND e.response_by IS NULL", "e.responded_at IS NULL AND e.response_by >= \(bind: now)"]
    }

    /// Lists: open first by deadline, or closed newest first; filters by type, supplier, mine.
    /// Read as plain rows with the supplier joined (a list decoded 50 wide models); totalled from
    /// the kept counts unless "mine" or a deadline state asks for fewer.
    static func list(_ p: Principal, status: String?, type: String?, supplier: UUID?, mine: Bool, deadline: ExceptionDeadlineState? = nil, now: Date,
                     limit: Int, offset: Int, on sql: any SQLDatabase, keyed: (any SQLDatabase)? = nil) async throws -> (items: [ListRow], total: Int) {
        let supplierID = p.scope.supplierID ?? supplier
        // Everyone's open (or closed) exceptions, the quality engineers' and buyers' list, and all of
        // one supplier's, have one best plan whatever the supplier and page: along the status's or
        // the supplier's page index. On PostgreSQL that is a prepared statement (`keyed`; see
        // `PreparedReads`), with the offset as a value so that one text serves every page:
        // planning it took 2.3 ms, running it 0.6. (One supplier's of one status is not: the
        // generic plan gathers all of the status and sorts them, 3–8 ms for the largest.)
        let plain = (type ?? "").isEmpty && !mine && deadline == nil
        let onePlan = keyed != nil && plain && (supplierID == nil ? status == "open" || status == "closed" : (status ?? "").isEmpty)
        let sql = onePlan ? keyed ?? sql : sql
        var conditions: SQLQueryString = "1 = 1"
        if let supplierID { conditions = conditions + " AND e.supplier_id = \(bind: supplierID)" }
        if let status, !status.isEmpty { conditions = conditions + " AND e.status = \(bind: status)" }
        if let type, !type.isEmpty { conditions = conditions + " AND e.type = \(bind: type)" }
        if mine { conditions = conditions + " AND (e.buyer_owner_id = \(bind: p.userID) OR e.supplier_owner_id = \(bind: p.userID))" }
        if let deadline { conditions = conditions + " AND e.status = 'open' AND " + Self.condition(deadline, now: now) }
        // In the order of the status indexes, which hold the sort key and the id (see
        // `AddExceptionPageIndexes`): the page's ids are read from the index alone, and only
        // those 50 rows are read whole and joined to their suppliers. A sort key the index does
        // not hold made SQLite sort all 33,000 open ones (0.4 → 100 ms).
        let (keys, inner, outer): (SQLQueryString, SQLQueryString, SQLQueryString) = status == "closed"
            ? ("e.closed_at AS k1", " ORDER BY e.closed_at DESC, e.id DESC", " ORDER BY p.k1 DESC, p.id DESC")
            : ("e.resolve_by AS k1, e.created_at AS k2", " ORDER BY e.resolve_by, e.created_at, e.id", " ORDER BY p.k1, p.k2, p.id")
        func statement(total: SQLQueryString?) -> SQLQueryString {
            "WITH page AS MATERIALIZED (SELECT e.id, " + keys + " FROM exceptions e WHERE " + conditions + inner
                + " LIMIT \(literal: limit) OFFSET " + (onePlan ? "\(bind: offset)" : "\(literal: offset)") + ") " + """
            SELECT e.id, e.code, e.type, e.severity, e.status, e.title, e.description, e.words, e.created_at, e.source, e.source_id, e.order_id,
                   e.supplier_id, e.response_by, e.resolve_by, e.responded_at, e.closed_at, e.escalation_level,
                   s.code AS supplier_code, s.name AS supplier_name\(total.map { ", " + $0 } ?? "")
              FROM page p CROSS JOIN exceptions e JOIN organizations s ON s.id = e.supplier_id WHERE e.id = p.id
            """ + outer
        }
        // "Mine" and the deadline states are counted; the rest is kept, and read in the page's statement.
        if mine || deadline != nil {
            let total = try await sql.raw("SELECT COUNT(e.status) AS n FROM exceptions e WHERE " + conditions).first()?.decode(column: "n", as: Int.self) ?? 0
            return (try await sql.raw(statement(total: nil)).rows(decoding: ListRow.self), total)
        }
        let (items, total) = try await KeptCounts.exceptions.pageAndTotal(["supplier_id": supplierID, "status": status.flatMap { $0.isEmpty ? nil : $0 },
                                                                           "type": type.flatMap { $0.isEmpty ? nil : $0 }], decoding: ListRow.self, on: sql) {
            statement(total: $0)
        }
        return (items, total)
    }
}
