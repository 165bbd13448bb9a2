import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct BOMTests {
    /// Items F ← S ← R, SCREW and F ← C1; returns their ids by code.
    func seedItems(_ t: TestApp, _ token: String) async throws -> [String: String] {
        var ids: [String: String] = [:]
        for (code, kind) in [("F", "finished"), ("S", "semi_finished"), ("R", "raw_material"), ("SCREW", "raw_material"), ("C1", "raw_material")] {
            let r = try await t.request(.POST, "/api/v1/items", token: token,
                                        json: #"{"code":"\#(code)","name":"物料 \#(code)","uom":"PCS","kind":"\#(kind)"}"#)
            ids[code] = r.json["id"] as? String
        }
        return ids
    }

    @Test func explosionThroughTheAPIIsExact() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let ids = try await seedItems(t, planner)
            let f = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner, json: """
                {"validFrom":"2026-01-01","lines":[{"component":"S","quantityPer":"2","scrapPercent":"5"},
                 {"component":"C1","quantityPer":"0.5","supplyBy":"supplier"}]}
                """)
            #expect(f.status == .created, "\(f.body.string)")
            let s = try await t.request(.POST, "/api/v1/items/\(ids["S"]!)/boms", token: planner, json: """
                {"validFrom":"2026-01-01","lines":[{"component":"R","quantityPer":"1.25","scrapPercent":"2"},{"component":"SCREW","quantityPer":4}]}
                """)
            #expect(s.status == .created)
            let e = try await t.request(.GET, "/api/v1/items/\(ids["F"]!)/explosion?quantity=10&date=2026-03-01", token: planner)
            #expect(e.status == .ok)
            let lines = e.json["lines"] as? [[String: Any]] ?? []
            let gross = Dictionary(uniqueKeysWithValues: lines.map { ($0["componentCode"] as! String, $0["grossQuantity"] as! String) })
            #expect(gross == ["S": "21", "R": "26.775", "SCREW": "84", "C1": "5"])
            let before = try await t.request(.GET, "/api/v1/items/\(ids["F"]!)/explosion?quantity=10&date=2025-12-31", token: planner)
            #expect((before.json["lines"] as? [Any])?.isEmpty == true)
            let bad = try await t.request(.GET, "/api/v1/items/\(ids["F"]!)/explosion?quantity=-1&date=2026-13-01", token: planner)
            #expect(bad.status == .badRequest)
        }
    }

    @Test func cyclesAndOverlapsAreRefused() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let ids = try await seedItems(t, planner)
            _ = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner,
                                    json: #"{"validFrom":"2026-01-01","lines":[{"component":"S","quantityPer":"1"}]}"#)
            let cycle = try await t.request(.POST, "/api/v1/items/\(ids["S"]!)/boms", token: planner,
                                            json: #"{"validFrom":"2026-01-01","lines":[{"component":"F","quantityPer":"1"}]}"#)
            #expect(cycle.status == .unprocessableEntity)
            let message = (cycle.json["errors"] as? [[String: Any]])?.first?["message"] as? String ?? ""
            #expect(message.contains("F → S → F") || message.contains("S → F → S"), "\(message)")
            let overlap = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner,
                                              json: #"{"validFrom":"2026-06-01","lines":[{"component":"C1","quantityPer":"1"}]}"#)
            #expect(overlap.status == .unprocessableEntity)
            let unknown = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner,
                                              json: #"{"validFrom":"2027-01-01","lines":[{"component":"NOPE","quantityPer":"1"}]}"#)
            #expect(unknown.status == .unprocessableEntity)
            let float = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner,
                                            json: #"{"validFrom":"2027-01-01","lines":[{"component":"C1","quantityPer":0.1}]}"#)
            #expect(float.status == .badRequest)
            #expect(try await BOMHeader.query(on: t.db).count() == 1)
        }
    }

    @Test func closingAVersionLetsTheNextOneStart() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let ids = try await seedItems(t, planner)
            let v1 = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner,
                                         json: #"{"validFrom":"2026-01-01","lines":[{"component":"S","quantityPer":"1"}]}"#)
            let bomID = v1.json["id"] as? String ?? ""
            let closed = try await t.request(.PATCH, "/api/v1/boms/\(bomID)", token: planner, json: #"{"version":1,"validTo":"2026-06-30"}"#)
            #expect(closed.status == .ok, "\(closed.body.string)")
            let stale = try await t.request(.PATCH, "/api/v1/boms/\(bomID)", token: planner, json: #"{"version":1,"validTo":"2026-05-31"}"#)
            #expect(stale.status == .conflict)
            let v2 = try await t.request(.POST, "/api/v1/items/\(ids["F"]!)/boms", token: planner,
                                         json: #"{"validFrom":"2026-07-01","lines":[{"component":"C1","quantityPer":"3"}]}"#)
            #expect(v2.status == .created)
            #expect(v2.json["number"] as? Int == 2)
        }
    }

    @Test func bomFormTakesPastedLines() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let ids = try await seedItems(t, planner)
            var b = try await t.signIn("planner")
            let csrf = try await t.csrf(&b)
            let bad = try await t.page(.POST, "/items/\(ids["S"]!)/boms", browser: &b,
                                       form: ["_csrf": csrf, "validFrom": "2026-01-01", "lines": "R abc"])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("第 1 行格式不正确"))
            let ok = try await t.page(.POST, "/items/\(ids["S"]!)/boms", browser: &b,
                                      form: ["_csrf": csrf, "validFrom": "2026-01-01", "lines": "R\t1.25\t2%\nSCREW, 4, 0, supplier"])
            #expect(ok.status == .seeOther)
            let page = try await t.page(.GET, "/items/\(ids["S"]!)?quantity=21&date=2026-03-01", browser: &b)
            #expect(page.body.string.contains("26.775"))
            #expect(page.body.string.contains("供应商自购"))
        }
    }
}
