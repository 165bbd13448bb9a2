import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct InvoiceInput: StrictInput {
    static let fields: Set<String> = ["number", "invoiceCode", "issueDate", "net", "taxPercent", "tax", "gross"]
    var number: String
    var invoiceCode: String?
    var issueDate: String
    var net: FixedDecimal
    var taxPercent: FixedDecimal
    var tax: FixedDecimal
    var gross: FixedDecimal

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(number, "number", max: 40, into: &p)
        Check.text(invoiceCode, "invoiceCode", required: false, max: 40, into: &p)
        if Day(issueDate) == nil { p.append(FieldProblem("issueDate", "badDate")) }
        return p
    }
}

struct InvoiceDecisionInput: StrictInput {
    static let fields: Set<String> = ["version", "reason"]
    var version: Int
    var reason: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", required: false, max: 500, into: &p)
        return p
    }
}

struct PaymentInput: StrictInput {
    static let fields: Set<String> = ["version", "amount", "paidOn", "reference"]
    var version: Int
    var amount: FixedDecimal
    var paidOn: String
    var reference: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if Day(paidOn) == nil { p.append(FieldProblem("paidOn", "badDate")) }
        Check.text(reference, "reference", required: false, max: 100, into: &p)
        return p
    }
}

struct PaymentDTO: Content {
    let id: UUID
    let paidOn: String
    let amount: FixedDecimal
    let reference: String
    let createdAt: Date
}

struct InvoiceDTO: Content {
    let id: UUID
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let statementId: UUID
    let statementCode: String
    let period: String
    let number: String
    let invoiceCode: String
    let issueDate: String
    let net: FixedDecimal
    let taxPercent: FixedDecimal
    let tax: FixedDecimal
    let gross: FixedDecimal
    /// registered, accepted, rejected.
    let status: String
    /// Why it does not fit its statement (`rate_differs`, `exceeds_statement`); empty when it fits.
    let flags: [String]
    let decisionReason: String
    let decidedAt: Date?
    let paid: FixedDecimal
    /// Paid to the last fen.
    let paidInFull: Bool
    let version: Int
    let changeSeq: Int64
    let createdAt: Date
    let updatedAt: Date
    /// Only in the detail: the payments and the scans of the invoice.
    let payments: [PaymentDTO]?
    let documents: [DocumentDTO]?
}

/// A statement's money after it was locked: how far it is invoiced, accepted and paid.
struct StatementInvoicingDTO: Content {
    let statementId: UUID
    let statementCode: String
    let status: String
    let net: FixedDecimal
    let tax: FixedDecimal
    let taxPercent: FixedDecimal
    let gross: FixedDecimal
    let invoiced: FixedDecimal
    let accepted: FixedDecimal
    let paid: FixedDecimal
    let outstanding: FixedDecimal
    /// waiting, partial, matched, over (the invoices that count against net and tax).
    let match: String
    let differenceNet: FixedDecimal
    let differenceTax: FixedDecimal
    let tolerance: FixedDecimal
    let invoices: [InvoiceDTO]
}

struct AgingRowDTO: Content {
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    var statements: Int
    var outstanding: FixedDecimal
    /// Outstanding by days since the statement was locked: 0-30, 31-60, 61-90, 90+.
    var buckets: [String: FixedDecimal]
}

struct AgingDTO: Content {
    let asOf: String
    let total: FixedDecimal
    let buckets: [String: FixedDecimal]
    let suppliers: [AgingRowDTO]
}

struct InvoiceFeedDTO: Content {
    let items: [InvoiceDTO]
    let cursor: Int64
}

/// Supplier invoices against locked statements, finance's decision on each, and payments.
enum InvoiceService {
    struct Filter {
        var status: String?
        var supplierID: UUID?
        var statementID: UUID?
    }

    static func tolerance(_ app: Application) -> FixedDecimal { app.subcon.settings.invoiceTolerance }

