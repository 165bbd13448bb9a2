import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

// MARK: - Inputs and views

struct InspectionInput: StrictInput {
    struct Result: Codable, Sendable {
        /// The characteristic's number in the item's plan (1-based).
        var characteristic: Int
        /// Measured values of the sampled units (measured characteristics).
        var values: [FixedDecimal]?
        /// Nonconforming units (attribute characteristics, or measured without values).
        var nonconforming: Int?
    }
    struct Defect: Codable, Sendable {
        var code: String
        var count: Int
    }
    static let fields: Set<String> = ["version", "decision", "accepted", "rejected", "results", "defects", "approverId", "note"]
    var version: Int
    /// accept, reject, concession, partial; without it, from the quantities or the sample's result.
    var decision: String?
    var accepted: FixedDecimal?
    var rejected: FixedDecimal?
    var results: [Result]?
    var defects: [Defect]?
    /// The person approving a concession (quality or purchasing).
    var approverId: UUID?
    var note: String?

    static let decisions = ["accept", "reject", "concession", "partial"]

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if let d = decision, !Self.decisions.contains(d) { p.append(FieldProblem("decision", "notOneOf", ["allowed": Self.decisions.joined(separator: ", ")])) }
        for (q, f) in [(accepted, "accepted"), (rejected, "rejected")] {
            if let q { if q < .zero { p.append(FieldProblem(f, "negative")) } else if q >= OrderLines.maxQuantity { p.append(FieldProblem(f, "tooLarge")) } }
        }
        if (results?.count ?? 0) > 50 { p.append(FieldProblem("results", "tooMany", ["max": "50"])) }
        for (i, r) in (results ?? []).enumerated() {
            if (r.values?.count ?? 0) > 3150 { p.append(FieldProblem("results[\(i)].values", "tooMany", ["max": "3150"])) }
            if let n = r.nonconforming, n < 0 || n > 3150 { p.append(FieldProblem("results[\(i)].nonconforming", "outOfRange", ["min": "0", "max": "3150"])) }
        }
        if (defects?.count ?? 0) > 100 { p.append(FieldProblem("defects", "tooMany", ["max": "100"])) }
        for (i, d) in (defects ?? []).enumerated() where d.count < 0 || d.count > 3150 {
            p.append(FieldProblem("defects[\(i)].count", "outOfRange", ["min": "0", "max": "3150"]))
        }
        Check.text(note, "note", required: false, max: 2000, into: &p)
        return p
    }
}

struct PlanInput: StrictInput {
    static let fields: Set<String> = ["version", "level", "aql", "reducedAllowed", "exemptAfter", "characteristics", "defectCodes"]
    /// 0 for an item without a plan yet.
    var version: Int
    var level: String
    var aql: String
    var reducedAllowed: Bool?
    var exemptAfter: Int?
    var characteristics: [Characteristic]?
    var defectCodes: [DefectCode]?

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if Sampling.Level(rawValue: level) == nil { p.append(FieldProblem("level", "notOneOf", ["allowed": Sampling.Level.allCases.map(\.rawValue).joined(separator: ", ")])) }
        if Sampling.AQL(rawValue: aql) == nil { p.append(FieldProblem("aql", "notOneOf", ["allowed": Sampling.AQL.allCases.map(\.rawValue).joined(separator: ", ")])) }
        if let n = exemptAfter, n < 0 || n > 1000 { p.append(FieldProblem("exemptAfter", "outOfRange", ["min": "0", "max": "1000"])) }
        let cs = characteristics ?? [], ds = defectCodes ?? []
        if cs.count > 50 { p.append(FieldProblem("characteristics", "tooMany", ["max": "50"])) }
        for (i, c) in cs.enumerated() {
            Check.text(c.name, "characteristics[\(i)].name", max: 100, into: &p)
            Check.text(c.unit, "characteristics[\(i)].unit", required: false, max: 20, into: &p)
            if !["measured", "attribute"].contains(c.kind) { p.append(FieldProblem("characteristics[\(i)].kind", "notOneOf", ["allowed": "measured, attribute"])) }
            if c.kind == "measured" && c.lower == nil && c.upper == nil { p.append(FieldProblem("characteristics[\(i)].upper", "limitsRequired")) }
            if let l = c.lower, let u = c.upper, l > u { p.append(FieldProblem("characteristics[\(i)].lower", "lowerAboveUpper")) }
        }
        if ds.count > 100 { p.append(FieldProblem("defectCodes", "tooMany", ["max": "100"])) }
        var seen = Set<String>()
        for (i, d) in ds.enumerated() {
            Check.code(d.code, "defectCodes[\(i)].code", max: 20, into: &p)
            Check.text(d.name, "defectCodes[\(i)].name", max: 100, into: &p)
            if ExceptionRules.Severity(rawValue: d.severity) == nil { p.append(FieldProblem("defectCodes[\(i)].severity", "notOneOf", ["allowed": "critical, major, minor"])) }
            if !seen.insert(d.code).inserted { p.append(FieldProblem("defectCodes[\(i)].code", "duplicate")) }
        }
        return p
    }
}

struct StateActionInput: StrictInput {
    static let fields: Set<String> = ["version", "action"]
    var version: Int
    /// exempt, revoke (the exemption), resume (after discontinuation), withdrawReduced.
    var action: String
    func validate() -> [FieldProblem] {
        ["exempt", "revoke", "resume", "withdrawReduced"].contains(action) ? [] : [FieldProblem("action", "notOneOf", ["allowed": "exempt, revoke, resume, withdrawReduced"])]
    }
}

struct InspectionPlanDTO: Content {
    let itemId: UUID
    let itemCode: String
    let level: String
    let aql: String
    let reducedAllowed: Bool
    let exemptAfter: Int
    let characteristics: [Characteristic]
    let defectCodes: [DefectCode]
    /// 0 while the item has no plan of its own (the defaults apply).
    let version: Int
}

struct SamplingDTO: Content {
    let lotSize: Int
    let level: String
    let aql: String
    /// normal, tightened, reduced, discontinued.
    let state: String
    let severity: String
    let codeLetter: String
    let tableLetter: String
    let sampleSize: Int
    let acceptance: Int
    let rejection: Int
    let hundredPercent: Bool
    let exempt: Bool
}

