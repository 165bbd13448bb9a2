import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

@Suite struct ImportTests {
    func upload(_ t: TestApp, _ token: String, _ bytes: Data) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        headers.bearerAuthorization = .init(token: token)
        headers.replaceOrAdd(name: .contentType, value: "text/csv")
        return try await t.app.testing().sendRequest(.POST, "/api/v1/imports/items?filename=items.csv", headers: headers,
                                                     body: ByteBuffer(data: bytes))
    }

    @Test func gbkFilePreviewsThenCommitsAllRows() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            _ = try await t.request(.POST, "/api/v1/items", token: planner, json: #"{"code":"RM-ADC12","name":"旧名称","uom":"kg","kind":"raw_material"}"#)
            let csv = "物料编码,物料名称,规格型号,单位,类型,默认仓库\r\nRM-ADC12,铝合金锭 ADC12,GB/T 15115,kg,原材料,WH-P1\r\nFG-1,散热器壳体,,件,成品,\r\nSF-1,壳体毛坯,,件,半成品,\r\n"
            let preview = try await upload(t, planner, csv.data(using: TabularFile.gb18030)!)
            #expect(preview.status == .created, "\(preview.body.string)")
            #expect(preview.json["creates"] as? Int == 2)
            #expect(preview.json["updates"] as? Int == 1)
            #expect((preview.json["problems"] as? [Any])?.isEmpty == true)
            // Nothing is written before the commit.
            #expect(try await Item.query(on: t.db).count() == 1)
            let id = preview.json["id"] as? String ?? ""
            let commit = try await t.request(.POST, "/api/v1/imports/\(id)/commit", token: planner)
            #expect(commit.status == .ok, "\(commit.body.string)")
            #expect(commit.json["created"] as? Int == 2)
            #expect(commit.json["updated"] as? Int == 1)
            #expect(try await Item.query(on: t.db).count() == 3)
            #expect(try await Item.query(on: t.db).filter(\.$code == "RM-ADC12").first()?.name == "铝合金锭 ADC12")
            #expect(try await t.request(.POST, "/api/v1/imports/\(id)/commit", token: planner).status == .conflict)
            #expect(try await AuditVerification.run(app: t.app).ok)
            let history = try await t.request(.GET, "/api/v1/audit?entity=item&per=100", token: planner)
            #expect(history.json["total"] as? Int == 4)
        }
    }

    /// Settlement values write-off variances at the item's cost price; the import sets it, an empty
    /// cell keeps it, and a change of the price alone is an update (not "unchanged"), audited.
    @Test func costPricesComeInWithItems() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            func run(_ csv: String) async throws -> TestingHTTPResponse {
                let preview = try await upload(t, planner, Data(csv.utf8))
                #expect(preview.status == .created, "\(preview.body.string)")
                return try await t.request(.POST, "/api/v1/imports/\(preview.json["id"] as? String ?? "")/commit", token: planner)
            }
            let header = "物料编码,物料名称,单位,类型,成本价\r\n"
            #expect(try await run(header + "RM-PAD,导热垫,片,原材料,0.85\r\n").json["created"] as? Int == 1)
            func cost() async throws -> Int64 { try await Item.query(on: t.db).filter(\.$code == "RM-PAD").first()!.costPrice }
            #expect(try await cost() == FixedDecimal(units: 8_500).units)
            #expect(try await run(header + "RM-PAD,导热垫,片,原材料,\r\n").json["updated"] as? Int == 0)
            #expect(try await cost() == 8_500)
            let repriced = try await run(header + "RM-PAD,导热垫,片,原材料,0.9\r\n")
            #expect(repriced.json["updated"] as? Int == 1)
            #expect(try await cost() == 9_000)
            let history = try await t.request(.GET, "/api/v1/audit?entity=item&per=100", token: planner).body.string
            #expect(history.contains("0.9"))
            let bad = try await upload(t, planner, Data((header + "RM-PAD,导热垫,片,原材料,-1\r\n").utf8))
            let problems = bad.json["problems"] as? [[String: Any]] ?? []
            #expect(problems.map { "\($0["column"] ?? "") \($0["code"] ?? "")" } == ["成本价 nonNegativeDecimal"])
        }
    }

    @Test func aFileWithProblemsWritesNothing() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let csv = "code,name,uom,kind\nA-1,Plate,pcs,raw_material\nB 2,,pcs,gadget\nA-1,Again,pcs,finished\n"
            let preview = try await upload(t, planner, Data(csv.utf8))
            let problems = preview.json["problems"] as? [[String: Any]] ?? []
            #expect(Set(problems.compactMap { $0["row"] as? Int }) == [3, 4])
            #expect(problems.contains { ($0["message"] as? String)?.contains("第 2 行") == true })
            let id = preview.json["id"] as? String ?? ""
            let commit = try await t.request(.POST, "/api/v1/imports/\(id)/commit", token: planner)
            #expect(commit.status == .conflict)
            #expect(try await Item.query(on: t.db).count() == 0)
        }
    }

    @Test func unreadableFilesAndStrangersAreRefused() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let zip = try await upload(t, planner, Data([0x50, 0x4B, 0x03, 0x04, 0x00]))
            #expect(zip.status == .unprocessableEntity)
            let truncated = try await upload(t, planner, Data("code,name,uom,kind\nA,\"Plate".utf8))
            #expect(truncated.status == .unprocessableEntity)
            let supplier = try await t.token("supplier1")
            #expect(try await upload(t, supplier, Data("code\n".utf8)).status == .forbidden)
            let preview = try await upload(t, planner, Data("code,name,uom,kind\nA,B,C,finished\n".utf8))
            let id = preview.json["id"] as? String ?? ""
            // Another planner-level user cannot commit someone else's batch.
            #expect(try await t.request(.POST, "/api/v1/imports/\(id)/commit", token: try await t.token("purchaser")).status == .notFound)
        }
    }

    @Test func uploadFromThePage() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("planner")
            let csrf = try await t.csrf(&b)
            let boundary = "----subcon-test"
            let csv = "编码,名称,单位,类型\nFG-9,支架,件,成品\n"
            var body = ""
            for (name, value) in [("_csrf", csrf), ("kind", "items")] {
                body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
            }
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"物料.csv\"\r\nContent-Type: text/csv\r\n\r\n\(csv)\r\n--\(boundary)--\r\n"
            var headers = HTTPHeaders()
            headers.replaceOrAdd(name: .cookie, value: b.cookieHeader)
            headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
            let r = try await t.app.testing().sendRequest(.POST, "/imports", headers: headers, body: ByteBuffer(string: body))
            #expect(r.status == .seeOther, "\(r.body.string)")
            let location = r.headers.first(name: .location) ?? ""
            let preview = try await t.page(.GET, location, browser: &b)
            #expect(preview.body.string.contains("FG-9"))
            #expect(preview.body.string.contains("确认导入"))
            let commit = try await t.page(.POST, location + "/commit", browser: &b, form: ["_csrf": csrf])
            #expect(commit.status == .seeOther)
            #expect(try await Item.query(on: t.db).filter(\.$code == "FG-9").count() == 1)
        }
    }
}