    static func problem(_ p: InvoiceMatching.Problem) -> Problem {
        switch p {
        case .notPositive(let field): .validation([FieldProblem(field, "positiveDecimal")])
        case .negative(let field): .validation([FieldProblem(field, "negative")])
        case .notMoney(let field): .validation([FieldProblem(field, "toTheFen")])
        case .rateNotAllowed:
            .validation([FieldProblem("taxPercent", "notOneOf", ["allowed": InvoiceMatching.vatRates.map(\.description).joined(separator: ", ")])])
        case .grossIsNotNetPlusTax(let expected): .validation([FieldProblem("gross", "grossIsNetPlusTax", ["expected": expected.yuan])])
        case .taxDoesNotFitRate(let expected): .validation([FieldProblem("tax", "taxDoesNotFitRate", ["expected": expected.yuan])])
        case .tooLarge: .validation([FieldProblem("net", "tooLarge")])
        }
    }

    /// The next number of the invoices' feed (row 2 of the statements' feed table: the row lock
    /// orders concurrent writers, as for statements).
    static func nextSeq(_ change: Change) async throws -> Int64 { try await StatementService.nextSeq(change, feed: 2) }

    /// An invoice the caller may see (another supplier's is a 404), at the version it acted on.
    static func load(_ p: Principal, _ id: UUID, version: Int?, on db: any Database) async throws -> Invoice {
        try p.require(.viewStatements)
        let i = try await p.scope.find(Invoice.self, id, on: db)
        if let version, version != i.version { throw Problem.staleVersion(current: i.version) }
        return i
    }

    // MARK: Registering

    static func register(_ p: Principal, statement id: UUID, _ input: InvoiceInput, app: Application) async throws -> Invoice {
        let s = try await StatementService.load(p, id, version: nil, on: app.database)
        try p.require(.registerInvoices)
        guard p.isSupplier else { throw Problem.forbidden }
        guard s.state == .locked else { throw Problem.conflict("problem.invoice.statementNotLocked", ["status": s.status]) }
        // The number and the money are checked apart, so one answer marks every wrong field.
        var fields: [FieldProblem] = []
        var normalized: (number: String, code: String)?
        do { normalized = try InvoiceNumber.normalize(number: input.number, code: input.invoiceCode ?? "") } catch {
            fields.append(error == .badCode ? FieldProblem("invoiceCode", "badInvoiceCode") : FieldProblem("number", "badInvoiceNumber"))
        }
        let figures = InvoiceMatching.Figures(net: input.net, taxPercent: input.taxPercent, tax: input.tax, gross: input.gross)
        do { try InvoiceMatching.check(figures, tolerance: tolerance(app)) } catch { fields += problem(error).fields }
        guard let (number, code) = normalized, fields.isEmpty else { throw Problem.validation(fields) }
        return try await app.write(as: p.auditActor) { change in
            // First, as for payments: invoices of one statement registered at once take turns.
            let seq = try await nextSeq(change)
            let known = try await Invoice.query(on: change.db).filter(\.$supplierID == s.supplierID).filter(\.$number == number).all().map(\.number)
            do { try InvoiceNumber.checkUnique(number, among: known) } catch { throw Problem.validation([FieldProblem("number", "taken")]) }
            let counting = try await Invoice.query(on: change.db).filter(\.$statementID == s.id!).filter(\.$status != InvoiceLifecycle.State.rejected.rawValue)
                .sort(\.$createdAt).all()
            let statement = InvoiceMatching.StatementMoney(net: FixedDecimal(units: s.net), tax: FixedDecimal(units: s.tax),
                                                           taxPercent: FixedDecimal(units: s.taxPercent))
            let flags: [InvoiceMatching.Flag]
            do { flags = try InvoiceMatching.flags(figures, statement: statement, earlier: counting.map(\.figures), tolerance: tolerance(app)) } catch let e as InvoiceMatching.Problem { throw problem(e) }
            let i = Invoice()
            i.id = UUID(); i.supplierID = s.supplierID; i.statementID = s.id!; i.number = number; i.invoiceCode = code
            i.issueDate = input.issueDate; i.net = input.net.units; i.taxPercent = input.taxPercent.units; i.tax = input.tax.units
            i.gross = input.gross.units; i.status = InvoiceLifecycle.State.registered.rawValue; i.flags = flags.map(\.rawValue).joined(separator: ",")
            i.decisionReason = ""; i.paid = 0; i.version = 1; i.changeSeq = seq
            i.createdBy = p.userID; i.createdAt = change.now; i.updatedAt = change.now
            do { try await i.create(on: change.db) } catch let e as any DatabaseError where e.isConstraintFailure {
                // Sent twice at the same moment: the unique key caught the second.
                throw Problem.validation([FieldProblem("number", "taken")])
            }
            try await change.audit("invoice", i.id, "create", after: i.auditSnapshot.merging(["statement": s.code]) { a, _ in a })
            let finance = try await OrderService.manufacturerPeople(with: .finance, on: change.db)
            try await change.notify("invoice.registered", recipients: finance, messageKey: flags.isEmpty ? "notice.invoiceRegistered" : "notice.invoiceMismatch",
                                    params: ["number": number, "statement": s.code, "gross": FixedDecimal(units: i.gross).yuan], link: "/invoices/\(i.id!)")
            return i
        }
    }

