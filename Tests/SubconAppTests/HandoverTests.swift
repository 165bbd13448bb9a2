import Fluent
import Foundation
import SQLKit
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// Changing suppliers on whichever database the run uses: JG's CR-65 order (400 ordered, 150
/// received of which 2 rejected, 100 on their way) is handed over to BM with the material JG
/// holds for it; a handover that fails halfway writes nothing.
@Suite struct HandoverFlowTests {
    struct W {
        let t: TestApp
        let purchaser: String, jgToken: String, bmToken: String
        let jg: Organization, bm: Organization
        let order: OutsourcingOrder

        static func make(_ t: TestApp) async throws -> W {
            let jg = try await t.organization(code: "SUP-JG"), bm = try await t.organization(code: "SUP-BM")
            let item = try await Item.query(on: t.db).filter(\.$code == "FG-RD-002").first()!
            let line = try await OrderLineRow.query(on: t.db).filter(\.$itemID == item.id!).all()
            var order: OutsourcingOrder?
            for l in line {
                if let o = try await OutsourcingOrder.find(l.orderID, on: t.db), o.supplierID == jg.id!, o.note.contains("CR-65") { order = o }
            }
            let purchaser = try await t.token("purchaser")
            // BM's agreed price for the item: what its new order is priced at.
            let price = try await t.request(.POST, "/api/v1/price-agreements", token: purchaser, json: """
                {"supplierId":"\(bm.id!)","itemId":"\(item.id!)","validFrom":"2026-01-01","unitPrice":"41.5"}
                """)
            #expect(price.status == .created, "\(price.body.string)")
            return W(t: t, purchaser: purchaser, jgToken: try await t.token("supplier1"), bmToken: try await t.token("supplier2"),
                     jg: jg, bm: bm, order: try #require(order))
        }

        /// What each supplier holds of each item and lot, from the ledger.
        func held() async throws -> [String: FixedDecimal] {
            let balances = try await Ledger.balances(suppliers: [jg.id!, bm.id!], items: try await Item.query(on: t.db).all().map { $0.id! }, on: t.db)
            var out: [String: FixedDecimal] = [:]
            for (k, b) in balances { out["\(k.supplierID == jg.id! ? "JG" : "BM") \(k.itemID) \(k.lot)"] = b.held }
            return out
        }

        func counts() async throws -> [Int] {
            var out: [Int] = []
            for table in ["outsourcing_orders", "order_lines", "order_revisions", "material_movements", "material_documents", "handovers", "tech_document_grants", "audit_log"] {
                out.append(try await t.sql.raw("SELECT COUNT(*) AS n FROM \(ident: table)").first()!.decode(column: "n", as: Int.self))
            }
            return out
        }
    }

    static func body(_ w: W, quantity: String? = nil, material: String = "", to: UUID? = nil) -> String {
        """
        {"fromSupplierId":"\(w.jg.id!)","toSupplierId":"\((to ?? w.bm.id!))","reason":"精工产能不足，转博美","lines":[{"orderId":"\(w.order.id!)","line":1\(quantity.map { #","quantity":"\#($0)""# } ?? "")}],"material":[\(material)]}
        """
    }

    @Test func aPartlyDeliveredOrderWithMaterialMovesToAnotherSupplierInOneGo() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            // JG's other orders for the item are finished: after the handover it makes it nowhere.
            try await t.sql.raw("""
                UPDATE outsourcing_orders SET status = 'closed' WHERE supplier_id = \(bind: w.jg.id!) AND id <> \(bind: w.order.id!)
                  AND id IN (SELECT order_id FROM order_lines WHERE item_id = (SELECT id FROM items WHERE code = 'FG-RD-002'))
                """).run()
            let ledgerBefore = try await w.held()
            // The lot JG holds most of (material of the CR-65 order).
            let (heldKey, jgRD) = try #require(ledgerBefore.filter { $0.key.hasPrefix("JG ") }.max { $0.value < $1.value })
            let parts = heldKey.split(separator: " ")
            let rd = try #require(try await Item.find(UUID(uuidString: String(parts[1])), on: t.db))
            let lot = String(parts[2])
            #expect(jgRD > FixedDecimal(50))

