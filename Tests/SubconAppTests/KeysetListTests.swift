import Foundation
import Testing
import Vapor
@testable import SubconApp
@testable import SubconDomain

/// The API's material lists, walked a page at a time by the key of each page's last row.
struct KeysetListTests {
    /// An accepted order of SUP-JG's (supplier1) with `lines` lines, each its own quantity and due day.
    static func acceptedOrder(_ t: TestApp, lines count: Int) async throws -> String {
        let purchaser = try await t.token("purchaser")
        let jg = try await t.organization(code: "SUP-JG").id!
        let lines = (1...count).map { #"{"itemCode":"FG-RD-002","quantity":"\#($0)","dueDate":"2027-0\#(1 + $0 / 28)-\#(String(format: "%02d", 1 + $0 % 28))"}"# }
        let created = try await t.request(.POST, "/api/v1/orders", token: purchaser, json: #"{"supplierId":"\#(jg)","lines":[\#(lines.joined(separator: ","))]}"#)
        #expect(created.status == .created, "\(created.body.string)")
        let id = created.json["id"] as? String ?? ""
        #expect(try await t.request(.POST, "/api/v1/orders/\(id)/release", token: purchaser, json: #"{"version":1}"#).status == .ok)
        let answers = (1...count).map { #"{"line":\#($0),"answer":"accept"}"# }.joined(separator: ",")
        let answered = try await t.request(.POST, "/api/v1/orders/\(id)/answers", token: try await t.token("supplier1"),
                                           json: #"{"revision":1,"lines":[\#(answers)]}"#)
        #expect(answered.status == .ok, "\(answered.body.string)")
        return id
    }

    /// Each item as its JSON text with sorted keys, so that two answers' rows compare as text.
    static func rows(_ answer: [String: Any]) throws -> [String] {
        try (answer["items"] as? [[String: Any]] ?? []).map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    /// Walks `list` `limit` rows at a time, each page from the `next` of the one before, and
    /// expects `all` in that order; the pages it took.
    static func walk(_ t: TestApp, _ list: String, token: String, limit: Int, expecting all: [String], _ what: String) async throws -> Int {
        let join = list.contains("?") ? "&" : "?"
        var walked: [String] = [], after: String?, pages = 0
        repeat {
            let r = try await t.request(.GET, list + join + "limit=\(limit)" + (after.map { "&after=\($0)" } ?? ""), token: token)
            #expect(r.status == .ok, "\(what): \(r.body.string.prefix(300))")
            let page = try rows(r.json)
            #expect(page.count <= limit)
            after = r.json["next"] as? String
            #expect(after == nil || page.count == limit, "a page with more after it is full")
            walked += page
            pages += 1
        } while after != nil && pages <= all.count
        #expect(walked == all, "\(what) by \(limit): \(walked.count) walked, \(all.count) in the list")
        return pages
    }

    /// The corrective checks (效果验证) of the demo's year, with more closed at one moment as
    /// one of them, walked a page at a time by the quality engineer and by a supplier.
    @Test func theCorrectiveChecksWalkedByTheirKey() async throws {
        try await TestApp.run(scenario: true, adjust: { $0.demoHistory = true }) { t in
            try await t.sql.raw("""
                INSERT INTO corrective_checks (exception_id, supplier_id, item_id, defect_code, opened_at, closed_at, status, before_lots, before_defective,
                                               after_lots, after_defective, linked_exception_id, judged_at, updated_at)
                SELECT e.id, c.supplier_id, c.item_id, c.defect_code, c.opened_at, c.closed_at, 'watching', 1, 0, 0, 0, NULL, NULL, c.updated_at
                  FROM exceptions e CROSS JOIN (SELECT * FROM corrective_checks ORDER BY closed_at DESC LIMIT 1) c
                 WHERE e.id NOT IN (SELECT exception_id FROM corrective_checks)
                """).run()
            struct Row: Decodable { let code: String; let supplier_id: UUID }
            let expected = try await t.sql.raw("""
                SELECT e.code, c.supplier_id FROM corrective_checks c JOIN exceptions e ON e.id = c.exception_id ORDER BY c.closed_at DESC, c.exception_id DESC
                """).all(decoding: Row.self)
            #expect(expected.count > 6, "\(expected.count)")
            let jg = try await t.organization(code: "SUP-JG").id!
            for (login, supplier) in [("quality", nil), ("supplier1", jg)] as [(String, UUID?)] {
                let token = try await t.token(login)
                let all = try Self.rows(try await t.request(.GET, "/api/v1/corrective-checks?limit=500", token: token).json)
                let codes = try all.map { try #require((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["exceptionCode"] as? String) }
                #expect(codes == expected.filter { supplier == nil || $0.supplier_id == supplier }.map(\.code), "\(login)")
                #expect(!all.isEmpty, "\(login)")
                for limit in [1, 3] {
                    let pages = try await Self.walk(t, "/api/v1/corrective-checks", token: token, limit: limit, expecting: all, login)
                    #expect(supplier != nil || pages > 2)
                }
            }
            // The migration's indexes undo and come back; the list reads the same either way.
            let quality = try await t.token("quality")
            let before = try await t.request(.GET, "/api/v1/corrective-checks?limit=500", token: quality).body.string
            // One connection for both: another SQLite connection may still hold the schema from before the drop.
            let db = t.db
            try await AddCorrectiveCheckPageIndexes().revert(on: db)
            #expect(try await t.request(.GET, "/api/v1/corrective-checks?limit=500", token: quality).body.string == before)
            try await AddCorrectiveCheckPageIndexes().prepare(on: db)
            #expect(try await t.request(.GET, "/api/v1/corrective-checks?limit=500", token: quality).body.string == before)
        }
    }

    @Test func everyListWalkedByItsKeyHoldsEachRowOnceInItsOrder() async throws {
        try await TestApp.run(scenario: true) { t in
            let order = try await Self.acceptedOrder(t, lines: 12)
            // Receipts of one moment (the test's clock stands still): the key's last part tells them apart.
            let warehouse = try await t.token("warehouse")
            for line in 1...6 {
                let r = try await t.request(.POST, "/api/v1/receipts", token: warehouse,
                                            json: #"{"orderId":"\#(order)","lines":[{"line":\#(line),"lot":"TIE-\#(line)","quantity":"1"}]}"#)
                #expect(r.status == .created, "\(r.body.string)")
            }
            let lists = ["/api/v1/material/documents", "/api/v1/material/documents?kind=issue", "/api/v1/material/due-to-issue",
                         "/api/v1/material/due-to-arrive", "/api/v1/deliveries", "/api/v1/deliveries?open=true",
                         "/api/v1/receipts", "/api/v1/receipts?awaiting=true", "/api/v1/receipts?orderId=\(order)"]
            var walkedAcrossPages = 0
            for login in ["admin", "warehouse", "supplier1", "supplier2"] {
                let token = try await t.token(login)
                for list in lists {
                    let join = list.contains("?") ? "&" : "?"
                    let whole = try await t.request(.GET, list + join + "limit=500", token: token)
                    #expect(whole.status == .ok && whole.json["next"] == nil, "\(login) \(list): \(whole.body.string.prefix(300))")
                    let all = try Self.rows(whole.json)
                    let first = try await t.request(.GET, list, token: token)
                    #expect(try Self.rows(first.json) == Array(all.prefix(50)), "\(login) \(list): fifty by default")
                    for limit in [1, 4] {
                        let pages = try await Self.walk(t, list, token: token, limit: limit, expecting: all, "\(login) \(list)")
                        if pages > 2 { walkedAcrossPages += 1 }
                    }
                }
            }
            #expect(walkedAcrossPages > 20, "the lists hold enough rows to walk: \(walkedAcrossPages)")
            // The waiting receipts of one moment, each once, from the newest.
            let waiting = try Self.rows(try await t.request(.GET, "/api/v1/receipts?awaiting=true&limit=500&orderId=\(order)", token: warehouse).json)
            #expect(waiting.count == 6)
        }
    }

    @Test func aBadLimitOrCursorIsA400NamingIt() async throws {
        try await TestApp.run { t in
            let token = try await t.token("admin")
            let another = ListCursor([UUID().uuidString, "1"]).token
            let cases: [(String, String)] = [
                ("/api/v1/receipts?limit=0", "limit"), ("/api/v1/receipts?limit=501", "limit"), ("/api/v1/deliveries?limit=ten", "limit"),
                ("/api/v1/receipts?after=%21%21", "after"), ("/api/v1/material/documents?after=W10", "after"),
                ("/api/v1/material/due-to-arrive?after=\(ListCursor(["not an id", "1"]).token)", "after"),
                ("/api/v1/material/due-to-arrive?after=\(ListCursor([UUID().uuidString, "first"]).token)", "after"),
                ("/api/v1/material/due-to-issue?after=\(another)", "after"),
                ("/api/v1/receipts?after=\(another)", "after"), ("/api/v1/deliveries?open=true&after=\(another)", "after"),
                ("/api/v1/material/due-to-arrive?after=" + String(repeating: "A", count: 600), "after"),
            ]
            for (path, field) in cases {
                let r = try await t.request(.GET, path, token: token)
                let fields = (r.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
                #expect(r.status == .badRequest && fields == [field], "\(path): \(r.status) \(r.body.string)")
            }
            // A cursor of a row that is not there: nothing follows it.
            let nowhere = try await t.request(.GET, "/api/v1/receipts?after=\(ListCursor([UUID().uuidString]).token)", token: token)
            #expect(nowhere.status == .ok && (nowhere.json["items"] as? [Any])?.isEmpty == true && nowhere.json["next"] == nil)
        }
    }

    /// Opened whole on the web, a list is fifty rows a page, and "下一页" goes on from the last.
    @Test func aHubListOpenedWholeGoesOnPageByPage() async throws {
        try await TestApp.run(scenario: true) { t in
            _ = try await Self.acceptedOrder(t, lines: 60)
            let all = try Self.rows(try await t.request(.GET, "/api/v1/material/due-to-arrive?limit=500", token: try await t.token("warehouse")).json)
            #expect(all.count > MaterialPages.wholeRows)
            var b = try await t.signIn("warehouse")
            /// Each row of the page's table, its markup.
            func tableRows(_ html: String) -> [String] {
                (html.components(separatedBy: "<tbody>").last?.components(separatedBy: "</tbody>").first ?? "")
                    .components(separatedBy: "<tr>").dropFirst().map { $0 }
            }
            let first = try await t.page(.GET, "/material?list=arrive", browser: &b).body.string
            #expect(tableRows(first).count == MaterialPages.wholeRows && !first.contains("第一页"), "\(first.suffix(800))")
            let link = try #require(first.components(separatedBy: "<a href=\"/material?list=arrive&amp;after=").dropFirst().first?.prefix { $0 != "\"" })
            #expect(first.contains("下一页 &rarr;</a>"))
            let second = try await t.page(.GET, "/material?list=arrive&after=\(link)", browser: &b)
            #expect(second.status == .ok)
            let rest = tableRows(second.body.string)
            #expect(rest.count == all.count - MaterialPages.wholeRows, "\(rest.count) of \(all.count)")
            #expect(Set(tableRows(first) + rest).count == all.count, "no row shown twice")
            #expect(second.body.string.contains("<a href=\"/material?list=arrive\">&larr; 第一页</a>") && !second.body.string.contains("下一页"))
            // A stale or made-up position is a 400 that names the field in the page's language.
            let bad = try await t.page(.GET, "/material?list=arrive&after=nonsense!", browser: &b)
            #expect(bad.status == .badRequest && bad.body.string.contains("翻页位置") && !bad.body.string.contains("after:"), "\(bad.body.string)")
        }
    }
}
