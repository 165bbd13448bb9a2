import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct ItemTests {
    let plate = #"{"code":"RM-6061-T6","name":"铝板 6061-T6","specification":"3mm×1220×2440","uom":"张","kind":"raw_material"}"#

    @Test func plannerCreatesListsAndEditsItems() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let created = try await t.request(.POST, "/api/v1/items", token: planner, json: plate)
            #expect(created.status == .created, "\(created.body.string)")
            let id = created.json["id"] as? String ?? ""
            let dup = try await t.request(.POST, "/api/v1/items", token: planner, json: plate)
            #expect(dup.status == .conflict)
            let list = try await t.request(.GET, "/api/v1/items?q=6061", token: planner)
            #expect(list.json["total"] as? Int == 1)
            let byKind = try await t.request(.GET, "/api/v1/items?kind=finished", token: planner)
            #expect(byKind.json["total"] as? Int == 0)
            let edit = try await t.request(.PATCH, "/api/v1/items/\(id)", token: planner, json: #"{"version":1,"name":"铝板 6061-T6 (阳极)","active":false}"#)
            #expect(edit.status == .ok)
            #expect(edit.json["active"] as? Bool == false)
            let stale = try await t.request(.PATCH, "/api/v1/items/\(id)", token: planner, json: #"{"version":1,"name":"x"}"#)
            #expect(stale.status == .conflict)
            let history = try await t.request(.GET, "/api/v1/audit?entity=item&entityId=\(id)", token: planner)
            #expect(history.json["total"] as? Int == 2)
        }
    }

    @Test func badItemsAreRefused() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let bad = try await t.request(.POST, "/api/v1/items", token: planner, json: #"{"code":"A 1","name":"","uom":"","kind":"gadget"}"#)
            #expect(bad.status == .unprocessableEntity)
            let fields = Set((bad.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["code", "name", "uom", "kind"])
            let site = try await Site.query(on: t.db).filter(\.$kind == "plant").first()!
            let notWarehouse = try await t.request(.POST, "/api/v1/items", token: planner,
                                                   json: #"{"code":"X1","name":"X","uom":"PCS","kind":"finished","defaultSiteId":"\#(site.id!)"}"#)
            #expect(notWarehouse.status == .unprocessableEntity)
            let badKind = try await t.request(.GET, "/api/v1/items?kind=gadget", token: planner)
            #expect(badKind.status == .badRequest)
        }
    }

    @Test func whoMaySeeAndEdit() async throws {
        try await TestApp.run { t in
            let quality = try await t.token("quality")
            #expect(try await t.request(.GET, "/api/v1/items", token: quality).status == .ok)
            #expect(try await t.request(.POST, "/api/v1/items", token: quality, json: plate).status == .forbidden)
            let supplier = try await t.token("supplier1")
            #expect(try await t.request(.GET, "/api/v1/items", token: supplier).status == .forbidden)
            #expect(try await Item.query(on: t.db).count() == 0)
        }
    }

    @Test func itemFormsWork() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("planner")
            let csrf = try await t.csrf(&b)
            let bad = try await t.page(.POST, "/items", browser: &b, form: ["_csrf": csrf, "code": "", "name": "", "uom": "", "kind": "finished"])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains(#"class="err""#))
            let ok = try await t.page(.POST, "/items", browser: &b, form: [
                "_csrf": csrf, "code": "FG-1001", "name": "散热器壳体", "specification": "ADC12 压铸", "uom": "件", "kind": "finished",
            ])
            #expect(ok.status == .seeOther)
            let list = try await t.page(.GET, "/items?q=散热器", browser: &b)
            #expect(list.body.string.contains("FG-1001"))
            #expect(list.body.string.contains("成品"))
        }
    }
}

@Suite struct ItemFormTests {
    @Test func choosingNoWarehouseClearsIt() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let wh = try await Site.query(on: t.db).filter(\.$code == "WH-P1").first()!
            let r = try await t.request(.POST, "/api/v1/items", token: planner,
                                        json: #"{"code":"X-9","name":"X","uom":"PCS","kind":"finished","defaultSiteId":"\#(wh.id!)"}"#)
            let id = r.json["id"] as? String ?? ""
            var b = try await t.signIn("planner")
            let csrf = try await t.csrf(&b)
            let saved = try await t.page(.POST, "/items/\(id)", browser: &b, form: [
                "_csrf": csrf, "version": "1", "name": "X", "uom": "PCS", "kind": "finished", "defaultSiteId": "", "active": "true",
            ])
            #expect(saved.status == .seeOther)
            #expect(try await Item.find(UUID(uuidString: id), on: t.db)?.defaultSiteID == nil)
        }
    }

    @Test func theAPIClearsTheWarehouseWithNullAndKeepsItWhenLeftOut() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let wh = try await Site.query(on: t.db).filter(\.$code == "WH-P1").first()!
            let id = try await t.request(.POST, "/api/v1/items", token: planner,
                                         json: #"{"code":"X-8","name":"X","uom":"PCS","kind":"finished","defaultSiteId":"\#(wh.id!)"}"#).json["id"] as? String ?? ""
            let kept = try await t.request(.PATCH, "/api/v1/items/\(id)", token: planner, json: #"{"version":1,"name":"Y"}"#)
            #expect(kept.json["defaultSiteId"] as? String == wh.id!.uuidString)
            let cleared = try await t.request(.PATCH, "/api/v1/items/\(id)", token: planner, json: #"{"version":2,"defaultSiteId":null}"#)
            #expect(cleared.status == .ok)
            #expect(cleared.json["defaultSiteId"] == nil)
            #expect(try await Item.find(UUID(uuidString: id), on: t.db)?.defaultSiteID == nil)
        }
    }
}
