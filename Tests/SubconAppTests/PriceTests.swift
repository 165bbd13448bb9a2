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

@Suite struct PricePageTests {
    @Test func purchaserAddsChangesAndEndsAnAgreementFromThePages() async throws {
        try await TestApp.run { t in
            _ = try await t.request(.POST, "/api/v1/items", token: try await t.token("planner"),
                                    json: #"{"code":"SF-1","name":"壳体机加件","uom":"件","kind":"semi_finished"}"#)
            let jg = try await t.organization(code: "SUP-JG").id!
            var b = try await t.signIn("purchaser")
            let csrf = try await t.csrf(&b)
            let form = try await t.page(.GET, "/prices/new", browser: &b)
            #expect(form.status == .ok && form.body.string.contains("<select name=\"supplierId\" required>")
                    && form.body.string.contains("<option value=\"\(jg)\">SUP-JG · "))
            // Bad input comes back as the form with inline messages, and nothing is stored.
            let bad = try await t.page(.POST, "/prices", browser: &b, form: [
                "_csrf": csrf, "supplierId": jg.uuidString, "itemCode": "NOPE", "unitPrice": "-1", "validFrom": "2026-01-01", "tiers": "1000:2"])
            #expect(bad.status == .unprocessableEntity && bad.body.string.contains("<option value=\"\(jg)\" selected>SUP-JG · "))
            #expect(bad.body.string.contains("物料 NOPE 不存在"))
            #expect(bad.body.string.contains("阶梯价格式应为"))
            #expect(try await PriceAgreementRow.query(on: t.db).count() == 0)
            let made = try await t.page(.POST, "/prices", browser: &b, form: [
                "_csrf": csrf, "supplierId": jg.uuidString, "itemCode": "SF-1", "operation": "", "unitPrice": "12.50", "currency": "cny",
                "validFrom": "2026-01-01", "validTo": "", "tiers": "1000=12; 5000=11.5"])
            #expect(made.status == .seeOther, "\(made.body.string)")
            let location = made.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            let row = try await PriceAgreementRow.query(on: t.db).first()!
            #expect(row.currency == "CNY" && row.tiers.count == 2)
            let shown = try await t.page(.GET, location, browser: &b)
            #expect(shown.body.string.contains("1000=12; 5000=11.5"))
            let list = try await t.page(.GET, "/prices?q=壳体&current=true", browser: &b)
            #expect(list.body.string.contains("SUP-JG") && list.body.string.contains("生效中"))

            let saved = try await t.page(.POST, location, browser: &b, form: ["_csrf": csrf, "version": "1", "unitPrice": "12.8", "tiers": "", "validTo": ""])
            #expect(saved.status == .seeOther)
            #expect(try await PriceAgreementRow.find(row.id, on: t.db)?.unitPriceUnits == 128_000)
            // A second tab still holding version 1 is told, not obeyed.
            let stale = try await t.page(.POST, location, browser: &b, form: ["_csrf": csrf, "version": "1", "unitPrice": "1", "tiers": "", "validTo": ""])
            #expect(stale.status == .conflict)
            #expect(try await PriceAgreementRow.find(row.id, on: t.db)?.unitPriceUnits == 128_000)
            let ended = try await t.page(.POST, location, browser: &b, form: ["_csrf": csrf, "version": "2", "end": "today", "unitPrice": "12.8"])
            #expect(ended.status == .seeOther)
            #expect(try await PriceAgreementRow.find(row.id, on: t.db)?.validTo == t.app.subcon.today().description)
            #expect(try await t.page(.GET, "/history/price_agreement/\(row.id!)", browser: &b).body.string.contains("12.8"))

            // Suppliers see their own agreement, without the form; the other supplier sees nothing.
            var s1 = try await t.signIn("supplier1")
            let own = try await t.page(.GET, location, browser: &s1)
            #expect(own.status == .ok && !own.body.string.contains("name=\"unitPrice\""))
            var s2 = try await t.signIn("supplier2")
            #expect(try await t.page(.GET, location, browser: &s2).status == .notFound)
            #expect(!(try await t.page(.GET, "/prices", browser: &s2)).body.string.contains("SF-1"))
            #expect(try await t.page(.GET, "/prices/new", browser: &s2).status == .forbidden)
        }
    }