    /// A scan or PDF of the invoice, from the supplier, while finance has not decided yet.
    static func attach(_ p: Principal, _ id: UUID, data: Data, filename: String, app: Application) async throws -> Document {
        let i = try await load(p, id, version: nil, on: app.database)
        try p.require(.registerInvoices)
        guard p.isSupplier else { throw Problem.forbidden }
        guard i.state == .registered else { throw Problem.conflict("problem.invoice.notNow", ["status": i.status]) }
        return try await app.write(as: p.auditActor) { change in
            try await DocumentService.store(data, filename: filename, allowed: [.pdf, .png, .jpeg], owner: i.supplierID,
                                            entity: "invoice", entityID: i.id!.uuidString, by: p.userID, in: change)
        }
    }

    // MARK: Finance

    static func decide(_ p: Principal, _ id: UUID, accept: Bool, _ input: InvoiceDecisionInput, app: Application) async throws -> Invoice {
        let i = try await load(p, id, version: input.version, on: app.database)
        try p.require(.settleInvoices)
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let next: InvoiceLifecycle.State
        do { next = try InvoiceLifecycle.decide(i.state, accept: accept, reason: reason, flagged: !i.flagList.isEmpty) } catch {
            switch error {
            case .notNow(let s): throw Problem.conflict("problem.invoice.notNow", ["status": s.rawValue])
            case .reasonRequired: throw Problem.validation([FieldProblem("reason", accept ? "mismatchNeedsReason" : "required")])
            }
        }
        return try await app.write(as: p.auditActor) { change in
            let before = i.auditSnapshot
            let seq = try await nextSeq(change)
            try await change.updateVersioned("invoices", id: i.id!, expected: input.version, sets: [
                "status": next.rawValue, "decision_reason": reason, "decided_by": p.userID, "decided_at": change.now,
                "change_seq": seq, "updated_at": change.now])
            i.status = next.rawValue; i.decisionReason = reason; i.decidedBy = p.userID; i.decidedAt = change.now
            i.changeSeq = seq; i.updatedAt = change.now; i.version += 1
            try await change.audit("invoice", i.id, accept ? "accept" : "reject", before: before, after: i.auditSnapshot)
            let link = "/invoices/\(i.id!)"
            try await change.settleNotices(["invoice.registered"], link: link)
            if !accept {
                try await change.notify("invoice.rejected", recipients: try await OrderService.supplierUsers(i.supplierID, allowed: .viewStatements, on: change.db),
                                        messageKey: "notice.invoiceRejected", params: ["number": i.number, "reason": reason], link: link)
            }
            return i
        }
    }