struct WorkItemDTO: Content {
    let receiptId: UUID
    let receiptCode: String
    let line: Int
    let version: Int
    let supplierCode: String
    let supplierName: String
    let orderId: UUID
    let orderCode: String
    let itemCode: String
    let itemName: String
    let lot: String
    let quantity: FixedDecimal
    /// The item's unit of measure, for the quantity.
    let unit: String
    let receivedAt: Date
    let sampling: SamplingDTO
}

extension SamplingDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) throws {
        o("lotSize", lotSize); o("level", level); o("aql", aql); o("state", state); o("severity", severity); o("codeLetter", codeLetter)
        o("tableLetter", tableLetter); o("sampleSize", sampleSize); o("acceptance", acceptance); o("rejection", rejection)
        o("hundredPercent", hundredPercent); o("exempt", exempt)
    }
}

extension WorkItemDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) throws {
        o("receiptId", receiptId); o("receiptCode", receiptCode); o("line", line); o("version", version); o("supplierCode", supplierCode)
        o("supplierName", supplierName); o("orderId", orderId); o("orderCode", orderCode); o("itemCode", itemCode); o("itemName", itemName)
        o("lot", lot); o("quantity", quantity); o("unit", unit); o("receivedAt", receivedAt); try o("sampling", sampling)
    }
}

/// A line of the work list page's latest inspections.
struct RecentInspectionDTO: Encodable, Equatable {
    let id: UUID
    let code: String
    let decision: String
    let itemCode: String
    let itemName: String
    let unit: String
    let supplierCode: String
    let supplierName: String
    let lot: String
    let acceptedQuantity: FixedDecimal
    let rejectedQuantity: FixedDecimal
    let exceptionId: UUID?
    let exceptionCode: String?
}

struct InspectionDTO: Content {
    let id: UUID
    let code: String
    let receiptId: UUID
    let receiptCode: String
    let line: Int
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let orderId: UUID
    let orderCode: String
    let itemCode: String
    let itemName: String
    /// The item's unit of measure, for the quantities.
    let unit: String
    let lot: String
    let lotQuantity: FixedDecimal
    let severity: String
    let level: String
    let aql: String
    let codeLetter: String
    let sampleSize: Int
    let acceptance: Int
    let rejection: Int
    let nonconforming: Int
    let critical: Int
    let samplePassed: Bool
    let decision: String
    let acceptedQuantity: FixedDecimal
    let rejectedQuantity: FixedDecimal
    let approver: String?
    let exempt: Bool
    let note: String
    let results: [CharacteristicResult]
    let defects: [DefectCount]
    let exceptionId: UUID?
    let exceptionCode: String?
    let inspector: String?
    let createdAt: Date
    let photos: [DocumentDTO]
}

struct QualityStateDTO: Content {
    let id: UUID
    let supplierId: UUID
    let supplierCode: String
    let itemCode: String
    let itemName: String
    let state: String
    let lots: Int
    let passRun: Int
    let score: Int
    let exempt: Bool
    let exemptSince: Date?
    let version: Int
}

// MARK: - The service

/// Incoming inspection (来料检验): the plan per item, the sampling plan per lot from the
/// supplier × item switching state, the results, the decision and what follows from it.
enum InspectionService {
    static let photoTypes: Set<FileType> = [.jpeg, .png, .webp, .pdf]

    struct PlanSettings {
        var level = Sampling.Level.ii
        var aql = Sampling.AQL.p1_0
        var reducedAllowed = false
        var exemptAfter = 0
        var characteristics: [Characteristic] = []
        var defectCodes: [DefectCode] = []
        var version = 0
    }

    static func settings(item: UUID, on db: any Database) async throws -> PlanSettings {
        settings(try await InspectionPlan.query(on: db).filter(\.$itemID == item).first())
    }

    static func settings(_ row: InspectionPlan?) -> PlanSettings {
        guard let row else { return PlanSettings() }
        var s = samplingSettings(level: row.level, aql: row.aql)
        s.reducedAllowed = row.reducedAllowed; s.exemptAfter = row.exemptAfter
        s.characteristics = (try? JSONDecoder().decode([Characteristic].self, from: Data(row.characteristics.utf8))) ?? []
        s.defectCodes = (try? JSONDecoder().decode([DefectCode].self, from: Data(row.defectCodes.utf8))) ?? []
        s.version = row.version
        return s
    }

    /// A plan's level and AQL, all that sampling reads of it; no plan, or a value not known,
    /// is the default (level II, AQL 1.0).
    static func samplingSettings(level: String?, aql: String?) -> PlanSettings {
        var s = PlanSettings()
        if let level = level.flatMap(Sampling.Level.init(rawValue:)) { s.level = level }
        if let aql = aql.flatMap(Sampling.AQL.init(rawValue:)) { s.aql = aql }
        return s
    }

    static func state(supplier: UUID, item: UUID, on db: any Database) async throws -> QualityState? {
        try await QualityState.query(on: db).filter(\.$supplierID == supplier).filter(\.$itemID == item).first()
    }

    /// Sampling counts whole units: a fractional received quantity is a lot of the next whole number.
    static func lotSize(_ quantity: Int64) -> Int { Int(min(Int64(Int32.max), (quantity + FixedDecimal.unit - 1) / FixedDecimal.unit)) }

    static func sampling(quantity: Int64, settings s: PlanSettings, state: QualityState?) -> (Sampling.Plan, SamplingDTO) {
        sampling(quantity: quantity, settings: s, rules: state?.rules, exempt: state?.exempt ?? false)
    }

    /// `rules` nil: no state kept yet for the supplier and item (normal inspection).
    static func sampling(quantity: Int64, settings s: PlanSettings, rules: Switching?, exempt: Bool) -> (Sampling.Plan, SamplingDTO) {
        let rules = rules ?? Switching()
        let plan = Sampling.plan(lotSize: lotSize(quantity), level: s.level, aql: s.aql, severity: rules.samplingSeverity)
        return (plan, SamplingDTO(lotSize: lotSize(quantity), level: s.level.rawValue, aql: s.aql.rawValue, state: rules.state.rawValue,
                                  severity: plan.severity.rawValue, codeLetter: plan.codeLetter.rawValue, tableLetter: plan.tableLetter.rawValue,
                                  sampleSize: plan.sampleSize, acceptance: plan.acceptance, rejection: plan.rejection,
                                  hundredPercent: plan.hundredPercent, exempt: exempt))
    }

