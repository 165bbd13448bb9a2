import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct PriceTests {
    @Test func agreementsTiersAndPriceInForce() async throws {
        try await TestApp.run { t in
            let purchaser = try await t.token("purchaser")
            let item = try await t.request(.POST, "/api/v1/items", token: try await t.token("planner"),
                                           json: #"{"code":"FG-100","name":"散热器","uom":"件","kind":"finished"}"#)
            let itemID = item.json["id"] as? String ?? ""
            let s1 = try await t.organization(code: "SUP-JG").id!
            let s2 = try await t.organization(code: "SUP-BM").id!
            let a1 = try await t.request(.POST, "/api/v1/price-agreements", token: purchaser, json: """
                {"supplierId":"\(s1)","itemId":"\(itemID)","validFrom":"2026-01-01","validTo":"2026-06-30","unitPrice":"12.5"}
                """)
            #expect(a1.status == .created, "\(a1.body.string)")
            let a2 = try await t.request(.POST, "/api/v1/price-agreements", token: purchaser, json: """
                {"supplierId":"\(s1)","itemId":"\(itemID)","validFrom":"2026-07-01","unitPrice":"12",
                 "tiers":[{"minimumQuantity":"1000","unitPrice":"11.8"},{"minimumQuantity":5000,"unitPrice":"11.25"}]}
                """)
            #expect(a2.status == .created, "\(a2.body.string)")
            let overlap = try await t.request(.POST, "/api/v1/price-agreements", token: purchaser, json: """
                {"supplierId":"\(s1)","itemId":"\(itemID)","validFrom":"2026-06-01","validTo":"2026-07-31","unitPrice":"10"}
                """)
            #expect(overlap.status == .unprocessableEntity)
            _ = try await t.request(.POST, "/api/v1/price-agreements", token: purchaser, json: """
                {"supplierId":"\(s2)","itemId":"\(itemID)","validFrom":"2026-01-01","unitPrice":"9.9"}
                """)
            func price(_ date: String, _ qty: String, token: String? = nil, supplier: UUID? = nil) async throws -> TestingHTTPResponse {
                try await t.request(.GET, "/api/v1/prices/in-force?supplierId=\(supplier ?? s1)&itemId=\(itemID)&date=\(date)&quantity=\(qty)", token: token ?? purchaser)
            }
            #expect(try await price("2026-03-01", "10").json["unitPrice"] as? String == "12.5")
            #expect(try await price("2026-07-01", "999").json["unitPrice"] as? String == "12")
            #expect(try await price("2026-07-01", "1000").json["unitPrice"] as? String == "11.8")
            #expect(try await price("2027-01-01", "8000").json["unitPrice"] as? String == "11.25")
            #expect(try await price("2025-12-31", "1").status == .notFound)

            // Each supplier sees its own prices only.
            let sup1 = try await t.token("supplier1")
            let mine = try await t.request(.GET, "/api/v1/price-agreements", token: sup1)
            #expect(mine.json["total"] as? Int == 2)
            #expect(try await price("2026-03-01", "1", token: sup1, supplier: s2).status == .notFound)
            #expect(try await t.request(.POST, "/api/v1/price-agreements", token: sup1,
                                        json: #"{"supplierId":"\#(s1)","itemId":"\#(itemID)","validFrom":"2030-01-01","unitPrice":"1"}"#).status == .forbidden)
            // Ending the first agreement earlier is a versioned change.
            let id = a1.json["id"] as? String ?? ""
            #expect(try await t.request(.PATCH, "/api/v1/price-agreements/\(id)", token: purchaser, json: #"{"version":1,"validTo":"2026-05-31"}"#).status == .ok)
            #expect(try await t.request(.PATCH, "/api/v1/price-agreements/\(id)", token: purchaser, json: #"{"version":1,"unitPrice":"1"}"#).status == .conflict)
        }
    }
}
