import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

/// The directory's and the items' searches answered from trigram indexes (`SubstringSearch`).
@Suite struct SubstringSearchTests {
    /// Names with what a search must take literally: quotes, LIKE's wildcards, a backslash, mixed
    /// case and Chinese.
    static let names = [#"Ann "Quote" O'Brien"#, #"50%_off\path"#, "苏州精工 张三", "MiXeD CaSe", "a_b wildcard", "李四"]
    static let searches = ["adm", "ADMIN", "Supplier", "pli", "nt1", "苏州精工", "精工 张", "张三", "李", #""Quote""#, "o'b",
                           "50%", "%_o", #"f\pa"#, "a_b", "_", "%", "mixed ca", "e", "zz-nobody", "  quote  ",
                           // What FTS5's query language would read as syntax, and a NUL inside the text.
                           "\"", #"a"b"#, "adm OR plan", "NEAR(a b)", "adm*", "^adm", "a\u{0}dm", "-- ;"]

    @Test func searchesFindWhatAScanFinds() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let users = try await User.query(on: t.db).sort(\.$login).all()
            for (user, name) in zip(users, Self.names) {
                user.displayName = name
                try await user.save(on: t.db)
            }
            let all = try await User.query(on: t.db).all()
            for text in Self.searches {
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                // ASCII-only folding, as SQLite's LOWER and LIKE do.
                func fold(_ s: String) -> String { String(s.map { $0.isASCII ? Character($0.lowercased()) : $0 }) }
                let expected = Set(all.filter { fold($0.login).contains(fold(trimmed)) || fold($0.displayName).contains(fold(trimmed)) }.map(\.login))
                let query = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let r = try await t.request(.GET, "/api/v1/users?per=200&q=\(query)", token: admin)
                if text.contains("\u{0}") {
                    // No text column holds a NUL: refused, naming the parameter.
                    #expect(r.status == .badRequest)
                    #expect((r.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "q")
                    continue
                }
                #expect(r.status == .ok)
                let found = Set((r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["login"] as? String })
                #expect(found == expected, "search \(text)")
                #expect(r.json["total"] as? Int == expected.count, "total of \(text)")
            }
            // Page by page (the page and its total in one statement where the index answers),
            // and past the last page, where no row carries the total.
            for text in ["pli", "sup", "e"] {
                let expected = all.filter { ($0.login + " " + $0.displayName).lowercased().contains(text) }.count
                #expect(expected >= 2)
                var seen: [String] = []
                for page in 1...(expected + 1) {
                    let r = try await t.request(.GET, "/api/v1/users?per=1&page=\(page)&q=\(text)", token: admin)
                    #expect(r.json["total"] as? Int == expected, "total of \(text) on page \(page)")
                    seen += (r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["login"] as? String }
                }
                #expect(seen.count == expected && Set(seen).count == expected && seen == seen.sorted(), "pages of \(text)")
            }
        }
    }