    static func line(_ p: Principal, _ receiptID: UUID, _ number: Int, on db: any Database) async throws -> (GoodsReceipt, ReceiptLine) {
        let r = try await DeliveryService.findReceipt(p, receiptID, on: db)
        guard let line = try await ReceiptLine.query(on: db).filter(\.$receiptID == receiptID).filter(\.$number == number).first() else {
            throw Problem.notFound
        }
        return (r, line)
    }

    static func samplingFor(_ p: Principal, _ receiptID: UUID, _ number: Int, on db: any Database) async throws -> SamplingDTO {
        let (_, line) = try await line(p, receiptID, number, on: db)
        let s = try await settings(item: line.itemID, on: db)
        return sampling(quantity: line.quantity, settings: s, state: try await state(supplier: line.supplierID, item: line.itemID, on: db)).1
    }

    // MARK: Inspecting

    static func inspect(_ p: Principal, _ receiptID: UUID, line number: Int, _ input: InspectionInput, app: Application) async throws -> Inspection {
        let (r, line) = try await line(p, receiptID, number, on: app.modelReads)
        try p.require(.inspectGoods)
        guard line.version == input.version else { throw Problem.staleVersion(current: line.version) }
        guard line.status == "awaiting_inspection" else { throw Problem.conflict("problem.receipt.alreadyDecided") }
        let s = try await settings(item: line.itemID, on: app.modelReads)
        let known = try await state(supplier: line.supplierID, item: line.itemID, on: app.modelReads)
        let (plan, _) = sampling(quantity: line.quantity, settings: s, state: known)

        var results: [CharacteristicResult] = []
        for (i, x) in (input.results ?? []).enumerated() {
            guard x.characteristic >= 1 && x.characteristic <= s.characteristics.count else {
                throw Problem.validation([FieldProblem("results[\(i)].characteristic", "unknownCharacteristic", ["no": String(x.characteristic)])])
            }
            let c = s.characteristics[x.characteristic - 1]
            let values = x.values ?? []
            if values.count > plan.sampleSize { throw Problem.validation([FieldProblem("results[\(i)].values", "moreThanSample", ["n": String(plan.sampleSize)])]) }
            let outside = IncomingInspection.outside(values, lower: c.lower, upper: c.upper)
            let nc = c.kind == "measured" && !values.isEmpty ? outside : (x.nonconforming ?? 0)
            if nc > plan.sampleSize { throw Problem.validation([FieldProblem("results[\(i)].nonconforming", "moreThanSample", ["n": String(plan.sampleSize)])]) }
            results.append(CharacteristicResult(no: x.characteristic, name: c.name, values: values, nonconforming: nc))
        }
        var defects: [DefectCount] = []
        for (i, d) in (input.defects ?? []).enumerated() where d.count > 0 {
            guard let code = s.defectCodes.first(where: { $0.code == d.code }) else {
                throw Problem.validation([FieldProblem("defects[\(i)].code", "unknownDefectCode", ["code": d.code])])
            }
            defects.append(DefectCount(code: code.code, severity: code.severity, count: d.count))
        }
        let critical = defects.filter { $0.severity == "critical" }.reduce(0) { $0 + $1.count }
        let nonconforming = IncomingInspection.nonconforming(defectTally: defects.filter { $0.severity != "critical" }.reduce(0) { $0 + $1.count },
                                                             characteristicTally: results.reduce(0) { $0 + $1.nonconforming }, sampleSize: plan.sampleSize)
        let samplePassed = IncomingInspection.samplePasses(nonconforming: nonconforming, critical: critical, plan: plan)

        let quantity = FixedDecimal(units: line.quantity)
        var requested: IncomingInspection.Decision?
        if let d = input.decision {
            guard let parsed = IncomingInspection.Decision(rawValue: d) else { throw Problem.validation([FieldProblem("decision", "notOneOf")]) }
            requested = parsed
        }
        let asked = requested
        let outcome: IncomingInspection.Outcome
        do throws(IncomingInspection.Refusal) {
            outcome = try IncomingInspection.decide(asked, received: quantity, accepted: input.accepted, rejected: input.rejected, samplePassed: samplePassed,
                                                    hasApprover: input.approverId != nil, discontinued: known?.rules.state == .discontinued)
        } catch {
            switch error {
            case .sampleFailed: throw Problem.validation([FieldProblem("decision", "sampleFailed", ["found": String(nonconforming), "ac": String(plan.acceptance), "critical": String(critical)])])
            case .concessionNotNeeded: throw Problem.validation([FieldProblem("decision", "concessionNotNeeded")])
            case .approverRequired: throw Problem.validation([FieldProblem("approverId", "required")])
            case .partialNeedsBoth: throw Problem.validation([FieldProblem("accepted", "partialNeedsBoth")])
            case .negative: throw Problem.validation([FieldProblem("accepted", "negative")])
            case .doesNotAddUp(let q): throw Problem.validation([FieldProblem("accepted", "outcomeAddsUp", ["received": q.description])])
            case .discontinued: throw Problem.conflict("problem.inspection.discontinued")
            }
        }
        if outcome.decision == .concession, let a = input.approverId {
            guard let approver = try await User.find(a, on: app.modelReads), approver.active, try await ExceptionService.isManufacturer(approver.$organization.id, on: app.modelReads),
                  Policy.allows(Set(approver.roles), .approveConcession) else {
                throw Problem.validation([FieldProblem("approverId", "notAnApprover")])
            }
        }
        let decision = outcome.decision.rawValue, accepted = outcome.accepted, rejected = outcome.rejected
        let lineStatus = outcome.decision.lineStatus
        let item = try await Item.find(line.itemID, on: app.modelReads)
        let inputNote = input.note ?? ""
        let found = (results: results, defects: defects, accepted: accepted, rejected: rejected)

        return try await app.write(as: p.auditActor) { change in
            try await DeliveryService.lockOrder(r.orderID, in: change)
            let ins = Inspection()
            ins.id = UUID(); ins.code = try await MaterialService.code("inspection", prefix: "IQ", in: change)
            ins.receiptID = r.id!; ins.receiptLineID = line.id!; ins.receiptLineNumber = line.number; ins.supplierID = line.supplierID
            ins.orderID = line.orderID; ins.itemID = line.itemID; ins.lot = line.lot; ins.lotQuantity = line.quantity
            ins.severity = plan.severity.rawValue; ins.level = s.level.rawValue; ins.aql = s.aql.rawValue; ins.codeLetter = plan.codeLetter.rawValue
            ins.sampleSize = plan.sampleSize; ins.acceptance = plan.acceptance; ins.rejection = plan.rejection; ins.nonconforming = nonconforming
            ins.critical = critical; ins.results = json(found.results); ins.defects = json(found.defects); ins.samplePassed = samplePassed; ins.decision = decision
            ins.acceptedQuantity = found.accepted.units; ins.rejectedQuantity = found.rejected.units; ins.approverID = decision == "concession" ? input.approverId : nil
            ins.exempt = false; ins.note = inputNote; ins.inspectorID = p.userID; ins.createdAt = change.now
            // The versioned outcome first: a second inspector of the same line gets a 409 here
            // rather than a clash on the one-inspection-per-line constraint. It also takes the
            // supplier's ledger lock, so the switching state below is read and written by one
            // inspection of this supplier at a time.
            try await DeliveryService.recordOutcome(r, line, status: lineStatus, accepted: found.accepted, rejected: found.rejected,
                                                    expectedVersion: input.version, by: p.userID, in: change)
            try await ins.create(on: change.db)
            try await InspectionDefects.record(ins, on: change.db)
            if decision == "concession", let approver = input.approverId, approver != p.userID {
                try await change.notify("inspection.concession", recipients: [approver], messageKey: "notice.concessionNamed",
                                        params: ["code": ins.code, "item": item?.code ?? "", "lot": line.lot, "by": p.displayName], link: "/inspections/\(ins.id!)")
            }
            try await recordLot(supplier: line.supplierID, item: line.itemID, itemCode: item?.code ?? "", accepted: outcome.decision.acceptsLot,
                                plan: plan, nonconforming: nonconforming, settings: s, in: change)
            if let severity = IncomingInspection.exceptionSeverity(outcome.decision, critical: critical)?.rawValue {
                let e = try await ExceptionService.raise(
                    type: "quality", severity: severity, supplier: line.supplierID, order: line.orderID, item: line.itemID, lot: line.lot,
                    source: "inspection", sourceID: ins.id!.uuidString, title: "\(item?.code ?? "") \(line.lot) \(ins.code)",
                    description: "\(ins.code) · n=\(plan.sampleSize) Ac=\(plan.acceptance) Re=\(plan.rejection) · d=\(nonconforming)"
                        + (critical > 0 ? " · critical=\(critical)" : "") + " · \(found.accepted)/\(found.rejected)" + (inputNote.isEmpty ? "" : " · \(inputNote)"),
                    by: p.userID, buyerOwner: p.userID, receiptLine: line.id, defectCodes: found.defects.map(\.code).joined(separator: ","),
                    eightD: severity != "minor", notify: true,
                    words: ExceptionWords(title: "exceptionWords.quality.title", description: "exceptionWords.quality.description", params: [
                        "item": item?.code ?? "", "itemName": item?.name ?? "", "lot": line.lot, "inspection": ins.code,
                        "n": String(plan.sampleSize), "ac": String(plan.acceptance), "re": String(plan.rejection), "d": String(nonconforming),
                        "critical": String(critical), "accepted": found.accepted.grouped, "rejected": found.rejected.grouped,
                        "unit": item?.uom ?? "", "note": inputNote]),
                    in: change)
                ins.exceptionID = e.id
                try await ins.save(on: change.db)
            }
            if try await ReceiptLine.query(on: change.db).filter(\.$receiptID == r.id!).filter(\.$status == "awaiting_inspection").count() == 0 {
                try await change.settleNotices(["receipt.awaitingInspection"], link: "/receipts/\(r.id!)")
            }
            try await change.audit("inspection", ins.id, "create", after: [
                "code": ins.code, "receipt": r.code, "line": String(line.number), "plan": "\(plan.severity.rawValue) \(plan.codeLetter.rawValue) n=\(plan.sampleSize) Ac=\(plan.acceptance) Re=\(plan.rejection)",
                "nonconforming": String(nonconforming), "critical": String(critical), "decision": decision,
                "accepted": found.accepted.description, "rejected": found.rejected.description, "approver": ins.approverID?.uuidString])
            return ins
        }
    }

