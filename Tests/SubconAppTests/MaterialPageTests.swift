import Fluent
import Foundation
import NIOCore
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

@Suite struct MaterialPageTests {
    /// The whole loop from the pages: issue, confirm, ship, receive, decide; a refused
    /// over-receipt and a malformed return come back inline.
    @Test func theMaterialLoopWorksFromThePages() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            var w = try await t.signIn("warehouse")
            let wcsrf = try await t.csrf(&w)
            let form = try await t.page(.GET, "/material/issue?order=\(order)", browser: &w)
            #expect(form.status == .ok)
            #expect(form.body.string.contains("name=\"q_2_RM-PAD-65\"") && form.body.string.contains("value=\"101.5\""))
            let issued = try await t.page(.POST, "/material/issue", browser: &w, form: [
                "_csrf": wcsrf, "order": order, "q_2_RM-PAD-65": "101.5", "l_2_RM-PAD-65": "PAD-9", "q_2_SF-RD-002": "", "q_1_SF-MH-001": ""])
            #expect(issued.status == .seeOther, "\(issued.body.string)")
            let doc = issued.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            // Over the requirement without a reason: the form comes back with the message.
            let over = try await t.page(.POST, "/material/issue", browser: &w, form: ["_csrf": wcsrf, "order": order, "q_2_RM-PAD-65": "5", "l_2_RM-PAD-65": "PAD-9"])
            #expect(over.status == .unprocessableEntity)
            #expect(over.body.string.contains("补料"))

            var s = try await t.signIn("supplier1")
            let scsrf = try await t.csrf(&s)
            let page = try await t.page(.GET, doc, browser: &s).body.string
            #expect(page.contains("name=\"c_1\""))
            let confirmed = try await t.page(.POST, doc + "/confirm", browser: &s, form: ["_csrf": scsrf, "version": "1", "c_1": "101.5"])
            #expect(confirmed.status == .seeOther, "\(confirmed.body.string)")
            #expect(try await m.stock(m.warehouse, item: "RM-PAD-65", lot: "PAD-9") == ("0", "101.5"))
            // The supplier's material page lists nothing left to confirm; it can ship from there.
            let hub = try await t.page(.GET, "/material", browser: &s).body.string
            #expect(hub.contains("/deliveries/new?order=\(order)"))
            let shipped = try await t.page(.POST, "/deliveries", browser: &s, form: [
                "_csrf": scsrf, "order": order, "shipDate": "2026-09-22", "q_2": "20", "l_2": "CR-1"])
            #expect(shipped.status == .seeOther, "\(shipped.body.string)")
            let note = shipped.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            let badShip = try await t.page(.POST, "/deliveries", browser: &s, form: ["_csrf": scsrf, "order": order, "shipDate": "2026-09-22", "q_2": "20", "l_2": ""])
            #expect(badShip.status == .unprocessableEntity)
            // Each line's error is marked at its own input (the page's script finds it by name),
            // not listed under the API's name of the line.
            #expect(badShip.body.string.contains("data-field=\"l_2\""), "\(badShip.body.string)")
            let badNumber = try await t.page(.POST, "/deliveries", browser: &s, form: ["_csrf": scsrf, "order": order, "shipDate": "2026-09-22", "q_2": "abc", "l_2": "X"])
            #expect(badNumber.status == .unprocessableEntity && badNumber.body.string.contains("data-field=\"q_2\""))
            let badReceipt = try await t.page(.POST, "/receipts", browser: &w, form: ["_csrf": wcsrf, "order": order, "q_2": "-3", "l_2": "R-1"])
            #expect(badReceipt.status == .unprocessableEntity && badReceipt.body.string.contains("data-field=\"q_2\""), "\(badReceipt.body.string)")
            let badIssue = try await t.page(.POST, "/material/issue", browser: &w, form: ["_csrf": wcsrf, "order": order, "q_2_RM-PAD-65": "-1", "l_2_RM-PAD-65": "PAD-9"])
            #expect(badIssue.status == .unprocessableEntity && badIssue.body.string.contains("data-field=\"q_2_RM-PAD-65\""), "\(badIssue.body.string)")
            // From a phone with a certificate attached: a multipart form, the file stored with the note.
            let boundary = "----subcon-test"
            var body = ""
            for (k, v) in ["_csrf": scsrf, "order": order, "shipDate": "2026-09-23", "q_2": "5", "l_2": "CR-1B"] {
                body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n"
            }
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"coa.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n\u{00e2}\u{00e3}\n%%EOF\r\n--\(boundary)--\r\n"
            let multipart = try await t.app.testing().sendRequest(.POST, "/deliveries", headers: [
                "Cookie": s.cookieHeader, "Content-Type": "multipart/form-data; boundary=\(boundary)"], body: ByteBuffer(string: body))
            #expect(multipart.status == .seeOther, "\(multipart.body.string)")
            let withFile = multipart.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            let attached = try await t.request(.GET, "/api/v1\(withFile)", token: m.f.supplier1).json
            #expect((attached["attachments"] as? [[String: Any]] ?? []).first?["filename"] as? String == "coa.pdf")
            #expect((attached["lines"] as? [[String: Any]] ?? []).first?["lot"] as? String == "CR-1B")

