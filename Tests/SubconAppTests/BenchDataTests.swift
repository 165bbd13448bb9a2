import Fluent
import Foundation
import SQLKit
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// The benchmark's data set is only worth timing if it is what a year of use leaves behind.
@Suite struct BenchDataTests {
    /// The locked months have taken their sources, so a statement generated for the last closed
    /// month is that month's records alone; before, it took every earlier receipt as late.
    @Test func theMonthLeftOpenSettlesOneMonth() async throws {
        try await TestApp.run(demo: false) { t in
            try await BenchData.seed(app: t.app, suppliers: 2, usersPerSupplier: 1, notificationsPerUser: 1,
                                     shape: .init(orders: 400, linesPerOrder: 2, items: 10, months: 4))
            let calendar = t.settings.statementCalendar
            let open = calendar.period(of: t.app.subcon.today()).previous
            let jg = try await t.organization(code: "SUP-JG")
            let finance = try await t.token("finance")
            let openOnes = try await Statement.query(on: t.db).filter(\.$period == open.description).count()
            #expect(openOnes == 0)
            let claimed = try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM statement_claims c JOIN statements s ON s.id = c.statement_id
                WHERE s.supplier_id = \(bind: jg.id!) AND s.status = 'locked'
                """).first(decoding: Count.self)?.n ?? 0
            #expect(claimed > 0)

            let r = try await t.request(.POST, "/api/v1/statements", token: finance,
                                        json: #"{"supplierId":"\#(jg.id!)","period":"\#(open)"}"#)
            #expect(r.status == .created)
            let lines = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
            let items = lines?["lines"] as? [[String: Any]] ?? []
            #expect(!items.isEmpty)
            #expect(items.allSatisfy { $0["originPeriod"] as? String == open.description }, "only the open month's records")
            #expect(items.allSatisfy { $0["late"] as? Bool == false })
        }
    }

    /// The demo's year of history is settled month by month: a statement made or refreshed now
    /// takes this month's records, not the year's as late ones.
    @Test func theDemosHistoryIsSettledMonthByMonth() async throws {
        try await TestApp.run(scenario: true, adjust: { $0.demoHistory = true }) { t in
            // A closed order whose reports stopped short (300 of 400 on line 2) projects no delay:
            // line 1 finished two days after its due date, line 2 before it.
            let closed = try #require(try await OutsourcingOrder.query(on: t.db).filter(\.$code == "WX-H00097").first())
            var buyer = try await t.signIn("purchaser")
            let closedPage = try await t.page(.GET, "/orders/\(closed.id!)", browser: &buyer).body.string
            #expect(closedPage.contains("已完成，晚 2 天") && closedPage.contains("完成日期") && !closedPage.contains("预计延期"))
            let finance = try await t.token("finance")
            let period = t.settings.statementCalendar.period(of: t.app.subcon.today()).description
            var lines: [[String: Any]] = []
            for s in try await Statement.query(on: t.db).filter(\.$period == period).filter(\.$status == "draft").all() {
                let r = try await t.request(.POST, "/api/v1/statements/\(s.id!)/refresh", token: finance, json: #"{"version":\#(s.version)}"#)
                #expect(r.status == .ok, "\(r.body.string)")
                lines += r.json["lines"] as? [[String: Any]] ?? []
            }
            let stated = Set(try await Statement.query(on: t.db).filter(\.$period == period).all().map(\.supplierID))
            for o in try await Organization.query(on: t.db).filter(\.$kind == "supplier").all() where !stated.contains(o.id!) {
                let r = try await t.request(.POST, "/api/v1/statements", token: finance, json: #"{"supplierId":"\#(o.id!)","period":"\#(period)"}"#)
                #expect(r.status == .created, "\(r.body.string)")
                lines += r.json["lines"] as? [[String: Any]] ?? []
            }
            #expect(!lines.isEmpty)
            let late = lines.filter { $0["late"] as? Bool == true }.count
            #expect(late == 0, "no earlier month's records")
        }
    }

    struct Count: Decodable { let n: Int }
}
