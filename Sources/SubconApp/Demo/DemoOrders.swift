import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// The demo's working data: the example workbook's master data, a released plan with its
/// proposed orders, and orders in every state the order flow has so far — all made through the
/// same services people use, so the demo is also a smoke test of them.
public enum DemoOrders {
    public static func seed(app: Application) async throws {
        let admin = try await principal("admin", app)
        let file = app.subcon.settings.examplesDirectory + "/subcon-example.xlsx"
        guard let data = FileManager.default.contents(atPath: file) else {
            app.logger.warning("demo: \(file) not found; no master data or orders loaded")
            return
        }
        let preview = try await ImportService.upload(admin, kind: .workbook, filename: "subcon-example.xlsx", data: data, app: app)
        _ = try await ImportService.commit(admin, preview.id, app: app)

        let planner = try await principal("planner", app), purchaser = try await principal("purchaser", app)
        let jgUser = try await principal("supplier1", app), bmUser = try await principal("supplier2", app)
        let today = app.subcon.today()
        let plant = try await Site.query(on: app.database).filter(\.$code == "P1").first()!
        func line(_ item: String, _ op: String?, _ qty: Int, _ days: Int, line: Int? = nil) -> OrderLineInput {
            OrderLineInput(line: line, itemCode: item, operation: op, quantity: FixedDecimal(qty), dueDate: today.adding(days: days))
        }

        // A released plan: proposes orders to JG, BM, ZY and RC.
        let plan = try await PlanService.create(planner, NewPlanInput(
            code: nil, plantId: plant.id!, period: String(today.adding(days: 30).description.prefix(7)), note: "EM-220 电机壳体月度计划",
            lines: [PlanLineInput(itemCode: "SF-MH-001C", quantity: FixedDecimal(1200), dueDate: today.adding(days: 18)),
                    PlanLineInput(itemCode: "SF-MH-001", quantity: FixedDecimal(1200), dueDate: today.adding(days: 30)),
                    PlanLineInput(itemCode: "FG-RD-002", quantity: FixedDecimal(300), dueDate: today.adding(days: 25)),
                    PlanLineInput(itemCode: "FG-BK-003", quantity: FixedDecimal(20000), dueDate: today.adding(days: 21))]), app: app)
        let released = try await PlanService.release(planner, plan.id!, version: plan.version, app: app)
        for ref in released.orders {
            let order = try await OrderService.find(planner, ref.id, on: app.database)
            switch ref.supplierCode {
            case "SUP-JG":
                // Released, accepted, in production.
                let o = try await OrderService.release(planner, ref.id, version: order.version, app: app)
                let lines = try await OrderService.lines(ref.id, on: app.database)
                let a = try await OrderService.answer(jgUser, ref.id, AnswerInput(revision: 1, lines: lines.map { .init(line: $0.number, answer: "accept") }), app: app)
                _ = try await OrderService.startProduction(jgUser, ref.id, version: a.version, app: app)
                _ = o
            case "SUP-BM":
                // Released and waiting for the supplier's answer (on supplier2's home page).
                _ = try await OrderService.release(planner, ref.id, version: order.version, app: app)
            case "SUP-RC":
                // Released two days ago and never answered: overdue and escalated.
                _ = try await OrderService.release(planner, ref.id, version: order.version, app: app)
                try await (app.database as! any SQLDatabase).update(OrderRevisionRow.schema)
                    .set("released_at", to: app.subcon.clock.now().addingTimeInterval(-50 * 3600))
                    .where("order_id", .equal, ref.id).run()
                try await OrderEscalation.run(app: app)
            default:
                break // SUP-ZY's stays a draft for the planner to review.
            }
        }

        let jg = try await Organization.query(on: app.database).filter(\.$code == "SUP-JG").first()!.id!
        let bm = try await Organization.query(on: app.database).filter(\.$code == "SUP-BM").first()!.id!
        func direct(_ supplier: UUID, _ lines: [OrderLineInput], note: String) async throws -> OutsourcingOrder {
            let o = try await OrderService.create(purchaser, NewOrderInput(supplierId: supplier, note: note, lines: lines), app: app)
            return try await OrderService.release(purchaser, o.id!, version: o.version, app: app)
        }

        // BM proposes a later date and a smaller first batch: the purchaser has to decide.
        let proposed = try await direct(bm, [line("SF-RD-002", "ANOD", 800, 12), line("FG-BK-003", "PAINT", 5000, 14)], note: "补单")
        _ = try await OrderService.answer(bmUser, proposed.id!, AnswerInput(revision: 1, lines: [
            .init(line: 1, answer: "counter", quantity: FixedDecimal(600), dueDate: today.adding(days: 16), reason: "氧化线检修,首批 600 件"),
            .init(line: 2, answer: "accept")]), app: app)

        // JG turned one down.
        let rejected = try await direct(jg, [line("SF-RD-002", "CNC", 200, 5)], note: "急单")
        _ = try await OrderService.answer(jgUser, rejected.id!, AnswerInput(revision: 1, lines: [
            .init(line: 1, answer: "reject", reason: "5 天内无法排产")]), app: app)

        // Accepted, then changed by the buyer: revision 2 waits for JG, with the changes marked.
        let revised = try await direct(jg, [line("SF-MH-001", "CNC-F", 500, 20), line("FG-BK-003", "STAMP", 10000, 22)], note: "")
        let acked = try await OrderService.answer(jgUser, revised.id!, AnswerInput(revision: 1, lines: [.init(line: 1, answer: "accept"), .init(line: 2, answer: "accept")]), app: app)
        _ = try await OrderService.revise(purchaser, revised.id!, ReviseInput(version: acked.version, reason: "客户追加订单", lines: [
            line("SF-MH-001", "CNC-F", 650, 18, line: 1), line("FG-BK-003", "STAMP", 10000, 22, line: 2), line("SF-RD-002", "CNC", 120, 24)]), app: app)

        // Accepted by BM; and one the buyer cancelled.
        let accepted = try await direct(bm, [line("SF-MH-001", "ANOD", 300, 15)], note: "")
        _ = try await OrderService.answer(bmUser, accepted.id!, AnswerInput(revision: 1, lines: [.init(line: 1, answer: "accept")]), app: app)
        let cancelled = try await direct(bm, [line("FG-BK-003", "PAINT", 2000, 9)], note: "")
        _ = try await OrderService.cancel(purchaser, cancelled.id!, CancelInput(version: cancelled.version, reason: "客户取消"), app: app)

        try await seedMaterial(jg: jg, bm: bm, today: today, app: app)
        try await DemoSettlement.seed(jg: jg, bm: bm, app: app)
        try await DemoDocuments.seed(jg: jg, app: app)

        // A plan still being drafted.
        _ = try await PlanService.create(planner, NewPlanInput(
            code: nil, plantId: plant.id!, period: String(today.adding(days: 60).description.prefix(7)), note: "下月草稿",
            lines: [PlanLineInput(itemCode: "FG-MH-001", quantity: FixedDecimal(800), dueDate: today.adding(days: 55))]), app: app)
    }

