import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct StatementSummaryDTO: Content {
    let id: UUID
    let code: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let period: String
    let status: String
    let revision: Int
    let version: Int
    let currency: String
    let net: FixedDecimal
    let tax: FixedDecimal
    let gross: FixedDecimal
    let changeSeq: Int64
    let updatedAt: Date
}

extension StatementSummaryDTO: DirectJSON {
    func writeJSON(_ o: inout JSONFields) {
        o("id", id); o("code", code); o("supplierId", supplierId); o("supplierCode", supplierCode); o("supplierName", supplierName)
        o("period", period); o("status", status); o("revision", revision); o("version", version); o("currency", currency); o("net", net)
        o("tax", tax); o("gross", gross); o("changeSeq", changeSeq); o("updatedAt", updatedAt)
    }
}

struct StatementLineDTO: Content {
    let id: UUID
    let no: Int
    let kind: String
    let sourceType: String
    let sourceId: String
    let itemId: UUID?
    let itemCode: String?
    let itemName: String?
    /// The item's unit, for the quantity of goods, rejected pieces and material variances.
    let uom: String?
    let reference: String
    let reason: String
    let quantity: FixedDecimal
    let unitPrice: FixedDecimal
    let amount: FixedDecimal
    let occurrence: Int?
    let waived: Bool
    let late: Bool
    let originPeriod: String
    let refersTo: UUID?
    let disputed: Bool
    let disputeComment: String?
    let supplierFigure: FixedDecimal?
    let answer: String?
    let answerReason: String?
    let answerAmount: FixedDecimal?
    let attachments: [DocumentDTO]
}

struct StatementSignatureDTO: Content {
    let action: String
    let by: String
    let organization: String
    let at: Date
}

struct StatementDTO: Content {
    let id: UUID
    let code: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let buyerName: String
    let period: String
    let from: String
    let to: String
    let status: String
    /// The revision shown; `revisions` lists them all.
    let revision: Int
    let currentRevision: Int
    let revisions: [Int]
    let version: Int
    let currency: String
    let taxPercent: FixedDecimal
    let goods: FixedDecimal
    let deductions: FixedDecimal
    let adjustments: FixedDecimal
    let net: FixedDecimal
    let tax: FixedDecimal
    let gross: FixedDecimal
    let grossInWords: String
    let signatures: [StatementSignatureDTO]
    var lines: [StatementLineDTO]
}

struct StatementDiffDTO: Content {
    struct Row: Content {
        let change: String
        let kind: String
        let reference: String
        let before: FixedDecimal?
        let after: FixedDecimal?
    }
    let from: Int
    let to: Int
    let grossBefore: FixedDecimal
    let grossAfter: FixedDecimal
    let rows: [Row]
}

struct StatementFeedDTO: Content {
    let items: [StatementSummaryDTO]
    /// Pass as `after` next time; unchanged when nothing new.
    let cursor: Int64
}

struct StatementSourceDTO: Content {
    let statementId: UUID
    let code: String
    let period: String
    let status: String
    let revision: Int
    let amount: FixedDecimal
}

struct GenerateStatementInput: StrictInput {
    static let fields: Set<String> = ["supplierId", "period"]
    var supplierId: UUID
    var period: String
}

struct DisputeInput: StrictInput {
    struct Line: Content { var lineId: UUID; var comment: String; var supplierFigure: FixedDecimal? }
    static let fields: Set<String> = ["version", "lines"]
    var version: Int
    var lines: [Line]
}

struct LineAnswerInput: StrictInput {
    static let fields: Set<String> = ["version", "answer", "reason", "amount"]
    var version: Int
    /// accept (the supplier's figure), keep (with a reason), correct (to `amount`).
    var answer: String
    var reason: String?
    var amount: FixedDecimal?
}

struct AdjustmentInput: StrictInput {
    static let fields: Set<String> = ["version", "amount", "reason", "refersToLineId"]
    var version: Int
    var amount: FixedDecimal
    var reason: String
    var refersToLineId: UUID?
}

/// Reconciliation statements: generation, the lifecycle both sides walk, and the reads.
enum StatementService {

    static func party(_ p: Principal) -> StatementLifecycle.Party? {
        if p.isSupplier { return p.can(.answerStatements) ? .supplier : nil }
        if p.can(.lockStatements) { return .finance }
        if p.can(.prepareStatements) { return .buyer }
        return nil
    }

    static func refusal(_ r: StatementLifecycle.Refusal) -> Problem {
        switch r {
        case .notYours: .forbidden
        case .notNow(let s): .conflict("problem.statement.notNow", ["status": s.rawValue])
        case .nothingDisputed: .validation([FieldProblem("lines", "required")])
        case .unansweredLines(let n): .conflict("problem.statement.unanswered", ["count": String(n)])
        }
    }

    static func period(_ text: String, field: String = "period") throws -> SettlementPeriod {
        guard let p = SettlementPeriod(text) else { throw Problem.validation([FieldProblem(field, "badPeriod")]) }
        return p
    }

    /// The next number of the change feed; the row lock makes writers take turns until commit.
    /// The next number of a feed: row 1 counts statements, row 2 invoices.
    static func nextSeq(_ change: Change, feed: Int = 1) async throws -> Int64 {
        let sql = change.db as! any SQLDatabase
        try await sql.raw("UPDATE statement_feed SET seq = seq + 1 WHERE id = \(bind: feed)").run()
        struct Row: Decodable { let seq: Int64 }
        return try await sql.raw("SELECT seq FROM statement_feed WHERE id = \(bind: feed)").firstRow(decoding: Row.self)!.seq
    }

    /// Loads a statement the caller may see and checks the version the caller acted on.
    static func load(_ p: Principal, _ id: UUID, version: Int?, on db: any Database) async throws -> Statement {
        try p.require(.viewStatements)
        let s = try await p.scope.find(Statement.self, id, on: db)
        // A draft is the buyer's working paper until it is sent.
        if p.isSupplier && s.state == .draft { throw Problem.notFound }
        if let version, version != s.version { throw Problem.staleVersion(current: s.version) }
        return s
    }

