import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct RoutingTests {
    @Test func routingIsReplacedAsAWholeWithItsVersion() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let item = try await t.request(.POST, "/api/v1/items", token: planner, json: #"{"code":"FG-7","name":"壳体","uom":"件","kind":"finished"}"#)
            let id = item.json["id"] as? String ?? ""
            let empty = try await t.request(.GET, "/api/v1/items/\(id)/routing", token: planner)
            #expect(empty.json["version"] as? Int == 0)
            let missingSupplier = try await t.request(.PUT, "/api/v1/items/\(id)/routing", token: planner, json: """
                {"version":0,"operations":[{"sequence":10,"code":"CNC","name":"数控加工","mode":"in_house"},
                 {"sequence":20,"code":"ANOD","name":"阳极氧化","mode":"outsourced"}]}
                """)
            #expect(missingSupplier.status == .unprocessableEntity)
            let ok = try await t.request(.PUT, "/api/v1/items/\(id)/routing", token: planner, json: """
                {"version":0,"operations":[{"sequence":20,"code":"ANOD","name":"阳极氧化","mode":"outsourced","defaultSupplier":"SUP-BM"},
                 {"sequence":10,"code":"CNC","name":"数控加工","mode":"in_house"}]}
                """)
            #expect(ok.status == .ok, "\(ok.body.string)")
            let ops = ok.json["operations"] as? [[String: Any]] ?? []
            #expect(ops.map { $0["code"] as? String } == ["CNC", "ANOD"])
            #expect(ops.last?["defaultSupplierCode"] as? String == "SUP-BM")
            let stale = try await t.request(.PUT, "/api/v1/items/\(id)/routing", token: planner, json: #"{"version":0,"operations":[]}"#)
            #expect(stale.status == .conflict)
            let unknown = try await t.request(.PUT, "/api/v1/items/\(id)/routing", token: planner, json: """
                {"version":1,"operations":[{"sequence":10,"code":"HT","name":"热处理","mode":"outsourced","defaultSupplier":"NOPE"}]}
                """)
            #expect(unknown.status == .unprocessableEntity)
            #expect(try await t.request(.GET, "/api/v1/items/\(id)/routing", token: try await t.token("supplier1")).status == .forbidden)
        }
    }
}