    /// Material flow on one order in production at JG: issued (one lot arrived short, so a
    /// discrepancy is open), a supplementary issue waiting for the purchaser, a delivery received
    /// and decided, another on its way, a return, a transfer to BM, scrap and a count loss that
    /// puts the month's write-off beyond tolerance.
    static func seedMaterial(jg: UUID, bm: UUID, today: Day, app: Application) async throws {
        let purchaser = try await principal("purchaser", app), warehouse = try await principal("warehouse", app)
        let quality = try await principal("quality", app), jgUser = try await principal("supplier1", app)
        func q(_ v: String) -> FixedDecimal { try! FixedDecimal.parse(v) }
        let created = try await OrderService.create(purchaser, NewOrderInput(supplierId: jg, note: "CR-65 散热器组件,含导热垫装配", lines: [
            OrderLineInput(itemCode: "FG-RD-002", quantity: FixedDecimal(400), dueDate: today.adding(days: 10))]), app: app)
        let released = try await OrderService.release(purchaser, created.id!, version: created.version, app: app)
        let acked = try await OrderService.answer(jgUser, released.id!, AnswerInput(revision: 1, lines: [.init(line: 1, answer: "accept")]), app: app)
        let order = try await OrderService.startProduction(jgUser, acked.id!, version: acked.version, app: app)
        let id = order.id!

        let issued = try await MaterialService.issue(warehouse, IssueInput(orderId: id, reason: nil, lines: [
            .init(line: 1, componentCode: "SF-RD-002", lot: "RD-2609-A", quantity: q("400")),
            .init(line: 1, componentCode: "RM-PAD-65", lot: "PAD-2609", quantity: q("812"))]), app: app)
        _ = try await MaterialService.confirm(jgUser, issued.id!, ConfirmInput(version: issued.version, lines: [
            .init(no: 1, quantity: q("400")), .init(no: 2, quantity: q("800"))], note: "导热垫少 12 片,外箱有破损"), app: app)
        _ = try await MaterialService.issue(warehouse, IssueInput(orderId: id, reason: "首批装配调机损耗超出", lines: [
            .init(line: 1, componentCode: "RM-PAD-65", lot: "PAD-2609", quantity: q("20"))]), app: app)

        let first = try await DeliveryService.createNote(jgUser, DeliveryInput(orderId: id, shipDate: today, note: "第一批", lines: [
            .init(line: 1, quantity: q("150"), lot: "CR65-2609-01")]), app: app)
        let receipt = try await DeliveryService.receive(warehouse, ReceiptInput(orderId: nil, deliveryNoteId: first.id, note: nil, lines: [
            .init(deliveryLine: 1, line: nil, lot: nil, quantity: q("150"))]), app: app)
        try await DemoQuality.plans(quality, app: app)
        let inspection = try await InspectionService.inspect(quality, receipt.id!, line: 1, InspectionInput(
            version: 1, decision: "partial", accepted: q("148"), rejected: q("2"),
            results: [.init(characteristic: 1, values: [q("65.02"), q("64.98"), q("65.11"), q("65.00"), q("64.97"), q("65.03"), q("65.01"), q("64.99")], nonconforming: nil),
                      .init(characteristic: 2, values: nil, nonconforming: 2)],
            defects: [.init(code: "PAD-SHIFT", count: 2)], approverId: nil, note: "导热垫偏位 2 件,挑出退回"), app: app)
        try await DemoQuality.correctiveAction(on: inspection, app: app)
        _ = try await DeliveryService.createNote(jgUser, DeliveryInput(orderId: id, shipDate: today.adding(days: 1), note: "第二批", lines: [
            .init(line: 1, quantity: q("100"), lot: "CR65-2609-02")]), app: app)

        _ = try await MaterialService.move(warehouse, kind: .returned, MovementInput(supplierId: jg, orderId: id, condition: "good", reason: "多发退回",
                                                                                     lines: [.init(itemCode: "SF-RD-002", lot: "RD-2609-A", quantity: q("10"), line: 1)]), app: app)
        _ = try await MaterialService.transfer(warehouse, TransferInput(fromSupplierId: jg, toSupplierId: bm, fromOrderId: nil, toOrderId: nil,
                                                                        reason: "BM 试装用料", lines: [.init(itemCode: "RM-PAD-65", lot: "PAD-2609", quantity: q("30"))]), app: app)
        _ = try await MaterialService.move(jgUser, kind: .scrap, MovementInput(supplierId: nil, orderId: id, condition: nil, reason: "贴装偏位报废",
                                                                               lines: [.init(itemCode: "RM-PAD-65", lot: "PAD-2609", quantity: q("3"), line: 1)]), app: app)
        // Progress: 100 good ten days ago and 60 today of 400 due in ten days — at this pace the
        // rest takes 15 more days, so the line is projected late and a delay exception opens.
        let firstReport = try await ProgressService.report(jgUser, id, ProgressInput(line: 1, operation: nil, good: q("100"), scrap: q("2"), stage: "CNC 粗加工", note: nil), app: app)
        let tenDaysAgo = app.subcon.clock.now().addingTimeInterval(-10 * 86_400)
        try await (app.database as! any SQLDatabase).update(ProgressReport.schema).set("report_day", to: today.adding(days: -10).description)
            .set("created_at", to: tenDaysAgo).where("id", .equal, firstReport.id!).run()
        try await ReportGaps.rebuild(on: app.database as! any SQLDatabase)
        // The line keeps its first report's day too: the history written above moves it.
        try await ShipReadiness.refresh(id, on: app.database as! any SQLDatabase)
        _ = try await ProgressService.report(jgUser, id, ProgressInput(line: 1, operation: nil, good: q("60"), scrap: nil, stage: "装配", note: "导热垫贴装返工"), app: app)
        _ = try await MaterialService.move(warehouse, kind: .adjustment, MovementInput(supplierId: jg, orderId: nil, condition: nil, reason: "月中盘点盘亏",
                                                                                       lines: [.init(itemCode: "RM-PAD-65", lot: "PAD-2609", quantity: q("-15"))]), app: app)
    }

    static func principal(_ login: String, _ app: Application) async throws -> Principal {
        let user = try await User.query(on: app.database).filter(\.$login == login).first()!
        let (u, org) = try await PrincipalLoader.load(userID: user.id!, on: app.database)!
        return PrincipalLoader.principal(u, org, sessionID: nil, csrf: nil, tokenID: nil)
    }
}