    static func currentLines(_ s: Statement, on db: any Database) async throws -> [StatementLine] {
        try await StatementLine.query(on: db).filter(\.$statementID == s.id!).filter(\.$revision == s.revision).sort(\.$number).all()
    }

    /// Stores the totals of the current revision's lines, a new version and a feed number.
    static func save(_ s: Statement, lines: [some StatementLineFigures], status: StatementLifecycle.State? = nil, expected: Int,
                     extra: [String: any Encodable & Sendable] = [:], in change: Change) async throws {
        let amounts = { (k: String) in lines.filter { $0.kind == k }.map { FixedDecimal(units: $0.amount) } }
        let sums: StatementAmounts.Sums
        do {
            sums = try StatementAmounts.summarize(goods: amounts("goods"), deductions: amounts("deduction"), adjustments: amounts("adjustment"),
                                                  taxPercent: FixedDecimal(units: s.taxPercent))
        } catch { throw Problem.validation([FieldProblem("amount", "tooLarge")]) }
        let seq = try await nextSeq(change)
        var sets: [String: any Encodable & Sendable] = [
            "goods": sums.goods.units, "deductions": sums.deductions.units, "adjustments": sums.adjustments.units,
            "net": sums.net.units, "tax": sums.tax.units, "gross": sums.gross.units, "change_seq": seq, "updated_at": change.now,
            "revision": s.revision, "status": (status ?? s.state).rawValue,
        ]
        for (k, v) in extra { sets[k] = v }
        try await change.updateVersioned(Statement.schema, id: s.id!, expected: expected, sets: sets)
        s.goods = sums.goods.units; s.deductions = sums.deductions.units; s.adjustments = sums.adjustments.units
        s.net = sums.net.units; s.tax = sums.tax.units; s.gross = sums.gross.units; s.changeSeq = seq; s.updatedAt = change.now
        s.status = (status ?? s.state).rawValue; s.version = expected + 1
    }

    /// Takes the lines' sources for this statement, in a few multi-row inserts. A late-delivery
    /// penalty shares its receipt line's id; the type keeps them apart.
    static func claim(_ lines: [StatementLineValues], statement: UUID, in change: Change) async throws {
        let claimed = lines.filter { $0.sourceType != "manual" }
        let ids = OrderedIDs.make(claimed.count, at: change.now)
        do {
            try await (change.db as! any SQLDatabase).insertRows(into: StatementClaim.schema, columns: ["id", "source_type", "source_id", "statement_id"],
                                                                 Array(zip(ids, claimed))) { id, l in
                [SQLBind(id), SQLBind(l.sourceType), SQLBind(UUIDText.parse(l.sourceID)!), SQLBind(statement)]
            }
        } catch let e as any DatabaseError where e.isConstraintFailure {
            throw Problem.conflict("problem.statement.sourceTaken")
        }
    }

    /// New lines in multi-row inserts: a month of a busy supplier is hundreds of them.
    static func insert(_ lines: [StatementLineValues], in change: Change) async throws {
        func b(_ v: some Encodable & Sendable) -> any SQLExpression { SQLBind(v) }
        func opt(_ v: (some Encodable & Sendable)?) -> any SQLExpression { v.map { SQLBind($0) } ?? SQLLiteral.null }
        try await (change.db as! any SQLDatabase).insertRows(into: StatementLine.schema, columns: [
            "id", "statement_id", "supplier_id", "revision", "no", "kind", "source_type", "source_id", "item_id", "reference", "reason", "quantity",
            "unit_price", "amount", "occurrence", "waived", "late", "origin_period", "refers_to", "disputed", "dispute_comment", "supplier_figure",
            "answer", "answer_reason", "answer_amount", "answered_by"], lines) { l in
            [b(l.id), b(l.statementID), b(l.supplierID), b(l.revision), b(l.number), b(l.kind), b(l.sourceType), b(l.sourceID), opt(l.itemID),
             b(l.reference), b(l.reason), b(l.quantity), b(l.unitPrice), b(l.amount), b(l.occurrence), b(l.waived), b(l.late), b(l.originPeriod),
             opt(l.refersTo), b(l.disputed), b(l.disputeComment), opt(l.supplierFigure), b(l.answer), b(l.answerReason), opt(l.answerAmount),
             opt(l.answeredBy)]
        }
    }

    // MARK: Generation

    static func generate(_ p: Principal, _ input: GenerateStatementInput, app: Application) async throws -> Statement {
        try p.require(.prepareStatements)
        let period = try period(input.period)
        guard let supplier = try await Organization.find(input.supplierId, on: app.database), supplier.organizationKind == .supplier else {
            throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")])
        }
        let settings = app.subcon.settings
        if settings.statementCalendar.period(of: app.subcon.today()) < period {
            throw Problem.validation([FieldProblem("period", "periodNotStarted")])
        }
        let bounds = StatementBuilder.bounds(period, settings: settings)
        return try await app.write(as: p.auditActor) { change in
            if try await Statement.query(on: change.db).filter(\.$supplierID == supplier.id!).filter(\.$period == period.description).first() != nil {
                throw Problem.conflict("problem.statement.exists", ["period": period.description])
            }
            let s = Statement()
            s.id = UUID(); s.code = "ST-\(supplier.code)-\(period)"; s.supplierID = supplier.id!; s.period = period.description
            s.status = StatementLifecycle.State.draft.rawValue; s.revision = 1; s.version = 1; s.currency = "CNY"
            s.taxPercent = settings.taxPercent.units; s.goods = 0; s.deductions = 0; s.adjustments = 0; s.net = 0; s.tax = 0; s.gross = 0
            s.changeSeq = 0; s.createdBy = p.userID; s.createdAt = change.now; s.updatedAt = change.now
            try await s.create(on: change.db)
            let (lines, waived) = try await StatementBuilder.lines(supplierID: supplier.id!, bounds: bounds, statementID: s.id!, app: app, on: change.db)
            try await claim(lines, statement: s.id!, in: change)
            try await insert(lines, in: change)
            try await save(s, lines: lines, expected: 1, in: change)
            try await change.audit("statement", s.id, "create", after: s.auditSnapshot.merging(["lines": String(lines.count)]) { a, _ in a })
            if !waived.isEmpty {
                try await change.notify("statement.improvementNotice", recipients: try await OrderService.supplierUsers(supplier.id!, on: change.db),
                                        messageKey: "notice.improvementNotice", params: ["codes": waived.map(\.code).joined(separator: ", ")],
                                        link: "/exceptions/\(waived[0].id)")
            }
            return s
        }
    }

