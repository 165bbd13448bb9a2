import Fluent
import Foundation
import SubconDomain
import Vapor

/// Demo quality data: inspection plans for two items, the partial rejection of the CR-65
/// order's first lot with its 8D half way (D4 waiting for the buyer), and a closed 8D case at
/// BM that the lessons-learned search finds.
enum DemoQuality {
    private static func q(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

    static func plans(_ quality: Principal, app: Application) async throws {
        guard let radiator = try await Item.query(on: app.database).filter(\.$code == "FG-RD-002").first(),
              let housing = try await Item.query(on: app.database).filter(\.$code == "SF-MH-001").first() else { return }
        _ = try await InspectionService.savePlan(quality, item: radiator, PlanInput(
            version: 0, level: "II", aql: "1.0", reducedAllowed: false, exemptAfter: 10,
            characteristics: [Characteristic(name: "外形长度", kind: "measured", nominal: q("65"), lower: q("64.85"), upper: q("65.15"), unit: "mm"),
                              Characteristic(name: "导热垫贴装位置", kind: "attribute", nominal: nil, lower: nil, upper: nil, unit: nil)],
            defectCodes: [DefectCode(code: "PAD-SHIFT", name: "导热垫偏位", severity: "major"),
                          DefectCode(code: "SCRATCH", name: "外观划伤", severity: "minor"),
                          DefectCode(code: "CRACK", name: "散热片开裂", severity: "critical")]), app: app)
        _ = try await InspectionService.savePlan(quality, item: housing, PlanInput(
            version: 0, level: "II", aql: "0.65", reducedAllowed: true, exemptAfter: 0,
            characteristics: [Characteristic(name: "内孔直径", kind: "measured", nominal: q("42"), lower: q("42"), upper: q("42.025"), unit: "mm"),
                              Characteristic(name: "外观", kind: "attribute", nominal: nil, lower: nil, upper: nil, unit: nil)],
            defectCodes: [DefectCode(code: "DIM", name: "尺寸超差", severity: "major"), DefectCode(code: "BURR", name: "毛刺", severity: "minor")]), app: app)
    }

    static func correctiveAction(on inspection: Inspection, app: Application) async throws {
        let quality = try await DemoOrders.principal("quality", app), jg = try await DemoOrders.principal("supplier1", app)
        let bm = try await DemoOrders.principal("supplier2", app)
        if let id = inspection.exceptionID {
            _ = try await ExceptionService.comment(jg, id, CommentInput(body: "已收到,今天内给出围堵措施。"), app: app)
            let steps = [(1, "组长:品质主管 周伟;成员:生产、工艺、设备各一人"),
                         (2, "CR65-2609-01 批抽检 13 件中 2 件导热垫偏位 > 0.5 mm"),
                         (3, "在制品与库存 600 件全检,偏位品隔离;出货前加一道目检")]
            for (n, text) in steps { try await passGate(id, n, text, supplier: jg, buyer: quality, app: app) }
            let e = try await ExceptionCase.find(id, on: app.database)!
            _ = try await ExceptionService.gate(jg, id, step: 4, GateInput(version: e.version, action: "submit",
                content: "贴装治具定位销磨损,导热垫放置后可移动约 0.8 mm", reason: nil), app: app)
        }
        // A closed case from last month's lot at BM: the lesson the search finds.
        let bmID = try await Organization.query(on: app.database).filter(\.$code == "SUP-BM").first()!.id!
        let raised = try await ExceptionService.create(quality, ExceptionInput(
            type: "quality", severity: "major", supplierId: bmID, orderId: nil, itemCode: "SF-MH-001", lot: "MH-2608-07",
            title: "电机壳体阳极氧化色差", description: "来料目检 5 件色差超出色卡", eightD: true), app: app)
        let texts = ["组长:昆山华表品质经理 吴芳", "同批 5 件色差超出限度样板", "库存 320 件全检,色差件挑出返工",
                     "氧化槽温度控制器漂移,槽液温度高出 3 ℃", "更换温控器,增加每班两次温度点检", "连续 3 批色差检验合格",
                     "点检表纳入作业指导书,温控器纳入年度校准", "关闭:纠正措施有效"]
        for (i, t) in texts.enumerated() { try await passGate(raised.id!, i + 1, t, supplier: bm, buyer: quality, app: app) }
    }

    private static func passGate(_ id: UUID, _ step: Int, _ text: String, supplier: Principal, buyer: Principal, app: Application) async throws {
        var e = try await ExceptionCase.find(id, on: app.database)!
        _ = try await ExceptionService.gate(supplier, id, step: step, GateInput(version: e.version, action: "submit", content: text, reason: nil), app: app)
        e = try await ExceptionCase.find(id, on: app.database)!
        _ = try await ExceptionService.gate(buyer, id, step: step, GateInput(version: e.version, action: "approve", content: nil, reason: nil), app: app)
    }
}