    @Test func listFiltersByItemTextAndDay() async throws {
        try await TestApp.run { t in
            let purchaser = try await t.token("purchaser")
            for (code, name) in [("A-1", "支架"), ("B-2", "壳体")] {
                _ = try await t.request(.POST, "/api/v1/items", token: purchaser, json: #"{"code":"\#(code)","name":"\#(name)","uom":"件","kind":"finished"}"#)
            }
            let jg = try await t.organization(code: "SUP-JG").id!
            for (code, from, to) in [("A-1", "2026-01-01", "2026-06-30"), ("A-1", "2026-07-01", ""), ("B-2", "2026-01-01", "")] {
                let item = try await Item.query(on: t.db).filter(\.$code == code).first()!.id!
                let to = to.isEmpty ? "" : #","validTo":"\#(to)""#
                let r = try await t.request(.POST, "/api/v1/price-agreements", token: purchaser,
                                            json: #"{"supplierId":"\#(jg)","itemId":"\#(item)","validFrom":"\#(from)"\#(to),"unitPrice":"1"}"#)
                #expect(r.status == .created)
            }
            #expect(try await t.request(.GET, "/api/v1/price-agreements?q=A-", token: purchaser).json["total"] as? Int == 2)
            #expect(try await t.request(.GET, "/api/v1/price-agreements?q=壳体", token: purchaser).json["total"] as? Int == 1)
            #expect(try await t.request(.GET, "/api/v1/price-agreements?validOn=2026-03-01", token: purchaser).json["total"] as? Int == 2)
            #expect(try await t.request(.GET, "/api/v1/price-agreements?validOn=2026-08-01&q=A-1", token: purchaser).json["total"] as? Int == 1)
            #expect(try await t.request(.GET, "/api/v1/price-agreements?validOn=soon", token: purchaser).status == .badRequest)

            // The page's supplier: a drop-down while there are few, a code beyond 300.
            let bm = try await t.organization(code: "SUP-BM").id!
            let item = try await Item.query(on: t.db).filter(\.$code == "B-2").first()!.id!
            #expect(try await t.request(.POST, "/api/v1/price-agreements", token: purchaser,
                                        json: #"{"supplierId":"\#(bm)","itemId":"\#(item)","validFrom":"2026-01-01","unitPrice":"2"}"#).status == .created)
            var w = try await t.signIn("purchaser")
            func rows(_ body: String) -> Int { (body.components(separatedBy: "<tbody>").dropFirst().first ?? "").components(separatedBy: "<tr").count - 1 }
            let few = try await t.page(.GET, "/prices?supplierId=\(bm)", browser: &w).body.string
            #expect(few.contains("<option value=\"\(bm)\" selected>") && rows(few) == 1)
            try await (1...SupplierFilter.dropDownLimit).map { Organization(kind: .supplier, code: String(format: "ZZ%04d", $0), name: "供应商 \($0)", now: t.clock.now()) }
                .create(on: t.db)
            let byCode = try await t.page(.GET, "/prices?supplierCode=SUP-JG", browser: &w).body.string
            #expect(byCode.contains("<input name=\"supplierCode\" value=\"SUP-JG\"") && !byCode.contains("<select name=\"supplierId\">"))
            #expect(rows(byCode) == 3 && !byCode.contains(">SUP-BM</a>"))
            let nobody = try await t.page(.GET, "/prices?supplierCode=NOPE", browser: &w).body.string
            #expect(nobody.contains("data-field=\"supplierCode\">供应商不存在") && rows(nobody) == 0)

            // The form for a new agreement asks for the code too; one nobody has is said at the field.
            let newForm = try await t.page(.GET, "/prices/new", browser: &w).body.string
            #expect(newForm.contains("<input name=\"supplierCode\" value=\"\"") && !newForm.contains("<select name=\"supplierId\""))
            let csrf = try await t.csrf(&w)
            let fields = ["_csrf": csrf, "itemCode": "A-1", "currency": "CNY", "validFrom": "2026-01-01", "unitPrice": "3.5"]
            let unknown = try await t.page(.POST, "/prices", browser: &w, form: fields.merging(["supplierCode": "NOPE"]) { a, _ in a })
            #expect(unknown.status == .unprocessableEntity && unknown.body.string.contains("供应商不存在")
                    && unknown.body.string.contains("name=\"supplierCode\" value=\"NOPE\""))
            let made = try await t.page(.POST, "/prices", browser: &w, form: fields.merging(["supplierCode": "SUP-BM"]) { a, _ in a })
            #expect(made.status == .seeOther)
            #expect(try await t.request(.GET, "/api/v1/price-agreements?supplierId=\(bm)&q=A-1", token: purchaser).json["total"] as? Int == 1)
        }
    }
}