    /// A draft takes in what arrived since it was generated; manual adjustments stay.
    static func refresh(_ p: Principal, _ id: UUID, _ input: VersionInput, app: Application) async throws -> Statement {
        let s = try await load(p, id, version: input.version, on: app.database)
        guard let party = party(p) else { throw Problem.forbidden }
        do { _ = try StatementLifecycle.next(s.state, .edit, by: party) } catch { throw refusal(error) }
        guard s.state == .draft else { throw refusal(.notNow(s.state)) }
        let bounds = StatementBuilder.bounds(try period(s.period), settings: app.subcon.settings)
        return try await app.write(as: p.auditActor) { change in
            // Only the manual lines are kept: reading all of a busy month's lines as models took 200 MB.
            let manual = try await StatementLine.query(on: change.db).filter(\.$statementID == s.id!).filter(\.$revision == s.revision)
                .filter(\.$sourceType == "manual").sort(\.$number).all()
            try await StatementClaim.query(on: change.db).filter(\.$statementID == s.id!).delete()
            try await StatementLine.query(on: change.db).filter(\.$statementID == s.id!).filter(\.$sourceType != "manual").delete()
            var (lines, _) = try await StatementBuilder.lines(supplierID: s.supplierID, bounds: bounds, statementID: s.id!, app: app, on: change.db)
            for i in lines.indices { lines[i].number = i + 1 }
            try await claim(lines, statement: s.id!, in: change)
            try await insert(lines, in: change)
            for (i, m) in manual.enumerated() { m.number = lines.count + i + 1; try await m.save(on: change.db) }
            lines += manual.map(StatementLineValues.init)
            let before = s.auditSnapshot
            try await save(s, lines: lines, expected: input.version, in: change)
            try await change.audit("statement", s.id, "refresh", before: before, after: s.auditSnapshot)
            return s
        }
    }

    // MARK: Lifecycle

    static func transition(_ p: Principal, _ id: UUID, _ action: StatementLifecycle.Action, version: Int, app: Application) async throws -> Statement {
        let s = try await load(p, id, version: version, on: app.database)
        guard let party = party(p) else { throw Problem.forbidden }
        let unanswered = try await unansweredDisputes(s, on: app.database)
        let next: StatementLifecycle.State
        do { next = try StatementLifecycle.next(s.state, action, by: party, unanswered: unanswered) } catch { throw refusal(error) }
        return try await app.write(as: p.auditActor) { change in
            let before = s.auditSnapshot
            var extra: [String: any Encodable & Sendable] = [:]
            switch action {
            case .send:
                extra = ["sent_by": p.userID, "sent_at": change.now]; s.sentBy = p.userID; s.sentAt = change.now
            case .confirm:
                extra = ["confirmed_by": p.userID, "confirmed_at": change.now]; s.confirmedBy = p.userID; s.confirmedAt = change.now
            case .lock:
                extra = ["locked_by": p.userID, "locked_at": change.now]; s.lockedBy = p.userID; s.lockedAt = change.now
            case .revise:
                // A new numbered version: the answers applied, the old revision kept as it was.
                // Copied a batch at a time: a busy month's lines as models at once took 200 MB.
                let from = s.revision
                s.revision += 1
                var after = Int.min
                while true {
                    let batch = try await StatementLine.query(on: change.db).filter(\.$statementID == s.id!).filter(\.$revision == from)
                        .filter(\.$number > after).sort(\.$number).limit(revisedLinesBatch).all()
                    let ids = OrderedIDs.make(batch.count, at: change.now)
                    try await insert(zip(ids, batch).map { id, l in
                        var n = StatementLineValues(revising: l, to: s.revision)
                        n.id = id
                        if l.disputed, let a = l.answerAmount { n.amount = a }
                        return n
                    }, in: change)
                    guard batch.count == revisedLinesBatch, let last = batch.last else { break }
                    after = last.number
                }
            case .edit, .dispute, .answer: break
            }
            // The totals from the lines' sums per kind, in the database.
            try await save(s, lines: try await amountsByKind(s.id!, revision: s.revision, on: change.db), status: next, expected: version,
                           extra: extra, in: change)
            try await change.audit("statement", s.id, action.rawValue, before: before, after: s.auditSnapshot)
            try await notify(s, action, in: change)
            return s
        }
    }

    static let revisedLinesBatch = 2_000

    /// A revision's amounts summed per kind in the database: all `save` needs of its lines.
    struct KindAmount: Decodable, StatementLineFigures { let kind: String; let amount: Int64 }

    static func amountsByKind(_ statement: UUID, revision: Int, on db: any Database) async throws -> [KindAmount] {
        try await (db as! any SQLDatabase).raw("""
            SELECT kind, CAST(SUM(amount) AS BIGINT) AS amount FROM statement_lines WHERE statement_id = \(bind: statement) AND revision = \(bind: revision) GROUP BY kind
            """).rows(decoding: KindAmount.self)
    }

