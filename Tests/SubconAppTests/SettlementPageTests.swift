import Fluent
import Foundation
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// The settlement pages as people use them, on the demo scenario's statements.
@Suite struct SettlementPageTests {
    @Test func bothSidesWorkTheirStatementsFromThePages() async throws {
        try await TestApp.run(scenario: true) { t in
            let jg = try await t.organization(code: "SUP-JG").id!
            let statements = try await Statement.query(on: t.db).sort(\.$period).sort(\.$code).all()
            #expect(Set(statements.map(\.status)) == ["locked", "confirmed", "disputed", "draft"], "the demo shows every stage")
            let disputed = statements.first { $0.status == "disputed" }!
            #expect(disputed.supplierID == jg)

            // The supplier's list and statement: its own only, money in ¥, the open dispute visible.
            var supplier = try await t.signIn("supplier1")
            let list = try await t.page(.GET, "/statements", browser: &supplier).body.string
            #expect(list.contains("ST-SUP-JG") && !list.contains("ST-SUP-BM"))
            let page = try await t.page(.GET, "/statements/\(disputed.id!)", browser: &supplier)
            #expect(page.status == .ok)
            let html = page.body.string
            #expect(html.contains("¥") && html.contains("有异议") && html.contains("维持原金额"))
            let other = try await Statement.query(on: t.db).filter(\.$supplierID != jg).first()!
            #expect(try await t.page(.GET, "/statements/\(other.id!)", browser: &supplier).status == .notFound)
            let print = try await t.page(.GET, "/statements/\(disputed.id!)/print", browser: &supplier).body.string
            #expect(print.contains("大写金额") && print.contains("苏州精工机械有限公司") && print.contains("华东精密制造有限公司"))

            // The supplier adds a photo to a line it disputes, from the page (multipart, like a phone's camera).
            let supplierToken = try await t.csrf(&supplier)
            let disputedLine = try await StatementLine.query(on: t.db).filter(\.$statementID == disputed.id!).filter(\.$disputed == true).first()!
            let boundary = "subcon-test-boundary"
            var body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(supplierToken)\r\n"
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"count.png\"\r\nContent-Type: image/png\r\n\r\n"
            var bytes = ByteBuffer(string: body)
            bytes.writeBytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 32))
            bytes.writeString("\r\n--\(boundary)--\r\n")
            let upload = try await t.app.testing().sendRequest(.POST, "/statements/\(disputed.id!)/lines/\(disputedLine.id!)/attach",
                                                               headers: ["Cookie": supplier.cookieHeader, "Content-Type": "multipart/form-data; boundary=\(boundary)"],
                                                               body: bytes)
            #expect(upload.status == .seeOther, "\(upload.body.string.prefix(300))")
            #expect(try await Document.query(on: t.db).filter(\.$entity == "statement_line").filter(\.$entityID == disputedLine.id!.uuidString).count() == 1)
            #expect(try await t.page(.GET, "/statements/\(disputed.id!)", browser: &supplier).body.string.contains("count.png"))

            // The purchaser answers the open line from the page: a correction without an amount
            // is an inline error, then a correction, then the new version, sent.
            var buyer = try await t.signIn("purchaser")
            let csrf = try await t.csrf(&buyer)
            let open = try await StatementLine.query(on: t.db).filter(\.$statementID == disputed.id!).filter(\.$disputed == true).filter(\.$answer == "").first()!
            let bad = try await t.page(.POST, "/statements/\(disputed.id!)/lines/\(open.id!)/answer", browser: &buyer,
                                       form: ["_csrf": csrf, "version": String(disputed.version), "answer": "correct", "amount": ""])
            #expect(bad.status == .unprocessableEntity && bad.body.string.contains("必填"))
            let good = try await t.page(.POST, "/statements/\(disputed.id!)/lines/\(open.id!)/answer", browser: &buyer,
                                        form: ["_csrf": csrf, "version": String(disputed.version), "answer": "accept"])
            #expect(good.status == .seeOther, "\(good.body.string.prefix(300))")
            var s = try await Statement.find(disputed.id, on: t.db)!
            let revised = try await t.page(.POST, "/statements/\(s.id!)/revise", browser: &buyer, form: ["_csrf": csrf, "version": String(s.version)])
            #expect(revised.status == .seeOther)
            s = try await Statement.find(disputed.id, on: t.db)!
            #expect(s.status == "revised" && s.revision == 2)
            // An adjustment may correct a line of last month's locked statement, chosen from a list.
            let revisedPage = try await t.page(.GET, "/statements/\(s.id!)", browser: &buyer).body.string
            #expect(revisedPage.contains(#"<select name="refersTo">"#) && revisedPage.contains("ST-SUP-JG-"))
            // An adjustment needs a reason; a stale version re-shows the page with the conflict.
            let noReason = try await t.page(.POST, "/statements/\(s.id!)/adjustments", browser: &buyer,
                                            form: ["_csrf": csrf, "version": String(s.version), "amount": "-10", "reason": ""])
            #expect(noReason.status == .unprocessableEntity)
            let stale = try await t.page(.POST, "/statements/\(s.id!)/send", browser: &buyer, form: ["_csrf": csrf, "version": "1"])
            #expect(stale.status == .conflict)
            #expect(try await t.page(.POST, "/statements/\(s.id!)/send", browser: &buyer, form: ["_csrf": csrf, "version": String(s.version)]).status == .seeOther)
            let detail = try await t.page(.GET, "/statements/\(s.id!)", browser: &buyer).body.string
            #expect(detail.contains("第 1 版 → 第 2 版"))

