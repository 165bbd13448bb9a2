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

    struct Count: Decodable { let n: Int }
}