@Suite struct ExportTests {
    @Test func exportThenImportGivesIdenticalItems() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let csv = "物料编码,物料名称,规格型号,单位,类型,默认仓库\nRM-1,\"铝板, 6061\",\"3mm \"\"T6\"\"\",张,原材料,WH-P1\nFG-2,壳体,,件,成品,\n"
            let up = try await ImportTests().upload(t, planner, Data(csv.utf8))
            _ = try await t.request(.POST, "/api/v1/imports/\(up.json["id"] as? String ?? "")/commit", token: planner)
            struct Snapshot: Equatable { let code, name, spec, uom, kind: String; let site: UUID? }
            func snapshot() async throws -> [Snapshot] {
                try await Item.query(on: t.db).sort(\.$code).all().map { Snapshot(code: $0.code, name: $0.name, spec: $0.specification, uom: $0.uom, kind: $0.kind, site: $0.defaultSiteID) }
            }
            let before = try await snapshot()
            #expect(before.count == 2)
            for (query, lang) in [("encoding=utf8", "en"), ("encoding=gb18030", "zh-TW"), ("format=xlsx", "zh-CN")] {
                let encoding = query
                let export = try await t.request(.GET, "/api/v1/exports/items?\(query)", token: planner, headers: [("Accept-Language", lang)])
                #expect(export.status == .ok)
                let bytes = Data(export.body.readableBytesView)
                let again = try await ImportTests().upload(t, planner, bytes)
                #expect((again.json["problems"] as? [Any])?.isEmpty == true, "\(encoding) \(lang): \(again.body.string)")
                #expect(again.json["updates"] as? Int == 0)
                #expect(again.json["unchanged"] as? Int == 2)
                let commit = try await t.request(.POST, "/api/v1/imports/\(again.json["id"] as? String ?? "")/commit", token: planner)
                #expect(commit.json["created"] as? Int == 0)
                #expect(try await snapshot() == before)
            }
        }
    }

    @Test func templateHeadersAreRecognisedInEveryLanguage() async throws {
        let catalog = try Catalog(directory: packageRoot + "/Resources/Locales")
        for locale in AppLocale.allCases {
            for kind in ImportKind.dataKinds {
                let headers = ExportService.headers(kind, catalog: catalog, locale: locale)
                let (found, missing) = ImportColumn.locate(kind.columns, in: headers)
                #expect(missing.isEmpty && found.count == kind.columns.count, "\(kind) \(locale): \(headers)")
                #expect(ImportKind.forSheet(named: kind.sheetName(locale)) == kind)
            }
        }
    }
}

