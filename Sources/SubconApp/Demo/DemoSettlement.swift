import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Settlement in the demo: last month's statement of JG locked and BM's confirmed and waiting for
/// finance; this month JG's disputed (one line answered, one open) and BM's a draft; JG has
/// counted its stock with one difference, BM has not.
enum DemoSettlement {
    static func seed(jg: UUID, bm: UUID, app: Application) async throws {
        let purchaser = try await DemoOrders.principal("purchaser", app), finance = try await DemoOrders.principal("finance", app)
        let warehouse = try await DemoOrders.principal("warehouse", app), quality = try await DemoOrders.principal("quality", app)
        let jgUser = try await DemoOrders.principal("supplier1", app), bmUser = try await DemoOrders.principal("supplier2", app)
        let settings = app.subcon.settings
        let sql = app.database as! any SQLDatabase
        let today = app.subcon.today()
        let current = settings.statementCalendar.period(of: today)
        let last = StatementBuilder.bounds(current.previous, settings: settings)
        func q(_ v: String) -> FixedDecimal { try! FixedDecimal.parse(v) }

        // Material costs, so write-off variances have a value.
        for (code, cost) in [("RM-PAD-65", "0.85"), ("SF-RD-002", "18.6"), ("RM-ADC12", "21.4")] {
            try await sql.update(Item.schema).set("cost_price", to: q(cost).units).where("code", .equal, code).run()
        }
        // JG's radiator agreement carries a late-delivery penalty.
        if let radiator = try await Item.query(on: app.database).filter(\.$code == "FG-RD-002").first() {
            try await sql.update(PriceAgreementRow.schema).set("late_penalty_per_day", to: q("50").units).set("late_penalty_cap", to: q("500").units)
                .where("supplier_id", .equal, jg).where("item_id", .equal, radiator.id!).run()
        }

        /// An order received and accepted in full, moved back into last month when `backdate`.
        func delivered(_ supplier: UUID, _ user: Principal, item: String, op: String?, quantity: String, lot: String, due: Int, backdate: Bool) async throws {
            let o = try await OrderService.create(purchaser, NewOrderInput(supplierId: supplier, note: backdate ? "上月补货" : "", lines: [
                OrderLineInput(itemCode: item, operation: op, quantity: q(quantity), dueDate: (backdate ? last.first : today).adding(days: due))]), app: app)
            let released = try await OrderService.release(purchaser, o.id!, version: o.version, app: app)
            _ = try await OrderService.answer(user, released.id!, AnswerInput(revision: 1, lines: [.init(line: 1, answer: "accept")]), app: app)
            let r = try await DeliveryService.receive(warehouse, ReceiptInput(orderId: o.id!, deliveryNoteId: nil, note: nil, lines: [
                .init(deliveryLine: nil, line: 1, lot: lot, quantity: q(quantity))]), app: app)
            _ = try await InspectionService.inspect(quality, r.id!, line: 1, InspectionInput(version: 1, decision: nil, accepted: q(quantity), rejected: .zero,
                                                                                          results: nil, defects: nil, approverId: nil, note: nil), app: app)
            if backdate {
                let ordered = last.start.addingTimeInterval(2 * 86_400), received = last.start.addingTimeInterval(12 * 86_400)
                try await sql.update(OrderRevisionRow.schema).set("released_at", to: ordered).set("answered_at", to: ordered).where("order_id", .equal, o.id!).run()
                try await sql.update(GoodsReceipt.schema).set("created_at", to: received).set("receipt_day", to: last.first.adding(days: 12).description)
                    .where("id", .equal, r.id!).run()
                try await sql.update(ReceiptLine.schema).set("received_at", to: received).where("receipt_id", .equal, r.id!).run()
            }
        }
        try await delivered(jg, jgUser, item: "SF-RD-002", op: "CNC", quantity: "300", lot: "RD-2610-L1", due: 15, backdate: true)
        try await delivered(bm, bmUser, item: "SF-MH-001", op: "ANOD", quantity: "240", lot: "MH-ANOD-2610", due: 20, backdate: true)
        try await delivered(bm, bmUser, item: "SF-RD-002", op: "ANOD", quantity: "180", lot: "RD-ANOD-01", due: 5, backdate: false)

        // This month's quality exceptions at JG: the one the inspection opened is the first of its
        // kind (an improvement notice, no penalty), a second one carries 300.
        if let first = try await ExceptionCase.query(on: app.database).filter(\.$supplierID == jg).filter(\.$type == "quality").sort(\.$createdAt).first() {
            _ = try await ExceptionService.setPenalty(quality, first.id!, PenaltyInput(version: first.version, kind: "per_piece", value: q("40")), app: app)
            let second = try await ExceptionService.create(quality, ExceptionInput(
                type: "quality", severity: "minor", supplierId: jg, orderId: first.orderID, itemCode: "FG-RD-002", lot: "CR65-2609-01",
                title: "散热片外观划伤", description: "复检发现 6 件划伤", eightD: false), app: app)
            _ = try await ExceptionService.setPenalty(purchaser, second.id!, PenaltyInput(version: second.version, kind: "fixed", value: q("300")), app: app)
        }
        _ = try await MaterialReports.proposeDeductions(finance, period: current.description, supplierID: jg, app: app)

        // JG counts this month's stock: one lot differs.
        let sheet = try await StockCountService.sheet(jgUser, supplierID: nil, period: current, on: app.database)
        if let pad = sheet.lines.first(where: { $0.itemCode == "RM-PAD-65" && $0.ledger > FixedDecimal(4) }) {
            _ = try await StockCountService.count(jgUser, StockCountInput(period: current.description, supplierId: nil, lines: [
                .init(itemId: pad.itemId, lot: pad.lot, counted: try pad.ledger.subtracting(FixedDecimal(4)))]), app: app)
        }

        // Last month: JG locked, BM confirmed and waiting for finance.
        let jgLast = try await StatementService.generate(finance, GenerateStatementInput(supplierId: jg, period: current.previous.description), app: app)
        var s = try await StatementService.addAdjustment(finance, jgLast.id!, AdjustmentInput(version: jgLast.version, amount: q("-120"), reason: "检具分摊(双方约定)"), app: app)
        s = try await StatementService.transition(finance, s.id!, .send, version: s.version, app: app)
        s = try await StatementService.transition(jgUser, s.id!, .confirm, version: s.version, app: app)
        _ = try await StatementService.transition(finance, s.id!, .lock, version: s.version, app: app)
        let bmLast = try await StatementService.generate(purchaser, GenerateStatementInput(supplierId: bm, period: current.previous.description), app: app)
        s = try await StatementService.transition(purchaser, bmLast.id!, .send, version: bmLast.version, app: app)
        _ = try await StatementService.transition(bmUser, s.id!, .confirm, version: s.version, app: app)

        // This month: JG disputed two lines, the purchaser has answered one; BM's is a draft.
        let jgNow = try await StatementService.generate(purchaser, GenerateStatementInput(supplierId: jg, period: current.description), app: app)
        s = try await StatementService.transition(purchaser, jgNow.id!, .send, version: jgNow.version, app: app)
        let lines = try await StatementService.currentLines(s, on: app.database)
        if let goods = lines.first(where: { $0.kind == "goods" }), let deduction = lines.first(where: { $0.kind == "deduction" && !$0.waived }) {
            s = try await StatementService.dispute(jgUser, s.id!, DisputeInput(version: s.version, lines: [
                .init(lineId: goods.id!, comment: "送货单数量与收货不一致,请核对", supplierFigure: try FixedDecimal(units: goods.amount).adding(FixedDecimal(150))),
                .init(lineId: deduction.id!, comment: "已提交整改报告,申请减免", supplierFigure: nil)]), app: app)
            _ = try await StatementService.answerLine(purchaser, s.id!, lineID: deduction.id!,
                                                      LineAnswerInput(version: s.version, answer: "keep", reason: "同类问题 90 天内第二次,按协议扣款", amount: nil), app: app)
        }
        _ = try await StatementService.generate(purchaser, GenerateStatementInput(supplierId: bm, period: current.description), app: app)
        // Who answers for rejects: JG's first rejected lot was its own processing (工废, the
        // material in it charged on the next statement); its scrap is still undetermined.
        if let rejected = try await Inspection.query(on: app.database).filter(\.$supplierID == jg).filter(\.$rejectedQuantity > 0).sort(\.$createdAt).first() {
            _ = try await RejectService.decide(quality, type: .inspection, id: rejected.id!, RejectInput(
                responsibility: RejectResponsibility.supplier.rawValue, reason: "首件检验漏检,夹具定位偏移导致孔位超差", version: nil), app: app)
        }
        try await DemoInvoices.seed(jg: jg, app: app)
    }
}
