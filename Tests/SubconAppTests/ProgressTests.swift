import Fluent
import Foundation
import NIOCore
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

@Suite struct ProgressTests {
    /// Waits for the next live event matching `order` (generously: a slow machine must not fail
    /// the test; the latency itself is measured by bench/live.sh).
    static func next(_ events: AsyncStream<LiveEvent>, order: String) async -> LiveEvent? {
        await withTaskGroup(of: LiveEvent?.self) { group in
            group.addTask { for await e in events where e.orderId.uuidString == order.uppercased() { return e }; return nil }
            group.addTask { try? await Task.sleep(nanoseconds: 20_000_000_000); return nil }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func aRetriedReportIsRecordedOnceAndStartsProduction() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            let body = #"{"line":1,"good":"120","scrap":"3","stage":"粗加工","note":"夜班"}"#
            var statuses: [UInt] = []
            for _ in 0..<2 {
                let r = try await t.request(.POST, "/api/v1/orders/\(order)/progress", token: m.f.supplier1, json: body, headers: [("Idempotency-Key", "rpt-1")])
                statuses.append(r.status.code)
            }
            #expect(statuses == [201, 201])
            #expect(try await ProgressReport.query(on: t.db).count() == 1)
            #expect(try await m.f.order(order)["status"] as? String == "in_production")
            let progress = try await m.get("/api/v1/orders/\(order)/progress", m.f.purchaser)
            let line = (progress["lines"] as? [[String: Any]] ?? []).first { $0["line"] as? Int == 1 } ?? [:]
            #expect(line["good"] as? String == "120")
            #expect(line["scrap"] as? String == "3")
            #expect(line["percent"] as? Int == 12)
        }
    }