    /// Disputed lines of the current revision the buyer has not answered yet.
    static func unansweredDisputes(_ s: Statement, on db: any Database) async throws -> Int {
        struct N: Decodable { let n: Int }
        return try await (db as! any SQLDatabase).raw("""
            SELECT COUNT(*) AS n FROM statement_lines WHERE statement_id = \(bind: s.id!) AND revision = \(bind: s.revision) AND disputed = \(bind: true) AND answer = ''
            """).firstRow(decoding: N.self)?.n ?? 0
    }

    static func notify(_ s: Statement, _ action: StatementLifecycle.Action, in change: Change) async throws {
        let link = "/statements/\(s.id!)"
        let params = ["code": s.code, "period": s.period, "revision": String(s.revision)]
        // What the acting side was asked to do is done.
        switch action {
        case .confirm, .dispute: try await change.settleNotices(["statement.send"], link: link, forUsersOf: s.supplierID)
        case .lock: try await change.settleNotices(["statement.confirm"], link: link)
        case .send, .revise: try await change.settleNotices(["statement.dispute"], link: link)
        case .edit, .answer: break
        }
        switch action {
        case .send, .lock:
            let people = try await OrderService.supplierUsers(s.supplierID, allowed: .viewStatements, on: change.db)
            try await change.notify("statement.\(action.rawValue)", recipients: people,
                                    messageKey: action == .send ? (s.revision > 1 ? "notice.statementRevised" : "notice.statementSent") : "notice.statementLocked",
                                    params: params, link: link)
        case .confirm, .dispute:
            let people = Set(try await OrderService.manufacturerPeople(with: .finance, on: change.db)
                             + OrderService.manufacturerPeople(with: .purchaser, on: change.db) + [s.createdBy])
            try await change.notify("statement.\(action.rawValue)", recipients: Array(people),
                                    messageKey: action == .confirm ? "notice.statementConfirmed" : "notice.statementDisputed", params: params, link: link)
        case .edit, .revise, .answer: break
        }
    }

