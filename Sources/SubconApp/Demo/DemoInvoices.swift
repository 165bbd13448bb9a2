import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Invoices and payments in the demo, through the services (audited, with their notices).
/// `seed`: JG's locked statement of last month carries an invoice that claims ¥10.00 more than
/// the statement (flagged, waiting for finance). `history` (with the year of history): every
/// supplier's older locked statements invoiced and paid, except JG's of three months ago
/// (still waiting for its invoice) and BM's last two (invoiced and accepted, payment held).
enum DemoInvoices {
    static func seed(jg: UUID, app: Application) async throws {
        guard let s = try await Statement.query(on: app.database).filter(\.$supplierID == jg).filter(\.$status == "locked")
            .sort(\.$period, .descending).first() else { return }
        let supplier = try await supplierPrincipal(jg, app)
        let net = try FixedDecimal(units: s.net).adding(FixedDecimal(10))
        let rate = FixedDecimal(units: s.taxPercent)
        let tax = try net.percent(rate, roundedToScale: StatementAmounts.moneyScale)
        _ = try await InvoiceService.register(supplier, statement: s.id!, InvoiceInput(
            number: "26312000000017\(s.period.filter(\.isNumber).suffix(6))", invoiceCode: nil, issueDate: app.subcon.today().adding(days: -1).description,
            net: net, taxPercent: rate, tax: tax, gross: try net.adding(tax)), app: app)
    }

    static func history(app: Application) async throws {
        let finance = try await DemoOrders.principal("finance", app)
        let this = ScorePeriod.month(of: app.subcon.today())
        let threeBack = this.previous.previous.previous.description
        let statements = try await Statement.query(on: app.database).filter(\.$status == "locked").sort(\.$period).all()
        let invoiced = Set(try await Invoice.query(on: app.database).all().map(\.statementID))
        var people: [UUID: Principal] = [:]
        var number = 1
        var created: [UUID] = []
        for s in statements where !invoiced.contains(s.id!) && s.period < this.previous.description {
            guard let org = try await Organization.find(s.supplierID, on: app.database) else { continue }
            if org.code == "SUP-JG" && s.period == threeBack { continue }
            let net = FixedDecimal(units: s.net), tax = FixedDecimal(units: s.tax), gross = FixedDecimal(units: s.gross)
            guard net > .zero, let lockedAt = s.lockedAt else { continue }
            let issued = StatementBuilder.day(lockedAt, settings: app.subcon.settings).adding(days: 2)
            if people[s.supplierID] == nil { people[s.supplierID] = try? await supplierPrincipal(s.supplierID, app) }
            guard people[s.supplierID] != nil else {
                // A supplier without an account here sent paper invoices; they are on file, paid.
                try await paidOnPaper(s, number: String(format: "%08d", 44_010_000 + number), issued: issued, finance: finance.userID, app: app)
                number += 1
                continue
            }
            let i = try await InvoiceService.register(people[s.supplierID]!, statement: s.id!, InvoiceInput(
                number: String(format: "%08d", 44_010_000 + number), invoiceCode: "3100261130", issueDate: issued.description,
                net: net, taxPercent: FixedDecimal(units: s.taxPercent), tax: tax, gross: gross), app: app)
            number += 1
            created.append(i.id!)
            let accepted = try await InvoiceService.decide(finance, i.id!, accept: true, InvoiceDecisionInput(version: i.version, reason: nil), app: app)
            // BM's last two months of history: accepted, payment held while its grades fall.
            if org.code == "SUP-BM" && s.period >= threeBack { continue }
            _ = try await InvoiceService.pay(finance, i.id!, PaymentInput(version: accepted.version, amount: gross, paidOn: issued.adding(days: 25).description,
                                                                           reference: "BANK-\(s.period)-\(org.code)"), app: app)
        }
        // A year of paid invoices is history, not news: their notices are not delivered.
        let sql = app.database as! any SQLDatabase
        for id in created {
            try await sql.raw("DELETE FROM outbox WHERE processed_at IS NULL AND event LIKE 'invoice.%' AND payload LIKE \(bind: "%/invoices/\(id)%")").run()
        }
    }

    /// An invoice and its payment as finance would have keyed them in from paper: audited, no notices.
    static func paidOnPaper(_ s: Statement, number: String, issued: Day, finance: UUID, app: Application) async throws {
        try await app.write(as: .system) { change in
            let i = Invoice()
            i.id = UUID(); i.supplierID = s.supplierID; i.statementID = s.id!; i.number = number; i.invoiceCode = "3100261130"
            i.issueDate = issued.description; i.net = s.net; i.taxPercent = s.taxPercent; i.tax = s.tax; i.gross = s.gross
            i.status = InvoiceLifecycle.State.accepted.rawValue; i.flags = ""; i.decisionReason = ""; i.decidedBy = finance; i.decidedAt = change.now
            i.paid = s.gross; i.version = 3; i.changeSeq = try await InvoiceService.nextSeq(change)
            i.createdBy = finance; i.createdAt = change.now; i.updatedAt = change.now
            try await i.create(on: change.db)
            let pay = InvoicePayment()
            pay.id = UUID(); pay.invoiceID = i.id!; pay.statementID = s.id!; pay.supplierID = s.supplierID; pay.paidOn = issued.adding(days: 25).description
            pay.amount = s.gross; pay.reference = "BANK-\(s.period)"; pay.createdBy = finance; pay.createdAt = change.now
            try await pay.create(on: change.db)
            try await change.audit("invoice", i.id, "create", after: i.auditSnapshot.merging(["statement": s.code, "reference": pay.reference]) { a, _ in a })
        }
    }

    static func supplierPrincipal(_ supplier: UUID, _ app: Application) async throws -> Principal {
        let users = try await User.query(on: app.database).filter(\.$organization.$id == supplier).filter(\.$active == true).sort(\.$login).all()
        guard let u = users.first(where: { Policy.allows($0.roles, .registerInvoices) }) else { throw Abort(.internalServerError, reason: "no supplier admin") }
        return try await DemoOrders.principal(u.login, app)
    }
}