    static func pay(_ p: Principal, _ id: UUID, _ input: PaymentInput, app: Application) async throws -> Invoice {
        let i = try await load(p, id, version: input.version, on: app.database)
        try p.require(.settleInvoices)
        guard let s = try await Statement.find(i.statementID, on: app.database) else { throw Problem.notFound }
        return try await app.write(as: p.auditActor) { change in
            // The feed's counter first: its row lock makes concurrent payments against one
            // statement (on different invoices) take turns, so the second sees the first.
            let seq = try await nextSeq(change)
            // What the statement still owes, from every payment against it.
            // (PostgreSQL sums a BIGINT to a NUMERIC: cast back, as every sum of money here is.)
            struct Paid: Decodable { let paid: Int64? }
            let paidOnStatement = try await (change.db as! any SQLDatabase).raw(
                "SELECT CAST(SUM(amount) AS BIGINT) AS paid FROM invoice_payments WHERE statement_id = \(bind: s.id!)").firstRow(decoding: Paid.self)?.paid ?? 0
            let outstanding = max(FixedDecimal(units: s.gross - paidOnStatement), .zero)
            do {
                try PaymentStatus.check(amount: input.amount, invoice: .init(gross: FixedDecimal(units: i.gross), state: i.state, paid: FixedDecimal(units: i.paid)),
                                        statementOutstanding: outstanding)
            } catch let refusal as PaymentStatus.Refusal {
                switch refusal {
                case .notPositive: throw Problem.validation([FieldProblem("amount", "positiveDecimal")])
                case .notMoney: throw Problem.validation([FieldProblem("amount", "toTheFen")])
                case .invoiceNotAccepted: throw Problem.conflict("problem.invoice.notAccepted", ["status": i.status])
                case .moreThanOutstanding(let available): throw Problem.validation([FieldProblem("amount", "moreThanOutstanding", ["available": available.description])])
                case .tooLarge: throw Problem.validation([FieldProblem("amount", "tooLarge")])
                }
            }
            let pay = InvoicePayment()
            pay.id = UUID(); pay.invoiceID = i.id!; pay.statementID = s.id!; pay.supplierID = i.supplierID; pay.paidOn = input.paidOn
            pay.amount = input.amount.units; pay.reference = (input.reference ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            pay.createdBy = p.userID; pay.createdAt = change.now
            let before = i.auditSnapshot
            try await change.updateVersioned("invoices", id: i.id!, expected: input.version, sets: [
                "paid": i.paid + pay.amount, "change_seq": seq, "updated_at": change.now])
            try await pay.create(on: change.db)
            i.paid += pay.amount; i.changeSeq = seq; i.updatedAt = change.now; i.version += 1
            try await change.audit("invoice", i.id, "pay", before: before,
                                   after: i.auditSnapshot.merging(["payment": pay.amount.description, "paid_on": pay.paidOn, "reference": pay.reference]) { a, _ in a })
            try await change.notify("invoice.paid", recipients: try await OrderService.supplierUsers(i.supplierID, allowed: .viewStatements, on: change.db), messageKey: "notice.invoicePaid",
                                    params: ["number": i.number, "amount": input.amount.yuan, "paidOn": input.paidOn], link: "/invoices/\(i.id!)")
            return i
        }
    }

    // MARK: Reads

    struct Row: Decodable {
        let id: UUID; let supplier_id: UUID; let supplier_code: String; let supplier_name: String; let statement_id: UUID
        let statement_code: String; let period: String; let number: String; let invoice_code: String; let issue_date: String
        let net: Int64; let tax_percent: Int64; let tax: Int64; let gross: Int64; let status: String; let flags: String
        let decision_reason: String; let decided_at: Date?; let paid: Int64; let version: Int; let change_seq: Int64
        let created_at: Date; let updated_at: Date

        func dto(payments: [PaymentDTO]? = nil, documents: [DocumentDTO]? = nil) -> InvoiceDTO {
            InvoiceDTO(id: id, supplierId: supplier_id, supplierCode: supplier_code, supplierName: supplier_name, statementId: statement_id,
                       statementCode: statement_code, period: period, number: number, invoiceCode: invoice_code, issueDate: issue_date,
                       net: FixedDecimal(units: net), taxPercent: FixedDecimal(units: tax_percent), tax: FixedDecimal(units: tax),
                       gross: FixedDecimal(units: gross), status: status, flags: flags.split(separator: ",").map(String.init),
                       decisionReason: decision_reason, decidedAt: decided_at, paid: FixedDecimal(units: paid), paidInFull: paid >= gross, version: version,
                       changeSeq: change_seq, createdAt: created_at, updatedAt: updated_at, payments: payments, documents: documents)
        }
    }

    static let select: SQLQueryString = """
        SELECT i.id, i.supplier_id, o.code AS supplier_code, o.name AS supplier_name, i.statement_id, s.code AS statement_code, s.period,
               i.number, i.invoice_code, i.issue_date, i.net, i.tax_percent, i.tax, i.gross, i.status, i.flags, i.decision_reason,
               i.decided_at, i.paid, i.version, i.change_seq, i.created_at, i.updated_at
        FROM invoices i JOIN organizations o ON o.id = i.supplier_id JOIN statements s ON s.id = i.statement_id
        """

    static func scope(_ p: Principal) -> SQLQueryString {
        p.scope.supplierID.map { " AND i.supplier_id = \(bind: $0)" } ?? ""
    }

    static func list(_ p: Principal, filter: Filter, page: PageRequest, on db: any Database) async throws -> Page<InvoiceDTO> {
        try p.require(.viewStatements)
        if let status = filter.status, InvoiceLifecycle.State(rawValue: status) == nil {
            throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem("status", "notOneOf", ["allowed": "registered, accepted, rejected"])])
        }
        var where_: SQLQueryString = " WHERE 1 = 1" + scope(p)
        if let s = filter.status { where_ = where_ + " AND i.status = \(bind: s)" }
        if let s = filter.supplierID { where_ = where_ + " AND i.supplier_id = \(bind: s)" }
        if let s = filter.statementID { where_ = where_ + " AND i.statement_id = \(bind: s)" }
        let sql = db as! any SQLDatabase
        struct N: Decodable { let n: Int }
        let total = try await sql.raw("SELECT COUNT(*) AS n FROM invoices i" + where_).firstRow(decoding: N.self)?.n ?? 0
        // Newest invoice first by its date (what finance and the supplier talk about), then by entry.
        let rows = try await sql.raw(select + where_ + " ORDER BY i.issue_date DESC, i.created_at DESC, i.id DESC LIMIT \(literal: page.per) OFFSET \(literal: page.offset)")
            .rows(decoding: Row.self)
        return Page(items: rows.map { $0.dto() }, page: page.page, per: page.per, total: total)
    }

    static func detail(_ p: Principal, _ id: UUID, on db: any Database) async throws -> InvoiceDTO {
        _ = try await load(p, id, version: nil, on: db)
        let sql = db as! any SQLDatabase
        guard let row = try await sql.raw(select + " WHERE i.id = \(bind: id)" + scope(p)).firstRow(decoding: Row.self) else { throw Problem.notFound }
        let payments = try await InvoicePayment.query(on: db).filter(\.$invoiceID == id).sort(\.$createdAt).all().map {
            PaymentDTO(id: $0.id!, paidOn: $0.paidOn, amount: FixedDecimal(units: $0.amount), reference: $0.reference, createdAt: $0.createdAt)
        }
        let docs = try await DocumentService.list(entity: "invoice", ids: [id.uuidString], on: db).map(DocumentDTO.init)
        return row.dto(payments: payments, documents: docs)
    }

    /// The statement's invoicing and payment, with its invoices (rejected ones too, shown struck).
    static func statementInvoicing(_ p: Principal, statement id: UUID, app: Application) async throws -> StatementInvoicingDTO {
        let s = try await StatementService.load(p, id, version: nil, on: app.database)
        let rows = try await (app.database as! any SQLDatabase).raw(select + " WHERE i.statement_id = \(bind: id)" + scope(p) + " ORDER BY i.created_at, i.id")
            .rows(decoding: Row.self)
        let counting = rows.filter { $0.status != InvoiceLifecycle.State.rejected.rawValue }
        let money = InvoiceMatching.StatementMoney(net: FixedDecimal(units: s.net), tax: FixedDecimal(units: s.tax), taxPercent: FixedDecimal(units: s.taxPercent))
        do {
            let match = try InvoiceMatching.match(money, invoices: counting.map {
                .init(net: FixedDecimal(units: $0.net), taxPercent: FixedDecimal(units: $0.tax_percent), tax: FixedDecimal(units: $0.tax), gross: FixedDecimal(units: $0.gross))
            }, tolerance: tolerance(app))
            let totals = try PaymentStatus.totals(statementGross: FixedDecimal(units: s.gross), invoices: rows.map {
                .init(gross: FixedDecimal(units: $0.gross), state: InvoiceLifecycle.State(rawValue: $0.status) ?? .registered, paid: FixedDecimal(units: $0.paid))
            })
            return StatementInvoicingDTO(
                statementId: id, statementCode: s.code, status: s.status, net: money.net, tax: money.tax, taxPercent: money.taxPercent,
                gross: totals.gross, invoiced: totals.invoiced, accepted: totals.accepted, paid: totals.paid, outstanding: totals.outstanding,
                match: match.state.rawValue, differenceNet: match.differenceNet, differenceTax: match.differenceTax, tolerance: tolerance(app),
                invoices: rows.map { $0.dto() })
        } catch {
            throw Problem.validation([FieldProblem("net", "tooLarge")])
        }
    }

    /// What is outstanding per supplier on locked statements, by days since locking: one
    /// grouped statement (statements and the sums of their payments), whatever the number.
    static func aging(_ p: Principal, app: Application) async throws -> AgingDTO {
        try p.require(.viewStatements)
        let today = app.subcon.today()
        let cal = app.subcon.settings.calendar
        // The bands are the domain's (AgeBucket): each as "locked on or after its first day".
        var band: SQLQueryString = "CASE"
        for (i, first) in PaymentStatus.AgeBucket.firstDays(today: today).enumerated() {
            let from = cal.date(from: DateComponents(year: first.year, month: first.month, day: first.day))!
            band = band + " WHEN s.locked_at >= \(bind: from) THEN \(unsafeRaw: String(i))"
        }
        band = band + " ELSE \(unsafeRaw: String(PaymentStatus.AgeBucket.allCases.count - 1)) END"
        // Each statement's payments looked up by its index (half the time of summing every
        // payment first and joining the sums).
        let paid = "(SELECT SUM(p.amount) FROM invoice_payments p WHERE p.statement_id = s.id)"
        struct R: Decodable { let supplier_id: UUID; let code: String; let name: String; let band: Int; let statements: Int; let outstanding: Int64 }
        let rows = try await (app.database as! any SQLDatabase).raw("SELECT s.supplier_id, o.code, o.name, " + band + """
             AS band, COUNT(*) AS statements, CAST(SUM(s.gross - COALESCE(\(unsafeRaw: paid), 0)) AS BIGINT) AS outstanding
            FROM statements s
            JOIN organizations o ON o.id = s.supplier_id
            WHERE s.status = 'locked' AND s.gross > COALESCE(\(unsafeRaw: paid), 0)
            """ + (p.scope.supplierID.map { " AND s.supplier_id = \(bind: $0)" } ?? "") + """
             GROUP BY s.supplier_id, o.code, o.name, 4 ORDER BY o.code
            """).rows(decoding: R.self)
        let names = PaymentStatus.AgeBucket.allCases.map(\.rawValue)
        let none = Dictionary(uniqueKeysWithValues: names.map { ($0, FixedDecimal.zero) })
        func plus(_ a: FixedDecimal?, _ b: Int64) -> FixedDecimal { FixedDecimal(units: (a?.units ?? 0) + b) }
        var suppliers: [AgingRowDTO] = [], totals = none, total = FixedDecimal.zero
        for r in rows {
            let name = names[min(max(r.band, 0), names.count - 1)]
            // Rows come by supplier code: a supplier's bands are next to each other.
            if suppliers.last?.supplierId != r.supplier_id {
                suppliers.append(AgingRowDTO(supplierId: r.supplier_id, supplierCode: r.code, supplierName: r.name, statements: 0, outstanding: .zero, buckets: none))
            }
            suppliers[suppliers.count - 1].statements += r.statements
            suppliers[suppliers.count - 1].outstanding = plus(suppliers[suppliers.count - 1].outstanding, r.outstanding)
            suppliers[suppliers.count - 1].buckets[name] = plus(suppliers[suppliers.count - 1].buckets[name], r.outstanding)
            totals[name] = plus(totals[name], r.outstanding)
            total = plus(total, r.outstanding)
        }
        return AgingDTO(asOf: today.description, total: total, buckets: totals, suppliers: suppliers)
    }

    static func feed(_ p: Principal, after: Int64, limit: Int, on db: any Database) async throws -> InvoiceFeedDTO {
        try p.require(.viewStatements)
        let rows = try await (db as! any SQLDatabase).raw(select + " WHERE i.change_seq > \(bind: after)" + scope(p)
                                                           + " ORDER BY i.change_seq LIMIT \(literal: limit)").rows(decoding: Row.self)
        return InvoiceFeedDTO(items: rows.map { $0.dto() }, cursor: rows.last?.change_seq ?? after)
    }
}