    static func dispute(_ p: Principal, _ id: UUID, _ input: DisputeInput, app: Application) async throws -> Statement {
        let s = try await load(p, id, version: input.version, on: app.database)
        guard let party = party(p) else { throw Problem.forbidden }
        do { _ = try StatementLifecycle.next(s.state, .dispute, by: party, disputedLines: input.lines.count) } catch { throw refusal(error) }
        guard input.lines.count <= 1000 else { throw Problem.validation([FieldProblem("lines", "tooMany", ["max": "1000"])]) }
        let lines = try await currentLines(s, on: app.database)
        var problems: [FieldProblem] = []
        var seen: Set<UUID> = []
        for (i, d) in input.lines.enumerated() {
            if !lines.contains(where: { $0.id == d.lineId }) { problems.append(FieldProblem("lines[\(i)].lineId", "unknownStatementLine")) }
            if !seen.insert(d.lineId).inserted { problems.append(FieldProblem("lines[\(i)].lineId", "duplicate")) }
            let comment = d.comment.trimmingCharacters(in: .whitespacesAndNewlines)
            if comment.isEmpty { problems.append(FieldProblem("lines[\(i)].comment", "required")) }
            if comment.count > 1000 { problems.append(FieldProblem("lines[\(i)].comment", "tooLong", ["max": "1000"])) }
            if let f = d.supplierFigure, f < .zero || f > ManualAdjustment.maxAmount { problems.append(FieldProblem("lines[\(i)].supplierFigure", "outOfRange", ["min": "0", "max": "10000000000"])) }
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        return try await app.write(as: p.auditActor) { change in
            let before = s.auditSnapshot
            for d in input.lines {
                let l = lines.first { $0.id == d.lineId }!
                l.disputed = true; l.disputeComment = d.comment.trimmingCharacters(in: .whitespacesAndNewlines)
                l.supplierFigure = d.supplierFigure?.rounded(toScale: StatementAmounts.moneyScale).units
                try await l.save(on: change.db)
                try await change.audit("statement_line", l.id, "dispute", after: ["no": String(l.number), "comment": l.disputeComment,
                                                                                   "supplier_figure": d.supplierFigure?.description])
            }
            try await save(s, lines: lines, status: .disputed, expected: input.version, in: change)
            try await change.audit("statement", s.id, "dispute", before: before, after: s.auditSnapshot)
            try await notify(s, .dispute, in: change)
            return s
        }
    }

    static func answerLine(_ p: Principal, _ id: UUID, lineID: UUID, _ input: LineAnswerInput, app: Application) async throws -> Statement {
        let s = try await load(p, id, version: input.version, on: app.database)
        guard let party = party(p) else { throw Problem.forbidden }
        do { _ = try StatementLifecycle.next(s.state, .answer, by: party) } catch { throw refusal(error) }
        let lines = try await currentLines(s, on: app.database)
        guard let l = lines.first(where: { $0.id == lineID }) else { throw Problem.notFound }
        guard l.disputed else { throw Problem.conflict("problem.statement.lineNotDisputed") }
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard reason.count <= 1000 else { throw Problem.validation([FieldProblem("reason", "tooLong", ["max": "1000"])]) }
        if let a = input.amount, a > ManualAdjustment.maxAmount { throw Problem.validation([FieldProblem("amount", "outOfRange", ["min": "0", "max": "10000000000"])]) }
        let amount: FixedDecimal
        do {
            let answer = try StatementLifecycle.LineAnswer(name: input.answer, reason: reason, amount: input.amount)
            amount = try answer.amount(current: FixedDecimal(units: l.amount), supplierFigure: l.supplierFigure.map(FixedDecimal.init(units:)))
        } catch {
            switch error {
            case .reasonRequired: throw Problem.validation([FieldProblem("reason", "required")])
            case .negativeAmount: throw Problem.validation([FieldProblem("amount", "nonNegativeDecimal")])
            case .amountRequired: throw Problem.validation([FieldProblem("amount", "required")])
            case .noSupplierFigure: throw Problem.validation([FieldProblem("answer", "noSupplierFigure")])
            case .unknownAnswer: throw Problem.validation([FieldProblem("answer", "notOneOf", ["allowed": "accept, keep, correct"])])
            }
        }
        return try await app.write(as: p.auditActor) { change in
            l.answer = input.answer; l.answerReason = reason; l.answeredBy = p.userID; l.answerAmount = amount.units
            try await l.save(on: change.db)
            try await change.audit("statement_line", l.id, "answer", after: ["no": String(l.number), "answer": input.answer, "reason": reason,
                                                                              "amount": amount.description])
            try await save(s, lines: lines, expected: input.version, in: change)
            return s
        }
    }

    static func addAdjustment(_ p: Principal, _ id: UUID, _ input: AdjustmentInput, app: Application) async throws -> Statement {
        let s = try await load(p, id, version: input.version, on: app.database)
        guard let party = party(p) else { throw Problem.forbidden }
        do { _ = try StatementLifecycle.next(s.state, .edit, by: party) } catch { throw refusal(error) }
        var problems: [FieldProblem] = []
        let reason = input.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if reason.isEmpty { problems.append(FieldProblem("reason", "required")) }
        if reason.count > 500 { problems.append(FieldProblem("reason", "tooLong", ["max": "500"])) }
        for problem in ManualAdjustment.check(input.amount) {
            switch problem {
            case .zero: problems.append(FieldProblem("amount", "amountNonZero"))
            case .notToTheFen: problems.append(FieldProblem("amount", "toTheFen"))
            case .tooLarge: problems.append(FieldProblem("amount", "outOfRange", ["min": "-10000000000", "max": "10000000000"]))
            }
        }
        var refersTo: StatementLine?
        if let ref = input.refersToLineId {
            // Only a locked statement's line is corrected this way; an open one is answered or edited.
            if let line = try await StatementLine.find(ref, on: app.database), line.supplierID == s.supplierID,
               let owner = try await Statement.find(line.statementID, on: app.database), owner.state == .locked, owner.id != s.id,
               line.revision == owner.revision {
                refersTo = line
            } else {
                problems.append(FieldProblem("refersToLineId", "notALockedLine"))
            }
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        let target = refersTo
        return try await app.write(as: p.auditActor) { change in
            var lines = try await currentLines(s, on: change.db)
            let l = StatementLine()
            l.id = UUID(); l.statementID = s.id!; l.supplierID = s.supplierID; l.revision = s.revision; l.number = (lines.map(\.number).max() ?? 0) + 1
            l.kind = "adjustment"; l.sourceType = "manual"; l.sourceID = l.id!.uuidString; l.itemID = target?.itemID
            l.reference = target.map { "\($0.reference)" } ?? ""; l.reason = reason; l.quantity = 0; l.unitPrice = 0; l.amount = input.amount.units
            l.occurrence = 0; l.waived = false; l.late = target != nil; l.originPeriod = s.period; l.refersTo = target?.id
            l.disputed = false; l.disputeComment = ""; l.supplierFigure = nil; l.answer = ""; l.answerReason = ""; l.answerAmount = nil; l.answeredBy = nil
            if let refersTo = target, let owner = try await Statement.find(refersTo.statementID, on: change.db) {
                l.originPeriod = owner.period; l.reference = "\(owner.code) #\(refersTo.number) · \(refersTo.reference)"
            }
            try await l.create(on: change.db)
            lines.append(l)
            let before = s.auditSnapshot
            try await save(s, lines: lines, expected: input.version, in: change)
            try await change.audit("statement_line", l.id, "create", after: ["kind": "adjustment", "amount": input.amount.description, "reason": reason,
                                                                              "refers_to": target?.id?.uuidString])
            try await change.audit("statement", s.id, "update", before: before, after: s.auditSnapshot)
            return s
        }
    }

    static func removeAdjustment(_ p: Principal, _ id: UUID, lineID: UUID, _ input: VersionInput, app: Application) async throws -> Statement {
        let s = try await load(p, id, version: input.version, on: app.database)
        guard let party = party(p) else { throw Problem.forbidden }
        do { _ = try StatementLifecycle.next(s.state, .edit, by: party) } catch { throw refusal(error) }
        let all = try await currentLines(s, on: app.database)
        guard let l = all.first(where: { $0.id == lineID }) else { throw Problem.notFound }
        guard l.sourceType == "manual" else { throw Problem.conflict("problem.statement.onlyAdjustments") }
        let lines = all.filter { $0.id != lineID }
        return try await app.write(as: p.auditActor) { change in
            try await l.delete(on: change.db)
            let before = s.auditSnapshot
            try await save(s, lines: lines, expected: input.version, in: change)
            try await change.audit("statement_line", l.id, "delete", before: ["amount": FixedDecimal(units: l.amount).description, "reason": l.reason])
            try await change.audit("statement", s.id, "update", before: before, after: s.auditSnapshot)
            return s
        }
    }

    /// Evidence goes with a dispute: while the statement is sent or disputed.
    static func takesEvidence(_ state: StatementLifecycle.State) -> Bool { [.sent, .disputed].contains(state) }

    static func attach(_ p: Principal, _ id: UUID, lineID: UUID, data: Data, filename: String, app: Application) async throws -> Document {
        let s = try await load(p, id, version: nil, on: app.database)
        guard party(p) == .supplier else { throw Problem.forbidden }
        guard takesEvidence(s.state) else { throw refusal(.notNow(s.state)) }
        guard try await StatementLine.query(on: app.database).filter(\.$id == lineID).filter(\.$statementID == s.id!).filter(\.$revision == s.revision).first() != nil
        else { throw Problem.notFound }
        return try await app.write(as: p.auditActor) { change in
            try await DocumentService.store(data, filename: filename, allowed: [.pdf, .png, .jpeg, .officeZip], owner: s.supplierID,
                                            entity: "statement_line", entityID: lineID.uuidString, by: p.userID, in: change)
        }
    }

    // MARK: Reads

    /// A statement row as the lists select it (with its supplier's code and name).
    struct SummaryRow: ReadByPosition {
        let id: UUID; let code: String; let supplier_id: UUID; let supplier_code: String; let supplier_name: String; let period: String
        let status: String; let revision: Int; let version: Int; let currency: String; let net: Int64; let tax: Int64; let gross: Int64
        let change_seq: Int64; let updated_at: Date

        static let columnNames = ["id", "code", "supplier_id", "supplier_code", "supplier_name", "period", "status", "revision", "version",
                                  "currency", "net", "tax", "gross", "change_seq", "updated_at"]
        init(_ r: inout ColumnReader) throws {
            id = try r.value(); code = try r.value(); supplier_id = try r.value(); supplier_code = try r.value(); supplier_name = try r.value()
            period = try r.value(); status = try r.value(); revision = try r.value(); version = try r.value(); currency = try r.value()
            net = try r.value(); tax = try r.value(); gross = try r.value(); change_seq = try r.value(); updated_at = try r.value()
        }

        var dto: StatementSummaryDTO {
            StatementSummaryDTO(id: id, code: code, supplierId: supplier_id, supplierCode: supplier_code, supplierName: supplier_name, period: period,
                                status: status, revision: revision, version: version, currency: currency, net: FixedDecimal(units: net),
                                tax: FixedDecimal(units: tax), gross: FixedDecimal(units: gross), changeSeq: change_seq, updatedAt: updated_at)
        }
    }

    struct Filter {
        var status: String?
        var period: String?
        var supplierID: UUID?
    }

    /// Read on `sql`, the read connections where there are: a page of a few dozen rows, which the
    /// driver's thread pool and row decoding made the slowest of the buyer's lists.
    static func list(_ p: Principal, filter: Filter, page: PageRequest, on sql: any SQLDatabase) async throws -> Page<StatementSummaryDTO> {
        try p.require(.viewStatements)
        var conditions: [SQLQueryString] = []
        if let s = p.scope.supplierID ?? filter.supplierID { conditions.append("s.supplier_id = \(bind: s)") }
        if p.isSupplier { conditions.append("s.status <> 'draft'") }
        if let st = filter.status, !st.isEmpty {
            guard StatementLifecycle.State(rawValue: st) != nil else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("status", "badStatus")]) }
            conditions.append("s.status = \(bind: st)")
        }
        if let per = filter.period, !per.isEmpty {
            guard SettlementPeriod(per) != nil else { throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("period", "badPeriod")]) }
            conditions.append("s.period = \(bind: per)")
        }
        var whereClause: SQLQueryString = ""
        for (i, c) in conditions.enumerated() { whereClause = whereClause + (i == 0 ? " WHERE " : " AND ") + c }
        // Two statements: the count (no join), and the page. The page's ids are found in the
        // order of the list index, which holds them (`AddStatementPageIndex`), and only those 50
        // rows are read and joined to their supplier: joined while paging, page 100 read 5,000
        // statements and suppliers to skip them (a third of page 1's rate).
        struct C: Decodable { let n: Int64 }
        let total = Int(try await sql.raw("SELECT COUNT(*) AS n FROM statements s" + whereClause).firstRow(decoding: C.self)?.n ?? 0)
        let rows = try await sql.raw("""
            WITH page AS MATERIALIZED (SELECT s.id, s.period, s.code FROM statements s
            """ + whereClause + """
             ORDER BY s.period DESC, s.code LIMIT \(literal: page.per) OFFSET \(bind: page.offset))
            SELECT s.id, s.code, s.supplier_id, o.code AS supplier_code, o.name AS supplier_name, s.period, s.status, s.revision, s.version,
                   s.currency, s.net, s.tax, s.gross, s.change_seq, s.updated_at
              FROM page p JOIN statements s ON s.id = p.id JOIN organizations o ON o.id = s.supplier_id
             ORDER BY p.period DESC, p.code
            """).rows(decoding: SummaryRow.self)
        return Page(items: rows.map(\.dto), page: page.page, per: page.per, total: total)
    }

    /// Statements changed after `after`, oldest change first: an ERP keeps the cursor and asks again.
    static func feed(_ p: Principal, after: Int64, limit: Int, on sql: any SQLDatabase) async throws -> StatementFeedDTO {
        try p.require(.viewStatements)
        let scope: SQLQueryString = p.scope.supplierID.map { " AND s.supplier_id = \(bind: $0) AND s.status <> 'draft'" } ?? ""
        let rows = try await sql.raw("""
            SELECT s.id, s.code, s.supplier_id, o.code AS supplier_code, o.name AS supplier_name, s.period, s.status, s.revision, s.version,
                   s.currency, s.net, s.tax, s.gross, s.change_seq, s.updated_at
            FROM statements s JOIN organizations o ON o.id = s.supplier_id
            WHERE s.change_seq > \(bind: after)
            """ + scope + " ORDER BY s.change_seq LIMIT \(literal: limit)").rows(decoding: SummaryRow.self)
        return StatementFeedDTO(items: rows.map(\.dto), cursor: rows.last?.change_seq ?? after)
    }

    static func detail(_ p: Principal, _ id: UUID, revision: Int?, app: Application) async throws -> StatementDTO {
        var statement = try await header(p, id, revision: revision, app: app)
        statement.lines = try await lines(of: statement, after: 0, limit: nil, on: app.database)
        return statement
    }

    /// A statement as `detail` shows it, without its lines (`lines` is empty): what the API
    /// sends first before streaming the lines in batches.
    static func header(_ p: Principal, _ id: UUID, revision: Int?, app: Application) async throws -> StatementDTO {
        let db = app.database
        let s = try await load(p, id, version: nil, on: db)
        let shown = revision ?? s.revision
        guard shown >= 1, shown <= s.revision else { throw Problem.notFound }
        let supplier = try await Organization.find(s.supplierID, on: db)
        let buyer = try await Organization.query(on: db).filter(\.$kind == OrganizationKind.manufacturer.rawValue).first()
        let people = Dictionary(uniqueKeysWithValues: try await User.query(on: db)
            .filter(\.$id ~~ Set([s.sentBy, s.confirmedBy, s.lockedBy].compactMap { $0 })).all().map { ($0.id!, $0) })
        var signatures: [StatementSignatureDTO] = []
        for (action, by, at) in [("send", s.sentBy, s.sentAt), ("confirm", s.confirmedBy, s.confirmedAt), ("lock", s.lockedBy, s.lockedAt)] {
            guard let by, let at, let u = people[by] else { continue }
            signatures.append(.init(action: action, by: u.displayName, organization: u.$organization.id == s.supplierID ? supplier?.name ?? "" : buyer?.name ?? "", at: at))
        }
        let bounds = StatementBuilder.bounds(try period(s.period), settings: app.subcon.settings)
        // An older revision shows its own totals, from its lines (summed per kind in the database).
        var sums: StatementAmounts.Sums?
        if shown != s.revision {
            let byKind = try await amountsByKind(s.id!, revision: shown, on: db)
            func total(_ kind: String) -> [FixedDecimal] { byKind.filter { $0.kind == kind }.map { FixedDecimal(units: $0.amount) } }
            sums = try? StatementAmounts.summarize(goods: total("goods"), deductions: total("deduction"), adjustments: total("adjustment"),
                                                   taxPercent: FixedDecimal(units: s.taxPercent))
        }
        let gross = sums?.gross ?? FixedDecimal(units: s.gross)
        return StatementDTO(
            id: s.id!, code: s.code, supplierId: s.supplierID, supplierCode: supplier?.code ?? "", supplierName: supplier?.name ?? "",
            buyerName: buyer?.name ?? "", period: s.period, from: bounds.first.description, to: bounds.last.description, status: s.status,
            revision: shown, currentRevision: s.revision, revisions: Array(1...s.revision), version: s.version, currency: s.currency,
            taxPercent: FixedDecimal(units: s.taxPercent), goods: sums?.goods ?? FixedDecimal(units: s.goods),
            deductions: sums?.deductions ?? FixedDecimal(units: s.deductions), adjustments: sums?.adjustments ?? FixedDecimal(units: s.adjustments),
            net: sums?.net ?? FixedDecimal(units: s.net), tax: sums?.tax ?? FixedDecimal(units: s.tax), gross: gross,
            grossInWords: ChineseAmount.words(gross), signatures: signatures, lines: [])
    }

    /// The lines of the revision `statement` shows, in order, after line number `after`: all of
    /// them, or a batch of `limit`. Plain rows rather than models: a busy supplier's month is
    /// tens of thousands of lines.
    /// `reads`: where to read the lines from, if not `db` (the read connections, for a statement
    /// already committed: their rows decode without Foundation's UUID parsing).
    static func lines(of statement: StatementDTO, after: Int, limit: Int?, on db: any Database, reads: (any SQLDatabase)? = nil) async throws -> [StatementLineDTO] {
        let batch: SQLQueryString = limit.map { " LIMIT \(literal: $0)" } ?? ""
        let lines = try await (reads ?? (db as! any SQLDatabase)).raw("""
            SELECT l.id, l.no, l.kind, l.source_type, l.source_id, l.item_id, i.code AS item_code, i.name AS item_name, i.uom AS item_uom, l.reference, l.reason,
                   l.quantity, l.unit_price, l.amount, l.occurrence, l.waived, l.late, l.origin_period, l.refers_to, l.disputed, l.dispute_comment,
                   l.supplier_figure, l.answer, l.answer_reason, l.answer_amount
            FROM statement_lines l LEFT JOIN items i ON i.id = l.item_id
            WHERE l.statement_id = \(bind: statement.id) AND l.revision = \(bind: statement.revision) AND l.no > \(bind: after) ORDER BY l.no
            """ + batch).rows(decoding: LineRow.self)
        // Only disputed lines carry evidence.
        let docs = Dictionary(grouping: try await DocumentService.list(entity: "statement_line", ids: lines.filter(\.disputed).map { $0.id!.uuidString }, on: db),
                              by: \.entityID)
        return lines.map { l in
            StatementLineDTO(id: l.id!, no: l.number, kind: l.kind, sourceType: l.sourceType, sourceId: l.sourceID, itemId: l.itemID,
                             itemCode: l.itemCode, itemName: l.itemName, uom: l.uom,
                             reference: l.reference, reason: l.reason, quantity: FixedDecimal(units: l.quantity),
                             unitPrice: FixedDecimal(units: l.unitPrice), amount: FixedDecimal(units: l.amount),
                             occurrence: l.occurrence > 0 ? l.occurrence : nil, waived: l.waived, late: l.late, originPeriod: l.originPeriod,
                             refersTo: l.refersTo, disputed: l.disputed, disputeComment: l.disputed ? l.disputeComment : nil,
                             supplierFigure: l.supplierFigure.map(FixedDecimal.init(units:)), answer: l.answer.isEmpty ? nil : l.answer,
                             answerReason: l.answerReason.isEmpty ? nil : l.answerReason,
                             answerAmount: l.answerAmount.map(FixedDecimal.init(units:)),
                             attachments: l.disputed ? (docs[UUIDText.text(l.id!)] ?? []).map(DocumentDTO.init) : [])
        }
    }

    /// What changed between two revisions, line by line (matched by their source).
    static func diff(_ p: Principal, _ id: UUID, from: Int, to: Int, app: Application) async throws -> StatementDiffDTO {
        let a = try await detail(p, id, revision: from, app: app)
        let b = try await detail(p, id, revision: to, app: app)
        func key(_ l: StatementLineDTO) -> String { "\(l.sourceType):\(l.sourceId)" }
        let before = Dictionary(a.lines.map { (key($0), $0) }) { x, _ in x }
        let after = Dictionary(b.lines.map { (key($0), $0) }) { x, _ in x }
        var rows: [StatementDiffDTO.Row] = []
        for l in b.lines {
            if let old = before[key(l)] {
                if old.amount != l.amount { rows.append(.init(change: "changed", kind: l.kind, reference: l.reference, before: old.amount, after: l.amount)) }
            } else {
                rows.append(.init(change: "added", kind: l.kind, reference: l.reference, before: nil, after: l.amount))
            }
        }
        for l in a.lines where after[key(l)] == nil {
            rows.append(.init(change: "removed", kind: l.kind, reference: l.reference, before: l.amount, after: nil))
        }
        return StatementDiffDTO(from: from, to: to, grossBefore: a.gross, grossAfter: b.gross, rows: rows)
    }

    /// One stored line as the detail reads it.
    struct LineRow: Decodable {
        let id: UUID?; let number: Int; let kind: String; let sourceType: String; let sourceID: String; let itemID: UUID?
        var itemCode: String? = nil; var itemName: String? = nil; var uom: String? = nil
        let reference: String; let reason: String; let quantity: Int64; let unitPrice: Int64; let amount: Int64; let occurrence: Int
        let waived: Bool; let late: Bool; let originPeriod: String; let refersTo: UUID?; let disputed: Bool; let disputeComment: String
        let supplierFigure: Int64?; let answer: String; let answerReason: String; let answerAmount: Int64?
        enum CodingKeys: String, CodingKey {
            case id, number = "no", kind, sourceType = "source_type", sourceID = "source_id", itemID = "item_id", itemCode = "item_code", itemName = "item_name", uom = "item_uom"
            case reference, reason, quantity
            case unitPrice = "unit_price", amount, occurrence, waived, late, originPeriod = "origin_period", refersTo = "refers_to", disputed
            case disputeComment = "dispute_comment", supplierFigure = "supplier_figure", answer, answerReason = "answer_reason", answerAmount = "answer_amount"
        }
    }

    /// Which statements (and revisions) a source record went into.
    static func sources(_ p: Principal, type: String, id: UUID, on db: any Database) async throws -> [StatementSourceDTO] {
        try await sources(p, type: type, ids: [id], on: db).map(\.statement)
    }

    /// The same for several records of one kind, in one query.
    static func sources(_ p: Principal, type: String, ids: [UUID], on db: any Database) async throws -> [(sourceID: String, statement: StatementSourceDTO)] {
        guard p.can(.viewStatements), !ids.isEmpty else { return [] }
        struct Row: Decodable { let source_id: String; let id: UUID; let code: String; let period: String; let status: String; let revision: Int; let amount: Int64 }
        let scope: SQLQueryString = p.scope.supplierID.map { " AND s.supplier_id = \(bind: $0) AND s.status <> 'draft'" } ?? ""
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT l.source_id, s.id, s.code, s.period, s.status, l.revision, l.amount
            FROM statement_lines l JOIN statements s ON s.id = l.statement_id
            WHERE l.source_type = \(bind: type) AND l.source_id IN (\(binds: ids.map(\.uuidString))) AND l.revision = s.revision
            """ + scope + " ORDER BY s.period").rows(decoding: Row.self)
        return rows.map { ($0.source_id, StatementSourceDTO(statementId: $0.id, code: $0.code, period: $0.period, status: $0.status,
                                                            revision: $0.revision, amount: FixedDecimal(units: $0.amount))) }
    }
}

struct PenaltyInput: StrictInput {
    static let fields: Set<String> = ["version", "kind", "value"]
    var version: Int
    /// fixed, per_piece, percent, eight_d_fee, or none.
    var kind: String
    var value: FixedDecimal?
}

extension ExceptionService {
    /// Quality or purchasing sets what an exception costs the supplier on its statement. Once a
    /// statement has taken it, it is settled there (a change goes in as an adjustment).
    static func setPenalty(_ p: Principal, _ id: UUID, _ input: PenaltyInput, app: Application) async throws -> ExceptionCase {
        try p.require(.handleExceptions)
        let e = try await find(p, id, on: app.database)
        guard input.version == e.version else { throw Problem.staleVersion(current: e.version) }
        var rule: PenaltyRule?
        if input.kind != "none" {
            guard let kind = PenaltyRule.Kind(rawValue: input.kind) else {
                throw Problem.validation([FieldProblem("kind", "notOneOf", ["allowed": "none, " + PenaltyRule.Kind.allCases.map(\.rawValue).joined(separator: ", ")])])
            }
            guard let value = input.value else { throw Problem.validation([FieldProblem("value", "required")]) }
            do { rule = try PenaltyRule(kind: kind, value: value) } catch {
                switch error {
                case .negative: throw Problem.validation([FieldProblem("value", "nonNegativeDecimal")])
                case .percentOver100: throw Problem.validation([FieldProblem("value", "outOfRange", ["min": "0", "max": "100"])])
                case .tooLarge: throw Problem.validation([FieldProblem("value", "tooLarge")])
                }
            }
        }
        if try await StatementClaim.query(on: app.database).filter(\.$sourceType == "exception").filter(\.$sourceID == id).first() != nil {
            throw Problem.conflict("problem.statement.sourceTaken")
        }
        let newKind = rule?.kind.rawValue ?? "", newValue = rule?.value.units ?? 0
        return try await app.write(as: p.auditActor) { change in
            let before: [String: String?] = ["penalty_kind": e.penaltyKind ?? "", "penalty_value": FixedDecimal(units: e.penaltyValue ?? 0).description]
            try await change.updateVersioned(ExceptionCase.schema, id: id, expected: input.version,
                                             sets: ["penalty_kind": newKind, "penalty_value": newValue])
            e.penaltyKind = newKind; e.penaltyValue = newValue; e.version = input.version + 1
            try await change.audit("exception", id, "update", before: before,
                                   after: ["penalty_kind": e.penaltyKind, "penalty_value": FixedDecimal(units: e.penaltyValue ?? 0).description])
            return e
        }
    }
}