    static func json<T: Encodable>(_ v: T) -> String { String(decoding: try! JSONEncoder().encode(v), as: UTF8.self) }

    /// The lot's result moves the supplier × item switching state; a run of accepted lots long
    /// enough earns exemption.
    static func recordLot(supplier: UUID, item: UUID, itemCode: String, accepted: Bool, plan: Sampling.Plan, nonconforming: Int,
                          settings s: PlanSettings, in change: Change) async throws {
        let row = try await state(supplier: supplier, item: item, on: change.db) ?? {
            let q = QualityState(); q.id = UUID(); q.supplierID = supplier; q.itemID = item; q.rules = Switching(); q.exempt = false
            q.lots = 0; q.version = 0; q.updatedAt = change.now; return q
        }()
        let before = row.state
        var rules = row.rules
        rules.record(accepted: accepted, acceptance: plan.acceptance, nonconforming: nonconforming, reducedAllowed: s.reducedAllowed)
        row.rules = rules; row.lots += 1; row.updatedAt = change.now
        var earned = false
        if !row.exempt && rules.earnsExemption(after: s.exemptAfter) { row.exempt = true; row.exemptSince = change.now; earned = true }
        // A lot not accepted ends an exemption granted before (it can only happen to a lot inspected anyway).
        if row.exempt && !accepted { row.exempt = false; row.exemptSince = nil }
        row.version += 1
        try await row.save(on: change.db)
        if before != row.state || earned {
            try await change.audit("quality_state", row.id, "update", before: ["state": before], after: ["state": row.state, "exempt": row.exempt ? "yes" : "no"])
            let people = try await OrderService.manufacturerPeople(with: .quality, on: change.db) + OrderService.supplierUsers(supplier, on: change.db)
            try await change.notify("quality.switched", recipients: Array(Set(people)), messageKey: earned ? "notice.qualityExempt" : "notice.qualitySwitched",
                                    params: ["item": itemCode, "state": row.state], link: "/quality")
        }
    }

