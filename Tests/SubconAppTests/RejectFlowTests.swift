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
            // A movement that is not scrap has nothing to decide.
            let issue = try #require(try await MaterialMovement.query(on: t.db).filter(\.$supplierID == jg).filter(\.$kind == "issued").first())
            #expect(try await t.request(.PUT, "/api/v1/material/movements/\(issue.id!)/responsibility", token: quality,
                                        json: #"{"responsibility":"material","reason":"x"}"#).status == .conflict)

            var supplier = try await t.signIn("supplier1")
            let page = try await t.page(.GET, "/rejects", browser: &supplier)
            #expect(page.status == .ok && page.body.string.contains("该批贴片来料偏位") && !page.body.string.contains("判定理由(必填)"))
            var q = try await t.signIn("quality")
            let csrf = try await t.csrf(&q)
            let form = try await t.page(.GET, "/rejects", browser: &q)
            #expect(form.status == .ok && form.body.string.contains("判定理由(必填)"))
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
}
