import Fluent
import Foundation
import SQLKit
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// Who answers for rejects (工废 / 料废) over HTTP, on whichever database the run uses, and what
/// the decision does to the statement and the write-off.
@Suite struct RejectFlowTests {
    static func d(_ any: Any?) -> FixedDecimal { (any as? String).flatMap { try? FixedDecimal.parse($0) } ?? FixedDecimal(units: -1) }

    /// 10 of 100 pieces rejected: as 料废 the statement pays their processing fee (10 × the line's
    /// price), as 工废 it charges the material the order's requirements put in them, at cost (the
    /// sum is worked out here from the requirements, apart from the service's rule).
    @Test func aDecisionFlowsIntoTheStatement() async throws {
        try await TestApp.run { t in
            let s = SettlementFlowTests.S(m: try await MaterialFixture.make(t))
            let order = try await s.m.acknowledgedOrder()
            _ = try await s.receiveAccepted(order, lot: "R1", "100", rejected: "10")
            let inspection = try #require(try await Inspection.query(on: t.db).filter(\.$orderID == UUID(uuidString: order)!).first())
            #expect(inspection.rejectedQuantity == FixedDecimal(10).units)
            let quality = s.m.quality, supplier = s.f.supplier1, other = s.f.supplier2
            let path = "/api/v1/inspections/\(inspection.id!)/responsibility"

            // Listed for both sides, undetermined; not for another supplier.
            let listed = try await s.m.get("/api/v1/rejects", quality)
            let row = try #require((listed["items"] as? [[String: Any]])?.first { $0["sourceId"] as? String == inspection.id!.uuidString })
            #expect(row["responsibility"] as? String == "undetermined" && row["version"] as? Int == 0)
            #expect((try await s.m.get("/api/v1/rejects", supplier)["total"] as? Int ?? 0) >= 1)
            #expect(try await s.m.get("/api/v1/rejects", other)["total"] as? Int == 0)
            #expect(try await t.request(.PUT, path, token: other, json: #"{"responsibility":"material","reason":"x"}"#).status == .notFound)

            // Bad input, and the wrong side: nothing written.
            #expect(try await t.request(.PUT, path, token: supplier, json: #"{"responsibility":"material","reason":"x"}"#).status == .forbidden)
            #expect(try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"material"}"#).status == .unprocessableEntity)
            #expect(try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"both","reason":"x"}"#).status == .unprocessableEntity)
            #expect(try await t.request(.PUT, path, token: quality, json: #"{"responsibility":1}"#).status == .badRequest)
            #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM reject_decisions").first(decoding: N.self)?.n == 0)

            // 工废 first: no fee, the material in the 10 pieces charged at cost.
            struct Req: Decodable { let quantity_per: Int64; let cost_price: Int64 }
            let reqs = try await t.sql.raw("""
                SELECT q.quantity_per, COALESCE(i.cost_price, 0) AS cost_price FROM order_requirements q JOIN items i ON i.id = q.component_id
                WHERE q.order_id = \(bind: UUID(uuidString: order)!) AND q.line_no = 1 AND q.supply_by <> 'supplier'
                """).all(decoding: Req.self)
            var expected = FixedDecimal.zero
            for r in reqs {
                expected = try expected.adding(try FixedDecimal(10).multiplied(by: FixedDecimal(units: r.quantity_per))
                    .multiplied(by: FixedDecimal(units: r.cost_price), roundedToScale: 2))
            }
            let spoiled = try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"supplier","reason":"刀具磨损导致尺寸超差"}"#)
            #expect(spoiled.status == .ok, "\(spoiled.body.string)")
            #expect(Self.d(spoiled.json["fee"]) == .zero && Self.d(spoiled.json["charge"]) == expected && spoiled.json["version"] as? Int == 1)

            // Changed to 料废 with the version seen; a stale one is refused.
            #expect(try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"material","reason":"x","version":0}"#).status == .conflict)
            let material = try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"material","reason":"来料硬度不足,供应商检测报告佐证","version":1}"#)
            #expect(material.status == .ok, "\(material.body.string)")
            let line = try #require((try await s.f.order(order)["lines"] as? [[String: Any]])?.first { $0["number"] as? Int == 1 })
            let fee = try FixedDecimal(10).multiplied(by: Self.d(line["unitPrice"]), roundedToScale: 2)
            #expect(Self.d(material.json["fee"]) == fee && Self.d(material.json["charge"]) == .zero)
            _ = try await Outbox.deliverPending(app: t.app)
            let jgUser = try await t.user("supplier1")
            #expect(try await InboxItem.query(on: t.db).filter(\.$user.$id == jgUser.id!).filter(\.$event == "reject.decided").count() == 2)

