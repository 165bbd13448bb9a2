import Fluent
import Foundation
@testable import SubconApp
import Testing
import Vapor
import VaporTesting

/// The quality pages as people use them: the plan form, the work list and inspection form, the
/// exception page with its 8D gates and thread, the overview and the lessons search.
@Suite struct QualityPageTests {
    @Test func inspectionAndEightDFromThePages() async throws {
        try await TestApp.run { t in
            let q = try await QualityFlowTests.fixture(t)
            let item = try await q.itemID("SF-MH-001")
            var b = try await t.signIn("quality")
            let csrf = try await t.csrf(&b)
            #expect(try await t.page(.GET, "/items/\(item)/inspection-plan", browser: &b).body.string.contains("name=\"c_name_0\""))
            var plan = ["_csrf": csrf, "version": "0", "level": "II", "aql": "1.0", "exemptAfter": "0",
                        "c_name_0": "内孔", "c_kind_0": "measured", "c_lower_0": "42.01", "c_upper_0": "41.99",
                        "d_code_0": "DIM", "d_name_0": "尺寸超差", "d_severity_0": "major"]
            let wrongPlan = try await t.page(.POST, "/items/\(item)/inspection-plan", browser: &b, form: plan)
            #expect(wrongPlan.status == .unprocessableEntity)
            #expect(wrongPlan.body.string.contains("下限大于上限"))
            plan["c_lower_0"] = "41.99"; plan["c_upper_0"] = "42.01"
            #expect(try await t.page(.POST, "/items/\(item)/inspection-plan", browser: &b, form: plan).status == .seeOther)
            #expect(try await InspectionPlan.query(on: t.db).count() == 1)

            let order = try await q.m.acknowledgedOrder()
            let receipt = try await q.receive(order, lot: "P1", "100")
            let code = try await GoodsReceipt.find(UUID(uuidString: receipt), on: t.db)!.code
            #expect(try await t.page(.GET, "/inspections", browser: &b).body.string.contains(code))
            // Lot 100, level II: F (20) points up to E — 13 units, Ac 0.
            let form = try await t.page(.GET, "/receipts/\(receipt)/lines/1/inspect", browser: &b).body.string
            #expect(form.contains("name=\"v_1\"") && form.contains("name=\"d_DIM\"") && form.contains(">13<"))
            let failing = ["_csrf": csrf, "version": "1", "v_1": "42.00 42.02", "d_DIM": "2"]
            let refused = try await t.page(.POST, "/receipts/\(receipt)/lines/1/inspect", browser: &b, form: failing.merging(["decision": "accept"]) { a, _ in a })
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.body.string.contains("样本不合格"))
            let recorded = try await t.page(.POST, "/receipts/\(receipt)/lines/1/inspect", browser: &b, form: failing)
            #expect(recorded.status == .seeOther)
            let inspectionPage = recorded.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            let shown = try await t.page(.GET, inspectionPage, browser: &b).body.string
            #expect(shown.contains("拒收") && shown.contains("42.02"))
            let ins = try await Inspection.query(on: t.db).first()!
            #expect(ins.decision == "reject" && ins.nonconforming == 2)
            let exception = try #require(ins.exceptionID)

            // The supplier answers the 8D from its phone; quality approves D1, sends D2 back.
            var s = try await t.signIn("supplier1")
            let scsrf = try await t.csrf(&s)
            #expect(try await t.page(.GET, "/exceptions", browser: &s).body.string.contains("/exceptions/\(exception)"))
            let page = try await t.page(.GET, "/exceptions/\(exception)", browser: &s).body.string
            #expect(page.contains("/exceptions/\(exception)/8d/1") && !page.contains("/exceptions/\(exception)/8d/2\""))
            func version() async throws -> String { String(try await ExceptionCase.find(exception, on: t.db)!.version) }
            let d1 = try await t.page(.POST, "/exceptions/\(exception)/8d/1", browser: &s,
                                      form: ["_csrf": scsrf, "version": try await version(), "action": "submit", "content": "组长 周伟"])
            #expect(d1.status == .seeOther)
            let empty = try await t.page(.POST, "/exceptions/\(exception)/8d/2", browser: &s,
                                         form: ["_csrf": scsrf, "version": try await version(), "action": "submit", "content": ""])
            #expect(empty.status == .unprocessableEntity)
            #expect(try await t.page(.POST, "/exceptions/\(exception)/8d/1", browser: &b,
                                     form: ["_csrf": csrf, "version": try await version(), "action": "approve"]).status == .seeOther)
            _ = try await t.page(.POST, "/exceptions/\(exception)/8d/2", browser: &s,
                                 form: ["_csrf": scsrf, "version": try await version(), "action": "submit", "content": "2 件内孔超差"])
            let stale = try await t.page(.POST, "/exceptions/\(exception)/8d/2", browser: &b, form: ["_csrf": csrf, "version": "1", "action": "return", "reason": "数据不全"])
            #expect(stale.status == .conflict)
            #expect(try await t.page(.POST, "/exceptions/\(exception)/8d/2", browser: &b,
                                     form: ["_csrf": csrf, "version": try await version(), "action": "return", "reason": "请补充测量数据"]).status == .seeOther)
            #expect(try await t.page(.POST, "/exceptions/\(exception)/comment", browser: &s, form: ["_csrf": scsrf, "body": "今天补充数据"]).status == .seeOther)
            let after = try await t.page(.GET, "/exceptions/\(exception)", browser: &b).body.string
            #expect(after.contains("请补充测量数据") && after.contains("今天补充数据") && after.contains("组长 周伟"))
            // The owner picker starts on the owner (the inspector, for an exception raised by an inspection).
            #expect(after.contains(" selected>质量工程师 陈刚</option>"))
            // Another supplier does not get in.
            var other = try await t.signIn("supplier2")
            #expect(try await t.page(.GET, "/exceptions/\(exception)", browser: &other).status == .notFound)
            #expect(!(try await t.page(.GET, "/exceptions", browser: &other).body.string.contains(exception.uuidString)))

            // The overview and the lessons search render; a raised exception from the page.
            let overview = try await t.page(.GET, "/quality", browser: &b).body.string
            #expect(overview.contains("SUP-JG") && overview.contains("1000000"))
            #expect(try await t.page(.GET, "/lessons?q=夹具", browser: &b).status == .ok)
            let raised = try await t.page(.POST, "/exceptions/new", browser: &s,
                                          form: ["_csrf": scsrf, "type": "delay", "severity": "minor", "order": order, "title": "设备故障,延迟两天"])
            #expect(raised.status == .seeOther)
            let bad = try await t.page(.POST, "/exceptions/new", browser: &s, form: ["_csrf": scsrf, "type": "delay", "severity": "minor", "title": ""])
            #expect(bad.status == .unprocessableEntity)
        }
    }
}
