import Foundation
import Fluent
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// Incoming inspection, the exception workflow and 8D over HTTP, on whichever database the run uses.
@Suite struct QualityFlowTests {
    struct Q {
        let m: MaterialFixture
        var t: TestApp { m.t }
        var f: OrderFixture { m.f }

        func itemID(_ code: String) async throws -> UUID { try await Item.query(on: t.db).filter(\.$code == code).first()!.id! }

        /// SF-MH-001: level II, AQL 1.0, one measured characteristic (42 ± 0.01), defect codes DIM (major) and CRACK (critical).
        func plan(_ item: String = "SF-MH-001", exemptAfter: Int = 0, status: HTTPStatus = .ok) async throws -> [String: Any] {
            let r = try await t.request(.PUT, "/api/v1/items/\(try await itemID(item))/inspection-plan", token: m.quality, json: #"""
                {"version":0,"level":"II","aql":"1.0","exemptAfter":\#(exemptAfter),
                 "characteristics":[{"name":"内孔","kind":"measured","nominal":"42","lower":"41.99","upper":"42.01","unit":"mm"},{"name":"外观","kind":"attribute"}],
                 "defectCodes":[{"code":"DIM","name":"尺寸超差","severity":"major"},{"code":"CRACK","name":"开裂","severity":"critical"}]}
                """#)
            #expect(r.status == status, "\(r.body.string)")
            return r.json
        }

        /// Receives `quantity` of an order line directly; returns the receipt id.
        func receive(_ order: String, line: Int = 1, lot: String, _ quantity: String) async throws -> String {
            let r = try await m.post("/api/v1/receipts", m.warehouse, #"{"orderId":"\#(order)","lines":[{"line":\#(line),"lot":"\#(lot)","quantity":"\#(quantity)"}]}"#)
            return r["id"] as? String ?? ""
        }

        func inspect(_ receipt: String, _ json: String, _ status: HTTPStatus = .created, token: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
            try await m.post("/api/v1/receipts/\(receipt)/lines/1/inspection", token ?? m.quality, json, status, sourceLocation: sourceLocation)
        }

        func accepted(_ order: String, line: Int = 1) async throws -> String {
            let lines = try await m.get("/api/v1/orders/\(order)/material", m.warehouse)["lines"] as? [[String: Any]] ?? []
            return lines.first { $0["line"] as? Int == line }?["accepted"] as? String ?? ""
        }

        func exception(_ id: String, _ token: String) async throws -> [String: Any] { try await m.get("/api/v1/exceptions/\(id)", token) }
    }

    static func fixture(_ t: TestApp) async throws -> Q { Q(m: try await MaterialFixture.make(t)) }

    @Test func decisionsDecideWhatIsDeliveredAndOpenExceptions() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            _ = try await q.plan()
            let order = try await q.m.acknowledgedOrder()
            let purchaser = try await t.user("purchaser").id!.uuidString, warehouse = try await t.user("warehouse").id!.uuidString

            // Lot of 200 at level II is letter G (32), which under AQL 1.0 points down to H: 50, Ac 1, Re 2.
            let r1 = try await q.receive(order, lot: "A", "200")
            let s = try await q.m.get("/api/v1/receipts/\(r1)/lines/1/sampling", q.m.quality)
            #expect(s["tableLetter"] as? String == "G" && s["codeLetter"] as? String == "H")
            #expect(s["sampleSize"] as? Int == 50 && s["acceptance"] as? Int == 1 && s["rejection"] as? Int == 2 && s["state"] as? String == "normal")
            // One measured value outside 41.99–42.01: one nonconforming, still within Ac 1.
            let i1 = try await q.inspect(r1, #"{"version":1,"decision":"accept","results":[{"characteristic":1,"values":["42.000","42.005","42.02"]}]}"#)
            #expect(i1["nonconforming"] as? Int == 1 && i1["samplePassed"] as? Bool == true && i1["exceptionId"] == nil)
            #expect(try await q.accepted(order) == "200")
            #expect(try await q.f.order(order)["status"] as? String == "partially_delivered")
            #expect(try await q.m.items("/api/v1/exceptions?type=quality", q.m.quality).isEmpty)

            // Three DIM defects fail the sample: accepting is refused, a concession needs a named approver who may approve.
            let r2 = try await q.receive(order, lot: "B", "100")
            let failed = #""defects":[{"code":"DIM","count":3}]"#
            _ = try await q.inspect(r2, #"{"version":1,"decision":"accept",\#(failed)}"#, .unprocessableEntity)
            _ = try await q.inspect(r2, #"{"version":1,"decision":"concession",\#(failed)}"#, .unprocessableEntity)
            _ = try await q.inspect(r2, #"{"version":1,"decision":"concession","approverId":"\#(warehouse)",\#(failed)}"#, .unprocessableEntity)
            let i2 = try await q.inspect(r2, #"{"version":1,"decision":"concession","approverId":"\#(purchaser)",\#(failed)}"#)
            #expect(i2["approver"] as? String != nil && i2["acceptedQuantity"] as? String == "100")
            #expect(try await OutboxMessage.query(on: t.db).filter(\.$event == "inspection.concession").count() == 1)
            #expect(try await q.accepted(order) == "300")
            let e2 = try await q.exception(i2["exceptionId"] as? String ?? "", q.m.quality)
            #expect(e2["type"] as? String == "quality" && e2["severity"] as? String == "minor" && e2["lot"] as? String == "B")
            #expect(e2["itemCode"] as? String == "SF-MH-001" && e2["orderId"] as? String == order && e2["receiptLineId"] != nil)
            #expect(e2["defectCodes"] as? String == "DIM" && e2["eightD"] as? Bool == false && e2["inspectionId"] as? String == i2["id"] as? String)

            // A rejection: nothing counts, a major exception with an 8D; two lots of three not accepted tighten inspection.
            let r3 = try await q.receive(order, lot: "C", "100")
            let i3 = try await q.inspect(r3, #"{"version":1,"decision":"reject","note":"尺寸批量超差"}"#)
            #expect(try await q.accepted(order) == "300")
            let e3 = try await q.exception(i3["exceptionId"] as? String ?? "", q.m.quality)
            #expect(e3["severity"] as? String == "major" && e3["eightD"] as? Bool == true && e3["buyerOwner"] != nil)
            let states = try await q.m.items("/api/v1/quality/states", q.m.quality)
            #expect(states.first?["state"] as? String == "tightened")

            // Tightened from now on: lot 100 (F, 20) under AQL 1.0 tightened is 0 1 on 20 units.
            let r4 = try await q.receive(order, lot: "D", "100")
            let s4 = try await q.m.get("/api/v1/receipts/\(r4)/lines/1/sampling", q.m.quality)
            #expect(s4["severity"] as? String == "tightened" && s4["sampleSize"] as? Int == 20 && s4["acceptance"] as? Int == 0)
            // Partial: the accepted part counts; a critical defect makes the exception critical.
            _ = try await q.inspect(r4, #"{"version":1,"decision":"partial","accepted":"95","rejected":"10"}"#, .unprocessableEntity)
            let i4 = try await q.inspect(r4, #"{"version":1,"decision":"partial","accepted":"90","rejected":"10","defects":[{"code":"CRACK","count":1}]}"#)
            #expect(try await q.accepted(order) == "390")
            #expect(try await q.exception(i4["exceptionId"] as? String ?? "", q.m.quality)["severity"] as? String == "critical")

            // The scorecard's figures: 4 lots, 500 received, 110 rejected = 220 000 PPM.
            let stats = try await q.m.get("/api/v1/quality/stats?from=2026-01-01&to=2026-12-31", q.m.quality)["suppliers"] as? [[String: Any]] ?? []
            let jg = stats.first { $0["supplierCode"] as? String == "SUP-JG" } ?? [:]
            #expect(jg["lots"] as? Int == 4 && jg["acceptedLots"] as? Int == 1 && jg["rejectedLots"] as? Int == 1)
            #expect(jg["concessionLots"] as? Int == 1 && jg["partialLots"] as? Int == 1)
            #expect(jg["received"] as? String == "500" && jg["rejected"] as? String == "110" && jg["ppm"] as? Int == 220_000)
            #expect(jg["exceptions"] as? Int == 3)
            // Another supplier asking for SUP-JG's figures gets only its own (none).
            let jgID = try await q.f.supplierID("SUP-JG")
            #expect((try await q.m.get("/api/v1/quality/stats?from=2026-01-01&to=2026-12-31&supplierId=\(jgID)", q.f.supplier2)["suppliers"] as? [Any])?.isEmpty == true)
            #expect((try await q.m.get("/api/v1/quality/stats?from=2026-01-01&to=2026-12-31", q.f.supplier1)["suppliers"] as? [Any])?.count == 1)
            // The same line twice: already decided.
            _ = try await q.inspect(r4, #"{"version":2,"decision":"reject"}"#, .conflict)
            // Consumption follows accepted quantities only: 8 of 10 radiators take 8 cores (line 2, SF-RD-002 ×1).
            let r5 = try await q.receive(order, line: 2, lot: "R1", "10")
            _ = try await q.inspect(r5, #"{"version":1,"decision":"partial","accepted":"8","rejected":"2"}"#)
            let req = try await q.m.requirement(order, line: 2, "SF-RD-002")
            #expect(req["consumed"] as? String == "8", "\(req)")
            #expect(try await q.accepted(order, line: 2) == "8")

            // The recent list reads its rows' names a kind at a time: each row is what the
            // inspection's own page says, exceptions and approver included, newest first.
            let png = try await t.app.testing().sendRequest(.POST, "/api/v1/inspections/\(i4["id"] as? String ?? "")/photos?filename=crack.png",
                                                            headers: ["Authorization": "Bearer \(q.m.quality)"],
                                                            body: ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]))
            #expect(png.status == .created)
            let recent = try await q.m.items("/api/v1/inspections/recent", q.m.quality)
            #expect(recent.count == 5 && recent.contains { $0["exceptionCode"] is String } && recent.contains { $0["approver"] is String })
            #expect(recent.allSatisfy { row in ["receiptCode", "supplierName", "orderCode", "itemName", "inspector"].allSatisfy { (row[$0] as? String)?.isEmpty == false } })
            // The photo is on its own inspection's row only.
            #expect(recent.map { ($0["photos"] as? [Any])?.count ?? -1 }.sorted() == [0, 0, 0, 0, 1])
            #expect((recent.first { $0["id"] as? String == i4["id"] as? String }?["photos"] as? [[String: Any]])?.first?["filename"] as? String == "crack.png")
            #expect(recent.compactMap { $0["createdAt"] as? String } == recent.compactMap { $0["createdAt"] as? String }.sorted(by: >))
            for row in recent {
                let own = try await q.m.get("/api/v1/inspections/\(row["id"] as? String ?? "")", q.m.quality)
                #expect(NSDictionary(dictionary: row) == NSDictionary(dictionary: own), "\(row)")
            }
            // The work list page's latest inspections, read in one statement, say what the full ones say.
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let full = try await InspectionService.recent(admin, limit: 20, on: t.app.reads, photosOn: t.db).map {
                RecentInspectionDTO(id: $0.id, code: $0.code, decision: $0.decision, itemCode: $0.itemCode, itemName: $0.itemName, unit: $0.unit,
                                    supplierCode: $0.supplierCode, supplierName: $0.supplierName, lot: $0.lot, acceptedQuantity: $0.acceptedQuantity,
                                    rejectedQuantity: $0.rejectedQuantity, exceptionId: $0.exceptionId, exceptionCode: $0.exceptionCode)
            }
            let lines = try await InspectionService.recentLines(admin, limit: 20, on: t.app.reads)
            #expect(full.count == 5 && lines.contains { $0.exceptionCode != nil })
            #expect(lines.sorted { $0.code < $1.code } == full.sorted { $0.code < $1.code })
            #expect(try await InspectionService.recentLines(admin, limit: 2, on: t.app.reads).count == 2)
        }
    }

    @Test func aRunOfPassedLotsEarnsExemptionAndExemptLotsPassAtTheGate() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            _ = try await q.plan(exemptAfter: 3)
            let order = try await q.m.acknowledgedOrder()
            for lot in ["E1", "E2", "E3"] {
                let r = try await q.receive(order, lot: lot, "10")
                // Ten units: the plan's sample (13) is the whole lot.
                let s = try await q.m.get("/api/v1/receipts/\(r)/lines/1/sampling", q.m.quality)
                #expect(s["sampleSize"] as? Int == 10 && s["hundredPercent"] as? Bool == true && s["exempt"] as? Bool == false)
                _ = try await q.inspect(r, #"{"version":1}"#)
            }
            let state = try await q.m.items("/api/v1/quality/states", q.m.quality).first ?? [:]
            #expect(state["exempt"] as? Bool == true && state["passRun"] as? Int == 3)
            let r4 = try await q.receive(order, lot: "E4", "10")
            let receipt = try await q.m.get("/api/v1/receipts/\(r4)", q.m.warehouse)
            let line = (receipt["lines"] as? [[String: Any]] ?? []).first ?? [:]
            #expect(line["status"] as? String == "accepted" && line["inspectionId"] != nil)
            #expect(try await q.accepted(order) == "40")
            #expect(try await q.m.items("/api/v1/inspections", q.m.quality).isEmpty)
            let ins = try await q.m.get("/api/v1/inspections/\(line["inspectionId"] as? String ?? "")", q.m.quality)
            #expect(ins["exempt"] as? Bool == true && ins["sampleSize"] as? Int == 0)
            // Beside the codes, the supplier's name and the unit its quantities are counted in.
            #expect((ins["supplierName"] as? String ?? "").isEmpty == false && (ins["unit"] as? String ?? "").isEmpty == false)
            // Quality revokes the exemption: the next lot waits for inspection again.
            _ = try await q.m.post("/api/v1/quality/states/\(state["id"] as? String ?? "")", q.m.quality,
                                   #"{"version":\#(state["version"] as? Int ?? 0),"action":"revoke"}"#, .ok)
            _ = try await q.receive(order, lot: "E5", "10")
            #expect(try await q.m.items("/api/v1/inspections", q.m.quality).count == 1)
        }
    }

    @Test func theWorkListGoesOldestReceiptFirstLineByLineAPageAtATime() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            let order = try await q.m.acknowledgedOrder()
            _ = try await q.receive(order, lot: "W1", "5")
            t.clock.advance(by: 3600)
            // One receipt of two lines, received at the same moment: its lines in their order.
            _ = try await q.m.post("/api/v1/receipts", q.m.warehouse,
                                   #"{"orderId":"\#(order)","lines":[{"line":2,"lot":"W2","quantity":"5"},{"line":1,"lot":"W3","quantity":"5"}]}"#)
            t.clock.advance(by: 3600)
            _ = try await q.receive(order, lot: "W4", "5")
            let all = try await q.m.items("/api/v1/inspections", q.m.quality)
            #expect(all.map { $0["lot"] as? String ?? "" } == ["W1", "W2", "W3", "W4"], "\(all)")
            #expect(all.allSatisfy { ($0["supplierName"] as? String ?? "").isEmpty == false && ($0["itemName"] as? String ?? "").isEmpty == false
                                     && ($0["orderCode"] as? String ?? "").isEmpty == false && $0["sampling"] != nil })
            // Each quantity with its item's unit.
            let units = Dictionary(try await Item.query(on: t.db).all().map { ($0.code, $0.uom) }, uniquingKeysWith: { a, _ in a })
            #expect(all.allSatisfy { ($0["unit"] as? String).map { !$0.isEmpty } == true && $0["unit"] as? String == units[$0["itemCode"] as? String ?? ""] }, "\(all)")
            let third = try await q.m.get("/api/v1/inspections?per=1&page=3", q.m.quality)
            let items = third["items"] as? [[String: Any]] ?? []
            #expect(items.map { $0["lot"] as? String ?? "" } == ["W3"] && items.first?["line"] as? Int == 2 && third["total"] as? Int == 4, "\(third)")
            #expect((try await q.m.get("/api/v1/inspections?per=2&page=3", q.m.quality)["items"] as? [Any])?.isEmpty == true)

            // The list reads each line's plan and switching state in its one statement: what it
            // says of sampling is what the line's own sampling says, tightened inspection included.
            _ = try await q.plan()
            let line = try #require(try await ReceiptLine.query(on: t.db).filter(\.$lot == "W2").first())
            let state = QualityState()
            state.id = UUID(); state.supplierID = line.supplierID; state.itemID = line.itemID; var tightened = Switching(); tightened.state = .tightened; state.rules = tightened
            state.exempt = false; state.lots = 0; state.version = 1; state.updatedAt = t.clock.now()
            try await state.create(on: t.db)
            let listed = try await q.m.items("/api/v1/inspections", q.m.quality)
            #expect(listed.contains { ($0["sampling"] as? [String: Any])?["state"] as? String == "tightened" })
            for item in listed {
                let own = try await q.m.get("/api/v1/receipts/\(item["receiptId"] as? String ?? "")/lines/\(item["line"] as? Int ?? 0)/sampling", q.m.quality)
                #expect(NSDictionary(dictionary: item["sampling"] as? [String: Any] ?? [:]) == NSDictionary(dictionary: own), "\(item)")
            }
        }
    }

    @Test func eightDGatesOverHTTP() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            let jg = try await q.f.supplierID("SUP-JG")
            let created = try await q.m.post("/api/v1/exceptions", q.m.quality, #"""
                {"type":"quality","severity":"major","supplierId":"\#(jg)","itemCode":"SF-MH-001","lot":"L7","title":"外观划伤","eightD":true}
                """#)
            let id = created["id"] as? String ?? ""
            var version = created["version"] as? Int ?? 0
            func gate(_ step: Int, _ token: String, _ body: String, _ status: HTTPStatus = .ok, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let r = try await q.m.post("/api/v1/exceptions/\(id)/8d/\(step)", token, #"{"version":\#(version),\#(body)}"#, status, sourceLocation: sourceLocation)
                if status == .ok { version = r["version"] as? Int ?? version }
            }
            let submit = #""action":"submit","content":"内容""#, approve = #""action":"approve""#
            try await gate(2, q.f.supplier1, submit, .conflict)            // D1 first
            try await gate(1, q.m.quality, submit, .forbidden)              // the buyer does not fill steps
            try await gate(1, q.f.supplier1, approve, .forbidden)           // the supplier does not approve
            try await gate(1, q.m.quality, approve, .conflict)              // nothing submitted yet
            try await gate(1, q.f.supplier1, #""action":"submit""#, .unprocessableEntity)   // no content
            try await gate(1, q.f.supplier2, submit, .notFound)             // another supplier's case
            version -= 1
            try await gate(1, q.f.supplier1, submit, .conflict)             // stale version
            version += 1
            try await gate(1, q.f.supplier1, submit)
            #expect(try await q.exception(id, q.m.quality)["respondedAt"] != nil)
            try await gate(1, q.f.supplier1, submit, .conflict)             // submitted already
            try await gate(1, q.m.quality, #""action":"return""#, .unprocessableEntity)   // a reason is needed
            try await gate(1, q.m.quality, #""action":"return","reason":"成员不全""#)
            var e = try await q.exception(id, q.m.quality)
            #expect((e["steps"] as? [[String: Any]])?.first?["state"] as? String == "returned")
            try await gate(1, q.f.supplier1, submit)
            try await gate(1, q.m.quality, approve)
            // With an 8D under way, closing by hand is refused.
            _ = try await q.m.post("/api/v1/exceptions/\(id)/close", q.m.quality, #"{"version":\#(version),"resolution":"ok"}"#, .conflict)
            for step in 2...8 {
                let content = step == 4 ? #""action":"submit","content":"夹具定位销磨损""# : submit
                try await gate(step, q.f.supplier1, content)
                if step < 8 { #expect(try await q.exception(id, q.f.supplier1)["status"] as? String == "open") }
                try await gate(step, q.m.quality, approve)
            }
            e = try await q.exception(id, q.f.supplier1)
            #expect(e["status"] as? String == "closed" && e["closureMinutes"] != nil && e["containedAt"] != nil)
            try await gate(8, q.m.quality, approve, .conflict)              // closed
            // Lessons learned: found by item, defect text and root-cause words; not by another supplier.
            let found = try await q.m.items("/api/v1/lessons?item=SF-MH-001&q=定位销", q.m.quality)
            #expect(found.count == 1 && found.first?["rootCause"] as? String == "夹具定位销磨损" && found.first?["itemCode"] as? String == "SF-MH-001")
            #expect((found.first?["supplierName"] as? String)?.isEmpty == false && found.first?["closedAt"] != nil)
            #expect(try await q.m.items("/api/v1/lessons?q=定位销", q.f.supplier1).count == 1)
            #expect(try await q.m.items("/api/v1/lessons?q=定位销", q.f.supplier2).isEmpty)
            #expect(try await q.m.items("/api/v1/lessons?item=SF-MH-001C", q.m.quality).isEmpty)
            // Reopened from D4: D1–D3 stay approved, D4 on are to be done again.
            _ = try await q.m.post("/api/v1/exceptions/\(id)/reopen", q.f.supplier1, #"{"version":\#(version),"reason":"再发"}"#, .forbidden)
            let reopened = try await q.m.post("/api/v1/exceptions/\(id)/reopen", q.m.quality, #"{"version":\#(version),"reason":"再发","fromStep":4}"#, .ok)
            let steps = reopened["steps"] as? [[String: Any]] ?? []
            #expect(reopened["status"] as? String == "open" && reopened["reopened"] as? Int == 1)
            #expect(steps.map { $0["state"] as? String ?? "" } == ["approved", "approved", "approved", "open", "open", "open", "open", "open"])
            #expect(try await q.m.items("/api/v1/lessons?q=定位销", q.m.quality).isEmpty)
        }
    }

    @Test func escalationFollowsTheClock() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            let jg = try await q.f.supplierID("SUP-JG")
            func raise(_ title: String) async throws -> String {
                try await q.m.post("/api/v1/exceptions", try await t.token("quality"), #"""
                    {"type":"quality","severity":"major","supplierId":"\#(jg)","title":"\#(title)","eightD":true}
                    """#)["id"] as? String ?? ""
            }
            func level(_ id: String) async throws -> Int { try await ExceptionCase.find(UUID(uuidString: id), on: t.db)!.escalationLevel }
            func escalations() async throws -> Int { try await OutboxMessage.query(on: t.db).filter(\.$event == "exception.escalated").count() }
            let silent = try await raise("无人响应"), answered = try await raise("及时响应")
            // Quality major: respond within 24 h, contain within 48 h, resolve within 20 days.
            t.clock.advance(by: 23 * 3600)
            try await ExceptionService.escalate(app: t.app)
            #expect(try await level(silent) == 0)
            #expect(try await escalations() == 0)
            _ = try await q.m.post("/api/v1/exceptions/\(answered)/comments", try await t.token("supplier1"), #"{"body":"收到,处理中"}"#)
            t.clock.advance(by: 2 * 3600)
            try await ExceptionService.escalate(app: t.app)
            #expect(try await level(silent) == 1)
            #expect(try await level(answered) == 0)
            #expect(try await escalations() == 1)
            try await ExceptionService.escalate(app: t.app)
            #expect(try await escalations() == 1)   // once per level
            let a = try await q.exception(answered, try await t.token("quality"))
            #expect(a["responseMinutes"] as? Int == 23 * 60)
            t.clock.advance(by: 24 * 3600)          // 49 h: containment missed by both
            // A batch at a time: one each round, then nothing left to raise.
            #expect(try await ExceptionService.escalate(app: t.app, batch: 1) == 1)
            #expect(try await ExceptionService.escalate(app: t.app, batch: 1) == 1)
            #expect(try await ExceptionService.escalate(app: t.app, batch: 1) == 0)
            #expect(try await level(silent) == 2)
            #expect(try await level(answered) == 1)
            t.clock.advance(by: 19 * 86_400)        // past 20 days
            try await ExceptionService.escalate(app: t.app)
            #expect(try await level(silent) == 3)
            #expect(try await level(answered) == 2)
            #expect(try await escalations() == 5)
            #expect(try await ExceptionService.escalate(app: t.app) == 0)   // those at their level are not read again
            let list = try await q.m.items("/api/v1/exceptions?status=open", try await t.token("supplier1"))
            #expect(list.allSatisfy { $0["overdue"] as? Bool == true })
        }
    }

    /// Pages of the exception lists are read from their indexes' order (see
    /// `AddExceptionPageIndexes`): every page is its slice of the whole list, with exceptions
    /// raised at the same moment (same deadlines) in a fixed order, open ones by deadline and
    /// closed ones newest closure first.
    @Test func exceptionListsPageInOneFixedOrder() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            let jg = try await q.f.supplierID("SUP-JG"), quality = try await t.token("quality")
            func raise(_ n: Int, _ severity: String) async throws -> String {
                try await q.m.post("/api/v1/exceptions", quality, #"""
                    {"type":"quality","severity":"\#(severity)","supplierId":"\#(jg)","title":"批次 \#(n)"}
                    """#)["id"] as? String ?? ""
            }
            var ids: [String] = []
            for n in 0..<4 { ids.append(try await raise(n, "major")) }   // the same moment, the same deadlines
            t.clock.advance(by: 3600)
            for n in 4..<7 { ids.append(try await raise(n, n == 5 ? "minor" : "critical")) }
            for (i, id) in [ids[1], ids[4], ids[2]].enumerated() {
                t.clock.advance(by: 60)
                _ = try await q.m.post("/api/v1/exceptions/\(id)/close", quality, #"{"version":1,"resolution":"已处理 \#(i)"}"#, .ok)
            }
            func keys(_ rows: [[String: Any]]) -> [String] { rows.map { $0["id"] as? String ?? "" } }
            for (status, supplier) in [("open", ""), ("closed", ""), ("open", "&supplierId=\(jg)"), ("closed", "&supplierId=\(jg)")] {
                let whole = try await q.m.items("/api/v1/exceptions?status=\(status)\(supplier)&per=50", quality)
                var paged: [[String: Any]] = []
                for page in 1...whole.count { paged += try await q.m.items("/api/v1/exceptions?status=\(status)\(supplier)&per=1&page=\(page)", quality) }
                #expect(keys(paged) == keys(whole), "\(status)\(supplier)")
                #expect(whole.count == (status == "open" ? 4 : 3))
                let date = { (row: [String: Any], key: String) in row[key] as? String ?? "" }
                if status == "closed" {
                    #expect(keys(whole) == [ids[2], ids[4], ids[1]], "newest closure first")
                } else {
                    let order = whole.map { (date($0, "resolveBy"), date($0, "createdAt"), ($0["id"] as? String).flatMap(UUID.init(uuidString:))!) }
                    // Deadline, then raised, then id (ids compare as their bytes on both databases).
                    #expect(zip(order, order.dropFirst()).allSatisfy { a, b in
                        a.0 != b.0 ? a.0 < b.0 : a.1 != b.1 ? a.1 < b.1 : a.2.uuidString < b.2.uuidString
                    })
                    #expect(Set(keys(whole)) == Set([ids[0], ids[3], ids[5], ids[6]]))
                }
            }
        }
    }

    @Test func supplierScopeRolesAndBadInput() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            _ = try await q.plan()
            let order = try await q.m.acknowledgedOrder()
            let r = try await q.receive(order, lot: "S1", "50")
            // Roles: suppliers and the warehouse do not inspect or plan.
            _ = try await q.inspect(r, #"{"version":1}"#, .notFound, token: q.f.supplier2)
            _ = try await q.inspect(r, #"{"version":1}"#, .forbidden, token: q.f.supplier1)
            _ = try await q.inspect(r, #"{"version":1}"#, .forbidden, token: q.m.warehouse)
            #expect(try await t.request(.PUT, "/api/v1/items/\(try await q.itemID("SF-MH-001"))/inspection-plan", token: q.m.warehouse,
                                        json: #"{"version":1,"level":"II","aql":"1.0"}"#).status == .forbidden)
            #expect(try await t.request(.GET, "/api/v1/receipts/\(r)/lines/1/sampling", token: q.f.supplier2).status == .notFound)
            // Bad input: problem details, nothing written.
            for (body, status) in [("{", HTTPStatus.badRequest), (#"{"version":1,"color":"red"}"#, .badRequest), (#"{"version":"one"}"#, .badRequest),
                                   (#"{"version":1,"decision":"maybe"}"#, .unprocessableEntity),
                                   (#"{"version":1,"decision":"accept","accepted":"50","rejected":"5"}"#, .unprocessableEntity), (#"{"version":1,"decision":"partial","accepted":"-1","rejected":"51"}"#, .unprocessableEntity),
                                   (#"{"version":1,"results":[{"characteristic":9,"nonconforming":1}]}"#, .unprocessableEntity),
                                   (#"{"version":1,"defects":[{"code":"NOPE","count":1}]}"#, .unprocessableEntity),
                                   (#"{"version":1,"results":[{"characteristic":2,"nonconforming":99}]}"#, .unprocessableEntity),
                                   (#"{"version":1,"decision":"partial","accepted":"1e30","rejected":"0"}"#, .badRequest)] {
                let res = try await t.request(.POST, "/api/v1/receipts/\(r)/lines/1/inspection", token: q.m.quality, json: body)
                #expect(res.status == status, "\(body): \(res.body.string)")
                #expect(res.headers.contentType?.description.contains("problem+json") == true)
            }
            #expect(try await Inspection.query(on: t.db).count() == 0)
            _ = try await q.plan(status: .conflict)     // version 0 again: stale
            #expect(try await t.request(.PUT, "/api/v1/items/\(try await q.itemID("SF-MH-001"))/inspection-plan", token: q.m.quality,
                                        json: #"{"version":1,"level":"IV","aql":"3.0","characteristics":[{"name":"x","kind":"measured"}]}"#).status == .unprocessableEntity)

            // Exceptions: a supplier raises for itself only, sees only its own.
            let jg = try await q.f.supplierID("SUP-JG"), bm = try await q.f.supplierID("SUP-BM")
            _ = try await q.m.post("/api/v1/exceptions", q.f.supplier1, #"{"type":"delay","severity":"minor","supplierId":"\#(bm)","title":"x"}"#, .unprocessableEntity)
            _ = try await q.m.post("/api/v1/exceptions", q.f.supplier1, #"{"type":"flood","severity":"minor","title":"x"}"#, .unprocessableEntity)
            _ = try await q.m.post("/api/v1/exceptions", q.f.supplier1, #"{"type":"other","severity":"minor","title":"x","eightD":true}"#, .unprocessableEntity)
            let mine = try await q.m.post("/api/v1/exceptions", q.f.supplier1, #"{"type":"plan_change","severity":"minor","title":"来料晚到影响排产"}"#)
            let id = mine["id"] as? String ?? ""
            #expect(mine["supplierId"] as? String == jg.uuidString && mine["supplierOwner"] != nil)
            #expect(try await t.request(.GET, "/api/v1/exceptions/\(id)", token: q.f.supplier2).status == .notFound)
            #expect(try await q.m.items("/api/v1/exceptions", q.f.supplier2).isEmpty)
            _ = try await q.m.post("/api/v1/exceptions/\(id)/comments", q.f.supplier2, #"{"body":"x"}"#, .notFound)
            _ = try await q.m.post("/api/v1/exceptions/\(id)/comments", q.f.supplier1, #"{"body":"  "}"#, .unprocessableEntity)
            _ = try await q.m.post("/api/v1/exceptions/\(id)/close", q.f.supplier1, #"{"version":1,"resolution":"x"}"#, .forbidden)
            var headers = HTTPHeaders()
            headers.bearerAuthorization = .init(token: q.f.supplier1)
            headers.contentType = HTTPMediaType(type: "application", subType: "pdf")
            let attach = try await t.app.testing().sendRequest(.POST, "/api/v1/exceptions/\(id)/attachments?filename=a.pdf", headers: headers,
                                                                body: ByteBuffer(string: "%PDF-1.4 x"))
            #expect(attach.status == .created, "\(attach.body.string)")
            // Without an 8D the buyer closes with a resolution.
            let closed = try await q.m.post("/api/v1/exceptions/\(id)/close", q.m.quality, #"{"version":1,"resolution":"已调整排产"}"#, .ok)
            #expect(closed["status"] as? String == "closed" && (closed["attachments"] as? [Any])?.count == 1)
            _ = try await q.m.post("/api/v1/exceptions/\(id)/close", q.m.quality, #"{"version":2,"resolution":"again"}"#, .conflict)
            // Deadline table: quality only, sane values.
            let table = try await q.m.items("/api/v1/exception-deadlines", q.m.quality)
            #expect(table.count == 15)
            #expect(try await t.request(.PUT, "/api/v1/exception-deadlines/quality/major", token: q.m.quality,
                                        json: #"{"version":1,"responseHours":0,"containmentHours":48,"resolveDays":20}"#).status == .unprocessableEntity)
            #expect(try await t.request(.PUT, "/api/v1/exception-deadlines/quality/major", token: q.f.supplier1,
                                        json: #"{"version":1,"responseHours":8,"containmentHours":48,"resolveDays":20}"#).status == .forbidden)
            let set = try await t.request(.PUT, "/api/v1/exception-deadlines/quality/major", token: q.m.quality,
                                          json: #"{"version":1,"responseHours":8,"containmentHours":48,"resolveDays":20}"#)
            #expect(set.status == .ok)
            #expect(try await t.request(.PUT, "/api/v1/exception-deadlines/quality/major", token: q.m.quality,
                                        json: #"{"version":1,"responseHours":9,"containmentHours":48,"resolveDays":20}"#).status == .conflict)
            let fresh = try await q.m.post("/api/v1/exceptions", q.m.quality, #"{"type":"quality","severity":"major","supplierId":"\#(jg)","title":"y"}"#)
            let raised = ISO8601DateFormatter().date(from: fresh["createdAt"] as? String ?? "")!
            let respond = ISO8601DateFormatter().date(from: fresh["responseBy"] as? String ?? "")!
            #expect(respond.timeIntervalSince(raised) == 8 * 3600)
        }
    }

    @Test func twoInspectorsOfOneLineNeverBothDecide() async throws {
        try await TestApp.run { t in
            let q = try await Self.fixture(t)
            let order = try await q.m.acknowledgedOrder()
            let r = try await q.receive(order, lot: "C1", "40")
            let path = "/api/v1/receipts/\(r)/lines/1/inspection"
            async let a = t.request(.POST, path, token: q.m.quality, json: #"{"version":1,"decision":"accept"}"#)
            async let b = t.request(.POST, path, token: q.m.quality, json: #"{"version":1,"decision":"reject"}"#)
            let statuses = [try await a.status, try await b.status]
            #expect(Set(statuses) == [.created, .conflict], "\(statuses)")
            #expect(try await Inspection.query(on: t.db).count() == 1)
            let accepted = try await q.accepted(order)
            #expect(accepted == "40" || accepted == "0")
        }
    }
}