            // Refused: more than remains (400 − 148 counted − 100 on their way), to a prospect, and
            // material JG does not hold — each writing nothing, the last only after the orders were split.
            let prospect = try await t.request(.POST, "/api/v1/organizations", token: try await t.token("admin"),
                                               json: #"{"code":"SUP-NEW","name":"新供应商"}"#)
            let prospectID = try #require(prospect.json["id"] as? String)
            let before = try await w.counts()
            let tooMuch = try await t.request(.POST, "/api/v1/handovers", token: w.purchaser, json: Self.body(w, quantity: "153"))
            #expect(tooMuch.status == .unprocessableEntity && tooMuch.body.string.contains("152"), "\(tooMuch.body.string)")
            let unqualified = try await t.request(.POST, "/api/v1/handovers", token: w.purchaser, json: Self.body(w, to: UUID(uuidString: prospectID)))
            #expect(unqualified.status == .unprocessableEntity && unqualified.body.string.contains("toSupplierId"), "\(unqualified.body.string)")
            let halfway = try await t.request(.POST, "/api/v1/handovers", token: w.purchaser, json: Self.body(w,
                material: #"{"itemCode":"\#(rd.code)","lot":"\#(lot)","quantity":"\#(try jgRD.adding(FixedDecimal(1)))","destination":"supplier"}"#))
            #expect(halfway.status == .unprocessableEntity, "\(halfway.body.string)")
            #expect(try await w.counts() == before)
            #expect(try await w.held() == ledgerBefore)
            #expect(try await t.request(.POST, "/api/v1/handovers", token: w.jgToken, json: Self.body(w)).status == .forbidden)

            // BM has no order for the item yet: its drawing is not BM's to see.
            let drawing = try #require(try await t.sql.raw("SELECT id FROM tech_documents WHERE title = 'CR-65 散热器组件总图'").first()?.decode(column: "id", as: UUID.self))
            #expect(try await t.request(.GET, "/api/v1/technical-documents/\(drawing)", token: w.bmToken).status == .notFound)

            // The handover: all that remains, 40 of the heat sinks to BM and 10 back to the warehouse.
            let done = try await t.request(.POST, "/api/v1/handovers", token: w.purchaser, json: Self.body(w, material: """
                {"itemCode":"\(rd.code)","lot":"\(lot)","quantity":"40","destination":"supplier"},
                {"itemCode":"\(rd.code)","lot":"\(lot)","quantity":"10","destination":"warehouse"}
                """))
            #expect(done.status == .created, "\(done.body.string)")
            let handover = done.json
            let newOrderID = try #require(handover["newOrderId"] as? String)
            #expect((handover["lines"] as? [[String: Any]])?.first?["quantity"] as? String == "152")
            #expect((handover["checklist"] as? [[String: Any]])?.count == 4)

            // A keeps what it delivered and what is on its way: 248 on revision 2, not asked to answer.
            let a = try await t.request(.GET, "/api/v1/orders/\(w.order.id!)", token: w.jgToken).json
            #expect(((a["lines"] as? [[String: Any]])?.first?["quantity"] as? String) == "248")
            #expect(a["revision"] as? Int == 2 && a["status"] as? String == w.order.status)
            let pending = try await OrderRevisionRow.query(on: t.db).filter(\.$orderID == w.order.id!).filter(\.$status == "pending").count()
            #expect(pending == 0)
            // B's new order: the rest at B's price, released for B to acknowledge; A cannot see it.
            let b = try await t.request(.GET, "/api/v1/orders/\(newOrderID)", token: w.bmToken).json
            #expect(b["status"] as? String == "released")
            let bLine = (b["lines"] as? [[String: Any]])?.first
            #expect(bLine?["quantity"] as? String == "152" && bLine?["unitPrice"] as? String == "41.5")
            #expect(try await t.request(.GET, "/api/v1/orders/\(newOrderID)", token: w.jgToken).status == .notFound)

            // The ledger balances: what left JG is at BM or back at the warehouse.
            let after = try await w.held()
            #expect(after["JG \(rd.id!) \(lot)"] == (try jgRD.subtracting(FixedDecimal(50))))
            let bmBefore = ledgerBefore["BM \(rd.id!) \(lot)"] ?? .zero
            #expect(after["BM \(rd.id!) \(lot)"] == (try bmBefore.adding(FixedDecimal(40))))
            let returned = try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM material_movements WHERE supplier_id = \(bind: w.jg.id!) AND kind = 'returned' AND item_id = \(bind: rd.id!) AND quantity = \(bind: FixedDecimal(10).units)
                """).first()!.decode(column: "n", as: Int.self)
            #expect(returned == 1)

            // The drawing of FG-RD-002: withdrawn from JG, seen by BM through its new order.
            #expect(try await t.request(.GET, "/api/v1/technical-documents/\(drawing)", token: w.jgToken).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/technical-documents/\(drawing)", token: w.bmToken).status == .ok)
            // JG keeps its own history: the order, and the handover to sign.
            #expect(try await t.request(.GET, "/api/v1/handovers/\(handover["id"] as! String)", token: w.jgToken).status == .ok)
            #expect(try await t.request(.GET, "/api/v1/handovers/\(handover["id"] as! String)", token: w.bmToken).status == .notFound)

            // The checklist: the buyer signs only when every item is done; with both signatures it closes.
            let id = handover["id"] as! String
            var version = handover["version"] as! Int
            let early = try await t.request(.POST, "/api/v1/handovers/\(id)/sign", token: w.purchaser, json: #"{"version":\#(version)}"#)
            #expect(early.status == .conflict)
            for no in 1...4 {
                let r = try await t.request(.POST, "/api/v1/handovers/\(id)/checklist/\(no)", token: w.purchaser, json: #"{"version":\#(version),"done":true,"note":"ok"}"#)
                #expect(r.status == .ok, "\(r.body.string)")
                version = r.json["version"] as? Int ?? version
            }
            let stale = try await t.request(.POST, "/api/v1/handovers/\(id)/checklist/1", token: w.purchaser, json: #"{"version":1,"done":false}"#)
            #expect(stale.status == .conflict)
            let signedByJG = try await t.request(.POST, "/api/v1/handovers/\(id)/sign", token: w.jgToken, json: #"{"version":\#(version)}"#)
            #expect(signedByJG.status == .ok && signedByJG.json["status"] as? String == "open", "\(signedByJG.body.string)")
            version = signedByJG.json["version"] as? Int ?? version
            let closed = try await t.request(.POST, "/api/v1/handovers/\(id)/sign", token: w.purchaser, json: #"{"version":\#(version)}"#)
            #expect(closed.json["status"] as? String == "closed", "\(closed.body.string)")

            // Nothing remains to hand over a second time.
            let again = try await t.request(.POST, "/api/v1/handovers", token: w.purchaser, json: Self.body(w))
            #expect(again.status == .unprocessableEntity, "\(again.body.string)")
        }
    }

    @Test func onPagesTheBuyerHandsOverAndBothSidesSign() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            var buyer = try await t.signIn("purchaser")
            let csrf = try await t.csrf(&buyer)
            let supplierPage = try await t.page(.GET, "/admin/organizations/\(w.jg.id!)", browser: &buyer).body.string
            #expect(supplierPage.contains("/handovers/new?from=\(w.jg.id!)"))
            let form = try await t.page(.GET, "/handovers/new?from=\(w.jg.id!)", browser: &buyer).body.string
            let key = "\(w.order.id!.uuidString)_1"
            #expect(form.contains("name=\"p_\(key)\"") && form.contains("152") && form.contains(w.bm.name))
            // Narrowed by item: only that item's lines.
            let narrowed = try await t.page(.GET, "/handovers/new?from=\(w.jg.id!)&filter=fg-rd-002", browser: &buyer).body.string
            #expect(narrowed.contains("name=\"p_\(key)\"") && !narrowed.contains("SF-MH-001"))
            // Nothing ticked: the form comes back with the reason kept.
            let empty = try await t.page(.POST, "/handovers/new", browser: &buyer, form: ["_csrf": csrf, "from": w.jg.id!.uuidString, "to": w.bm.id!.uuidString, "reason": "换供应商"])
            #expect(empty.status == .unprocessableEntity && empty.body.string.contains("请至少勾选一个订单行") && empty.body.string.contains("换供应商"))
            let made = try await t.page(.POST, "/handovers/new", browser: &buyer, form: [
                "_csrf": csrf, "from": w.jg.id!.uuidString, "to": w.bm.id!.uuidString, "reason": "换供应商", "p_\(key)": "on", "q_\(key)": "100"])
            #expect(made.status == .seeOther, "\(made.body.string)")
            let path = made.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            let detail = try await t.page(.GET, path, browser: &buyer).body.string
            #expect(detail.contains(w.bm.name) && detail.contains("100") && detail.contains("物料已盘点"))
            // JG signs for its side on its own page; the buyer ticks the items and signs last.
            var s = try await t.signIn("supplier1")
            let scsrf = try await t.csrf(&s)
            let mine = try await t.page(.GET, path, browser: &s).body.string
            let newOrder = try await t.sql.raw("SELECT new_order_id FROM handovers").first()!.decode(column: "new_order_id", as: UUID.self)
            #expect(mine.contains("确认交接并签字"))
            #expect(!mine.contains("/orders/\(newOrder)"))
            func version() async throws -> String { String(try await t.sql.raw("SELECT version FROM handovers").first()!.decode(column: "version", as: Int.self)) }
            #expect(try await t.page(.POST, path + "/sign", browser: &s, form: ["_csrf": scsrf, "version": try await version()]).status == .seeOther)
            for no in 1...4 {
                let r = try await t.page(.POST, path + "/checklist/\(no)", browser: &buyer, form: ["_csrf": csrf, "version": try await version(), "done": "true", "note": ""])
                #expect(r.status == .seeOther)
            }
            #expect(try await t.page(.POST, path + "/sign", browser: &buyer, form: ["_csrf": csrf, "version": try await version()]).status == .seeOther)
            #expect(try await t.page(.GET, path, browser: &buyer).body.string.contains("已完成"))
        }
    }

    @Test func anOrderStillAwaitingItsAnswerIsRevisedForTheSupplierToAnswer() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            // JG's order in revision 2, still waiting for JG's answer, three lines; line 1 goes to BM.
            let waiting = try #require(try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == w.jg.id!).filter(\.$status == "released")
                .filter(\.$revision == 2).first())
            let line = try #require(try await OrderLineRow.query(on: t.db).filter(\.$orderID == waiting.id!).filter(\.$number == 1).first())
            let price = try await t.request(.POST, "/api/v1/price-agreements", token: w.purchaser, json: """
                {"supplierId":"\(w.bm.id!)","itemId":"\(line.itemID)","operation":\(line.operation.map { "\"\($0)\"" } ?? "null"),"validFrom":"2026-01-01","unitPrice":"18.5"}
                """)
            #expect(price.status == .created, "\(price.body.string)")
            let r = try await t.request(.POST, "/api/v1/handovers", token: w.purchaser, json: """
                {"fromSupplierId":"\(w.jg.id!)","toSupplierId":"\(w.bm.id!)","reason":"转博美","lines":[{"orderId":"\(waiting.id!)","line":1}]}
                """)
            #expect(r.status == .created, "\(r.body.string)")
            let a = try await t.request(.GET, "/api/v1/orders/\(waiting.id!)", token: w.jgToken).json
            #expect(a["status"] as? String == "released" && a["revision"] as? Int == 3)
            let pending = try await OrderRevisionRow.query(on: t.db).filter(\.$orderID == waiting.id!).filter(\.$status == "pending").all()
            #expect(pending.map(\.number) == [3])
        }
    }
}