            // The supplier disputes from the phone form: a ticked line without a reason is refused.
            let supplierCSRF = try await t.csrf(&supplier)
            s = try await Statement.find(disputed.id, on: t.db)!
            let line = try await StatementLine.query(on: t.db).filter(\.$statementID == s.id!).filter(\.$revision == s.revision).first()!
            let refused = try await t.page(.POST, "/statements/\(s.id!)/dispute", browser: &supplier,
                                           form: ["_csrf": supplierCSRF, "version": String(s.version), "d_\(line.id!)": "on", "c_\(line.id!)": ""])
            #expect(refused.status == .unprocessableEntity)
            let confirmed = try await t.page(.POST, "/statements/\(s.id!)/confirm", browser: &supplier, form: ["_csrf": supplierCSRF, "version": String(s.version)])
            #expect(confirmed.status == .seeOther)

            // Finance locks; the stock-count overview shows who has not counted.
            var finance = try await t.signIn("finance")
            let financeCSRF = try await t.csrf(&finance)
            // The form that makes a statement starts on no supplier: nobody makes one for the first by not choosing.
            let few = try await t.page(.GET, "/statements", browser: &finance).body.string
            #expect(few.contains("<form method=\"post\" action=\"/statements\"") && few.contains("<select name=\"supplierId\" required><option value=\"\">请选择供应商</option>"))
            s = try await Statement.find(disputed.id, on: t.db)!
            #expect(try await t.page(.POST, "/statements/\(s.id!)/lock", browser: &finance, form: ["_csrf": financeCSRF, "version": String(s.version)]).status == .seeOther)
            #expect(try await Statement.find(disputed.id, on: t.db)!.status == "locked")
            // The write-off page names the statement that took its proposal.
            let writeOff = try await t.page(.GET, "/write-off?period=\(disputed.period)", browser: &finance).body.string
            #expect(writeOff.contains(disputed.code))
            let counts = try await t.page(.GET, "/stock-count", browser: &finance).body.string
            #expect(counts.contains("未盘点") && counts.contains("已盘点"))
            let sheet = try await t.page(.GET, "/stock-count", browser: &supplier).body.string
            #expect(sheet.contains("已盘点"))
            // Traceability on the sources' pages: the exception and the receipt name their statement.
            let penalized = try await StatementLine.query(on: t.db).filter(\.$statementID == s.id!).filter(\.$sourceType == "exception").first()!
            let exceptionPage = try await t.page(.GET, "/exceptions/\(penalized.sourceID)", browser: &buyer).body.string
            #expect(exceptionPage.contains(s.code))
            let goodsLine = try await StatementLine.query(on: t.db).filter(\.$statementID == s.id!).filter(\.$sourceType == "receipt_line").first()!
            let receipt = try await ReceiptLine.find(UUID(uuidString: goodsLine.sourceID), on: t.db)!
            #expect(try await t.page(.GET, "/receipts/\(receipt.receiptID)", browser: &buyer).body.string.contains(s.code))
            // Quality sets a penalty from the exception page; a negative one is an inline error.
            let fresh = try await ExceptionCase.query(on: t.db).filter(\.$penaltyKind == nil).filter(\.$supplierID == jg).first()!
            var quality = try await t.signIn("quality")
            let qualityCSRF = try await t.csrf(&quality)
            let negative = try await t.page(.POST, "/exceptions/\(fresh.id!)/penalty", browser: &quality,
                                            form: ["_csrf": qualityCSRF, "version": String(fresh.version), "kind": "fixed", "value": "-5"])
            #expect(negative.status == .unprocessableEntity)
            let set = try await t.page(.POST, "/exceptions/\(fresh.id!)/penalty", browser: &quality,
                                       form: ["_csrf": qualityCSRF, "version": String(fresh.version), "kind": "eight_d_fee", "value": "800"])
            #expect(set.status == .seeOther)
            #expect(try await ExceptionCase.find(fresh.id, on: t.db)?.penaltyValue == FixedDecimal(800).units)
            // Beyond the drop-down's limit the list's supplier is a code: that supplier's statements,
            // or a message when nobody has the code.
            let others = try await Statement.query(on: t.db).filter(\.$supplierID != jg).all()
            #expect(!others.isEmpty)
            try await (1...SupplierFilter.dropDownLimit).map { Organization(kind: .supplier, code: String(format: "ZZ%04d", $0), name: "供应商 \($0)", now: t.clock.now()) }
                .create(on: t.db)
            let byCode = try await t.page(.GET, "/statements?supplierCode=SUP-JG", browser: &finance).body.string
            #expect(byCode.contains(">\(s.code)</a>") && byCode.contains("<input name=\"supplierCode\" value=\"SUP-JG\"") && !byCode.contains("<select name=\"supplierId\""))
            #expect(others.allSatisfy { !byCode.contains(">\($0.code)</a>") })
            let nobody = try await t.page(.GET, "/statements?supplierCode=NOPE", browser: &finance).body.string
            #expect(nobody.contains("data-field=\"supplierCode\">供应商不存在") && !nobody.contains(">\(s.code)</a>"))
            // The form that makes a statement keeps its own supplier, not the filter's code.
            let generate = nobody.components(separatedBy: "method=\"post\" action=\"/statements\"").last?.components(separatedBy: "</form>").first ?? ""
            #expect(generate.contains("<input name=\"supplierCode\" value=\"\" maxlength=\"40\" required"), "\(generate)")
            // A code refused by that form is said there, and the filter stays empty.
            let financeCSRF2 = try await t.csrf(&finance)
            let unknown = try await t.page(.POST, "/statements", browser: &finance, form: ["_csrf": financeCSRF2, "supplierCode": "NOPE2", "period": "2026-10"])
            #expect(unknown.status == .unprocessableEntity)
            let filterForm = unknown.body.string.components(separatedBy: "method=\"get\" action=\"/statements\"").last?.components(separatedBy: "</form>").first ?? ""
            #expect(unknown.body.string.contains("value=\"NOPE2\" maxlength=\"40\" required") && filterForm.contains("<input name=\"supplierCode\" value=\"\" maxlength"), "\(filterForm)")
            for path in ["/statements", "/statements/\(s.id!)", "/stock-count"] {
                var en = try await t.signIn("finance")
                _ = try await t.page(.GET, "/lang/en?next=/", browser: &en)
                let body = try await t.page(.GET, path, browser: &en).body.string
                #expect(!body.contains("对账单") && !body.contains("盘点"), "\(path) in English shows no Chinese labels")
            }
        }
    }

    /// A statement asked for with a bad period comes back with the message at the field, the
    /// supplier it was asked for still chosen in the form, and the list's filter left as it was.
    @Test func aRefusedStatementKeepsItsSupplierAndLeavesTheFilterAlone() async throws {
        try await TestApp.run(scenario: true) { t in
            let bm = try await t.organization(code: "SUP-BM").id!.uuidString
            var finance = try await t.signIn("finance")
            let csrf = try await t.csrf(&finance)
            let r = try await t.page(.POST, "/statements", browser: &finance, form: ["_csrf": csrf, "supplierId": bm, "period": "2026-13"])
            #expect(r.status == .unprocessableEntity)
            let body = r.body.string
            let form = body.components(separatedBy: "method=\"post\" action=\"/statements\"").last?.components(separatedBy: "</form>").first ?? ""
            let filter = body.components(separatedBy: "method=\"get\" action=\"/statements\"").last?.components(separatedBy: "</form>").first ?? ""
            #expect(form.contains("<option value=\"\(bm)\" selected>") && form.contains("<span class=\"err\">"), "\(form)")
            #expect(!filter.contains("<option value=\"\(bm)\" selected>") && filter.contains("<option value=\"\" selected>"), "\(filter)")
        }
    }
}