    /// Lines of an exempt supplier × item are accepted at the gate: no sample, a record that says why.
    static func acceptExempt(_ r: GoodsReceipt, _ lines: [ReceiptLine], by user: UUID, in change: Change) async throws {
        let items = Set(lines.map(\.itemID))
        let exempt = try await QualityState.query(on: change.db).filter(\.$supplierID == r.supplierID).filter(\.$itemID ~~ Array(items))
            .filter(\.$exempt == true).all().map(\.itemID)
        for line in lines where exempt.contains(line.itemID) {
            let s = try await settings(item: line.itemID, on: change.db)
            let ins = Inspection()
            ins.id = UUID(); ins.code = try await MaterialService.code("inspection", prefix: "IQ", in: change)
            ins.receiptID = r.id!; ins.receiptLineID = line.id!; ins.receiptLineNumber = line.number; ins.supplierID = line.supplierID
            ins.orderID = line.orderID; ins.itemID = line.itemID; ins.lot = line.lot; ins.lotQuantity = line.quantity; ins.severity = "exempt"
            ins.level = s.level.rawValue; ins.aql = s.aql.rawValue; ins.codeLetter = ""; ins.sampleSize = 0; ins.acceptance = 0; ins.rejection = 0
            ins.nonconforming = 0; ins.critical = 0; ins.results = "[]"; ins.defects = "[]"; ins.samplePassed = true; ins.decision = "accept"
            ins.acceptedQuantity = line.quantity; ins.rejectedQuantity = 0; ins.exempt = true; ins.note = ""; ins.inspectorID = user; ins.createdAt = change.now
            try await ins.create(on: change.db)
            try await DeliveryService.recordOutcome(r, line, status: "accepted", accepted: FixedDecimal(units: line.quantity), rejected: .zero,
                                                    expectedVersion: line.version, by: user, in: change)
            try await change.audit("inspection", ins.id, "create", after: ["code": ins.code, "receipt": r.code, "line": String(line.number), "decision": "accept", "exempt": "yes"])
        }
    }

    static func attachPhoto(_ p: Principal, _ id: UUID, filename: String, data: Data, app: Application) async throws -> Document {
        try p.require(.inspectGoods)
        let ins = try await p.scope.find(Inspection.self, id, on: app.modelReads)
        return try await app.write(as: p.auditActor) { change in
            try await DocumentService.store(data, filename: filename, allowed: photoTypes, owner: ins.supplierID, entity: "inspection",
                                            entityID: id.uuidString, by: p.userID, in: change)
        }
    }

    // MARK: Plans and states

    static func plan(item: Item, on db: any Database) async throws -> InspectionPlanDTO {
        let s = try await settings(item: item.id!, on: db)
        return InspectionPlanDTO(itemId: item.id!, itemCode: item.code, level: s.level.rawValue, aql: s.aql.rawValue, reducedAllowed: s.reducedAllowed,
                       exemptAfter: s.exemptAfter, characteristics: s.characteristics, defectCodes: s.defectCodes, version: s.version)
    }

    static func savePlan(_ p: Principal, item: Item, _ input: PlanInput, app: Application) async throws -> InspectionPlanDTO {
        try p.require(.configureQuality)
        let existing = try await InspectionPlan.query(on: app.modelReads).filter(\.$itemID == item.id!).first()
        let after: [String: String?] = ["level": input.level, "aql": input.aql, "reduced_allowed": (input.reducedAllowed ?? false) ? "yes" : "no",
                                        "exempt_after": String(input.exemptAfter ?? 0), "characteristics": json(input.characteristics ?? []),
                                        "defect_codes": json(input.defectCodes ?? [])]
        try await app.write(as: p.auditActor) { change in
            if let existing {
                try await change.updateVersioned(InspectionPlan.schema, id: existing.id!, expected: input.version, sets: [
                    "level": input.level, "aql": input.aql, "reduced_allowed": input.reducedAllowed ?? false, "exempt_after": input.exemptAfter ?? 0,
                    "characteristics": json(input.characteristics ?? []), "defect_codes": json(input.defectCodes ?? []),
                    "updated_by": p.userID, "updated_at": change.now])
                try await change.audit("inspection_plan", existing.id, "update", before: [
                    "level": existing.level, "aql": existing.aql, "reduced_allowed": existing.reducedAllowed ? "yes" : "no",
                    "exempt_after": String(existing.exemptAfter), "characteristics": existing.characteristics, "defect_codes": existing.defectCodes], after: after)
            } else {
                guard input.version == 0 else { throw Problem.staleVersion(current: 0) }
                let row = InspectionPlan()
                row.id = UUID(); row.itemID = item.id!; row.level = input.level; row.aql = input.aql; row.reducedAllowed = input.reducedAllowed ?? false
                row.exemptAfter = input.exemptAfter ?? 0; row.characteristics = json(input.characteristics ?? []); row.defectCodes = json(input.defectCodes ?? [])
                row.version = 1; row.updatedBy = p.userID; row.updatedAt = change.now
                try await row.create(on: change.db)
                try await change.audit("inspection_plan", row.id, "create", after: after.merging(["item": item.code]) { a, _ in a })
            }
        }
        return try await plan(item: item, on: app.modelReads)
    }

    static func states(_ p: Principal, supplier: UUID?, on db: any Database) async throws -> [QualityStateDTO] {
        var q = p.scope.query(QualityState.self, on: db)
        if let supplier { q = q.filter(\.$supplierID == supplier) }
        let rows = try await q.sort(\.$updatedAt, .descending).limit(500).all()
        let items = try await OrderService.itemCodes(Set(rows.map(\.itemID)), on: db)
        let orgs = Dictionary(uniqueKeysWithValues: try await Organization.query(on: db).filter(\.$id ~~ Array(Set(rows.map(\.supplierID)))).all().map { ($0.id!, $0) })
        return rows.map { r in
            let rules = r.rules
            return QualityStateDTO(id: r.id!, supplierId: r.supplierID, supplierCode: orgs[r.supplierID]?.code ?? "", itemCode: items[r.itemID]?.code ?? "",
                                   itemName: items[r.itemID]?.name ?? "", state: r.state, lots: r.lots, passRun: rules.passRun, score: rules.score,
                                   exempt: r.exempt, exemptSince: r.exemptSince, version: r.version)
        }
    }

