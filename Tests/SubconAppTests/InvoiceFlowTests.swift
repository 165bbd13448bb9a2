import Fluent
import Foundation
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// Invoices against a locked statement and their payments over HTTP, on whichever database the
/// run uses: the demo's statement of JG for last month is locked, and JG has registered an
/// invoice for ¥10.00 more than it (flagged, waiting for finance).
@Suite struct InvoiceFlowTests {
    struct W {
        let t: TestApp
        let finance: String, supplier: String, other: String, purchaser: String
        let statement: Statement

        static func make(_ t: TestApp) async throws -> W {
            let jg = try await t.organization(code: "SUP-JG").id!
            let s = try await Statement.query(on: t.db).filter(\.$supplierID == jg).filter(\.$status == "locked").first()!
            return W(t: t, finance: try await t.token("finance"), supplier: try await t.token("supplier1"), other: try await t.token("supplier2"),
                     purchaser: try await t.token("purchaser"), statement: s)
        }

        func call(_ method: HTTPMethod, _ path: String, _ token: String, _ json: String? = nil, _ status: HTTPStatus,
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
            let r = try await t.request(method, path, token: token, json: json)
            #expect(r.status == status, "\(method) \(path): \(r.body.string)", sourceLocation: sourceLocation)
            return r.json
        }

        func invoicing(_ token: String? = nil) async throws -> [String: Any] {
            try await call(.GET, "/api/v1/statements/\(statement.id!)/invoices", token ?? finance, nil, .ok)
        }

        func register(_ number: String, net: String, tax: String, gross: String, rate: String = "13", code: String = "3100261130",
                      _ status: HTTPStatus = .created, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
            try await call(.POST, "/api/v1/statements/\(statement.id!)/invoices", supplier, """
                {"number":"\(number)","invoiceCode":"\(code)","issueDate":"2026-11-28","net":"\(net)","taxPercent":"\(rate)","tax":"\(tax)","gross":"\(gross)"}
                """, status, sourceLocation: sourceLocation)
        }

        func count() async throws -> Int { try await Invoice.query(on: t.db).filter(\.$statementID == statement.id!).count() }
    }

    static func d(_ any: Any?) -> FixedDecimal { (any as? String).flatMap { try? FixedDecimal.parse($0) } ?? FixedDecimal(units: -1) }

    @Test func fromTheLockedStatementThroughInvoicesToItsPayment() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            let net = FixedDecimal(units: w.statement.net), tax = FixedDecimal(units: w.statement.tax), gross = FixedDecimal(units: w.statement.gross)
            #expect(net > FixedDecimal(100))