            let received = try await t.page(.POST, note + "/receive", browser: &w, form: ["_csrf": wcsrf, "r_1": "20"])
            #expect(received.status == .seeOther, "\(received.body.string)")
            let receipt = received.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            var q = try await t.signIn("quality")
            let qcsrf = try await t.csrf(&q)
            #expect(try await t.page(.GET, receipt, browser: &q).body.string.contains(receipt + "/lines/1/inspect"))
            #expect(try await t.page(.GET, receipt + "/lines/1/inspect", browser: &q).body.string.contains("name=\"accepted\""))
            let wrong = try await t.page(.POST, receipt + "/lines/1/inspect", browser: &q, form: ["_csrf": qcsrf, "decision": "partial", "version": "1", "accepted": "15", "rejected": "1"])
            #expect(wrong.status == .unprocessableEntity)
            #expect(wrong.body.string.contains("之和应等于收货数 20"))
            let decided = try await t.page(.POST, receipt + "/lines/1/inspect", browser: &q, form: ["_csrf": qcsrf, "decision": "partial", "version": "1", "accepted": "19", "rejected": "1"])
            #expect(decided.status == .seeOther)
            #expect(try await m.f.order(order)["status"] as? String == "partially_delivered")

            // A direct receipt beyond the tolerance (50 + 5 % = 52.5; 19 counted) is refused inline.
            let refused = try await t.page(.POST, "/receipts", browser: &w, form: ["_csrf": wcsrf, "order": order, "q_2": "34", "l_2": "CR-2"])
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.body.string.contains("最多还可收 33.5"))
            let bad = try await t.page(.POST, "/material/move", browser: &w, form: ["_csrf": wcsrf, "kind": "return", "supplierId": try await m.f.supplierID("SUP-JG").uuidString,
                                                                                 "condition": "good", "lines": "RM-PAD-65 PAD-9"])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("第 1 行格式应为"))
            let ret = try await t.page(.POST, "/material/move", browser: &w, form: ["_csrf": wcsrf, "kind": "return", "supplierId": try await m.f.supplierID("SUP-JG").uuidString,
                                                                                 "condition": "defective", "lines": "RM-PAD-65 PAD-9 1.5"])
            #expect(ret.status == .seeOther, "\(ret.body.string)")
            // The order page shows where its material stands.
            let orderPage = try await t.page(.GET, "/orders/\(order)", browser: &w).body.string
            // RM-PAD-65 for line 2: 101.5 issued and confirmed, 38 consumed (19 × 2); the return from
            // the page named no order, so the order still accounts for 63.5.
            #expect(orderPage.contains("物料与交货"))
            #expect(orderPage.contains(">101.5</td>") && orderPage.contains(">38</td>") && orderPage.contains(">63.5</td>"))
            // Its delivery table names each line's item and gives the ordered quantity's unit.
            let deliveries = orderPage.components(separatedBy: "id=\"material\"").last?.components(separatedBy: "</table>").first ?? ""
            #expect(deliveries.contains("<span class=\"muted\">") && deliveries.contains(" 件</td>"), "\(deliveries)")
        }
    }

    /// Every material page renders with the demo's data, for each side, and a supplier cannot
    /// open the other supplier's records.
    @Test func everyMaterialPageRendersWithTheDemo() async throws {
        try await TestApp.run(scenario: true) { t in
            var w = try await t.signIn("warehouse")
            let note = try await DeliveryNote.query(on: t.db).filter(\.$status == "shipped").first()!
            let receipt = try await GoodsReceipt.query(on: t.db).first()!
            let pending = try await MaterialDocument.query(on: t.db).filter(\.$status == "pending_approval").first()!
            let transfer = try await MaterialDocument.query(on: t.db).filter(\.$kind == "transfer").first()!
            let pages = ["/material", "/material/stock", "/material/trace?item=RM-PAD-65&lot=PAD-2609", "/material/trace?item=FG-RD-002&lot=CR65-2609-01",
                         "/write-off", "/deliveries", "/deliveries?open=false", "/deliveries/\(note.id!)", "/receipts/\(receipt.id!)",
                         "/material/documents/\(pending.id!)", "/material/move?kind=transfer", "/material/move?kind=return", "/material/move?kind=adjustment",
                         "/orders/\(receipt.orderID)", "/receipts/new?order=\(receipt.orderID)", "/material/issue?order=\(receipt.orderID)"]
            for path in pages {
                let r = try await t.page(.GET, path, browser: &w)
                #expect(r.status == .ok, "\(path): \(r.body.string.prefix(300))")
            }
            // The notes page goes a page at a time, each note on one page only, in ship date order.
            let allNotes = try await t.request(.GET, "/api/v1/deliveries", token: try await t.token("warehouse")).json["items"] as? [[String: Any]] ?? []
            #expect(allNotes.count >= 2)
            var listed: [String] = []
            for n in 1...allNotes.count {
                let body = try await t.page(.GET, "/deliveries?open=false&per=1&page=\(n)", browser: &w).body.string
                let codes = allNotes.compactMap { $0["code"] as? String }.filter { body.contains(">\($0)</a>") }
                #expect(codes.count == 1, "page \(n): \(codes)")
                listed += codes
                #expect(body.contains("class=\"pager\"") && body.contains("page=\(n + 1)") == (n < allNotes.count), "page \(n)")
            }
            #expect(listed == allNotes.compactMap { $0["code"] as? String }, "the API's order")
            #expect(try await t.page(.GET, "/deliveries?per=0", browser: &w).status == .badRequest)
            // The page's link to the other list is a link, not its markup as text.
            #expect(try await t.page(.GET, "/deliveries", browser: &w).body.string.contains("<p class=\"links\"><a href=\"/deliveries?open=false\">"))
            #expect(try await t.page(.GET, "/deliveries?open=false", browser: &w).body.string.contains("<p class=\"links\"><a href=\"/deliveries\">"))
            // The open notes' total is the count the database keeps: it agrees with counting them,
            // for the buyer's side and for a supplier's own.
            let sql = t.db as! any SQLDatabase
            func openNotes(_ supplier: UUID?) async throws -> Int {
                let byWhom: SQLQueryString = supplier.map { " AND supplier_id = \(bind: $0)" } ?? ""
                return try await sql.raw("SELECT COUNT(*) AS n FROM delivery_notes WHERE status IN ('shipped', 'partially_received')" + byWhom)
                    .first()!.decode(column: "n", as: Int.self)
            }
            // Another supplier's open note, for the supplier's count to leave out.
            let other = DeliveryNote()
            other.code = "DN-OTHER"; other.supplierID = try await Organization.query(on: t.db).filter(\.$code == "SUP-BM").first()!.id!
            other.orderID = note.orderID; other.shipDate = note.shipDate; other.status = "shipped"; other.note = ""; other.version = 1
            other.createdBy = note.createdBy; other.createdAt = note.createdAt
            try await other.create(on: t.db)
            for login in ["warehouse", "supplier1"] {
                let p = try await ReadConnectionsTests.principal(t, login)
                let counted = try await openNotes(p.scope.supplierID)
                #expect(counted > 0, "\(login)")
                #expect(try await MaterialReports.notePage(p, open: true, page: PageRequest(page: 1, per: 1), on: sql).total == counted, "\(login)")
            }
            // Return and transfer are offered for what is held, not for a shortfall or an empty row.
            let stockPage = try await t.page(.GET, "/material/stock?per=100", browser: &w).body.string
            let rows = try await t.request(.GET, "/api/v1/material/stock?per=100", token: try await t.token("warehouse")).json["items"] as? [[String: Any]] ?? []
            #expect(!rows.isEmpty)
            for row in rows {
                let link = "/material/move?kind=return&supplier=\(row["supplierId"] as? String ?? "")&item=\(row["itemCode"] as? String ?? "")&lot=\(row["lot"] as? String ?? "")\""
                let held = try FixedDecimal.parse(row["held"] as? String ?? "")
                #expect(stockPage.contains(link) == (held > .zero), "\(link) held \(held)")
            }
            // A bad filter names the field as the page's reader knows it, not as the query spells it.
            let bad = try await t.page(.GET, "/material/stock?supplierId=bad&page=0", browser: &w)
            #expect(bad.status == .badRequest)
            #expect(bad.body.string.contains("供应商: ") && !bad.body.string.contains("supplierId"), "\(bad.body.string)")
            let hub = try await t.page(.GET, "/material", browser: &w).body.string
            #expect(hub.contains("待发料") && hub.contains("收料差异") && hub.contains("待批准的补料"))
            // A discrepancy leads to its exception (to be answered) and to its document.
            #expect(hub.contains("<a class=\"tag bad\" href=\"/exceptions/") && hub.contains(">查看单据</a>"), "\(hub)")
            let writeOff = try await t.page(.GET, "/write-off", browser: &w).body.string
            #expect(writeOff.contains("RM-PAD-65") && writeOff.contains("超出容差"))
            #expect(try await t.page(.GET, "/write-off?period=2026-13", browser: &w).status == .unprocessableEntity)
            var s1 = try await t.signIn("supplier1")
            for path in ["/material", "/material/stock", "/deliveries", "/write-off", "/deliveries/\(note.id!)", "/receipts/\(receipt.id!)",
                         "/material/move?kind=scrap", "/deliveries/new?order=\(receipt.orderID)", "/material/documents/\(transfer.id!)"] {
                let r = try await t.page(.GET, path, browser: &s1)
                #expect(r.status == .ok, "\(path): \(r.body.string.prefix(300))")
            }
            var s2 = try await t.signIn("supplier2")
            for path in ["/deliveries/\(note.id!)", "/receipts/\(receipt.id!)", "/material/documents/\(pending.id!)", "/deliveries/new?order=\(receipt.orderID)"] {
                #expect(try await t.page(.GET, path, browser: &s2).status == .notFound, "\(path)")
            }
            // Issuing is not a supplier's to do at all.
            #expect(try await t.page(.GET, "/material/issue?order=\(receipt.orderID)", browser: &s2).status == .forbidden)
            // The transfer is BM's too.
            #expect(try await t.page(.GET, "/material/documents/\(transfer.id!)", browser: &s2).status == .ok)
            #expect(try await t.page(.GET, "/material/move?kind=return", browser: &s2).status == .forbidden)
            #expect(try await AuditVerification.run(app: t.app).ok)
        }
    }

    /// The write-off page shows its rows a page at a time, those beyond tolerance first, and the
    /// report pages find any supplier: by a drop-down while there are few, by code beyond that.
    @Test func theWriteOffPagesItsRowsAndTheReportsFindAnySupplier() async throws {
        try await TestApp.run(scenario: true) { t in
            var w = try await t.signIn("warehouse")
            let all = try await t.request(.GET, "/api/v1/write-off", token: try await t.token("warehouse")).json["rows"] as? [[String: Any]] ?? []
            let beyond = all.filter { $0["beyondTolerance"] as? Bool == true }.count
            #expect(all.count >= 3 && beyond >= 1 && beyond < all.count, "\(all.count) rows, \(beyond) beyond")
            func rows(_ body: String) -> [String] {
                let table = body.components(separatedBy: "<tbody>").dropFirst().first?.components(separatedBy: "</tbody>").first ?? ""
                return table.components(separatedBy: "<tr").dropFirst().map { String($0) }
            }
            var seen: [String] = []
            for n in 1...all.count {
                let body = try await t.page(.GET, "/write-off?per=1&page=\(n)", browser: &w).body.string
                let shown = rows(body)
                #expect(shown.count == 1, "page \(n)")
                #expect(body.contains("共 \(all.count) 行，其中 \(beyond) 行超出容差"), "page \(n)")
                // Those beyond tolerance come first.
                #expect((shown.first ?? "").contains("class=\"late\"") == (n <= beyond), "page \(n)")
                #expect(body.contains("class=\"pager\"") && body.contains("page=\(n + 1)") == (n < all.count), "page \(n)")
                seen += shown
            }
            // Every row of the report once.
            for row in all {
                let key = "\(row["itemCode"] as? String ?? "") · \(row["unit"] as? String ?? "")"
                let supplier = row["supplierCode"] as? String ?? ""
                #expect(seen.filter { $0.contains(key) && $0.contains(">\(supplier)</span>") }.count == 1, "\(supplier) \(key)")
            }
            // A bad page size or supplier names its own field, not the month.
            for (query, field) in [("per=0", "per"), ("supplierId=bad", "supplierId")] {
                let bad = try await t.page(.GET, "/write-off?\(query)", browser: &w)
                #expect(bad.status == .unprocessableEntity && bad.body.string.contains("data-field=\"\(field)\"")
                        && !bad.body.string.contains("data-field=\"period\""), "\(query)")
            }

            // A few suppliers: a drop-down of each of them.
            let jg = try await t.organization(code: "SUP-JG").id!
            var stock = try await t.page(.GET, "/material/stock", browser: &w).body.string
            #expect(stock.contains("<select name=\"supplierId\">") && stock.contains("<option value=\"\(jg)\">SUP-JG · "))
            // A code nobody has, in a link, is said at the drop-down (the field the page has).
            var finance = try await t.signIn("finance")  // the warehouse has no statements
            for page in ["/material/stock", "/write-off", "/prices", "/statements"] {
                let body = try await t.page(.GET, page + "?supplierCode=NOPE", browser: &finance).body.string
                #expect(body.contains("<p class=\"err\" data-field=\"supplierId\">供应商不存在"), "\(page)")
            }
            // Beyond the drop-down's limit: a code, which finds the same rows as the supplier's id.
            let now = t.clock.now()
            try await (1...SupplierFilter.dropDownLimit).map { Organization(kind: .supplier, code: String(format: "ZZ%04d", $0), name: "供应商 \($0)", now: now) }
                .create(on: t.db)
            for page in ["/material/stock", "/write-off"] {
                let body = try await t.page(.GET, page, browser: &w).body.string
                #expect(body.contains("<input name=\"supplierCode\"") && !body.contains("<select name=\"supplierId\">"), "\(page)")
            }
            let jgStock = try await t.request(.GET, "/api/v1/material/stock?per=100&supplierId=\(jg)", token: try await t.token("warehouse")).json["items"] as? [[String: Any]] ?? []
            #expect(!jgStock.isEmpty)
            stock = try await t.page(.GET, "/material/stock?per=100&supplierCode=SUP-JG", browser: &w).body.string
            #expect(rows(stock).count == jgStock.count && !stock.contains(">SUP-BM</span>"))
            #expect(stock.contains("value=\"SUP-JG\""))
            let jgWriteOff = all.filter { $0["supplierCode"] as? String == "SUP-JG" }.count
            let writeOff = try await t.page(.GET, "/write-off?per=100&supplierCode=SUP-JG", browser: &w).body.string
            #expect(jgWriteOff > 0 && rows(writeOff).count == jgWriteOff)
            #expect(writeOff.contains("/write-off/export?period=") && writeOff.contains("&amp;supplierId=\(jg)"), "the export keeps the supplier")
            // Quantities with thousands separators, on both pages.
            let warehouse = try await t.token("warehouse")
            #expect(try await t.request(.POST, "/api/v1/material/adjustments", token: warehouse, json: """
                {"supplierId":"\(jg)","reason":"盘盈","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-BIG","quantity":"12345.5"}]}
                """).status == .created)
            let held = try await t.request(.GET, "/api/v1/write-off?supplierId=\(jg)", token: warehouse).json["rows"] as? [[String: Any]] ?? []
            let pads = try FixedDecimal.parse(held.first { $0["itemCode"] as? String == "RM-PAD-65" }?["held"] as? String ?? "")
            #expect(pads > FixedDecimal(12_345))
            let big = try await t.page(.GET, "/material/stock?supplierCode=SUP-JG&lot=PAD-BIG", browser: &w).body.string
            #expect(big.contains("<strong>12,345.5</strong>"), "\(big)")
            let month = try await t.page(.GET, "/write-off?per=100&supplierCode=SUP-JG", browser: &w).body.string
            #expect(month.contains(">\(pads.grouped)</td>"), "\(pads.grouped)")
            // A code nobody has: said beside the field, and nothing listed.
            for page in ["/material/stock", "/write-off"] {
                let body = try await t.page(.GET, page + "?supplierCode=NOPE", browser: &w).body.string
                #expect(body.contains("data-field=\"supplierCode\">供应商不存在") && rows(body).isEmpty && body.contains("value=\"NOPE\""), "\(page)")
            }
        }
    }

    /// The hub shows the first rows of each long list, most urgent first, and a link to the
    /// list whole; opened whole, a list holds what the API lists, for each side its own.
    @Test func theHubShowsTheFirstRowsOfEachListAndOpensItWhole() async throws {
        try await TestApp.run(scenario: true) { t in
            /// The rows of a page's tables (each row starts `<tr>`, so does each table's head).
            func rows(_ html: String) -> Int {
                func count(_ s: String) -> Int { html.components(separatedBy: s).count - 1 }
                return count("<tr>") - count("<thead>")
            }
            // An accepted order of twelve lines: more to arrive than the hub shows.
            let purchaser = try await t.token("purchaser")
            let jg = try await t.organization(code: "SUP-JG").id!
            let lines = (1...12).map { #"{"itemCode":"FG-RD-002","quantity":"\#($0)","dueDate":"2026-12-\#(10 + $0)"}"# }.joined(separator: ",")
            let created = try await t.request(.POST, "/api/v1/orders", token: purchaser, json: #"{"supplierId":"\#(jg)","lines":[\#(lines)]}"#)
            let id = created.json["id"] as? String ?? ""
            #expect(try await t.request(.POST, "/api/v1/orders/\(id)/release", token: purchaser, json: #"{"version":1}"#).status == .ok)
            let answers = (1...12).map { #"{"line":\#($0),"answer":"accept"}"# }.joined(separator: ",")
            let answered = try await t.request(.POST, "/api/v1/orders/\(id)/answers", token: try await t.token("supplier1"),
                                               json: #"{"revision":1,"lines":[\#(answers)]}"#)
            #expect(answered.status == .ok, "\(answered.body.string)")
            for login in ["warehouse", "supplier1"] {
                var b = try await t.signIn(login)
                let api = try await t.request(.GET, "/api/v1/material/due-to-arrive", token: try await t.token(login)).json["items"] as? [[String: Any]] ?? []
                #expect(api.count > MaterialPages.hubRows, "\(login): \(api.count)")
                let hub = try await t.page(.GET, "/material", browser: &b).body.string
                let arriving = hub.components(separatedBy: "<h2>待交货</h2>").last?.components(separatedBy: "</section>").first ?? ""
                #expect(rows(arriving) == MaterialPages.hubRows && arriving.contains("<a href=\"/material?list=arrive\">查看全部 &rarr;</a>"), "\(login): \(arriving)")
                let whole = try await t.page(.GET, "/material?list=arrive", browser: &b)
                #expect(whole.status == .ok && rows(whole.body.string) == api.count, "\(login)")
                let body = whole.body.string
                #expect(body.contains("<h1>待交货</h1>") && !body.contains("<h2>待交货</h2>") && body.contains("<a href=\"/material\">&larr; 物料收发</a>")
                        && !body.contains("查看全部"))
                for row in api {
                    #expect(body.contains("href=\"/orders/\(row["orderId"] as? String ?? "")\">\(row["orderCode"] as? String ?? "")</a>"))
                }
                #expect(!body.contains("最近的物料单据") && !body.contains("在途送货单"), "only the list opened")
                #expect(try await t.page(.GET, "/material?list=everything", browser: &b).status == .badRequest)
            }
            // A supplier has no components to issue nor receipts to inspect.
            var s = try await t.signIn("supplier1")
            for list in ["issue", "inspect"] {
                let r = try await t.page(.GET, "/material?list=\(list)", browser: &s)
                #expect(r.status == .badRequest && r.body.string.contains("列表: 取值无效"), "\(list)")
            }
            var w = try await t.signIn("warehouse")
            for (list, heading) in [("issue", "<h1>待发料</h1>"), ("inspect", "<h1>待检验</h1>")] {
                let r = try await t.page(.GET, "/material?list=\(list)", browser: &w)
                #expect(r.status == .ok && r.body.string.contains(heading), "\(list): \(r.body.string.prefix(2000))")
            }
            // The hub's receipts to inspect are the first of the list opened whole, in its order,
            // also when receipts share their moment (the test's clock stands still): twelve more.
            let warehouse = try await t.token("warehouse")
            for line in 1...12 {
                let r = try await t.request(.POST, "/api/v1/receipts", token: warehouse,
                                            json: #"{"orderId":"\#(id)","lines":[{"line":\#(line),"lot":"TIE-\#(line)","quantity":"1"}]}"#)
                #expect(r.status == .created, "\(r.body.string)")
            }
            func receipts(_ html: String) -> [String] {
                html.components(separatedBy: "<a class=\"nowrap\" href=\"/receipts/").dropFirst().map { String($0.prefix(36)) }
            }
            let hubReceipts = receipts(try await t.page(.GET, "/material", browser: &w).body.string)
            let allReceipts = receipts(try await t.page(.GET, "/material?list=inspect", browser: &w).body.string)
            #expect(hubReceipts.count == MaterialPages.hubRows && Array(allReceipts.prefix(hubReceipts.count)) == hubReceipts, "\(hubReceipts) \(allReceipts)")
        }
    }
}
