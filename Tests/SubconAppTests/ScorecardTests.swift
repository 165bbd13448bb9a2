import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp
@testable import SubconDomain

/// Scorecards over the demo scenario's records (a whole flow: orders, receipts, inspections,
/// exceptions, revisions, statements), compared with the records they came from.
@Suite struct ScorecardHTTPTests {
    private func json(_ t: TestApp, _ method: HTTPMethod, _ path: String, _ token: String, body: String? = nil,
                      _ status: HTTPStatus = .ok) async throws -> [String: Any] {
        let r = try await t.request(method, path, token: token, json: body)
        #expect(r.status == status, "\(method) \(path): \(r.body.string)")
        return r.json
    }

    private func units(_ v: Any?) -> Int64 { (try? FixedDecimal.parse(v as? String ?? "0").units) ?? -1 }

    @Test func everyFigureMatchesTheRecordsBehindIt() async throws {
        try await TestApp.run(scenario: true) { t in
            let buyer = try await t.token("purchaser")
            let jg = try await t.organization(code: "SUP-JG").id!
            let card = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard?period=2026", buyer)
            #expect(card["period"] as? String == "2026" && card["weightsVersion"] as? Int == 0)
            #expect((card["trend"] as? [[String: Any]])?.count == 12)
            #expect((card["trend"] as? [[String: Any]])?.first?["period"] as? String == "2015")

            // Delivery: the lines due in the period, each judged by OnTimeDelivery.line.
            let delivery = card["delivery"] as! [String: Any]
            let lines = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/delivery?period=2026", buyer)["lines"] as! [[String: Any]]
            #expect(!lines.isEmpty)
            #expect(delivery["lines"] as? Int == lines.count)
            #expect((delivery["dueQuantity"] as? Int).map(Int64.init) == lines.reduce(0) { $0 + units($1["quantity"]) })
            #expect((delivery["onTimeQuantity"] as? Int).map(Int64.init) == lines.reduce(0) { $0 + units($1["onTime"]) })
            #expect(delivery["linesOnTime"] as? Int == lines.filter { $0["complete"] as? Bool == true }.count)
            #expect(delivery["lateLines"] as? Int == lines.filter { ($0["daysLate"] as? Int ?? 0) > 0 }.count)
            #expect(delivery["daysLate"] as? Int == lines.reduce(0) { $0 + ($1["daysLate"] as? Int ?? 0) })

            // Quality: the lots inspected in the period.
            let quality = card["quality"] as! [String: Any]
            let lots = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/quality?period=2026", buyer)["lots"] as! [[String: Any]]
            #expect(!lots.isEmpty)
            #expect(quality["lots"] as? Int == lots.count)
            #expect(quality["firstPassLots"] as? Int == lots.filter { $0["decision"] as? String == "accept" }.count)
            #expect(quality["concessionLots"] as? Int == lots.filter { $0["decision"] as? String == "concession" }.count)
            #expect((quality["rejectedQuantity"] as? Int).map(Int64.init) == lots.reduce(0) { $0 + units($1["rejected"]) })

            // Exceptions: opened in the period, deadlines come and met.
            let ex = card["exceptions"] as! [String: Any]
            let cases = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/exceptions?period=2026", buyer)["exceptions"] as! [[String: Any]]
            #expect(!cases.isEmpty)
            #expect(ex["opened"] as? Int == cases.count)
            let come = cases.reduce(0) { $0 + ($1["responseMet"] is Bool ? 1 : 0) + ($1["resolutionMet"] is Bool ? 1 : 0) }
            let met = cases.reduce(0) { $0 + ($1["responseMet"] as? Bool == true ? 1 : 0) + ($1["resolutionMet"] as? Bool == true ? 1 : 0) }
            #expect(ex["deadlinesDue"] as? Int == come && ex["deadlinesMet"] as? Int == met)
            let responses = cases.compactMap { $0["responseMinutes"] as? Int }.map(Int64.init).sorted()
            #expect((ex["responseMedianMinutes"] as? Int).map(Int64.init) == Percentile.nearestRank(responses, percent: 50))

            // Communication: revisions whose deadline has come, answered in time.
            let comm = card["communication"] as! [String: Any]
            let answers = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/communication?period=2026", buyer)["answers"] as! [[String: Any]]
            #expect(!answers.isEmpty)
            #expect(comm["revisionsDue"] as? Int == answers.filter { $0["inTime"] is Bool }.count)
            #expect(comm["answeredInTime"] as? Int == answers.filter { $0["inTime"] as? Bool == true }.count)

            // Cost: the statements of the period's months.
            let cost = card["cost"] as! [String: Any]
            let statements = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/cost?period=2026", buyer)["statements"] as! [[String: Any]]
            #expect(!statements.isEmpty)
            #expect((cost["deductions"] as? Int).map(Int64.init) == statements.reduce(0) { $0 + units($1["deductions"]) })

            // The score is the domain's over those figures, with the measures it names.
            let measures = card["measures"] as! [[String: Any]]
            #expect(measures.map { $0["measure"] as? String } == Measure.allCases.map(\.rawValue))
            #expect(card["score"] as? Int != nil && card["grade"] as? String != nil)

            // The ranking has the same score for the supplier.
            let ranking = try await json(t, .GET, "/api/v1/scorecards?period=2026", buyer)["suppliers"] as! [[String: Any]]
            // Limited to a category, cost is left out and only that category's lots count.
            let semi = try await json(t, .GET, "/api/v1/scorecards?period=2026&kind=finished", buyer)
            #expect(semi["itemKind"] as? String == "finished")
            let semiJG = try #require((semi["suppliers"] as? [[String: Any]])?.first { $0["supplierCode"] as? String == "SUP-JG" })
            #expect((semiJG["measures"] as? [[String: Any]])?.first { $0["measure"] as? String == "cost" }?["score"] == nil)
            _ = try await json(t, .GET, "/api/v1/scorecards?period=2026&kind=gadgets", buyer, .badRequest)
            let queries = ScorecardService.queries(ScoreWeights(), app: t.app, on: t.db)
            struct N: Decodable { let n: Int }
            let all = try await queries.figures([.year(2026)], supplier: nil), finished = try await queries.figures([.year(2026)], supplier: nil, itemKind: "finished")
            let finishedLots = try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM inspections n JOIN items i ON i.id = n.item_id WHERE i.kind = 'finished'
                """).first(decoding: N.self)!.n
            #expect(finished.values.reduce(0) { $0 + $1.quality.lots } == finishedLots)
            #expect(finishedLots > 0 && finishedLots < all.values.reduce(0) { $0 + $1.quality.lots })
            // Limited to a plant: only lines of orders made from its plans, cost left out.
            struct P: Decodable { let plant_id: UUID }
            let plant = try #require(try await t.sql.raw("""
                SELECT p.plant_id FROM outsourcing_orders o JOIN production_plans p ON p.id = o.plan_id WHERE o.status NOT IN ('draft', 'cancelled', 'rejected')
                """).first(decoding: P.self)).plant_id
            let byPlant = try await json(t, .GET, "/api/v1/scorecards?period=2026&plantId=\(plant)", buyer)
            #expect(byPlant["plantId"] as? String == plant.uuidString)
            let planted = try await queries.figures([.year(2026)], supplier: nil, plant: plant)
            let plantLines = try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id JOIN production_plans p ON p.id = o.plan_id
                WHERE p.plant_id = \(bind: plant) AND l.state <> 'cancelled' AND o.status NOT IN ('draft', 'cancelled', 'rejected')
                  AND l.due_date >= '2026-01-01' AND l.due_date <= '2026-12-31'
                """).first(decoding: N.self)!.n
            #expect(plantLines > 0 && planted.values.reduce(0) { $0 + $1.delivery.lines } == plantLines)
            #expect(plantLines < all.values.reduce(0) { $0 + $1.delivery.lines })
            #expect(planted.values.allSatisfy { $0.cost.turnover == 0 })
            _ = try await json(t, .GET, "/api/v1/scorecards?period=2026&plantId=plant-1", buyer, .badRequest)
            #expect(ranking.first { $0["supplierCode"] as? String == "SUP-JG" }?["score"] as? Int == card["score"] as? Int)
            #expect(ranking.map { $0["rank"] as? Int } == Array(1...ranking.count).map { Optional($0) })
        }
    }

    /// A progress report is on time when it comes within the silent-days limit of the latest day
    /// reported on its line before it (the line's first always is). The gap is kept on the report
    /// as it is written; the scorecard's count of the supplier's year agrees with the reports
    /// judged here one by one, and working every gap out again gives the gaps written.
    @Test func reportsAreOnTimeByTheirGapToTheLineBefore() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            // Days 0, 2, 7 (five days silent: late with the limit of 3) and 7 again, a minute on.
            for (n, wait) in [0, 2, 5, 0].enumerated() {
                t.clock.advance(by: Double(wait) * 86_400 + 60)
                // Tokens run out while the clock moves days ahead: each report signs in again.
                _ = try await m.post("/api/v1/orders/\(order)/progress", try await t.token("supplier1"), #"{"line":1,"good":"\#(n + 1)"}"#)
            }
            struct R: Decodable { let id: UUID; let order_id: UUID; let line_no: Int; let report_day: String; let created_at: Date; let days_since_previous: Int? }
            func reports() async throws -> [R] {
                try await t.sql.raw("SELECT id, order_id, line_no, report_day, created_at, days_since_previous FROM progress_reports ORDER BY created_at, id")
                    .all(decoding: R.self)
            }
            let written = try await reports()
            #expect(written.filter { $0.order_id.uuidString == order.uppercased() }.map(\.days_since_previous) == [nil, 2, 5, 0])
            let supplier = try await t.user("supplier1").$organization.id
            let year = t.app.subcon.today().year
            let queries = ScorecardService.queries(ScoreWeights(), app: t.app, on: t.db)
            let from = queries.instant(Day(year: year, month: 1, day: 1)!), to = queries.instant(Day(year: year + 1, month: 1, day: 1)!)
            let own = try await t.sql.raw("SELECT id, order_id, line_no, report_day, created_at, days_since_previous FROM progress_reports WHERE supplier_id = \(bind: supplier) ORDER BY created_at, id")
                .all(decoding: R.self)
            var latest: [String: Day] = [:]
            var counted = 0, onTime = 0
            for r in own {
                let line = "\(r.order_id)/\(r.line_no)", day = Day(r.report_day)!
                if r.created_at >= from && r.created_at < to {
                    counted += 1
                    if ReportTimeliness.onTime(gap: ReportTimeliness.gap(previous: latest[line], day: day), silentDays: ScoreWeights().silentDays) { onTime += 1 }
                }
                latest[line] = max(latest[line] ?? day, day)
            }
            #expect(counted >= 4 && onTime < counted)
            let card = try await queries.figures([.year(year)], supplier: supplier)[.init(supplier: supplier, bucket: 0)]
            #expect(card?.communication.reports == counted)
            #expect(card?.communication.reportsOnTime == onTime)
            let shown = try await json(t, .GET, "/api/v1/organizations/\(supplier)/scorecard?period=\(year)", try await t.token("purchaser"))["communication"] as? [String: Any]
            #expect(shown?["reports"] as? Int == counted && shown?["reportsOnTime"] as? Int == onTime)
            try await t.sql.raw("UPDATE progress_reports SET days_since_previous = NULL").run()
            try await ReportGaps.rebuild(on: t.sql)
            #expect(try await reports().map(\.days_since_previous) == written.map(\.days_since_previous))
        }
    }

    /// The delivery figures the database keeps on each line (AddKeptDeliveries) against the same
    /// figures counted from the receipts, after receiving and inspecting, and after each kind of
    /// change its triggers watch: a due date moved, a receipt's day corrected, an accepted
    /// quantity changed, a receipt line removed.
    @Test func keptDeliveriesFollowEveryChange() async throws {
        try await TestApp.run(scenario: true) { t in
            struct Kept: Decodable, Equatable { let order_id: UUID; let line_no: Int; let accepted_quantity: Int64; let accepted_on_time: Int64; let last_accepted_day: String? }
            struct Receipt: Decodable { let id: UUID; let receipt_id: UUID; let order_id: UUID; let order_line_no: Int; let accepted_quantity: Int64; let receipt_day: String }
            struct Due: Decodable { let order_id: UUID; let line_no: Int; let due_date: String }
            func check(_ step: String) async throws -> [Receipt] {
                let kept = try await t.sql.raw("SELECT order_id, line_no, accepted_quantity, accepted_on_time, last_accepted_day FROM order_lines ORDER BY order_id, line_no")
                    .all(decoding: Kept.self)
                let receipts = try await t.sql.raw("""
                    SELECT r.id, r.receipt_id, r.order_id, r.order_line_no, r.accepted_quantity, g.receipt_day FROM receipt_lines r JOIN goods_receipts g ON g.id = r.receipt_id
                    """).all(decoding: Receipt.self)
                let due = Dictionary(uniqueKeysWithValues: try await t.sql.raw("SELECT order_id, line_no, due_date FROM order_lines").all(decoding: Due.self)
                    .map { ("\($0.order_id)/\($0.line_no)", $0.due_date) })
                var counted: [String: (Int64, Int64, String?)] = [:]
                for r in receipts {
                    let k = "\(r.order_id)/\(r.order_line_no)"
                    var c = counted[k] ?? (0, 0, nil)
                    c.0 += r.accepted_quantity
                    if r.receipt_day <= due[k]! { c.1 += r.accepted_quantity }
                    if r.accepted_quantity > 0 { c.2 = max(c.2 ?? "", r.receipt_day) }
                    counted[k] = c
                }
                let expected = kept.map { k -> Kept in
                    let c = counted["\(k.order_id)/\(k.line_no)"] ?? (0, 0, nil)
                    return Kept(order_id: k.order_id, line_no: k.line_no, accepted_quantity: c.0, accepted_on_time: c.1, last_accepted_day: c.2)
                }
                #expect(kept == expected, "\(step): \(zip(kept, expected).filter { $0 != $1 }.prefix(3))")
                return receipts
            }
            let receipts = try await check("after the scenario")
            // A line received on time: its due date moved before the receipt's day, it no longer is.
            let onTime = try await t.sql.raw("""
                SELECT r.id FROM receipt_lines r JOIN order_lines l ON l.order_id = r.order_id AND l.line_no = r.order_line_no
                WHERE l.accepted_on_time > 0 AND r.accepted_quantity > 0
                """).first()?.decode(column: "id", as: UUID.self)
            let accepted = try #require(receipts.first { $0.id == onTime })
            try await t.sql.raw("""
                UPDATE order_lines SET due_date = '2000-01-01' WHERE order_id = \(bind: accepted.order_id) AND line_no = \(bind: accepted.order_line_no)
                """).run()
            _ = try await check("due date moved")
            // A receipt's day corrected to after every due date, then an accepted quantity changed.
            try await t.sql.raw("UPDATE goods_receipts SET receipt_day = '2999-12-31' WHERE id = \(bind: receipts.last!.receipt_id)").run()
            _ = try await check("receipt day corrected")
            try await t.sql.raw("UPDATE receipt_lines SET accepted_quantity = accepted_quantity + 1 WHERE id = \(bind: receipts[receipts.count / 2].id)").run()
            _ = try await check("accepted quantity changed")
            try await t.sql.raw("DELETE FROM inspections WHERE receipt_line_id = \(bind: accepted.id)").run()
            try await t.sql.raw("DELETE FROM receipt_lines WHERE id = \(bind: accepted.id)").run()
            _ = try await check("receipt line removed")
        }
    }

    @Test func aSupplierSeesOnlyItsOwnScorecard() async throws {
        try await TestApp.run(scenario: true) { t in
            let jgUser = try await t.token("supplier1")
            let jg = try await t.organization(code: "SUP-JG").id!, bm = try await t.organization(code: "SUP-BM").id!
            _ = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard?period=2026", jgUser)
            _ = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/quality?period=2026", jgUser)
            _ = try await json(t, .GET, "/api/v1/scorecards/weights", jgUser)
            _ = try await json(t, .GET, "/api/v1/organizations/\(bm)/scorecard?period=2026", jgUser, .notFound)
            for m in Measure.allCases {
                _ = try await json(t, .GET, "/api/v1/organizations/\(bm)/scorecard/\(m.rawValue)?period=2026", jgUser, .notFound)
            }
            _ = try await json(t, .GET, "/api/v1/scorecards?period=2026", jgUser, .forbidden)
            let grades = try await json(t, .GET, "/api/v1/scorecards/grades?period=2026-08", jgUser)["items"] as! [Any]
            #expect(grades.isEmpty)
            // The warehouse has no scorecards; an unknown measure or supplier is 404.
            _ = try await json(t, .GET, "/api/v1/scorecards?period=2026", try await t.token("warehouse"), .forbidden)
            let buyer = try await t.token("purchaser")
            _ = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard/speed?period=2026", buyer, .notFound)
            _ = try await json(t, .GET, "/api/v1/organizations/\(UUID())/scorecard?period=2026", buyer, .notFound)
        }
    }

    @Test func badWeightsAndPeriodsAreRefusedClearly() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin"), buyer = try await t.token("purchaser")
            let good = #""delivery":35,"quality":30,"exceptions":15,"cost":10,"communication":10,"gradeA":90,"gradeB":75,"gradeC":60,"silentDays":3,"costLimitPercent":10,"reason":"年度评审""#
            func fields(_ body: String, _ status: HTTPStatus = .unprocessableEntity) async throws -> [String] {
                let r = try await json(t, .PUT, "/api/v1/scorecards/weights", admin, body: body, status)
                return (r["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            }
            #expect(try await fields("{" + good.replacingOccurrences(of: #""delivery":35"#, with: #""delivery":25"#) + "}") == ["weights"])
            #expect(try await fields("{" + good.replacingOccurrences(of: #""delivery":35"#, with: #""delivery":-5"#) + "}") == ["delivery"])
            #expect(try await fields("{" + good.replacingOccurrences(of: #""gradeB":75"#, with: #""gradeB":95"#) + "}") == ["gradeB"])
            #expect(try await fields("{" + good.replacingOccurrences(of: #""silentDays":3"#, with: #""silentDays":0"#) + "}") == ["silentDays"])
            #expect(try await fields("{" + good.replacingOccurrences(of: #""reason":"年度评审""#, with: #""reason":"""#) + "}") == ["reason"])
            #expect(try await fields("{" + good.replacingOccurrences(of: #""cost":10"#, with: #""cost":"10""#) + "}", .badRequest) == ["cost"])
            #expect(try await fields("{" + good + #","bonus":1}"#, .badRequest) == ["bonus"])
            _ = try await json(t, .PUT, "/api/v1/scorecards/weights", buyer, body: "{" + good + "}", .forbidden)
            #expect(try await json(t, .GET, "/api/v1/scorecards/weights", buyer)["version"] as? Int == 0)
            let saved = try await json(t, .PUT, "/api/v1/scorecards/weights", admin, body: "{" + good.replacingOccurrences(of: #""gradeA":90"#, with: #""gradeA":92"#) + "}")
            #expect(saved["version"] as? Int == 1 && (saved["weights"] as? [String: Any])?["gradeA"] as? Int == 92)
            let jg = try await t.organization(code: "SUP-JG").id!
            #expect(try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard?period=2026-08", buyer)["weightsVersion"] as? Int == 1)
            for bad in ["2026-13", "2026-Q5", "last", "2026-09-30..2026-09-01", "2019-01-01..2026-01-01"] {
                let r = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard?period=\(bad)", buyer, .badRequest)
                #expect((r["errors"] as? [[String: Any]])?.first?["field"] as? String == "period")
            }
            // Closing a month: admin only, a month that is over, once.
            _ = try await json(t, .POST, "/api/v1/scorecards/grades", buyer, body: #"{"period":"2026-08"}"#, .forbidden)
            _ = try await json(t, .POST, "/api/v1/scorecards/grades", admin, body: #"{"period":"2026-Q3"}"#, .unprocessableEntity)
            _ = try await json(t, .POST, "/api/v1/scorecards/grades", admin, body: #"{"period":"2026-09"}"#, .unprocessableEntity)
            _ = try await json(t, .POST, "/api/v1/scorecards/grades", admin, body: #"{"period":"2026-08"}"#, .created)
            _ = try await json(t, .POST, "/api/v1/scorecards/grades", admin, body: #"{"period":"2026-08"}"#, .conflict)
        }
    }

    /// Two D grades in a row open a corrective action and propose probation; the admin confirms
    /// and the supplier is on probation. An A grade makes a supplier preferred the month after.
    @Test func twoDGradesOpenACorrectiveActionAndProposeProbation() async throws {
        try await TestApp.run(scenario: true) { t in
            let before = try await t.token("admin")
            let jg = try await t.organization(code: "SUP-JG").id!
            // Thresholds only a perfect score reaches: everyone with records is graded D.
            _ = try await json(t, .PUT, "/api/v1/scorecards/weights", before, body: #"{"delivery":35,"quality":30,"exceptions":15,"cost":10,"communication":10,"gradeA":100,"gradeB":99,"gradeC":98,"silentDays":3,"costLimitPercent":10,"reason":"test"}"#)
            let month = ScorePeriod.month(of: t.app.subcon.today())
            // The month before was graded D when it closed.
            try await t.sql.insert(into: "supplier_grades").columns("id", "supplier_id", "period", "score", "grade", "weights_version", "created_at")
                .values(SQLBind(UUID()), SQLBind(jg), SQLBind(month.previous.description), SQLBind(400), SQLBind("D"), SQLBind(1), SQLBind(Date())).run()
            t.clock.advance(by: 40 * 86400)
            let admin = try await t.token("admin")
            let graded = try await json(t, .POST, "/api/v1/scorecards/grades", admin, body: #"{"period":"\#(month)"}"#, .created)["items"] as! [[String: Any]]
            #expect(graded.first { $0["supplierCode"] as? String == "SUP-JG" }?["grade"] as? String == "D")
            let proposals = try await json(t, .GET, "/api/v1/scorecards/proposals", admin)["items"] as! [[String: Any]]
            #expect(proposals.count == 1)
            let proposal = proposals[0]
            #expect(proposal["supplierCode"] as? String == "SUP-JG" && proposal["proposedStatus"] as? String == "probation" && proposal["status"] as? String == "pending")
            let exception = try await json(t, .GET, "/api/v1/exceptions/\(proposal["exceptionId"] as! String)", admin)
            #expect(exception["status"] as? String == "open")
            // Only an admin decides, with a reason; a stale version is refused.
            let id = proposal["id"] as! String
            _ = try await json(t, .POST, "/api/v1/scorecards/proposals/\(id)/decision", try await t.token("purchaser"), body: #"{"version":1,"decision":"confirm","reason":"x"}"#, .forbidden)
            _ = try await json(t, .POST, "/api/v1/scorecards/proposals/\(id)/decision", admin, body: #"{"version":1,"decision":"confirm","reason":""}"#, .unprocessableEntity)
            _ = try await json(t, .POST, "/api/v1/scorecards/proposals/\(id)/decision", admin, body: #"{"version":7,"decision":"confirm","reason":"两月 D 级"}"#, .conflict)
            let decided = try await json(t, .POST, "/api/v1/scorecards/proposals/\(id)/decision", admin, body: #"{"version":1,"decision":"confirm","reason":"两月 D 级"}"#)
            #expect(decided["status"] as? String == "confirmed")
            let profile = try await json(t, .GET, "/api/v1/organizations/\(jg)/profile", admin)
            #expect(profile["status"] as? String == "probation")
            struct N: Decodable { let n: Int }
            #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE event = 'scorecard.probation_proposed'").first(decoding: N.self)?.n == 1)
            // Declining leaves the supplier as it was.
            let bm = try await t.organization(code: "SUP-BM").id!, other = UUID()
            try await t.sql.insert(into: "status_proposals").columns("id", "supplier_id", "proposed_status", "period", "status", "reason", "created_at", "version")
                .values(SQLBind(other), SQLBind(bm), SQLBind("probation"), SQLBind(month.description), SQLBind("pending"), SQLBind(""), SQLBind(Date()), SQLBind(1)).run()
            let bmStatus = try await json(t, .GET, "/api/v1/organizations/\(bm)/profile", admin)["status"] as? String
            let declined = try await json(t, .POST, "/api/v1/scorecards/proposals/\(other)/decision", admin, body: #"{"version":1,"decision":"decline","reason":"交期问题已查明是我方计划变更"}"#)
            #expect(declined["status"] as? String == "declined" && declined["reason"] as? String == "交期问题已查明是我方计划变更")
            #expect(try await json(t, .GET, "/api/v1/organizations/\(bm)/profile", admin)["status"] as? String == bmStatus)
            _ = try await json(t, .POST, "/api/v1/scorecards/proposals/\(id)/decision", admin, body: #"{"version":2,"decision":"decline","reason":"x"}"#, .unprocessableEntity)
        }
    }

    @Test func anAGradeMakesTheSupplierPreferredNextMonth() async throws {
        try await TestApp.run(scenario: true) { t in
            let before = try await t.token("admin")
            let jg = try await t.organization(code: "SUP-JG").id!
            _ = try await json(t, .PUT, "/api/v1/scorecards/weights", before, body: #"{"delivery":35,"quality":30,"exceptions":15,"cost":10,"communication":10,"gradeA":2,"gradeB":1,"gradeC":0,"silentDays":3,"costLimitPercent":10,"reason":"test"}"#)
            let month = ScorePeriod.month(of: t.app.subcon.today())
            t.clock.advance(by: 31 * 86400)
            while ScorePeriod.month(of: t.app.subcon.today()) != month.next { t.clock.advance(by: 86400) }
            let admin = try await t.token("admin")
            _ = try await json(t, .POST, "/api/v1/scorecards/grades", admin, body: #"{"period":"\#(month)"}"#, .created)
            let card = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard", admin)
            #expect(card["period"] as? String == month.description)
            #expect(card["grade"] as? String == "A" && card["preferred"] as? Bool == true)
            #expect(try await ScorecardService.preferred(on: t.db, today: t.app.subcon.today()).contains(jg))
        }
    }
}

/// The improve-and-verify loop over the demo's year of history, and supplier reviews.
@Suite struct PerformanceLoopTests {
    private func json(_ t: TestApp, _ method: HTTPMethod, _ path: String, _ token: String, body: String? = nil,
                      _ status: HTTPStatus = .ok) async throws -> [String: Any] {
        let r = try await t.request(method, path, token: token, json: body)
        #expect(r.status == status, "\(method) \(path): \(r.body.string)")
        return r.json
    }

    @Test func aYearOfHistoryShowsTrendsGradesVerifiedActionsAndSuggestions() async throws {
        try await TestApp.run(scenario: true, adjust: { $0.demoHistory = true }) { t in
            let buyer = try await t.token("purchaser"), admin = try await t.token("admin")
            let jg = try await t.organization(code: "SUP-JG").id!, bm = try await t.organization(code: "SUP-BM").id!
            let last = ScorePeriod.month(of: t.app.subcon.today()).previous
            // The same history has its money (issue 20's demo): a paid month, last month's
            // invoice flagged and waiting, JG's statement of three months ago without an invoice,
            // and what is outstanding by age.
            let finance = try await t.token("finance")
            let paid = try await json(t, .GET, "/api/v1/invoices?supplierId=\(jg)", finance)["items"] as! [[String: Any]]
            #expect(paid.contains { $0["paidInFull"] as? Bool == true })
            #expect(paid.contains { $0["status"] as? String == "registered" && ($0["flags"] as? [String]) == ["exceeds_statement"] })
            let waiting = try #require(try await Statement.query(on: t.db).filter(\.$supplierID == jg)
                .filter(\.$period == last.previous.previous.description).first())
            #expect(waiting.status == "locked")
            #expect(try await json(t, .GET, "/api/v1/statements/\(waiting.id!)/invoices", finance)["match"] as? String == "waiting")
            let aging = try await json(t, .GET, "/api/v1/invoices/aging", finance)
            #expect(((aging["suppliers"] as? [[String: Any]]) ?? []).contains { $0["supplierCode"] as? String == "SUP-JG" })
            // Trends: every month of the year has a score; JG got better, BM worse.
            let jgCard = try await json(t, .GET, "/api/v1/organizations/\(jg)/scorecard?period=\(last)", buyer)
            let trend = jgCard["trend"] as! [[String: Any]]
            #expect(trend.filter { $0["score"] is Int }.count == 12)
            #expect((trend.last?["score"] as? Int ?? 0) > (trend.first?["score"] as? Int ?? 0))
            let grades = try await json(t, .GET, "/api/v1/scorecards/grades?period=\(last)", buyer)["items"] as! [[String: Any]]
            #expect(grades.first { $0["supplierCode"] as? String == "SUP-BM" }?["grade"] as? String == "D")
            #expect(grades.first { $0["supplierCode"] as? String == "SUP-JG" }?["grade"] as? String == "A")
            // Every watched 8D case was started by an audited write.
            struct N: Decodable { let n: Int }
            let watched = try await t.sql.raw("SELECT COUNT(*) AS n FROM corrective_checks").first(decoding: N.self)!.n
            let started = try await t.sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE entity = 'corrective_check' AND action = 'create'").first(decoding: N.self)!.n
            #expect(watched > 0 && started == watched)
            #expect(jgCard["preferred"] as? Bool == true)
            // BM's second D proposed probation.
            let proposals = try await json(t, .GET, "/api/v1/scorecards/proposals", admin)["items"] as! [[String: Any]]
            #expect(proposals.contains { $0["supplierCode"] as? String == "SUP-BM" && $0["status"] as? String == "pending" })
            // One corrective action proved effective, one did not and opened a linked exception.
            let checks = try await json(t, .GET, "/api/v1/corrective-checks", try await t.token("quality"))["items"] as! [[String: Any]]
            let jgCheck = checks.first { $0["supplierCode"] as? String == "SUP-JG" }, bmCheck = checks.first { $0["supplierCode"] as? String == "SUP-BM" }
            #expect(jgCheck?["status"] as? String == "effective")
            #expect(bmCheck?["status"] as? String == "ineffective" && bmCheck?["linkedExceptionId"] is String)
            let linked = try await json(t, .GET, "/api/v1/exceptions/\(bmCheck?["linkedExceptionId"] as? String ?? "")", buyer)
            #expect(linked["status"] as? String == "open")
            // A supplier sees its own checks only.
            let own = try await json(t, .GET, "/api/v1/corrective-checks", try await t.token("supplier1"))["items"] as! [[String: Any]]
            #expect(own.allSatisfy { $0["supplierCode"] as? String == "SUP-JG" })
            // Suggestions name their figures; the buyer dismisses one with a reason or raises another.
            let suggestions = try await json(t, .GET, "/api/v1/organizations/\(bm)/suggestions?period=\(last)", buyer)["items"] as! [[String: Any]]
            #expect(suggestions.count >= 3)
            #expect(suggestions.allSatisfy { !(($0["params"] as? [String: String]) ?? [:]).isEmpty })
            let first = suggestions[0]["id"] as! String, second = suggestions[1]["id"] as! String
            _ = try await json(t, .GET, "/api/v1/organizations/\(bm)/suggestions", try await t.token("supplier1"), .notFound)
            _ = try await json(t, .POST, "/api/v1/suggestions/\(first)/dismiss", try await t.token("supplier2"), body: #"{"version":1,"reason":"x"}"#, .forbidden)
            _ = try await json(t, .POST, "/api/v1/suggestions/\(first)/dismiss", buyer, body: #"{"version":1}"#, .unprocessableEntity)
            let dismissed = try await json(t, .POST, "/api/v1/suggestions/\(first)/dismiss", buyer, body: #"{"version":1,"reason":"已在评审中讨论"}"#)
            #expect(dismissed["status"] as? String == "dismissed")
            let raised = try await json(t, .POST, "/api/v1/suggestions/\(second)/raise", buyer, body: #"{"version":1}"#)
            #expect(raised["status"] as? String == "raised" && raised["exceptionId"] is String)
            _ = try await json(t, .POST, "/api/v1/suggestions/\(second)/raise", buyer, body: #"{"version":2}"#, .unprocessableEntity)
            // Last month's review: held, three action items, one done; the next one planned.
            let reviews = try await json(t, .GET, "/api/v1/organizations/\(bm)/reviews", buyer)["items"] as! [[String: Any]]
            let heldReview = try #require(reviews.first { $0["status"] as? String == "held" })
            #expect((heldReview["actions"] as? [[String: Any]])?.map { $0["status"] as? String ?? "" }.sorted() == ["done", "open", "open"])
            #expect(reviews.contains { $0["status"] as? String == "planned" })
            // The pages show it all.
            var b = try await t.signIn("purchaser")
            let page = try await t.page(.GET, "/scorecards/\(bm)", browser: &b).body.string
            #expect(page.contains("改进建议") && page.contains("<svg class=\"chart line\""))
            let compare = try await t.page(.GET, "/scorecards/compare?a=\(jg)&b=\(bm)&period=\(last)", browser: &b)
            #expect(compare.status == .ok && compare.body.string.contains("苏州精工机械有限公司") && compare.body.string.contains("昆山华表表面处理有限公司"))
            #expect(try await t.page(.GET, "/scorecards/compare?a=\(jg)&period=\(last)", browser: &b).status == .badRequest)
            // Dismissing from the page needs a reason; with one, the suggestion is dismissed.
            let csrf = try await t.csrf(&b)
            let third = suggestions[2]["id"] as! String
            #expect(try await t.page(.POST, "/scorecards/suggestions/\(third)", browser: &b,
                                     form: ["_csrf": csrf, "version": "1", "supplier": bm.uuidString, "action": "dismiss", "reason": ""]).status == .badRequest)
            let dismissedByPage = try await t.page(.POST, "/scorecards/suggestions/\(third)", browser: &b,
                                                   form: ["_csrf": csrf, "version": "1", "supplier": bm.uuidString, "action": "dismiss", "reason": "已在月度评审中讨论"])
            #expect(dismissedByPage.status == .seeOther)
            let afterPage = try await json(t, .GET, "/api/v1/organizations/\(bm)/suggestions?period=\(last)", buyer)["items"] as! [[String: Any]]
            #expect(afterPage.first { $0["id"] as? String == third }?["status"] as? String == "dismissed")
            let lessons = try await t.page(.GET, "/lessons", browser: &b).body.string
            #expect(lessons.contains(">有效</span>") && lessons.contains(">无效</span>"))
            // Suppliers and items by name beside their codes.
            #expect(lessons.contains("昆山华表表面处理有限公司 SUP-BM") && lessons.contains("电机壳体(机加工件) SF-MH-001"))
        }
    }

    @Test func reviewActionItemsReachBothSides() async throws {
        try await TestApp.run(scenario: true) { t in
            let buyer = try await t.token("purchaser"), jgUser = try await t.token("supplier1"), other = try await t.token("supplier2")
            let jg = try await t.organization(code: "SUP-JG").id!
            _ = try await json(t, .POST, "/api/v1/organizations/\(jg)/reviews", buyer, body: #"{"cadence":"daily","scheduledOn":"2026-10-01"}"#, .unprocessableEntity)
            _ = try await json(t, .POST, "/api/v1/organizations/\(jg)/reviews", buyer, body: #"{"cadence":"monthly","scheduledOn":"2026-13-01"}"#, .badRequest)
            _ = try await json(t, .POST, "/api/v1/organizations/\(jg)/reviews", jgUser, body: #"{"cadence":"monthly","scheduledOn":"2026-10-01"}"#, .forbidden)
            // The end of the calendar is out of reach (the next review would not exist).
            let far = try await json(t, .POST, "/api/v1/organizations/\(jg)/reviews", buyer, body: #"{"cadence":"monthly","scheduledOn":"9999-12-31"}"#, .unprocessableEntity)
            #expect((far["errors"] as? [[String: Any]])?.first?["field"] as? String == "scheduledOn")
            let review = try await json(t, .POST, "/api/v1/organizations/\(jg)/reviews", buyer, body: #"{"cadence":"monthly","scheduledOn":"2026-10-01"}"#, .created)
            let id = review["id"] as! String
            let agenda = review["agenda"] as! [[String: Any]]
            #expect(agenda.first?["key"] as? String == "review.agenda.score")
            #expect(agenda.contains { $0["key"] as? String == "review.agenda.openExceptions" })
            _ = try await json(t, .GET, "/api/v1/reviews/\(id)", jgUser)
            _ = try await json(t, .GET, "/api/v1/reviews/\(id)", other, .notFound)
            _ = try await json(t, .POST, "/api/v1/reviews/\(id)/minutes", buyer, body: #"{"version":1,"minutes":"m","actions":[{"title":"x","ownerSide":"both","dueOn":"2026-10-10"}]}"#, .unprocessableEntity)
            let held = try await json(t, .POST, "/api/v1/reviews/\(id)/minutes", buyer, body: """
                {"version":1,"minutes":"交期与质量回顾","actions":[{"title":"提交产能计划","ownerSide":"supplier","dueOn":"2026-10-10"},{"title":"确认新治具图纸","ownerSide":"buyer","dueOn":"2026-10-12"}]}
                """)
            let actions = held["actions"] as! [[String: Any]]
            #expect(held["status"] as? String == "held" && actions.count == 2)
            _ = try await json(t, .POST, "/api/v1/reviews/\(id)/minutes", buyer, body: #"{"version":2,"minutes":"again","actions":[]}"#, .unprocessableEntity)
            // Both sides find their item on their to-do list.
            func kinds(_ login: String) async throws -> Set<TodoKind> {
                let todo = try await TodoQueries.load(try await t.principal(login), settings: t.settings, today: t.app.subcon.today(), on: t.sql)
                return Set(todo.groups.filter { $0.count > 0 }.map(\.kind))
            }
            #expect(try await kinds("supplier1").contains(.reviewActionSupplier))
            #expect(try await kinds("purchaser").contains(.reviewAction))
            #expect(try await !kinds("supplier2").contains(.reviewActionSupplier))
            let supplierItem = actions.first { $0["ownerSide"] as? String == "supplier" }!["id"] as! String
            let buyerItem = actions.first { $0["ownerSide"] as? String == "buyer" }!["id"] as! String
            _ = try await json(t, .POST, "/api/v1/review-actions/\(buyerItem)/done", jgUser, body: #"{"version":1}"#, .forbidden)
            _ = try await json(t, .POST, "/api/v1/review-actions/\(supplierItem)/done", other, body: #"{"version":1}"#, .notFound)
            _ = try await json(t, .POST, "/api/v1/review-actions/\(supplierItem)/done", jgUser, body: #"{"version":1}"#)
            #expect(try await !kinds("supplier1").contains(.reviewActionSupplier))
            // The review recurs: the next monthly one was planned at once, and it starts with what
            // is still open (the buyer's item) and an agenda drawn from today's records.
            let reviews = try await json(t, .GET, "/api/v1/organizations/\(jg)/reviews", buyer)["items"] as! [[String: Any]]
            let next = try #require(reviews.first { $0["status"] as? String == "planned" })
            #expect(next["scheduledOn"] as? String == "2026-11-01" && next["period"] as? String == "2026-10")
            let nextDetail = try await json(t, .GET, "/api/v1/reviews/\(next["id"] as! String)", buyer)
            #expect((nextDetail["carried"] as? [[String: Any]])?.map { $0["title"] as? String } == ["确认新治具图纸"])
            #expect((nextDetail["agenda"] as? [[String: Any]])?.first?["key"] as? String == "review.agenda.score")
            var b = try await t.signIn("supplier1")
            let page = try await t.page(.GET, "/reviews/\(id)", browser: &b)
            #expect(page.status == .ok && page.body.string.contains("提交产能计划"))
            let home = try await t.page(.GET, "/", browser: &b).body.string
            #expect(!home.contains("todo."))
        }
    }
}