    /// An order is found by its code or by its supplier's code or name.
    @Test func ordersAreFoundByCodeAndSupplier() async throws {
        try await TestApp.run(scenario: true) { t in
            let admin = try await t.token("admin")
            struct Row: Decodable { let code: String; let supplier_code: String; let supplier_name: String }
            let all = try await t.sql.raw("""
                SELECT o.code, s.code AS supplier_code, s.name AS supplier_name FROM outsourcing_orders o JOIN organizations s ON s.id = o.supplier_id
                """).all(decoding: Row.self)
            #expect(all.count > 3)
            let someCode = all[0].code
            for text in [String(someCode.suffix(4)), String(someCode.prefix(3)).lowercased(), someCode, "精工", "苏州精工", "SUP-", "sup-jg",
                         "%", "_", "-0", "no such order"] {
                func fold(_ s: String) -> String { String(s.map { $0.isASCII ? Character($0.lowercased()) : $0 }) }
                let expected = Set(all.filter { [$0.code, $0.supplier_code, $0.supplier_name].contains { fold($0).contains(fold(text)) } }.map(\.code))
                let r = try await t.request(.GET, "/api/v1/orders?per=200&q=\(text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: admin)
                #expect(r.status == .ok)
                let found = Set((r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String })
                #expect(found == expected, "search \(text)")
                #expect(r.json["total"] as? Int == expected.count, "total of \(text)")
            }
            // Page by page (the page and its total in one statement where the index answers),
            // and past the last page, where no row carries the total.
            let code = String(someCode.prefix(3))
            let expected = all.filter { [$0.code, $0.supplier_code, $0.supplier_name].contains { $0.lowercased().contains(code.lowercased()) } }.count
            var seen: [String] = []
            for page in 1...(expected + 1) {
                let r = try await t.request(.GET, "/api/v1/orders?per=1&page=\(page)&q=\(code)", token: admin)
                #expect(r.json["total"] as? Int == expected, "total of \(code) on page \(page)")
                seen += (r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            }
            #expect(seen.count == expected && Set(seen).count == expected, "pages of \(code)")
            // A supplier searching another supplier's name or an order code finds only its own orders.
            let supplier2 = try await t.token("supplier2")
            let own = Set(all.filter { $0.supplier_code == "SUP-BM" }.map(\.code))
            for text in ["SUP-JG", "苏州精工", someCode, String(someCode.prefix(3))] {
                let r = try await t.request(.GET, "/api/v1/orders?per=200&q=\(text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: supplier2)
                let found = Set((r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String })
                #expect(r.status == .ok && found.isSubset(of: own), "supplier2's search \(text) found \(found.subtracting(own))")
            }
            guard !t.app.subcon.isPostgres else { return }
            try await t.sql.raw("""
                INSERT INTO outsourcing_orders_search(outsourcing_orders_search, rowid, code)
                SELECT 'delete', rowid, code FROM outsourcing_orders WHERE code = \(bind: someCode)
                """).run()
            let gone = try await t.request(.GET, "/api/v1/orders?q=\(someCode)", token: admin)
            #expect(gone.json["total"] as? Int == 0, "the index answers the search by code")
        }
    }

    /// The index, not a scan, answers a search of three characters or more: a row taken out of the
    /// index is no longer found that way, and still is by a shorter search. Edits and new rows
    /// reach the index through its triggers.
    @Test func theIndexAnswersAndFollowsChanges() async throws {
        try await TestApp.run { t in
            guard !t.app.subcon.isPostgres else {
                let trgm = try await t.sql.raw("SELECT COUNT(*) AS n FROM pg_extension WHERE extname = 'pg_trgm'").first()
                #expect(try trgm?.decode(column: "n", as: Int.self) == 1)
                return
            }
            let admin = try await t.token("admin")
            let planner = try await t.token("planner")
            func logins(_ q: String) async throws -> Set<String> {
                let r = try await t.request(.GET, "/api/v1/users?per=200&q=\(q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: admin)
                return Set((r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["login"] as? String })
            }
            #expect(try await logins("planner").contains("planner"))
            try await t.sql.raw("""
                INSERT INTO users_search(users_search, rowid, login, display_name)
                SELECT 'delete', rowid, login, display_name FROM users WHERE login = 'planner'
                """).run()
            #expect(try await !logins("planner").contains("planner"))
            #expect(try await logins("pl").contains("planner"))

            let created = try await t.request(.POST, "/api/v1/items", token: planner,
                                              json: #"{"code":"RM-TRIGRAM-1","name":"阳极氧化铝板","uom":"张","kind":"raw_material"}"#)
            #expect(created.status == .created, "\(created.body.string)")
            let id = created.json["id"] as? String ?? ""
            func items(_ q: String) async throws -> [String] {
                let r = try await t.request(.GET, "/api/v1/items?q=\(q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: planner)
                return (r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            }
            #expect(try await items("氧化铝") == ["RM-TRIGRAM-1"])
            #expect(try await items("trigram") == ["RM-TRIGRAM-1"])
            let edit = try await t.request(.PATCH, "/api/v1/items/\(id)", token: planner, json: #"{"version":1,"name":"黄铜棒"}"#)
            #expect(edit.status == .ok)
            #expect(try await items("氧化铝").isEmpty)
            #expect(try await items("黄铜棒") == ["RM-TRIGRAM-1"])
        }
    }
    /// A search's runs of rare trigrams, and when leaving the common ones out is worth it.
    @Test func onlyTheRareTrigramsAreAskedOfTheIndex() {
        // The benchmark's order search `bx-01999`: `bx-`, `x-0` and `-01` in most codes.
        #expect(SubstringSearch.rareRuns([200_000, 200_000, 100_000, 11_593, 1_613, 563]) == [3..<6])
        // Nothing common: the whole text.
        #expect(SubstringSearch.rareRuns([900, 800, 700, 600, 500, 400]) == [0..<6])
        #expect(SubstringSearch.rareRuns([5]) == [0..<1])
        // A common trigram in the middle splits the text in two; none at all leaves the rarest.
        #expect(SubstringSearch.rareRuns([10, 50_000, 10]) == [0..<1, 2..<3])
        #expect(SubstringSearch.rareRuns([0, 40]) == [0..<1])
        let counts = TrigramCounts()
        // 500,000 entries left out against 112 rows to check: yes. The items' `bi0200` (60,000
        // against 115) and the people's `bs0019` (10,000 against 50): no.
        #expect(counts.worthLeavingOut(walked: 511_000, checked: 112))
        #expect(!counts.worthLeavingOut(walked: 60_000, checked: 115))
        #expect(!counts.worthLeavingOut(walked: 10_000, checked: 50))
        #expect(!counts.worthLeavingOut(walked: Int.max, checked: Int.max / 2))
    }

    /// With a trigram that many more rows hold than the text's rarest (as `BX-0` on the large
    /// data set), searches still find exactly what a scan finds: rows that hold only the
    /// rare part of the text are left out by the check against the whole of it.
    @Test func searchesLeavingOutCommonTrigramsFindWhatAScanFinds() async throws {
        try await TestApp.run(scenario: true) { t in
            let planner = try await t.token("planner")
            // `abc` in 89 items, `bcd` and `cde` in two, `abcde` in one.
            for (n, name) in (["xabcdex", "bcde"] + (1...88).map { "abc\($0)号" }).enumerated() {
                try await Item(code: "T-\(n)", name: name, specification: "", uom: "件", kind: .raw, defaultSiteID: nil, now: Date()).create(on: t.db)
            }
            // As if walking the lists of a few rows cost as much as checking one.
            let counts = t.app.subcon.trigramCounts
            counts.walkedPerChecked.withLockedValue { $0 = 10 }
            // The rare part is asked of the index, and the rows checked against the whole text.
            let check = t.app.subcon.isPostgres ? "strpos" : "instr"
            let rare = t.app.subcon.isPostgres ? "%bcde%" : #""bcde""#
            var serializer = SQLSerializer(database: t.sql)
            try await SubstringSearch.items.matches("abcde", on: t.app.reads, counts: counts)!.serialize(to: &serializer)
            #expect(serializer.sql.contains(check) && serializer.binds.contains { $0 as? String == rare }, "\(serializer.sql)")
            // Text of more trigrams than are counted is asked of the index whole.
            var long = SQLSerializer(database: t.sql)
            try await SubstringSearch.items.matches(String(repeating: "abc", count: 11) + "bcde", on: t.app.reads, counts: counts)!.serialize(to: &long)
            #expect(!long.sql.contains(check), "\(long.sql)")

            struct Row: Decodable { let code: String; let name: String; let specification: String }
            let all = try await t.sql.raw("SELECT code, name, specification FROM items").all(decoding: Row.self)
            func fold(_ s: String) -> String { String(s.map { $0.isASCII ? Character($0.lowercased()) : $0 }) }
            for text in ["abcde", "ABCDE", "bcde", "xabc", "abc1号", "c12号", "t-1", "no such one"] {
                let expected = Set(all.filter { [$0.code, $0.name, $0.specification].contains { fold($0).contains(fold(text)) } }.map(\.code))
                let r = try await t.request(.GET, "/api/v1/items?per=200&q=\(text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", token: planner)
                let found = Set((r.json["items"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String })
                #expect(found == expected && r.json["total"] as? Int == expected.count, "search \(text): \(found.sorted()) against \(expected.sorted())")
            }
            // The counts are kept for minutes and go stale: an item that now holds the text is
            // still found, and one that no longer does is not, before they are counted again.
            try await Item(code: "T-NEW", name: "zabcdez", specification: "", uom: "件", kind: .raw, defaultSiteID: nil, now: Date()).create(on: t.db)
            try await t.sql.raw("UPDATE items SET name = 'xabxdex' WHERE code = 'T-0'").run()
            let after = try await t.request(.GET, "/api/v1/items?per=200&q=abcde", token: planner)
            #expect(Set((after.json["items"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }) == ["T-NEW"] && after.json["total"] as? Int == 1)
        }
    }

    /// Searches that need the same counts at once wait for one statement (after a start, 64
    /// order searches each counted the same trigrams), and all get the same counts.
    @Test func searchesThatNeedTheSameCountsAtOnceShareOneStatement() async throws {
        try await TestApp.run(scenario: true) { t in
            let counts = TrigramCounts()
            let reads = t.app.reads
            let answers = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<16 { group.addTask { try await counts.counts(of: ["sup", "up-", "xyz"], in: .organizations, on: reads) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var expected: [Int] = []
            for term in ["sup", "up-", "xyz"] {
                expected.append(try await t.sql.raw("SELECT COUNT(*) AS n FROM organizations WHERE LOWER(code) LIKE \(bind: "%" + term + "%") OR LOWER(name) LIKE \(bind: "%" + term + "%")")
                    .first()!.decode(column: "n", as: Int.self))
            }
            #expect(expected[0] > 1 && expected[2] == 0)
            #expect(answers.count == 16 && answers.allSatisfy { $0 == expected }, "\(answers) against \(expected)")
            #expect(counts.statementsRun.withLockedValue { $0 } == 1)
            // Counted once, they are kept: no statement for the next search.
            #expect(try await counts.counts(of: ["up-", "sup"], in: .organizations, on: reads) == [expected[1], expected[0]])
            #expect(counts.statementsRun.withLockedValue { $0 } == 1)
        }
    }
}