    /// Quality's hand on the switching state: grant or revoke an exemption, resume after
    /// discontinuation, withdraw reduced inspection.
    static func changeState(_ p: Principal, _ id: UUID, _ input: StateActionInput, app: Application) async throws -> QualityState {
        try p.require(.configureQuality)
        let row = try await p.scope.find(QualityState.self, id, on: app.modelReads)
        var rules = row.rules
        var exempt = row.exempt
        switch input.action {
        case "exempt": exempt = true
        case "revoke": exempt = false
        case "resume":
            guard rules.state == .discontinued else { throw Problem.conflict("problem.quality.notDiscontinued") }
            rules.resume()
        default:
            guard rules.state == .reduced else { throw Problem.conflict("problem.quality.notReduced") }
            rules.withdrawReduced()
        }
        let newRules = rules, newExempt = exempt
        return try await app.write(as: p.auditActor) { change in
            let encoded = json(newRules)
            try await change.updateVersioned(QualityState.schema, id: id, expected: input.version, sets: [
                "switching": encoded, "state": newRules.state.rawValue, "exempt": newExempt, "exempt_since": newExempt ? (row.exemptSince ?? change.now) : Date?.none,
                "updated_at": change.now])
            try await change.audit("quality_state", id, input.action, before: ["state": row.state, "exempt": row.exempt ? "yes" : "no"],
                                   after: ["state": newRules.state.rawValue, "exempt": newExempt ? "yes" : "no"])
            return try await QualityState.find(id, on: change.db)!
        }
    }

    // MARK: Reading

    static func dto(_ ins: Inspection, on db: any Database) async throws -> InspectionDTO {
        try await dtos([ins], on: db)[0]
    }

    /// The inspections with their receipts, suppliers, orders, items, people, exceptions and
    /// photos read a kind at a time (seven reads for a page, not seven per inspection), in the
    /// order given.
    static func dtos(_ inspections: [Inspection], on db: any Database) async throws -> [InspectionDTO] {
        guard !inspections.isEmpty else { return [] }
        func byID<M: Model>(_ type: M.Type, _ ids: [UUID]) async throws -> [UUID: M] where M.IDValue == UUID {
            let unique = Array(Set(ids))
            return Dictionary(try await M.query(on: db).filter(\._$id ~~ unique).all().map { ($0.id!, $0) }) { a, _ in a }
        }
        let receipts = try await byID(GoodsReceipt.self, inspections.map(\.receiptID))
        let orgs = try await byID(Organization.self, inspections.map(\.supplierID))
        let orders = try await byID(OutsourcingOrder.self, inspections.map(\.orderID))
        let items = try await byID(Item.self, inspections.map(\.itemID))
        let people = try await byID(User.self, inspections.flatMap { [$0.inspectorID] + ($0.approverID.map { [$0] } ?? []) }).mapValues(\.displayName)
        let exceptions = try await byID(ExceptionCase.self, inspections.compactMap(\.exceptionID))
        let photos = Dictionary(grouping: try await DocumentService.list(entity: "inspection", ids: inspections.map { $0.id!.uuidString }, on: db), by: \.entityID)
        return inspections.map { ins in
            let r = receipts[ins.receiptID], org = orgs[ins.supplierID], order = orders[ins.orderID], item = items[ins.itemID]
            return InspectionDTO(
                id: ins.id!, code: ins.code, receiptId: ins.receiptID, receiptCode: r?.code ?? "", line: ins.receiptLineNumber, supplierId: ins.supplierID,
                supplierCode: org?.code ?? "", supplierName: org?.name ?? "", orderId: ins.orderID, orderCode: order?.code ?? "",
                itemCode: item?.code ?? "", itemName: item?.name ?? "", unit: item?.uom ?? "",
                lot: ins.lot, lotQuantity: FixedDecimal(units: ins.lotQuantity), severity: ins.severity, level: ins.level, aql: ins.aql,
                codeLetter: ins.codeLetter, sampleSize: ins.sampleSize, acceptance: ins.acceptance, rejection: ins.rejection, nonconforming: ins.nonconforming,
                critical: ins.critical, samplePassed: ins.samplePassed, decision: ins.decision, acceptedQuantity: FixedDecimal(units: ins.acceptedQuantity),
                rejectedQuantity: FixedDecimal(units: ins.rejectedQuantity), approver: ins.approverID.flatMap { people[$0] }, exempt: ins.exempt, note: ins.note,
                results: (try? JSONDecoder().decode([CharacteristicResult].self, from: Data(ins.results.utf8))) ?? [],
                defects: (try? JSONDecoder().decode([DefectCount].self, from: Data(ins.defects.utf8))) ?? [],
                exceptionId: ins.exceptionID, exceptionCode: ins.exceptionID.flatMap { exceptions[$0]?.code }, inspector: people[ins.inspectorID], createdAt: ins.createdAt,
                photos: (photos[ins.id!.uuidString] ?? []).map(DocumentDTO.init))
        }
    }

    /// Receipt lines waiting for inspection, oldest receipt first, a page at a time.
    /// Inspectors work the list; the buyer's people who follow quality may read it (the list
    /// spans suppliers, so never a supplier).
    static func mayReadWorkList(_ p: Principal) -> Bool { p.can(.inspectGoods) || (!p.isSupplier && p.can(.viewQualityFigures)) }

    struct WorkListRow: ReadByPosition {
        let receipt_id: UUID; let receipt_code: String; let no: Int; let version: Int; let supplier_id: UUID
        let supplier_code: String; let supplier_name: String; let order_id: UUID; let order_code: String
        let item_id: UUID; let item_code: String; let item_name: String; let item_uom: String; let lot: String; let quantity: Int64; let received_at: Date
        let plan_level: String?; let plan_aql: String?; let switching: String?; let exempt: Bool?

        static let columnNames = ["receipt_id", "receipt_code", "no", "version", "supplier_id", "supplier_code", "supplier_name", "order_id",
                                  "order_code", "item_id", "item_code", "item_name", "item_uom", "lot", "quantity", "received_at", "plan_level", "plan_aql",
                                  "switching", "exempt"]
        init(_ r: inout ColumnReader) throws {
            receipt_id = try r.value(); receipt_code = try r.value(); no = try r.value(); version = try r.value(); supplier_id = try r.value()
            supplier_code = try r.value(); supplier_name = try r.value(); order_id = try r.value(); order_code = try r.value()
            item_id = try r.value(); item_code = try r.value(); item_name = try r.value(); item_uom = try r.value(); lot = try r.value(); quantity = try r.value()
            received_at = try r.value(); plan_level = try r.optional(); plan_aql = try r.optional(); switching = try r.optional(); exempt = try r.optional()
        }
    }