            // The statement pays the fee as a goods line of its own; the decision is then settled.
            let jg = try await s.f.supplierID("SUP-JG")
            let statement = try await s.m.post("/api/v1/statements", s.f.purchaser, #"{"supplierId":"\#(jg)","period":"\#(SettlementFlowTests.period(t))"}"#)
            let lines = (statement["lines"] as? [[String: Any]]) ?? []
            let rejectLine = try #require(lines.first { $0["sourceType"] as? String == "reject" })
            #expect(rejectLine["kind"] as? String == "goods" && Self.d(rejectLine["amount"]) == fee && Self.d(rejectLine["quantity"]) == FixedDecimal(10))
            #expect(try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"supplier","reason":"x","version":2}"#).status == .conflict)
            #expect(try await AuditEntry.query(on: t.db).filter(\.$entity == "reject_decision").count() == 2)
        }
    }

    struct N: Decodable { let n: Int }
    struct Resp: Decodable { let responsibility: String }

    /// The demo's scrap at JG decided as 料废: the write-off counts it as an allowed loss and the
    /// variance falls by as much; the page shows the decision to the supplier.
    @Test func scrapDecidedAsMaterialLeavesTheVariance() async throws {
        try await TestApp.run(scenario: true) { t in
            let quality = try await t.token("quality"), finance = try await t.token("finance")
            let jg = try await t.organization(code: "SUP-JG").id!
            let scrap = try #require(try await MaterialMovement.query(on: t.db).filter(\.$supplierID == jg).filter(\.$kind == "scrapped").first())
            let period = String(SettlementFlowTests.period(t))
            func row() async throws -> [String: Any]? {
                let r = try await t.request(.GET, "/api/v1/write-off?period=\(period)&supplierId=\(jg)", token: finance)
                return ((r.json["rows"] as? [[String: Any]]) ?? []).first { $0["itemId"] as? String == scrap.itemID.uuidString }
            }
            let before = try #require(try await row())
            let decided = try await t.request(.PUT, "/api/v1/material/movements/\(scrap.id!)/responsibility", token: quality,
                                              json: #"{"responsibility":"material","reason":"该批贴片来料偏位,见来料报告"}"#)
            #expect(decided.status == .ok, "\(decided.body.string)")
            let after = try #require(try await row())
            #expect(Self.d(after["materialRejects"]) == FixedDecimal(units: scrap.quantity))
            #expect(try Self.d(before["variance"]).subtracting(FixedDecimal(units: scrap.quantity)) == Self.d(after["variance"]))
            // The ERP's workbook carries the same column.
            let workbook = try XLSX.readAll(Data(buffer: try await t.request(.GET, "/api/v1/write-off/export?period=\(period)&supplierId=\(jg)", token: finance).body))
            let sheet = workbook.first?.table.rows ?? []
            let column = try #require(workbook.first?.table.headers.firstIndex(of: "料废（允许损耗）"))
            let itemCode = try #require(try await Item.find(scrap.itemID, on: t.db)?.code)
            #expect(sheet.first { $0.count > column && $0[2] == itemCode }?[column] == FixedDecimal(units: scrap.quantity).description)
            // A movement that is not scrap has nothing to decide.
            let issue = try #require(try await MaterialMovement.query(on: t.db).filter(\.$supplierID == jg).filter(\.$kind == "issued").first())
            #expect(try await t.request(.PUT, "/api/v1/material/movements/\(issue.id!)/responsibility", token: quality,
                                        json: #"{"responsibility":"material","reason":"x"}"#).status == .conflict)

            var supplier = try await t.signIn("supplier1")
            let page = try await t.page(.GET, "/rejects", browser: &supplier)
            #expect(page.status == .ok && page.body.string.contains("该批贴片来料偏位") && !page.body.string.contains("判定理由（必填）"))
            var q = try await t.signIn("quality")
            let csrf = try await t.csrf(&q)
            let form = try await t.page(.GET, "/rejects", browser: &q)
            #expect(form.status == .ok && form.body.string.contains("判定理由（必填）"))
            let missing = try await t.page(.POST, "/material/movements/\(scrap.id!)/responsibility", browser: &q,
                                           form: ["_csrf": csrf, "responsibility": "supplier", "reason": "", "version": "1"])
            #expect(missing.status == .unprocessableEntity && missing.body.string.contains("class=\"err\""))
            let saved = try await t.page(.POST, "/material/movements/\(scrap.id!)/responsibility", browser: &q,
                                         form: ["_csrf": csrf, "responsibility": "supplier", "reason": "保管不当", "version": "1"])
            #expect(saved.status == .seeOther)
            let charged = try #require(try await row())
            #expect(try await t.sql.raw("SELECT responsibility FROM reject_decisions WHERE source_id = \(bind: scrap.id!)").first(decoding: Resp.self)?.responsibility == "supplier")
            // (The demo's 工废 lot already put its pads in that column: the scrap adds to them.)
            #expect(try Self.d(charged["supplierRejects"]).subtracting(Self.d(before["supplierRejects"])) == FixedDecimal(units: scrap.quantity))
            #expect(Self.d(charged["materialRejects"]) == .zero && Self.d(charged["variance"]) == Self.d(after["variance"]))
        }
    }

    /// 4 pieces scrapped in process (a progress report), judged 料废: the statement pays their
    /// fee as a goods line named by order and line. The supplier disputes it: its reason opens a
    /// thread (there is none for process scrap), a second dispute goes into the same thread.
    @Test func processScrapIsDecidedPaidAndDisputed() async throws {
        try await TestApp.run { t in
            let s = SettlementFlowTests.S(m: try await MaterialFixture.make(t))
            let order = try await s.m.acknowledgedOrder()
            _ = try await s.receiveAccepted(order, lot: "R1", "20", rejected: "2")
            let report = try await s.m.post("/api/v1/orders/\(order)/progress", s.f.supplier1, #"{"line":1,"good":"50","scrap":"4","stage":"精加工"}"#)
            let id = try #require(report["id"] as? String)
            let quality = s.m.quality, supplier = s.f.supplier1, other = s.f.supplier2
            let code = try #require(try await s.f.order(order)["code"] as? String)
            let listed = try await s.m.get("/api/v1/rejects", supplier)
            let row = try #require((listed["items"] as? [[String: Any]])?.first { $0["sourceId"] as? String == id })
            #expect(row["sourceType"] as? String == "process" && row["reference"] as? String == "\(code) #1" && Self.d(row["quantity"]) == FixedDecimal(4))
            #expect(row["recordId"] as? String == order)

            let path = "/api/v1/rejects/process/\(id)"
            #expect(try await t.request(.PUT, "/api/v1/rejects/bogus/\(id)", token: quality, json: #"{"responsibility":"material","reason":"x"}"#).status == .notFound)
            #expect(try await t.request(.PUT, path, token: other, json: #"{"responsibility":"material","reason":"x"}"#).status == .notFound)
            // Nothing decided yet: nothing to dispute.
            #expect(try await t.request(.POST, path + "/dispute", token: supplier, json: #"{"reason":"不认可"}"#).status == .conflict)
            let decided = try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"material","reason":"毛坯砂眼,来料问题"}"#)
            #expect(decided.status == .ok, "\(decided.body.string)")
            let line = try #require((try await s.f.order(order)["lines"] as? [[String: Any]])?.first { $0["number"] as? Int == 1 })
            let fee = try FixedDecimal(4).multiplied(by: Self.d(line["unitPrice"]), roundedToScale: 2)
            #expect(Self.d(decided.json["fee"]) == fee && Self.d(decided.json["charge"]) == .zero && decided.json["exceptionId"] == nil)
            // Filters and pages (counted and ordered from the index-only keys, rows read per page).
            func ids(_ query: String) async throws -> (total: Int, ids: [String]) {
                let r = try await s.m.get("/api/v1/rejects?\(query)", quality)
                return (r["total"] as? Int ?? -1, ((r["items"] as? [[String: Any]]) ?? []).compactMap { $0["sourceId"] as? String })
            }
            #expect(try await ids("responsibility=material").ids == [id])
            #expect(try await !ids("responsibility=undetermined").ids.contains(id))
            let all = try await ids("per=50")
            try #require(all.total >= 2)
            #expect(all.ids.count == all.total && all.ids.contains(id))
            var paged: [String] = []
            for n in 1...all.total { paged += try await ids("per=1&page=\(n)").ids }
            #expect(paged == all.ids)
            // The audit speaks words: 料废, not "material"; the kind of reject, not "process".
            var admin = try await t.signIn("admin")
            let audit = try await t.page(.GET, "/admin/audit", browser: &admin)
            #expect(audit.body.string.contains("料废（来料缺陷）") && audit.body.string.contains("加工报废"))

            // Disputes: only the supplier's own people, with a reason; nothing written otherwise.
            #expect(try await t.request(.POST, path + "/dispute", token: other, json: #"{"reason":"x"}"#).status == .notFound)
            #expect(try await t.request(.POST, path + "/dispute", token: quality, json: #"{"reason":"x"}"#).status == .forbidden)
            #expect(try await t.request(.POST, path + "/dispute", token: supplier, json: #"{"reason":"  "}"#).status == .unprocessableEntity)
            #expect(try await t.request(.POST, path + "/dispute", token: supplier, json: #"{"reason":"x","extra":1}"#).status == .badRequest)
            #expect(try await ExceptionCase.query(on: t.db).filter(\.$source == "reject_decision").count() == 0)
            let first = try await t.request(.POST, path + "/dispute", token: supplier, json: #"{"reason":"砂眼是加工中打出来的,不是毛坯问题?请复核"}"#)
            #expect(first.status == .ok, "\(first.body.string)")
            let thread = try #require((first.json["exceptionId"] as? String).flatMap(UUID.init(uuidString:)))
            let second = try await t.request(.POST, path + "/dispute", token: supplier, json: #"{"reason":"附复检照片"}"#)
            #expect(second.json["exceptionId"] as? String == thread.uuidString)
            let comments = try await ExceptionComment.query(on: t.db).filter(\.$exceptionID == thread).filter(\.$event == "reject.disputed").all()
            #expect(comments.count == 2 && comments.contains { $0.body.hasPrefix("砂眼") })
            // The thread and the comments it made read in words on the audit page too.
            let trail = try await t.page(.GET, "/admin/audit", browser: &admin).body.string
            #expect(trail.contains("<th>一方</th>") && trail.contains("<th>严重程度</th>") && trail.contains("轻微"))
            #expect(!["<th>side</th>", "<th>body</th>", "<th>severity</th>", "<th>exception</th>"].contains { trail.contains($0) })
            #expect(try await ExceptionCase.find(thread, on: t.db)?.supplierID == (try await s.f.supplierID("SUP-JG")))
            _ = try await Outbox.deliverPending(app: t.app)
            let qualityUser = try await t.user("quality")
            #expect(try await InboxItem.query(on: t.db).filter(\.$user.$id == qualityUser.id!).filter(\.$event == "reject.disputed").count() == 2)

            // The statement pays the fee for the 4 pieces, named by order and line.
            let jg = try await s.f.supplierID("SUP-JG")
            let statement = try await s.m.post("/api/v1/statements", s.f.purchaser, #"{"supplierId":"\#(jg)","period":"\#(SettlementFlowTests.period(t))"}"#)
            let rejectLine = try #require(((statement["lines"] as? [[String: Any]]) ?? []).first { $0["sourceType"] as? String == "reject" })
            #expect(rejectLine["kind"] as? String == "goods" && Self.d(rejectLine["amount"]) == fee)
            #expect((rejectLine["reference"] as? String ?? "").hasPrefix("\(code) #1"))

        }
    }

    /// The demo's discrepancy (12 thermal pads short on arrival) judged 工废: charged at cost on
    /// the statement, but the write-off does not move (the pads never reached the supplier's
    /// stock; they are still counted in transit). A dispute goes into the discrepancy's thread.
    @Test func aDiscrepancyIsChargedButLeavesTheWriteOff() async throws {
        try await TestApp.run(scenario: true) { t in
            let quality = try await t.token("quality"), finance = try await t.token("finance"), supplier = try await t.token("supplier1")
            let jg = try await t.organization(code: "SUP-JG").id!
            struct L: Decodable { let id: UUID; let item_id: UUID; let missing: Int64; let cost_price: Int64 }
            let short = try #require(try await t.sql.raw("""
                SELECT l.id, l.item_id, l.quantity - l.confirmed_quantity AS missing, COALESCE(i.cost_price, 0) AS cost_price
                FROM material_document_lines l JOIN material_documents d ON d.id = l.document_id JOIN items i ON i.id = l.item_id
                WHERE d.supplier_id = \(bind: jg) AND l.confirmed_quantity < l.quantity
                """).first(decoding: L.self))
            let period = String(SettlementFlowTests.period(t))
            func row() async throws -> [String: Any]? {
                let r = try await t.request(.GET, "/api/v1/write-off?period=\(period)&supplierId=\(jg)", token: finance)
                return ((r.json["rows"] as? [[String: Any]]) ?? []).first { $0["itemId"] as? String == short.item_id.uuidString }
            }
            let before = try #require(try await row())
            let path = "/api/v1/rejects/discrepancy/\(short.id)"
            let decided = try await t.request(.PUT, path, token: quality, json: #"{"responsibility":"supplier","reason":"签收时未在运单上注明破损"}"#)
            #expect(decided.status == .ok, "\(decided.body.string)")
            let expected = try FixedDecimal(units: short.missing).multiplied(by: FixedDecimal(units: short.cost_price), roundedToScale: 2)
            #expect(Self.d(decided.json["charge"]) == expected && Self.d(decided.json["fee"]) == .zero && Self.d(decided.json["quantity"]) == FixedDecimal(units: short.missing))
            let discrepancy = try #require(try await ExceptionCase.query(on: t.db).filter(\.$supplierID == jg).filter(\.$type == "material_discrepancy").first())
            #expect(decided.json["exceptionId"] as? String == discrepancy.id!.uuidString)
            let after = try #require(try await row())
            for k in ["materialRejects", "supplierRejects", "variance", "held"] { #expect(Self.d(after[k]) == Self.d(before[k]), "\(k)") }

            let disputed = try await t.request(.POST, path + "/dispute", token: supplier, json: #"{"reason":"承运商是贵司指定的,破损不应由我方承担"}"#)
            #expect(disputed.status == .ok, "\(disputed.body.string)")
            #expect(disputed.json["exceptionId"] as? String == discrepancy.id!.uuidString)
            #expect(try await ExceptionComment.query(on: t.db).filter(\.$exceptionID == discrepancy.id!).filter(\.$event == "reject.disputed").count() == 1)

            // The page: the supplier sees the decision, a way to dispute and the thread.
            var browser = try await t.signIn("supplier1")
            let page = try await t.page(.GET, "/rejects", browser: &browser)
            #expect(page.body.string.contains("点收短少") && page.body.string.contains("/rejects/discrepancy/\(short.id)/dispute"))
            let csrf = try await t.csrf(&browser)
            let empty = try await t.page(.POST, "/rejects/discrepancy/\(short.id)/dispute", browser: &browser, form: ["_csrf": csrf, "reason": ""])
            #expect(empty.status == .unprocessableEntity && empty.body.string.contains("class=\"err\""))
            let posted = try await t.page(.POST, "/rejects/discrepancy/\(short.id)/dispute", browser: &browser, form: ["_csrf": csrf, "reason": "请看运单"])
            #expect(posted.status == .seeOther && posted.headers.first(name: .location) == "/exceptions/\(discrepancy.id!)")
            // The thread names the event in words.
            let thread = try await t.page(.GET, "/exceptions/\(discrepancy.id!)", browser: &browser)
            #expect(thread.body.string.contains("的不良责任判定提出异议") && !thread.body.string.contains("thread.reject"))
        }
    }
}