            // The demo's invoice claims ¥10.00 more: flagged, and finance must say why to accept it.
            var money = try await w.invoicing(w.supplier)
            #expect(money["match"] as? String == "over")
            let flagged = try #require((money["invoices"] as? [[String: Any]])?.first)
            #expect(flagged["flags"] as? [String] == ["exceeds_statement"])
            let flaggedID = flagged["id"] as! String
            let refused = try await w.call(.POST, "/api/v1/invoices/\(flaggedID)/accept", w.finance, #"{"version":1}"#, .unprocessableEntity)
            #expect((refused["errors"] as? [[String: Any]])?.first?["field"] as? String == "reason")
            _ = try await w.call(.POST, "/api/v1/invoices/\(flaggedID)/reject", w.finance, #"{"version":1}"#, .unprocessableEntity)
            _ = try await w.call(.POST, "/api/v1/invoices/\(flaggedID)/reject", w.finance, #"{"version":1,"reason":"金额比对账单多 10 元"}"#, .ok)
            _ = try await w.call(.POST, "/api/v1/invoices/\(flaggedID)/reject", w.finance, #"{"version":2,"reason":"again"}"#, .conflict)
            money = try await w.invoicing()
            #expect(money["match"] as? String == "waiting" && Self.d(money["invoiced"]) == .zero)

            // Two invoices: the statement's net less 100.00, and 100.00 (tax 13.00: the two taxes
            // add up to the statement's exactly, since 100 × 13 % needs no rounding).
            let netA = try net.subtracting(FixedDecimal(100)), taxA = try tax.subtracting(FixedDecimal(13))
            let grossA = try netA.adding(taxA)
            let a = try await w.register("12345678", net: netA.description, tax: taxA.description, gross: grossA.description)
            #expect(a["status"] as? String == "registered" && (a["flags"] as? [String])?.isEmpty == true)
            money = try await w.invoicing()
            #expect(money["match"] as? String == "partial" && Self.d(money["differenceNet"]) == FixedDecimal(100))

            // Bad input: a clear 4xx, nothing written.
            let before = try await w.count()
            _ = try await w.register("12345678", net: "100", tax: "13", gross: "113", .unprocessableEntity)          // number taken
            _ = try await w.register("87654321", net: "-100", tax: "-13", gross: "-113", .unprocessableEntity)       // negative
            _ = try await w.register("87654321", net: "100", tax: "11", gross: "111", rate: "11", .unprocessableEntity) // no such VAT rate
            _ = try await w.register("87654321", net: "100", tax: "9", gross: "109", .unprocessableEntity)           // tax does not fit 13 %
            _ = try await w.register("87654321", net: "100", tax: "13", gross: "114", .unprocessableEntity)          // gross ≠ net + tax
            _ = try await w.register("8765432", net: "100", tax: "13", gross: "113", .unprocessableEntity)           // 7 digits
            _ = try await w.register("87654321", net: "100.001", tax: "13", gross: "113.001", .unprocessableEntity)  // not to the fen
            _ = try await w.call(.POST, "/api/v1/statements/\(w.statement.id!)/invoices", w.supplier, #"{"number":"87654321","net":"x"}"#, .badRequest)
            _ = try await w.call(.POST, "/api/v1/statements/\(w.statement.id!)/invoices", w.supplier,
                                 #"{"number":"87654321","issueDate":"2026-11-28","net":"100","taxPercent":"13","tax":"13","gross":"113","bank":"x"}"#, .badRequest)
            // Only against a locked statement (this month's is disputed), and only by the supplier.
            let open = try await Statement.query(on: t.db).filter(\.$supplierID == w.statement.supplierID).filter(\.$status != "locked").first()!
            _ = try await w.call(.POST, "/api/v1/statements/\(open.id!)/invoices", w.supplier,
                                 #"{"number":"87654321","issueDate":"2026-11-28","net":"100","taxPercent":"13","tax":"13","gross":"113"}"#, .conflict)
            _ = try await w.call(.POST, "/api/v1/statements/\(w.statement.id!)/invoices", w.finance,
                                 #"{"number":"87654321","issueDate":"2026-11-28","net":"100","taxPercent":"13","tax":"13","gross":"113"}"#, .forbidden)
            #expect(try await w.count() == before)

            // A retried registration from a phone (same idempotency key) is one invoice.
            var retried: [String] = []
            for _ in 0..<2 {
                let r = try await t.request(.POST, "/api/v1/statements/\(w.statement.id!)/invoices", token: w.supplier, json: """
                    {"number":"26312000000000004321","issueDate":"2026-11-29","net":"100","taxPercent":"13","tax":"13","gross":"113"}
                    """, headers: [("Idempotency-Key", "inv-b-1")])
                #expect(r.status == .created, "\(r.body.string)")
                retried.append(r.json["id"] as? String ?? "")
            }
            let afterRetry = try await w.count()
            #expect(retried[0] == retried[1] && afterRetry == before + 1)
            let b = retried[0]
            money = try await w.invoicing()
            #expect(money["match"] as? String == "matched" && Self.d(money["differenceNet"]) == .zero && Self.d(money["differenceTax"]) == .zero)
            #expect(Self.d(money["invoiced"]) == gross)

            // Payments only on accepted invoices, never more than is owed.
            let aID = a["id"] as! String
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.finance, #"{"version":1,"amount":"1","paidOn":"2026-12-01"}"#, .conflict)
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/accept", w.finance, #"{"version":1}"#, .ok)
            _ = try await w.call(.POST, "/api/v1/invoices/\(b)/accept", w.finance, #"{"version":1,"reason":"核对无误"}"#, .ok)
            let aging = try await w.call(.GET, "/api/v1/invoices/aging", w.finance, nil, .ok)
            let row = (aging["suppliers"] as? [[String: Any]])?.first { $0["supplierCode"] as? String == "SUP-JG" }
            #expect(Self.d(row?["outstanding"]) == gross)
            let over = try grossA.adding(FixedDecimal(units: 100))
            let tooMuch = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.finance,
                                           #"{"version":2,"amount":"\#(over)","paidOn":"2026-12-01"}"#, .unprocessableEntity)
            #expect((tooMuch["errors"] as? [[String: Any]])?.first?["field"] as? String == "amount")
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.finance, #"{"version":2,"amount":"-5","paidOn":"2026-12-01"}"#, .unprocessableEntity)
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.finance, #"{"version":2,"amount":"5","paidOn":"2026-13-01"}"#, .unprocessableEntity)
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.supplier, #"{"version":2,"amount":"5","paidOn":"2026-12-01"}"#, .forbidden)
            #expect(try await InvoicePayment.query(on: t.db).count() == 0)
            let paidA = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.finance,
                                         #"{"version":2,"amount":"\#(grossA)","paidOn":"2026-12-01","reference":"BANK-001"}"#, .created)
            #expect(Self.d(paidA["paid"]) == grossA && (paidA["payments"] as? [[String: Any]])?.count == 1)
            _ = try await w.call(.POST, "/api/v1/invoices/\(b)/payments", w.finance, #"{"version":1,"amount":"113","paidOn":"2026-12-01"}"#, .conflict)
            money = try await w.invoicing(w.supplier)
            #expect(Self.d(money["paid"]) == grossA && Self.d(money["outstanding"]) == FixedDecimal(113) && Self.d(money["accepted"]) == gross)
            _ = try await w.call(.POST, "/api/v1/invoices/\(b)/payments", w.finance, #"{"version":2,"amount":"113","paidOn":"2026-12-02"}"#, .created)
            money = try await w.invoicing(w.supplier)
            #expect(Self.d(money["outstanding"]) == .zero && Self.d(money["paid"]) == gross)
            let agingAfter = try await w.call(.GET, "/api/v1/invoices/aging", w.finance, nil, .ok)
            #expect(!((agingAfter["suppliers"] as? [[String: Any]]) ?? []).contains { $0["supplierCode"] as? String == "SUP-JG" })

            // What an ERP polls: every change once, in order, from a cursor.
            let feed = try await w.call(.GET, "/api/v1/invoices/changes?after=0", w.finance, nil, .ok)
            let seqs = ((feed["items"] as? [[String: Any]]) ?? []).compactMap { $0["changeSeq"] as? Int }
            #expect(seqs.count == 3 && seqs == seqs.sorted())
            let rest = try await w.call(.GET, "/api/v1/invoices/changes?after=\(feed["cursor"] as? Int ?? 0)", w.finance, nil, .ok)
            #expect((rest["items"] as? [Any])?.isEmpty == true)
            _ = try await w.call(.GET, "/api/v1/invoices/changes?after=-1", w.finance, nil, .badRequest)
            let csv = try await t.request(.GET, "/api/v1/invoices/export?format=csv", token: w.finance)
            #expect(csv.status == .ok && csv.body.string.contains("12345678") && csv.body.string.contains("26312000000000004321"))

            // Another supplier sees none of it.
            _ = try await w.call(.GET, "/api/v1/invoices/\(aID)", w.other, nil, .notFound)
            _ = try await w.call(.GET, "/api/v1/statements/\(w.statement.id!)/invoices", w.other, nil, .notFound)
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/attachments", w.other, nil, .notFound)
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/payments", w.other, #"{"version":3,"amount":"1","paidOn":"2026-12-01"}"#, .notFound)
            _ = try await w.call(.POST, "/api/v1/invoices/\(aID)/accept", w.other, #"{"version":3}"#, .notFound)
            let theirs = try await w.call(.GET, "/api/v1/invoices", w.other, nil, .ok)
            #expect(theirs["total"] as? Int == 0)
            let theirAging = try await w.call(.GET, "/api/v1/invoices/aging", w.other, nil, .ok)
            #expect(!((theirAging["suppliers"] as? [[String: Any]]) ?? []).contains { $0["supplierCode"] as? String == "SUP-JG" })
            let theirFeed = try await w.call(.GET, "/api/v1/invoices/changes?after=0", w.other, nil, .ok)
            #expect((theirFeed["items"] as? [Any])?.isEmpty == true)
            #expect(try await w.call(.GET, "/api/v1/invoices", w.supplier, nil, .ok)["total"] as? Int == 3)

            // Every step is in the audit trail.
            // Registered three times (the demo's, A, B once despite the retry), rejected once,
            // accepted twice, paid twice.
            let audited = try await AuditEntry.query(on: t.db).filter(\.$entity == "invoice").count()
            #expect(audited == 3 + 1 + 2 + 2)
        }
    }

    @Test func aScanIsAttachedAndTheDecisionsAndPaymentsNotifyTheOtherSide() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            let id = try #require(try await Invoice.query(on: t.db).filter(\.$statementID == w.statement.id!).first()?.id)
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64))
            let r = try await t.app.testing().sendRequest(.POST, "/api/v1/invoices/\(id)/attachments?filename=fapiao.png",
                                                          headers: ["Authorization": "Bearer \(w.supplier)", "Content-Type": "image/png"], body: ByteBuffer(data: png))
            #expect(r.status == .created, "\(r.body.string)")
            let detail = try await w.call(.GET, "/api/v1/invoices/\(id)", w.finance, nil, .ok)
            #expect((detail["documents"] as? [[String: Any]])?.count == 1)
            _ = try await Outbox.deliverPending(app: t.app)
            let financeUser = try await t.user("finance")
            #expect(try await InboxItem.query(on: t.db).filter(\.$user.$id == financeUser.id!).filter(\.$event == "invoice.registered").count() == 1)
            _ = try await w.call(.POST, "/api/v1/invoices/\(id)/reject", w.finance, #"{"version":1,"reason":"金额不符"}"#, .ok)
            _ = try await Outbox.deliverPending(app: t.app)
            let jgUser = try await t.user("supplier1")
            #expect(try await InboxItem.query(on: t.db).filter(\.$user.$id == jgUser.id!).filter(\.$event == "invoice.rejected").count() == 1)
            // Finance's reminder about the invoice is done with the decision.
            #expect(try await InboxItem.query(on: t.db).filter(\.$user.$id == financeUser.id!).filter(\.$event == "invoice.registered")
                .filter(\.$readAt == nil).count() == 0)
            // No scan once finance has decided.
            let late = try await t.app.testing().sendRequest(.POST, "/api/v1/invoices/\(id)/attachments?filename=fapiao.png",
                                                             headers: ["Authorization": "Bearer \(w.supplier)", "Content-Type": "image/png"], body: ByteBuffer(data: png))
            #expect(late.status == .conflict)
        }
    }

    @Test func thePagesWalkTheSamePath() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            var supplier = try await t.signIn("supplier1")
            let csrf = try await t.csrf(&supplier)
            let statementPage = try await t.page(.GET, "/statements/\(w.statement.id!)", browser: &supplier)
            #expect(statementPage.status == .ok && statementPage.body.string.contains("/statements/\(w.statement.id!)/invoices/new"))
            let form = try await t.page(.GET, "/statements/\(w.statement.id!)/invoices/new", browser: &supplier)
            #expect(form.status == .ok)
            // A tax that does not fit the rate: the form again, the field marked, nothing written.
            let before = try await w.count()
            let bad = try await t.page(.POST, "/statements/\(w.statement.id!)/invoices/new", browser: &supplier, form: [
                "_csrf": csrf, "number": "11223344", "invoiceCode": "3100261130", "issueDate": "2026-11-30", "net": "100", "taxPercent": "13", "tax": "20", "gross": ""])
            #expect(bad.status == .unprocessableEntity && bad.body.string.contains("class=\"err\""))
            #expect(try await w.count() == before)
            let good = try await t.page(.POST, "/statements/\(w.statement.id!)/invoices/new", browser: &supplier, form: [
                "_csrf": csrf, "number": "11223344", "invoiceCode": "3100261130", "issueDate": "2026-11-30", "net": "100", "taxPercent": "13", "tax": "13", "gross": ""])
            #expect(good.status == .seeOther)
            #expect(try await w.count() == before + 1)
            let created = try #require(try await Invoice.query(on: t.db).filter(\.$number == "11223344").first())
            #expect(created.gross == FixedDecimal(113).units)

            var finance = try await t.signIn("finance")
            let fcsrf = try await t.csrf(&finance)
            for path in ["/invoices", "/invoices?status=registered", "/invoices/\(created.id!)", "/invoices/aging", "/statements/\(w.statement.id!)"] {
                let page = try await t.page(.GET, path, browser: &finance)
                #expect(page.status == .ok, "\(path)")
            }
            // With the demo's invoice still counting, this one is beyond the statement too: flagged,
            // and accepting it takes a reason, marked on the form when missing.
            #expect(created.flags == "exceeds_statement")
            let unexplained = try await t.page(.POST, "/invoices/\(created.id!)/accept", browser: &finance, form: ["_csrf": fcsrf, "version": "1", "reason": ""])
            #expect(unexplained.status == .unprocessableEntity && unexplained.body.string.contains("class=\"err\""))
            let accepted = try await t.page(.POST, "/invoices/\(created.id!)/accept", browser: &finance, form: ["_csrf": fcsrf, "version": "1", "reason": "分两张开具,另一张将退回"])
            #expect(accepted.status == .seeOther)
            let over = try await t.page(.POST, "/invoices/\(created.id!)/payments", browser: &finance, form: [
                "_csrf": fcsrf, "version": "2", "amount": "200", "paidOn": "2026-12-01", "reference": ""])
            #expect(over.status == .unprocessableEntity && over.body.string.contains("class=\"err\""))
            let paid = try await t.page(.POST, "/invoices/\(created.id!)/payments", browser: &finance, form: [
                "_csrf": fcsrf, "version": "2", "amount": "113", "paidOn": "2026-12-01", "reference": "BANK-7"])
            #expect(paid.status == .seeOther)
            #expect(try await Invoice.find(created.id!, on: t.db)?.paid == FixedDecimal(113).units)
            // A supplier has no aging page and cannot decide.
            #expect(try await t.page(.GET, "/invoices/aging", browser: &supplier).status == .notFound)
            let refused = try await t.page(.POST, "/invoices/\(created.id!)/reject", browser: &supplier, form: ["_csrf": csrf, "version": "3", "reason": "x"])
            #expect(refused.status == .forbidden)
        }
    }
}
