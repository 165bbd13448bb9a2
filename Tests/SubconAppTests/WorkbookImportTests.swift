import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

/// The whole-workbook import: the example a newcomer is given, re-imports of exports, and
/// who may import what.
@Suite struct WorkbookImportTests {
    static let example = packageRoot + "/examples/subcon-example.xlsx"

    func upload(_ t: TestApp, _ token: String, kind: String = "workbook", _ bytes: Data) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        headers.bearerAuthorization = .init(token: token)
        headers.replaceOrAdd(name: .contentType, value: "application/octet-stream")
        return try await t.app.testing().sendRequest(.POST, "/api/v1/imports/\(kind)?filename=book.xlsx", headers: headers, body: ByteBuffer(data: bytes))
    }

    func commit(_ t: TestApp, _ token: String, _ preview: TestingHTTPResponse) async throws -> TestingHTTPResponse {
        try await t.request(.POST, "/api/v1/imports/\(preview.json["id"] as? String ?? "")/commit", token: token)
    }

    func exportWorkbook(_ t: TestApp, _ token: String, lang: String = "zh-CN") async throws -> Data {
        let r = try await t.request(.GET, "/api/v1/exports/workbook", token: token, headers: [("Accept-Language", lang)])
        #expect(r.status == .ok, "\(r.body.string)")
        return Data(r.body.readableBytesView)
    }

    /// Every sheet of an export, as text, for comparing two installations.
    func sheets(_ data: Data) throws -> [String: [[String]]] {
        Dictionary(uniqueKeysWithValues: try XLSX.readAll(data).map { ($0.name, [$0.table.headers] + $0.table.rows) })
    }

    @Test func theExampleWorkbookImportsIntoTheDemo() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.example))
            let preview = try await upload(t, admin, bytes)
            #expect(preview.status == .created)
            #expect((preview.json["problems"] as? [Any])?.isEmpty == true, "\(preview.body.string)")
            let sheets = preview.json["sheets"] as? [[String: Any]] ?? []
            // The notes sheet is not data and is left out.
            #expect(sheets.compactMap { $0["kind"] as? String } == ["suppliers", "items", "boms", "routings", "prices"])
            let r = try await commit(t, admin, preview)
            #expect(r.status == .ok, "\(r.body.string)")
            // 3 suppliers + 13 items + 7 BOM versions + 4 routings + 11 prices.
            #expect(r.json["created"] as? Int == 38)
            #expect(try await Item.query(on: t.db).count() == 13)
            #expect(try await BOMHeader.query(on: t.db).count() == 7)
            #expect(try await RoutingOperationRow.query(on: t.db).count() == 12)
            #expect(try await PriceAgreementRow.query(on: t.db).count() == 11)
            let zy = try await t.organization(code: "SUP-ZY")
            #expect(try await SupplierProfile.query(on: t.db).filter(\.$organization.$id == zy.id!).first()?.status == "qualified")

            // Multi-level, with the Excel date cells read as days: 100 housings in 2026.
            let fg = try await Item.query(on: t.db).filter(\.$code == "FG-MH-001").first()!
            let e = try await t.request(.GET, "/api/v1/items/\(fg.id!)/explosion?quantity=100&date=2026-06-01", token: admin)
            let gross = Dictionary(uniqueKeysWithValues: (e.json["lines"] as? [[String: Any]] ?? []).map { ($0["componentCode"] as! String, $0["grossQuantity"] as! String) })
            // 100 × 1.005 = 100.5 machined; × 1.02 = 102.51 castings; × 2.35 = 240.8985 × 1.03 = 248.125455 kg.
            #expect(gross["SF-MH-001"] == "100.5")
            #expect(gross["SF-MH-001C"] == "102.51")
            #expect(gross["RM-ADC12"] == "248.1255")
            #expect(gross["RM-BOLT-M6"] == "600")
            let sup = try await t.organization(code: "SUP-JG")
            let q = try await t.request(.GET, "/api/v1/prices/in-force?supplierId=\(sup.id!)&itemId=\(try await Item.query(on: t.db).filter(\.$code == "SF-MH-001").first()!.id!)&operation=CNC-R&date=2026-08-01&quantity=600", token: admin)
            #expect(q.json["unitPrice"] as? String == "35.6")

            // The items, BOMs, routings, suppliers and prices show up in the UI.
            var b = try await t.signIn("admin")
            let items = try await t.page(.GET, "/items?q=壳体", browser: &b)
            #expect(items.body.string.contains("驱动电机壳体总成"))
            let itemPage = try await t.page(.GET, "/items/\(fg.id!)", browser: &b)
            #expect(itemPage.body.string.contains("RM-BOLT-M6"))

            // Importing the same workbook again changes nothing.
            let again = try await upload(t, admin, bytes)
            #expect(again.json["creates"] as? Int == 0, "\(again.body.string)")
            #expect(again.json["updates"] as? Int == 0)
            #expect(again.json["unchanged"] as? Int == 38)
            #expect(try await AuditVerification.run(app: t.app).ok)
        }
    }

    @Test func anExportImportsIntoAnotherInstallationIdentically() async throws {
        var exported: [String: [[String]]] = [:]
        var bytes = Data()
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            _ = try await commit(t, admin, try await upload(t, admin, try Data(contentsOf: URL(fileURLWithPath: Self.example))))
            bytes = try await exportWorkbook(t, admin)
            exported = try sheets(bytes)
            #expect(exported["物料"]?.count == 14)
            // Re-importing its own export changes nothing.
            let again = try await upload(t, admin, bytes)
            #expect(again.json["creates"] as? Int == 0 && again.json["updates"] as? Int == 0, "\(again.body.string)")
        }
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let preview = try await upload(t, admin, bytes)
            #expect((preview.json["problems"] as? [Any])?.isEmpty == true, "\(preview.body.string)")
            #expect(try await commit(t, admin, preview).status == .ok)
            #expect(try sheets(try await exportWorkbook(t, admin)) == exported)
            // English headers and sheet names import the same.
            let english = try await upload(t, admin, try await exportWorkbook(t, admin, lang: "en"))
            #expect(english.json["creates"] as? Int == 0 && english.json["updates"] as? Int == 0, "\(english.body.string)")
        }
    }

    @Test func eachSheetNeedsItsOwnPermission() async throws {
        try await TestApp.run { t in
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.example))
            // A planner edits items and BOMs but not suppliers or prices.
            #expect(try await upload(t, try await t.token("planner"), bytes).status == .forbidden)
            // A purchaser may import suppliers, but creating one is an administrator's act.
            let purchaser = try await t.token("purchaser")
            let preview = try await upload(t, purchaser, bytes)
            let problems = preview.json["problems"] as? [[String: Any]] ?? []
            #expect(problems.filter { $0["code"] as? String == "supplierCreateNotAllowed" }.count == 3)
            #expect(problems.allSatisfy { $0["sheet"] as? String != nil })
            #expect(try await commit(t, purchaser, preview).status == .conflict)
            #expect(try await Item.query(on: t.db).count() == 0)
            // Suppliers see nothing of it.
            let supplier = try await t.token("supplier1")
            #expect(try await upload(t, supplier, bytes).status == .forbidden)
            #expect(try await t.request(.GET, "/api/v1/exports/workbook", token: supplier).status == .forbidden)
            #expect(try await t.request(.GET, "/api/v1/imports/\(preview.json["id"] as? String ?? "")", token: supplier).status == .notFound)
        }
    }

    @Test func aCSVIsNotAWorkbookAndUnknownSheetsAreNamed() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let csv = try await upload(t, admin, Data("code,name\n".utf8))
            #expect(csv.status == .unprocessableEntity)
            #expect(csv.body.string.contains("workbookNeedsXlsx"))
            let odd = try XLSX.write([("Sheet1", [["a", "b"], ["1", "2"]])])
            let r = try await upload(t, admin, odd)
            #expect(r.status == .unprocessableEntity)
            #expect(r.body.string.contains("noKnownSheet"))
        }
    }

    @Test func routingSupplierAndPriceSheetsImportOnTheirOwn() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            func csv(_ kind: String, _ text: String) async throws -> TestingHTTPResponse {
                try await upload(t, admin, kind: kind, Data(text.utf8))
            }
            _ = try await commit(t, admin, try await csv("items", "code,name,uom,kind\nSF-1,壳体,件,semi_finished\n"))
            let routing = try await csv("routings", "物料编码,工序号,工序编码,工序名称,加工方式,默认供应商\nSF-1,10,CNC,CNC 加工,委外,SUP-JG\nSF-1,20,ANOD,阳极氧化,委外,SUP-BM\n")
            #expect(routing.json["creates"] as? Int == 1, "\(routing.body.string)")
            #expect(try await commit(t, admin, routing).json["created"] as? Int == 1)
            let price = try await csv("prices", "供应商编码,物料编码,工序编码,生效日期,单价,阶梯价\nSUP-JG,SF-1,CNC,2026-01-01,12.5,1000=12\nSUP-BM,SF-1,PAINT,2026-01-01,3,\n")
            let problems = price.json["problems"] as? [[String: Any]] ?? []
            #expect(problems.map { $0["code"] as? String } == ["unknownOperation"])
            #expect(problems.first?["column"] as? String == "工序编码")
            let fixed = try await csv("prices", "供应商编码,物料编码,工序编码,生效日期,单价,阶梯价\nSUP-JG,SF-1,CNC,2026-01-01,12.5,1000=12\n")
            #expect(try await commit(t, admin, fixed).json["created"] as? Int == 1)
            let changed = try await csv("prices", "供应商编码,物料编码,工序编码,生效日期,单价,阶梯价\nSUP-JG,SF-1,CNC,2026-01-01,12.8,1000=12\n")
            #expect(changed.json["updates"] as? Int == 1)
            #expect(try await commit(t, admin, changed).json["updated"] as? Int == 1)
            #expect(try await PriceAgreementRow.query(on: t.db).first()?.unitPriceUnits == 128_000)
            let suppliers = try await csv("suppliers", "供应商编码,供应商名称,加工能力\nSUP-JG,苏州精工机械有限公司,\"CNC加工,钣金,焊接,激光切割\"\nSUP-NEW,新供应商,\n")
            #expect(suppliers.json["creates"] as? Int == 1 && suppliers.json["updates"] as? Int == 1, "\(suppliers.body.string)")
            #expect(try await commit(t, admin, suppliers).status == .ok)
            let jg = try await t.organization(code: "SUP-JG")
            #expect(try await SupplierProfile.query(on: t.db).filter(\.$organization.$id == jg.id!).first()?.capabilities == "CNC加工,钣金,焊接,激光切割")
            #expect(try await SupplierProfile.query(on: t.db).filter(\.$organization.$id == (try await t.organization(code: "SUP-NEW")).id!).first()?.status == "prospect")
            #expect(try await AuditVerification.run(app: t.app).ok)
        }
    }
}