    static func workList(_ p: Principal, page: PageRequest, app: Application) async throws -> Page<WorkItemDTO> {
        guard mayReadWorkList(p) else { throw Problem.forbidden }
        // The page in the order of the (status, received_at) index, names joined in: one read
        // however long the backlog, plus its count. The page's keys come from the lines and their
        // receipts alone (the order needs the receipt's code), the names are joined to those 50:
        // PostgreSQL spent longer planning the five-way join (1.9 ms) than running it. That walk
        // is the best plan for every page, so it is one of the `keyedReads` (prepared once on
        // PostgreSQL), with the page's size in the text: a kept plan for an unknown LIMIT
        // expects a tenth of the table and starts a parallel worker.
        let sql = app.keyedReads
        // The item's plan and the supplier's switching state for it (one row each at most: both
        // are unique on their keys), for the sampling each line will need, joined to the page's
        // rows. They were four scalar subqueries, two lookups of each row; as joins, a page took
        // SQLite 0.211 ms instead of 0.238, and PostgreSQL 1.1 instead of 1.66 to run (and 0.6–0.8
        // instead of 1.9 to plan, which its kept plan pays once).
        typealias Row = WorkListRow
        // The page carries the lines' own columns out of the walk that found them (joining the
        // lines again by id cost two more lookups a row: half of the statement's time).
        // The count is kept (`KeptCounts.receiptLines`) and read in the page's statement.
        let (rows, total) = try await KeptCounts.receiptLines.pageAndTotal(["status": "awaiting_inspection"], decoding: Row.self, on: sql) { total in
            """
            WITH page AS MATERIALIZED (
                SELECT l.received_at AS k, g.code AS receipt_code, l.no, g.created_at AS received_at, l.receipt_id, l.version, l.supplier_id,
                       l.order_id, l.item_id, l.lot, l.quantity
                  FROM receipt_lines l JOIN goods_receipts g ON g.id = l.receipt_id
                 WHERE l.status = 'awaiting_inspection' ORDER BY l.received_at, g.code, l.no LIMIT \(literal: page.per) OFFSET \(bind: page.offset))
            SELECT p.receipt_id, p.receipt_code, p.no, p.version, p.supplier_id, s.code AS supplier_code, s.name AS supplier_name,
                   p.order_id, o.code AS order_code, p.item_id, i.code AS item_code, i.name AS item_name, i.uom AS item_uom, p.lot, p.quantity, p.received_at,
                   ip.level AS plan_level, ip.aql AS plan_aql, qs.switching, qs.exempt,
                   \(total)
              FROM page p JOIN outsourcing_orders o ON o.id = p.order_id
              JOIN organizations s ON s.id = p.supplier_id JOIN items i ON i.id = p.item_id
              LEFT JOIN inspection_plans ip ON ip.item_id = p.item_id
              LEFT JOIN quality_states qs ON qs.supplier_id = p.supplier_id AND qs.item_id = p.item_id
             ORDER BY p.k, p.receipt_code, p.no
            """
        }
        // Lines of one supplier and item share a switching state: its text is decoded once a page.
        var rules: [String: Switching] = [:]
        func decoded(_ text: String) -> Switching {
            if let known = rules[text] { return known }
            let r = QualityState.rules(from: text)
            rules[text] = r
            return r
        }
        return Page(items: rows.map { l in
            WorkItemDTO(receiptId: l.receipt_id, receiptCode: l.receipt_code, line: l.no, version: l.version, supplierCode: l.supplier_code,
                        supplierName: l.supplier_name, orderId: l.order_id, orderCode: l.order_code, itemCode: l.item_code, itemName: l.item_name,
                        lot: l.lot, quantity: FixedDecimal(units: l.quantity), unit: l.item_uom, receivedAt: l.received_at,
                        sampling: sampling(quantity: l.quantity, settings: samplingSettings(level: l.plan_level, aql: l.plan_aql),
                                           rules: l.switching.map(decoded), exempt: l.exempt ?? false).1)
        }, page: page.page, per: page.per, total: total)
    }