@Suite struct BOMImportHTTPTests {
    func upload(_ t: TestApp, _ token: String, kind: String, _ csv: String) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        headers.bearerAuthorization = .init(token: token)
        headers.replaceOrAdd(name: .contentType, value: "text/csv")
        return try await t.app.testing().sendRequest(.POST, "/api/v1/imports/\(kind)", headers: headers, body: ByteBuffer(string: csv))
    }

    @Test func itemsThenBOMsThenExplosion() async throws {
        try await TestApp.run { t in
            let planner = try await t.token("planner")
            let items = try await upload(t, planner, kind: "items", "code,name,uom,kind\nF,成品,件,finished\nS,半成品,件,semi_finished\nR,原料,kg,raw_material\nC1,包材,个,raw_material\n")
            _ = try await t.request(.POST, "/api/v1/imports/\(items.json["id"] as? String ?? "")/commit", token: planner)
            let cyclic = try await upload(t, planner, kind: "boms", "父件编码,生效日期,子件编码,单位用量\nF,2026-01-01,S,1\nS,2026-01-01,F,1\n")
            #expect((cyclic.json["problems"] as? [[String: Any]])?.first?["code"] as? String == "bomCycle")
            #expect(try await t.request(.POST, "/api/v1/imports/\(cyclic.json["id"] as? String ?? "")/commit", token: planner).status == .conflict)
            #expect(try await BOMHeader.query(on: t.db).count() == 0)
            let boms = try await upload(t, planner, kind: "boms", """
                父件编码,生效日期,失效日期,子件编码,单位用量,损耗率,供料方
                F,2026-01-01,,S,2,5%,我方发料
                F,2026-01-01,,C1,0.5,,供应商自购
                S,2026-01-01,,R,1.25,2,
                """)
            #expect(boms.json["creates"] as? Int == 2, "\(boms.body.string)")
            let commit = try await t.request(.POST, "/api/v1/imports/\(boms.json["id"] as? String ?? "")/commit", token: planner)
            #expect(commit.json["created"] as? Int == 2)
            let f = try await Item.query(on: t.db).filter(\.$code == "F").first()!
            let e = try await t.request(.GET, "/api/v1/items/\(f.id!)/explosion?quantity=10&date=2026-03-01", token: planner)
            let gross = Dictionary(uniqueKeysWithValues: (e.json["lines"] as? [[String: Any]] ?? []).map { ($0["componentCode"] as! String, $0["grossQuantity"] as! String) })
            #expect(gross == ["S": "21", "R": "26.775", "C1": "5"])
            #expect(try await AuditVerification.run(app: t.app).ok)
        }
    }
}