    /// 100 good on day 0 and 200 on day 10 of 1000: 700 more at 30 a day take 24 days (23.3
    /// rounded up); the line is due earlier than that, so it is late — one delay exception, ever.
    @Test func projectionOnAHandComputedCaseOpensOneDelayException() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            _ = try await m.post("/api/v1/orders/\(order)/progress", m.f.supplier1, #"{"line":1,"good":"100"}"#)
            t.clock.advance(by: 10 * 86_400)
            let supplier = try await t.token("supplier1"), buyer = try await t.token("purchaser")
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":1,"good":"200"}"#)
            let today = t.app.subcon.today()
            let line = ((try await m.get("/api/v1/orders/\(order)/progress", buyer))["lines"] as? [[String: Any]] ?? []).first { $0["line"] as? Int == 1 } ?? [:]
            let due = Day(line["dueDate"] as? String ?? "")!
            let eta = today.adding(days: 24)
            #expect(line["eta"] as? String == eta.description)
            #expect(line["daysLate"] as? Int == eta.ordinal - due.ordinal)
            #expect(line["risk"] as? String == "late")
            let delays = try await ExceptionCase.query(on: t.db).filter(\.$type == "delay").all()
            #expect(delays.count == 1)
            // Reporting again, or promising a date, never opens a second one.
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":1,"good":"10"}"#)
            t.clock.advance(by: 60)
            _ = try await m.post("/api/v1/orders/\(order)/promises", supplier, #"{"line":1,"date":"\#(today.adding(days: 40))","reason":"主轴故障","delayReason":"equipment"}"#)
            #expect(try await ExceptionCase.query(on: t.db).filter(\.$type == "delay").count() == 1)
            // Line 2 is on track: nothing reported yet, due later.
            #expect(try await ExceptionCase.query(on: t.db).filter(\.$sourceID == "\(order.uppercased()):2").count() == 0)
            // A promise later than the projection counts; the history keeps both.
            let after = try await m.get("/api/v1/orders/\(order)/progress", buyer)
            #expect((after["lines"] as? [[String: Any]] ?? []).first?["promisedDate"] as? String == today.adding(days: 40).description)
            #expect((after["promises"] as? [[String: Any]] ?? []).count == 1)
            // The timeline has it all, newest first.
            let kinds = (try await m.items("/api/v1/orders/\(order)/timeline", supplier)).compactMap { $0["kind"] as? String }
            #expect(kinds.first == "promise.stated")
            #expect(kinds.contains("progress.reported") && kinds.contains("exception.delay") && kinds.contains("revision.answered") && kinds.last == "order.created")
            // Bad input.
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":1,"good":"0"}"#, .unprocessableEntity)
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":1,"good":"-1"}"#, .unprocessableEntity)
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":9,"good":"1"}"#, .unprocessableEntity)
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":1,"good":"741"}"#, .unprocessableEntity)
            _ = try await m.post("/api/v1/orders/\(order)/promises", supplier, #"{"line":1,"date":"2020-01-01"}"#, .unprocessableEntity)
            // Once the order is no longer worked on, nothing is projected: 310 of 1000 were
            // reported, yet every line is done, on its last report's day.
            try await t.sql.raw("UPDATE outsourcing_orders SET status = 'closed' WHERE id = \(bind: UUID(uuidString: order)!)").run()
            let closed = (try await m.get("/api/v1/orders/\(order)/progress", buyer))["lines"] as? [[String: Any]] ?? []
            #expect(!closed.isEmpty)
            #expect(closed.allSatisfy { $0["risk"] as? String == "done" })
            let finished = closed.first { $0["line"] as? Int == 1 } ?? [:]
            #expect(finished["eta"] as? String == today.description)
            #expect(finished["daysLate"] as? Int == max(0, today.ordinal - due.ordinal))
            let unreported = try #require(closed.first { $0["line"] as? Int == 2 })
            #expect(unreported["eta"] as? String == nil && unreported["daysLate"] as? Int == 0)
            // The order's page heads that column as the day the lines finished, and projects no delay.
            var b = try await t.signIn("purchaser")
            let page = try await t.page(.GET, "/orders/\(order)", browser: &b).body.string
            #expect(page.contains("完成日期") && !page.contains("预计完成"))
        }
    }

    /// A report projects its order's lines from what it read before its insert, with itself
    /// added in memory, and writes only the lines that moved. What it keeps on the lines and the
    /// order must equal a projection made afresh from the records.
    @Test func whatAReportKeepsOnTheLinesEqualsAProjectionMadeAfresh() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            struct Kept: Decodable, Hashable {
                let line_no: Int, eta: String?, days_late: Int, risk: String, promised_date: String?, reported_quantity: Int64, order_late: Int?
            }
            func kept() async throws -> [Kept] {
                try await t.sql.raw("""
                    SELECT l.line_no, l.eta, l.days_late, l.risk, l.promised_date, l.reported_quantity, o.days_late AS order_late
                      FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id WHERE l.order_id = \(bind: UUID(uuidString: order)!) ORDER BY l.line_no
                    """).all(decoding: Kept.self)
            }
            _ = try await m.post("/api/v1/orders/\(order)/progress", m.f.supplier1, #"{"line":1,"good":"100"}"#)
            t.clock.advance(by: 10 * 86_400)
            let supplier = try await t.token("supplier1")
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":1,"good":"200","scrap":"4"}"#)
            _ = try await m.post("/api/v1/orders/\(order)/progress", supplier, #"{"line":2,"good":"5"}"#)
            t.clock.advance(by: 2 * 86_400)
            let later = try await t.token("supplier1")
            _ = try await m.post("/api/v1/orders/\(order)/progress", later, #"{"line":1,"good":"30"}"#)
            // Line 2 finished today: a finished line's date is its last report's.
            struct Q: Decodable { let quantity: Int64 }
            let two = try #require(try await t.sql.raw("SELECT quantity FROM order_lines WHERE order_id = \(bind: UUID(uuidString: order)!) AND line_no = 2").first(decoding: Q.self))
            let rest = try FixedDecimal(units: two.quantity).subtracting(FixedDecimal(5))
            _ = try await m.post("/api/v1/orders/\(order)/progress", later, #"{"line":2,"good":"\#(rest)"}"#)
            let afterReports = try await kept()
            #expect(afterReports.first { $0.line_no == 1 }?.risk == "late", "the case is the hand-computed one above: line 1 is late")
            #expect(afterReports.first { $0.line_no == 1 }?.reported_quantity == FixedDecimal(330).units)
            #expect(afterReports.first?.order_late == afterReports.first { $0.line_no == 1 }?.days_late)
            #expect(afterReports.first { $0.line_no == 2 }?.eta == t.app.subcon.today().description)
            try await t.app.write(as: .system) { change in
                try await LineLateness.store(UUID(uuidString: order)!, in: change)
                try await ShipReadiness.refresh(UUID(uuidString: order)!, on: change.db as! any SQLDatabase)
            }
            #expect(try await kept() == afterReports)
        }
    }

    @Test func supplierScopeAndRoles() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            let report = try await m.post("/api/v1/orders/\(order)/progress", m.f.supplier1, #"{"line":1,"good":"5"}"#)["id"] as? String ?? ""
            for path in ["progress", "timeline", "events"] {
                #expect(try await t.request(.GET, "/api/v1/orders/\(order)/\(path)", token: m.f.supplier2).status == .notFound, "\(path)")
            }
            for (path, body) in [("progress", #"{"line":1,"good":"1"}"#), ("promises", #"{"line":1,"date":"2027-01-01"}"#)] {
                #expect(try await t.request(.POST, "/api/v1/orders/\(order)/\(path)", token: m.f.supplier2, json: body).status == .notFound)
                #expect(try await t.request(.POST, "/api/v1/orders/\(order)/\(path)", token: m.warehouse, json: body).status == .forbidden)
            }
            let photo = try await t.app.testing().sendRequest(.POST, "/api/v1/orders/\(order)/progress/\(report)/photos?filename=a.png",
                                                              headers: ["Authorization": "Bearer \(m.f.supplier2)"], body: ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            #expect(photo.status == .notFound)
            // Only images, for the supplier itself.
            let pdf = try await t.app.testing().sendRequest(.POST, "/api/v1/orders/\(order)/progress/\(report)/photos?filename=a.pdf",
                                                            headers: ["Authorization": "Bearer \(m.f.supplier1)"], body: ByteBuffer(string: "%PDF-1.4\n"))
            #expect(pdf.status == .unprocessableEntity)
            let png = try await t.app.testing().sendRequest(.POST, "/api/v1/orders/\(order)/progress/\(report)/photos?filename=a.png",
                                                            headers: ["Authorization": "Bearer \(m.f.supplier1)"],
                                                            body: ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]))
            #expect(png.status == .created)
        }
    }

    /// A report reaches an open stream of the same instance, and — on PostgreSQL — one of a
    /// second instance sharing the database, through LISTEN/NOTIFY.
    @Test func aReportReachesLiveStreamsOnThisAndAnotherInstance() async throws {
        try await TestApp.run(live: true) { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            let here = t.app.subcon.live.subscribe()
            if t.app.subcon.isPostgres {
                try await t.sibling { other in
                    let there = other.app.subcon.live.subscribe()
                    _ = try await m.post("/api/v1/orders/\(order)/progress", m.f.supplier1, #"{"line":1,"good":"7"}"#)
                    let remote = await Self.next(there.events, order: order)
                    #expect(remote?.kind == "progress")
                    #expect(remote?.line == 1)
                }
            } else {
                _ = try await m.post("/api/v1/orders/\(order)/progress", m.f.supplier1, #"{"line":1,"good":"7"}"#)
            }
            let local = await Self.next(here.events, order: order)
            #expect(local?.kind == "progress")
            // A refused report publishes nothing.
            let quiet = t.app.subcon.live.subscribe()
            _ = try await m.post("/api/v1/orders/\(order)/progress", m.f.supplier1, #"{"line":1,"good":"0"}"#, .unprocessableEntity)
            t.app.subcon.live.unsubscribe(quiet.id)
            var heard: [LiveEvent] = []
            for await e in quiet.events { heard.append(e) }
            #expect(heard.isEmpty)
        }
    }

    /// From the phone: the work list, the report form, a resent form recorded once, the order
    /// page with progress and timeline; another supplier gets nothing.
    @Test func theSupplierReportsFromItsPhonePages() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            var s = try await t.signIn("supplier1")
            let csrf = try await t.csrf(&s)
            let work = try await t.page(.GET, "/work", browser: &s).body.string
            #expect(work.contains("/orders/\(order)/report?line=1") && work.contains("报工"))
            // A page of cards at a time, each line on one page only.
            let cards = work.components(separatedBy: "class=\"card work-card").count - 1
            #expect(cards >= 2)
            var seen: [String] = []
            for n in 1...cards {
                let one = try await t.page(.GET, "/work?per=1&page=\(n)", browser: &s).body.string
                let links = one.components(separatedBy: "/report?line=").dropFirst().map { String($0.prefix { $0 != "\"" }) }
                #expect(links.count == 1 && one.contains("class=\"pager\"") && one.contains("page=\(n + 1)") == (n < cards), "page \(n)")
                seen += links
            }
            #expect(Set(seen).count == cards)
            let form = try await t.page(.GET, "/orders/\(order)/report?line=2", browser: &s).body.string
            #expect(form.contains("name=\"key\"") && form.contains("capture=\"environment\""))
            // The form says what it is (not the saved reports' "报表") and names each line's item with its unit.
            let code = try #require(try await m.f.order(order)["code"] as? String)
            let lineItem = try #require(try await OrderLineRow.query(on: t.db).filter(\.$orderID == UUID(uuidString: order)!).filter(\.$number == 1).first())
            let item = try #require(try await Item.find(lineItem.itemID, on: t.db))
            #expect(form.contains("<h1>报工 \(code)</h1>"), "\(form.prefix(600))")
            #expect(form.contains(item.name) && form.contains(" \(item.uom)</span>"))
            let fields = ["_csrf": csrf, "key": "k-1", "line": "2", "good": "12", "scrap": "1", "stage": "装配", "note": "首批"]
            for _ in 0..<2 {
                let r = try await t.page(.POST, "/orders/\(order)/report", browser: &s, form: fields)
                #expect(r.status == .seeOther, "\(r.body.string.prefix(300))")
            }
            #expect(try await ProgressReport.query(on: t.db).count() == 1)
            let bad = try await t.page(.POST, "/orders/\(order)/report", browser: &s, form: ["_csrf": csrf, "key": "k-2", "line": "2", "good": "abc"])
            #expect(bad.status == .unprocessableEntity)
            // More than the line can take: the field says how much more, with the unit.
            let tooMany = try await t.page(.POST, "/orders/\(order)/report", browser: &s, form: ["_csrf": csrf, "key": "k-3", "line": "1", "good": "99999"])
            #expect(tooMany.status == .unprocessableEntity)
            let said = tooMany.body.string.components(separatedBy: "最多还可报 ").dropFirst().first?.prefix { $0 != "<" } ?? ""
            #expect(said.hasSuffix(" \(item.uom)") && said.first?.isNumber == true, "\(said)")
            var b = try await t.signIn("purchaser")
            let page = try await t.page(.GET, "/orders/\(order)", browser: &b).body.string
            #expect(page.contains("生产进度") && page.contains("12 / 50") && page.contains("订单时间线") && page.contains("data-live=\"/orders/\(order)/events\""))
            // The progress table names the item and the quantities' unit.
            let line2 = try #require(try await OrderLineRow.query(on: t.db).filter(\.$orderID == UUID(uuidString: order)!).filter(\.$number == 2).first())
            let item2 = try #require(try await Item.find(line2.itemID, on: t.db))
            #expect(page.contains("12 / 50 \(item2.uom)") && page.contains(item2.name))
            var other = try await t.signIn("supplier2")
            #expect(try await t.page(.GET, "/orders/\(order)/report", browser: &other).status == .notFound)
            #expect(try await t.page(.GET, "/orders/\(order)/events", browser: &other).status == .notFound)
            #expect(try await t.page(.GET, "/work", browser: &other).status == .ok)
        }
    }

    /// The work list holds the open lines of every working order of the supplier, however many
    /// it has, most urgent first: a late line of its oldest order leads, ahead of a hundred newer
    /// orders (the list once read only the latest hundred, and never showed it); a line reported
    /// done and an order not yet accepted are not work; the pages partition the list.
    @Test func theWorkListHoldsEveryWorkingOrderMostUrgentFirst() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let oldest = UUID(uuidString: try await m.acknowledgedOrder())!
            t.clock.advance(by: 3600)
            let newer = UUID(uuidString: try await m.acknowledgedOrder())!
            _ = try await m.f.releasedOrder()
            // A hundred newer working orders, due next year: copied in SQL, since a hundred
            // through the API would be most of this test's time.
            for n in 1...100 {
                let id = UUID()
                try await t.sql.raw("""
                    INSERT INTO outsourcing_orders (id, code, supplier_id, plan_id, status, currency, revision, note, version, created_by, created_at, updated_at)
                    SELECT \(bind: id), \(bind: "FILL-\(1000 + n)"), supplier_id, plan_id, status, currency, revision, note, version, created_by,
                           \(bind: t.clock.now().addingTimeInterval(Double(7200 + n))), updated_at
                      FROM outsourcing_orders WHERE id = \(bind: newer)
                    """).run()
                for line in 1...2 {
                    try await t.sql.raw("""
                        INSERT INTO order_lines (id, order_id, line_no, item_id, operation, quantity, due_date, unit_price, state)
                        SELECT \(bind: UUID()), \(bind: id), line_no, item_id, operation, quantity, '2027-06-30', unit_price, state
                          FROM order_lines WHERE order_id = \(bind: newer) AND line_no = \(bind: line)
                        """).run()
                }
            }
            // Line 2 of the newer order reported done; then the calendar moves past both due days.
            _ = try await m.post("/api/v1/orders/\(newer)/progress", m.f.supplier1, #"{"line":2,"good":"50"}"#)
            t.clock.advance(by: Double(Day("2026-10-27")!.ordinal - t.app.subcon.today().ordinal) * 86_400)
            try await ProgressService.sweep(app: t.app)

            var s = try await t.signIn("supplier1")
            func cards(_ query: String) async throws -> [String] {
                let page = try await t.page(.GET, "/work" + query, browser: &s).body.string
                return page.components(separatedBy: "href=\"/orders/").dropFirst().compactMap { part -> String? in
                    let link = String(part.prefix { $0 != "\"" })
                    return link.contains("/report?line=") ? link.lowercased() : nil
                }
            }
            let first = try await cards("?per=3")
            let o = oldest.uuidString.lowercased(), w = newer.uuidString.lowercased()
            #expect(first == ["\(o)/report?line=1", "\(w)/report?line=1", "\(o)/report?line=2"], "\(first)")
            // 2 + 1 + 200 lines: four full pages of fifty and three on the fifth.
            #expect(try await cards("?page=5").count == 3)
            #expect(try await cards("?page=6").isEmpty)
            var all: [String] = []
            for n in 1...5 { all += try await cards("?page=\(n)") }
            #expect(all.count == 203 && Set(all).count == 203 && !all.contains("\(w)/report?line=2"))
            let kept = try await KeptCounts.workLines.total(["supplier_id": try await m.f.supplierID("SUP-JG")], on: t.sql)
            #expect(kept == 203)
            // The same list for a program (signed in anew: the calendar moved past the fixture's tokens).
            let supplierToken = try await t.token("supplier1")
            let api = try await m.get("/api/v1/work?per=3", supplierToken)
            let items = try #require(api["items"] as? [[String: Any]])
            #expect(api["total"] as? Int == 203)
            #expect(items.map { "\(($0["orderId"] as? String ?? "").lowercased())/report?line=\(($0["line"] as? [String: Any])?["line"] as? Int ?? 0)" } == first)
            #expect((items.first?["line"] as? [String: Any])?["risk"] as? String == "late")
            #expect(try await t.request(.GET, "/api/v1/work", token: try await t.token("purchaser")).status == .forbidden)
            // The manufacturer's admin sees every supplier's, in the same order.
            let admin = try await m.get("/api/v1/work?per=3", try await t.token("admin"))
            #expect(admin["total"] as? Int == 203 && (admin["items"] as? [[String: Any]])?.count == 3)
            // ... each card naming the supplier, on the page too.
            #expect((admin["items"] as? [[String: Any]])?.allSatisfy { $0["supplierName"] as? String == "苏州精工机械有限公司" } == true, "\(admin)")
            var adminBrowser = try await t.signIn("admin")
            #expect(try await t.page(.GET, "/work?per=3", browser: &adminBrowser).body.string.contains("<span class=\"muted\">苏州精工机械有限公司</span></div>"))
            #expect(!(try await t.page(.GET, "/work?per=3", browser: &s).body.string.contains("<span class=\"muted\">苏州精工机械有限公司</span></div>")))
            #expect(try await t.request(.GET, "/api/v1/work?per=0", token: supplierToken).status == .badRequest)
            // The other supplier's list has none of it.
            var other = try await t.signIn("supplier2")
            let theirs = try await t.page(.GET, "/work", browser: &other).body.string
            #expect(!theirs.contains(o) && !theirs.contains(w) && !theirs.contains("FILL-"))
        }
    }

    /// Without any report, a line far enough past its due date is late by the calendar alone:
    /// the background sweep opens its delay exception, once, and the order list flags it. A
    /// second sweep on the same day finds nothing to write.
    @Test func theSweepFindsLinesLateByTheCalendar() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            try await ProgressService.sweep(app: t.app)
            #expect(try await ExceptionCase.query(on: t.db).filter(\.$type == "delay").count() == 0)
            // Line 1 is due 2026-10-20 and line 2 2026-10-25; move to 2026-10-27.
            let today = t.app.subcon.today()
            t.clock.advance(by: Double(Day("2026-10-27")!.ordinal - today.ordinal) * 86_400)
            // A revision stores projections without opening exceptions: the stored projection is
            // current, and the late line still gets its exception from the sweep.
            try await t.app.write(as: .system) { try await LineLateness.store(UUID(uuidString: order)!, in: $0) }
            #expect(try await ProgressService.sweep(app: t.app) == 1)
            #expect(try await ProgressService.sweep(app: t.app) == 0)
            let delays = try await ExceptionCase.query(on: t.db).filter(\.$type == "delay").all()
            #expect(delays.map(\.sourceID) == ["\(order.uppercased()):1"])
            let buyer = try await t.token("purchaser")
            let listed = try await m.items("/api/v1/orders?per=200", buyer).first { $0["id"] as? String == order.uppercased() || $0["id"] as? String == order }
            #expect(listed?["projectedLate"] as? Bool == true)
            // The supplier is asked for a reason on its to-do; the buyer finds the line on the late-lines page.
            var s = try await t.signIn("supplier1")
            let home = try await t.page(.GET, "/", browser: &s).body.string
            #expect(home.contains("说明延期原因"))
            #expect(home.contains("/orders/\(order.uppercased())/report?line=") || home.contains("/orders/\(order.lowercased())/report?line="))
            var b = try await t.signIn("purchaser")
            let late = try await t.page(.GET, "/late-lines", browser: &b).body.string
            #expect(late.contains("/orders/\(order.uppercased())") || late.contains("/orders/\(order.lowercased())"))
        }
    }
}