    /// The latest inspections whole (`GET /api/v1/inspections/recent`): the page's inspections
    /// from the time index with their names in one statement, and their photos in a second. It
    /// was eight model reads on the driver, every model decoded by name: 12 ms for anyone on the
    /// large data set.
    static func recent(_ p: Principal, limit: Int, on sql: any SQLDatabase, photosOn db: any Database) async throws -> [InspectionDTO] {
        struct Row: ReadByPosition {
            let id: UUID; let code: String; let receipt_id: UUID; let receipt_code: String?; let receipt_line_no: Int; let supplier_id: UUID
            let supplier_code: String?; let supplier_name: String?; let order_id: UUID; let order_code: String?; let item_code: String?
            let item_name: String?; let uom: String?; let lot: String; let lot_quantity: Int64; let severity: String; let level: String; let aql: String
            let code_letter: String; let sample_size: Int; let acceptance: Int; let rejection: Int; let nonconforming: Int; let critical: Int
            let sample_passed: Bool; let decision: String; let accepted_quantity: Int64; let rejected_quantity: Int64; let approver: String?
            let exempt: Bool; let note: String; let results: String; let defects: String; let exception_id: UUID?; let exception_code: String?
            let inspector: String?; let created_at: Date

            static let columnNames = ["id", "code", "receipt_id", "receipt_code", "receipt_line_no", "supplier_id", "supplier_code", "supplier_name",
                                      "order_id", "order_code", "item_code", "item_name", "uom", "lot", "lot_quantity", "severity", "level", "aql",
                                      "code_letter", "sample_size", "acceptance", "rejection", "nonconforming", "critical", "sample_passed", "decision",
                                      "accepted_quantity", "rejected_quantity", "approver", "exempt", "note", "results", "defects", "exception_id",
                                      "exception_code", "inspector", "created_at"]
            init(_ r: inout ColumnReader) throws {
                id = try r.value(); code = try r.value(); receipt_id = try r.value(); receipt_code = try r.optional(); receipt_line_no = try r.value()
                supplier_id = try r.value(); supplier_code = try r.optional(); supplier_name = try r.optional(); order_id = try r.value()
                order_code = try r.optional(); item_code = try r.optional(); item_name = try r.optional(); uom = try r.optional(); lot = try r.value()
                lot_quantity = try r.value(); severity = try r.value(); level = try r.value(); aql = try r.value(); code_letter = try r.value()
                sample_size = try r.value(); acceptance = try r.value(); rejection = try r.value(); nonconforming = try r.value(); critical = try r.value()
                sample_passed = try r.value(); decision = try r.value(); accepted_quantity = try r.value(); rejected_quantity = try r.value()
                approver = try r.optional(); exempt = try r.value(); note = try r.value(); results = try r.value(); defects = try r.value()
                exception_id = try r.optional(); exception_code = try r.optional(); inspector = try r.optional(); created_at = try r.value()
            }
        }
        let rows = try await sql.raw("""
            WITH page AS MATERIALIZED (SELECT x.id, x.created_at AS k FROM inspections x WHERE 1 = 1
            """ + p.scope.and("x.supplier_id") + " ORDER BY x.created_at DESC LIMIT \(literal: limit)) " + """
            SELECT x.id, x.code, x.receipt_id, r.code AS receipt_code, x.receipt_line_no, x.supplier_id, s.code AS supplier_code, s.name AS supplier_name,
                   x.order_id, o.code AS order_code, i.code AS item_code, i.name AS item_name, i.uom, x.lot, x.lot_quantity, x.severity, x.level, x.aql,
                   x.code_letter, x.sample_size, x.acceptance, x.rejection, x.nonconforming, x.critical, x.sample_passed, x.decision,
                   x.accepted_quantity, x.rejected_quantity, a.display_name AS approver, x.exempt, x.note, x.results, x.defects, x.exception_id,
                   e.code AS exception_code, u.display_name AS inspector, x.created_at
              FROM page p CROSS JOIN inspections x
              LEFT JOIN goods_receipts r ON r.id = x.receipt_id LEFT JOIN organizations s ON s.id = x.supplier_id
              LEFT JOIN outsourcing_orders o ON o.id = x.order_id LEFT JOIN items i ON i.id = x.item_id
              LEFT JOIN users a ON a.id = x.approver_id LEFT JOIN users u ON u.id = x.inspector_id LEFT JOIN exceptions e ON e.id = x.exception_id
             WHERE x.id = p.id ORDER BY p.k DESC, x.code DESC
            """).rows(decoding: Row.self)
        let photos = Dictionary(grouping: try await DocumentService.list(entity: "inspection", ids: rows.map { $0.id.uuidString }, on: db), by: \.entityID)
        return rows.map { x in
            InspectionDTO(
                id: x.id, code: x.code, receiptId: x.receipt_id, receiptCode: x.receipt_code ?? "", line: x.receipt_line_no, supplierId: x.supplier_id,
                supplierCode: x.supplier_code ?? "", supplierName: x.supplier_name ?? "", orderId: x.order_id, orderCode: x.order_code ?? "",
                itemCode: x.item_code ?? "", itemName: x.item_name ?? "", unit: x.uom ?? "",
                lot: x.lot, lotQuantity: FixedDecimal(units: x.lot_quantity), severity: x.severity, level: x.level, aql: x.aql,
                codeLetter: x.code_letter, sampleSize: x.sample_size, acceptance: x.acceptance, rejection: x.rejection, nonconforming: x.nonconforming,
                critical: x.critical, samplePassed: x.sample_passed, decision: x.decision, acceptedQuantity: FixedDecimal(units: x.accepted_quantity),
                rejectedQuantity: FixedDecimal(units: x.rejected_quantity), approver: x.approver, exempt: x.exempt, note: x.note,
                results: (try? JSONDecoder().decode([CharacteristicResult].self, from: Data(x.results.utf8))) ?? [],
                defects: (try? JSONDecoder().decode([DefectCount].self, from: Data(x.defects.utf8))) ?? [],
                exceptionId: x.exception_id, exceptionCode: x.exception_code, inspector: x.inspector, createdAt: x.created_at,
                photos: (photos[x.id.uuidString] ?? []).map(DocumentDTO.init))
        }
    }

    /// The latest inspections as the work list page shows them: one statement for what a line
    /// of that list says. The page took the whole `InspectionDTO`s (seven model reads on the
    /// driver, every inspection's results and defects decoded) and handed all of it to Leaf.
    static func recentLines(_ p: Principal, limit: Int, on db: any SQLDatabase) async throws -> [RecentInspectionDTO] {
        struct Row: ReadByPosition {
            static let columnNames = ["id", "code", "decision", "item_code", "item_name", "uom", "supplier_code", "supplier_name", "lot",
                                      "accepted_quantity", "rejected_quantity", "exception_id", "exception_code"]
            init(_ r: inout ColumnReader) throws {
                id = try r.value(); code = try r.value(); decision = try r.value(); item_code = try r.value(); item_name = try r.value()
                uom = try r.value(); supplier_code = try r.value(); supplier_name = try r.value(); lot = try r.value()
                accepted_quantity = try r.value(); rejected_quantity = try r.value(); exception_id = try r.optional(); exception_code = try r.optional()
            }
            let id: UUID; let code: String; let decision: String; let item_code: String; let item_name: String; let uom: String
            let supplier_code: String; let supplier_name: String; let lot: String; let accepted_quantity: Int64; let rejected_quantity: Int64
            let exception_id: UUID?; let exception_code: String?
        }
        let rows = try await db.raw("""
            WITH page AS MATERIALIZED (SELECT x.id, x.created_at AS k FROM inspections x WHERE 1 = 1
            """ + p.scope.and("x.supplier_id") + " ORDER BY x.created_at DESC LIMIT \(literal: limit)) " + """
            SELECT x.id, x.code, x.decision, i.code AS item_code, i.name AS item_name, i.uom, s.code AS supplier_code, s.name AS supplier_name,
                   x.lot, x.accepted_quantity, x.rejected_quantity, x.exception_id, e.code AS exception_code
              FROM page p CROSS JOIN inspections x JOIN items i ON i.id = x.item_id JOIN organizations s ON s.id = x.supplier_id
              LEFT JOIN exceptions e ON e.id = x.exception_id
             WHERE x.id = p.id ORDER BY p.k DESC, x.code DESC
            """).rows(decoding: Row.self)
        return rows.map {
            RecentInspectionDTO(id: $0.id, code: $0.code, decision: $0.decision, itemCode: $0.item_code, itemName: $0.item_name, unit: $0.uom,
                                supplierCode: $0.supplier_code, supplierName: $0.supplier_name, lot: $0.lot,
                                acceptedQuantity: FixedDecimal(units: $0.accepted_quantity), rejectedQuantity: FixedDecimal(units: $0.rejected_quantity),
                                exceptionId: $0.exception_id, exceptionCode: $0.exception_code)
        }
    }
}
