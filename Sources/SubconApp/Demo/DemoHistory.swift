import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A year of history before this month for the demo's suppliers, so that scorecards have trends
/// and grades right after `subcon serve --demo`: SUP-JG gets better month by month, SUP-BM worse
/// (D in the last two months, which proposes probation), SUP-RC stays steady. Closed orders with
/// their revisions, receipts, inspections (with defects), exceptions, progress reports and
/// locked statements, inserted straight through SQL like the bench data (not audited), then each
/// month's grades closed in order as the background job would have done.
enum DemoHistory {
    struct Profile: Sendable {
        /// Month 0 is the oldest (a year ago), 11 last month.
        let onTime: @Sendable (Int) -> Int          // percent of lines delivered complete by the due date
        let rejects: @Sendable (Int) -> Int         // percent of lots rejected
        let lateAnswers: @Sendable (Int) -> Int     // percent of revisions answered after the deadline
        let reportGap: @Sendable (Int) -> Int       // days between progress reports
        let deductions: @Sendable (Int) -> Int      // per mille of turnover
        let defect: @Sendable (Int) -> String
        /// The month an 8D on the defect closed (its corrective action is then watched).
        let eightDMonth: Int?
    }

    static let profiles: [String: Profile] = [
        "SUP-JG": Profile(onTime: { 78 + 2 * $0 }, rejects: { max(1, 12 - $0) }, lateAnswers: { max(0, 30 - 3 * $0) }, reportGap: { $0 < 6 ? 3 : 2 },
                          deductions: { max(2, 20 - 2 * $0) }, defect: { $0 < 4 ? "BURR" : "SCRATCH" }, eightDMonth: 4),
        "SUP-BM": Profile(onTime: { $0 < 9 ? 96 - 2 * $0 : 45 - 5 * ($0 - 9) }, rejects: { $0 < 9 ? 3 + $0 : 30 + 5 * ($0 - 9) },
                          lateAnswers: { $0 < 9 ? 10 + 2 * $0 : 60 }, reportGap: { $0 < 9 ? 2 : 6 }, deductions: { $0 < 9 ? 10 + $0 : 60 }, defect: { _ in "PAD-SHIFT" },
                          eightDMonth: 6),
        "SUP-RC": Profile(onTime: { _ in 90 }, rejects: { _ in 5 }, lateAnswers: { _ in 15 }, reportGap: { _ in 3 }, deductions: { _ in 15 }, defect: { _ in "SCRATCH" }, eightDMonth: nil),
    ]

    /// A small deterministic generator: the same demo every time.
    struct Dice {
        var state: UInt64
        mutating func roll(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(max(1, n)))
        }
        mutating func chance(_ percent: Int) -> Bool { roll(100) < percent }
    }

    static func seed(app: Application) async throws {
        let sql = app.database as! any SQLDatabase
        let settings = app.subcon.settings
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: settings.timeZone) ?? .gmt
        func instant(_ d: Day, hour: Int = 9) -> Date { cal.date(from: DateComponents(year: d.year, month: d.month, day: d.day, hour: hour))! }
        let this = ScorePeriod.month(of: app.subcon.today())
        let months = this.previous.trailing(12)
        guard let buyer = try await User.query(on: app.database).filter(\.$login == "purchaser").first()?.id,
              let inspector = try await User.query(on: app.database).filter(\.$login == "quality").first()?.id,
              let finance = try await User.query(on: app.database).filter(\.$login == "finance").first()?.id else { return }
        typealias Row = [any SQLExpression]
        typealias B = SQLBind
        let null = SQLLiteral.null
        let u = FixedDecimal.unit
        // Orders, lines, revisions, receipts, inspections and exceptions go in as the bench data's do.
        var flow = BenchData.FlowRows()
        var defects: [Row] = [], reports: [Row] = [], statements: [Row] = [], eightDSteps: [Row] = []
        struct Seq: Decodable { let seq: Int64 }
        var seq = try await sql.raw("SELECT seq FROM statement_feed WHERE id = 1").firstRow(decoding: Seq.self)?.seq ?? 0
        struct Existing: Decodable { let supplier_id: UUID; let period: String }
        let existing = Set(try await sql.raw("SELECT supplier_id, period FROM statements").rows(decoding: Existing.self).map { "\($0.supplier_id)/\($0.period)" })
        var number = 0
        for (code, profile) in profiles.sorted(by: { $0.key < $1.key }) {
            guard let supplier = try await Organization.query(on: app.database).filter(\.$code == code).first()?.id else { continue }
            let agreements = try await PriceAgreementRow.query(on: app.database).filter(\.$supplier.$id == supplier).all()
            guard !agreements.isEmpty else { continue }
            var dice = Dice(state: code.unicodeScalars.reduce(UInt64(7)) { $0 &* 31 &+ UInt64($1.value) })
            var defectLots: [UUID: Int] = [:]
            for (m, month) in months.enumerated() {
                var turnover: Int64 = 0
                for k in 0..<8 {
                    number += 1
                    let order = UUID()
                    let released = month.first.adding(days: 1 + k * 3)
                    let releasedAt = instant(released, hour: 9 + k % 8)
                    flow.orders.append([B(order), B(String(format: "WX-H%05d", number)), B(supplier), null, B("closed"), B("CNY"), B(1), B(""), B(1), B(buyer),
                                   B(releasedAt), B(releasedAt)])
                    let late = dice.chance(profile.lateAnswers(m))
                    let answer = late ? 26 * 3600 + dice.roll(40) * 3600 : 1800 + dice.roll(20) * 3600
                    flow.revisions.append([B(UUID()), B(order), B(1), B("[]"), B("[]"), B(""), B("acknowledged"), B(buyer), B(releasedAt),
                                      B(releasedAt.addingTimeInterval(Double(answer))), null, B(answer), B(0), B(1), B(supplier)])
                    for n in 1...2 {
                        let a = agreements[(k + n) % agreements.count]
                        let quantity = Int64(100 * (1 + dice.roll(5)))
                        let due = released.adding(days: 10 + dice.roll(8))
                        flow.lines.append([B(UUID()), B(order), B(n), B(a.$item.id), a.operation.map { B($0) } ?? null, B(quantity * u), B(due.description),
                                      B(a.unitPriceUnits), B("open"), null, B("unknown"), B(0), null])
                        // Progress reports every few days from the release to the delivery.
                        let onTime = dice.chance(profile.onTime(m))
                        let arrival = onTime ? due.adding(days: -dice.roll(3)) : due.adding(days: 2 + dice.roll(9))
                        var day = released.adding(days: 1)
                        while day < arrival {
                            reports.append([B(UUID()), B(order), B(supplier), B(n), null, B(quantity * u / 4), B(Int64(0)), B("加工中"), B(""), B(day.description),
                                            B(buyer), B(instant(day, hour: 17))])
                            day = day.adding(days: profile.reportGap(m) + dice.roll(2))
                        }
                        let receipt = UUID(), receivedAt = instant(arrival, hour: 14)
                        flow.receipts.append([B(receipt), B(String(format: "SH-H%05d-%d", number, n)), B(supplier), B(order), null, B(""), B(buyer), B(receivedAt),
                                         B(arrival.description)])
                        let rejected = dice.chance(profile.rejects(m))
                        let bad = rejected ? quantity * u / 10 * Int64(1 + dice.roll(3)) : 0
                        let decision = rejected ? (dice.chance(30) ? "concession" : "partial") : "accept"
                        let accepted = decision == "concession" ? quantity * u : quantity * u - bad
                        let line = UUID()
                        flow.receiptLines.append([B(line), B(receipt), B(1), B(supplier), B(order), B(n), B(a.$item.id), B("H\(number)-\(n)"), B(quantity * u),
                                             B(decision == "accept" ? "accepted" : decision),
                                             B(accepted), B(decision == "concession" ? 0 : bad), B(inspector), B(receivedAt.addingTimeInterval(7200)), B(2), B(receivedAt)])
                        let inspection = UUID(), inspectedAt = receivedAt.addingTimeInterval(7200)
                        flow.inspections.append([B(inspection), B(String(format: "IQ-H%05d-%d", number, n)), B(receipt), B(line), B(1), B(supplier), B(order),
                                            B(a.$item.id), B("H\(number)-\(n)"), B(quantity * u), B("normal"), B("II"), B("1.0"), B("F"), B(20), B(0), B(1),
                                            B(rejected ? 2 : 0), B(0), B("[]"), B(rejected ? "[{\"code\":\"\(profile.defect(m))\",\"count\":2}]" : "[]"), B(!rejected),
                                            B(decision), B(accepted), B(decision == "concession" ? 0 : bad), B(false), B(""), B(inspector), B(inspectedAt)])
                        turnover += accepted * a.unitPriceUnits / u
                        guard rejected else { continue }
                        defects.append([B(UUID()), B(inspection), B(supplier), B(a.$item.id), B(profile.defect(m)), B(profile.defect(m)), B(2), B(inspectedAt)])
                        defectLots[a.$item.id, default: 0] += 1
                        // A rejected lot is an exception: answered and closed faster by the better suppliers.
                        let deadlines = ExceptionRules.due(from: inspectedAt, ExceptionRules.defaultDeadlines(.quality, .major))
                        let slow = dice.chance(profile.lateAnswers(m))
                        let response = slow ? 30 * 60 + dice.roll(40) * 60 : 60 + dice.roll(12) * 60
                        let closure = slow ? 25 * 1440 + dice.roll(10) * 1440 : 5 * 1440 + dice.roll(8) * 1440
                        let closedAt = inspectedAt.addingTimeInterval(Double(closure * 60))
                        let closed = closedAt < app.subcon.clock.now()
                        flow.exceptions.append([B(UUID()), B(String(format: "YC-H%05d-%d", number, n)), B("quality"), B("major"), B(closed ? "closed" : "open"),
                                           B(supplier), B(order), B(a.$item.id), B("H\(number)-\(n)"), B("inspection"), B(inspection.uuidString),
                                           B("来料检验不合格：\(profile.defect(m))"), B("抽检发现 \(profile.defect(m)) 2 件"), B(inspector), B(inspectedAt), B(1),
                                           B(deadlines.responseBy), B(deadlines.containmentBy), B(deadlines.resolveBy), B(inspectedAt.addingTimeInterval(Double(response * 60))),
                                           closed ? B(closedAt) : null, B(response), closed ? B(closure) : null, B(closed ? "已返工并加严检验" : ""), B(0),
                                           B(profile.defect(m)), B(false), B(0), null, null])
                    }
                }
                if m == profile.eightDMonth {
                    // The 8D on the month's defect, closed by the buyer's verification.
                    // On the item that showed the defect most often so far.
                    let order = Dictionary(agreements.enumerated().map { ($1.$item.id, $0) }, uniquingKeysWith: { a, _ in a })
                    let id = UUID(), item = defectLots.max { ($0.value, -(order[$0.key] ?? 0)) < ($1.value, -(order[$1.key] ?? 0)) }?.key ?? agreements[0].$item.id
                    let opened = instant(month.first.adding(days: 4)), closedAt = instant(month.first.adding(days: 19))
                    let deadlines = ExceptionRules.due(from: opened, ExceptionRules.defaultDeadlines(.quality, .major))
                    let code = profile.defect(m - 1)
                    flow.exceptions.append([B(id), B("YC-H8D-\(code)"), B("quality"), B("major"), B("closed"), B(supplier), null, B(item), B(""), B("manual"), B(""),
                                       B("8D:\(code) 反复出现"), B("连续多批检出 \(code),启动 8D。"), B(inspector), B(opened), B(1),
                                       B(deadlines.responseBy), B(deadlines.containmentBy), B(deadlines.resolveBy), B(opened.addingTimeInterval(3 * 3600)), B(closedAt),
                                       B(180), B(Int(closedAt.timeIntervalSince(opened) / 60)), B("8D 已验证关闭"), B(0), B(code), B(true), B(0), null, null])
                    for (step, text) in [(4, code == "BURR" ? "去毛刺工序刀具磨损未按时更换" : "贴片定位治具磨损,定位偏移"),
                                         (5, code == "BURR" ? "刀具寿命管理:每 2,000 件强制换刀,首件检验增加毛刺项" : "更换定位治具,增加首件检验"),
                                         (7, code == "BURR" ? "刀具寿命纳入点检表,班长每班签核" : "治具纳入月度点检")] {
                        eightDSteps.append([B(UUID()), B(id), B(step), B("approved"), B(text), B(""), null, B(closedAt), B(buyer), B(closedAt)])
                    }
                }
                guard !existing.contains("\(supplier)/\(month)") else { continue }
                seq += 1
                // Statement money is in whole fen (StatementAmounts rounds each amount once).
                let fen = { (units: Int64) in FixedDecimal(units: units).rounded(toScale: StatementAmounts.moneyScale).units }
                let goods = fen(turnover), deductions = fen(goods * Int64(profile.deductions(m)) / 1000)
                let net = goods - deductions, tax = fen(net * 13 / 100)
                let closedAt = instant(month.last.adding(days: 8))
                statements.append([B(UUID()), B("DZ-\(code)-\(month)"), B(supplier), B(month.description), B("locked"), B(1), B(4), B("CNY"),
                                   B(FixedDecimal(13).units), B(goods), B(deductions), B(Int64(0)), B(net), B(tax), B(net + tax), B(seq), B(finance),
                                   B(closedAt), B(closedAt), B(finance), B(closedAt), B(finance), B(closedAt), B(finance), B(closedAt)])
            }
        }
        let finalSeq = seq
        let (flowRows, reportRows, defectRows, statementRows, stepRows) = (flow, reports, defects, statements, eightDSteps)
        try await app.database.transaction { db in
            let sql = db as! any SQLDatabase
            try await flowRows.insert(into: sql)
            try await sql.insertRows(into: "progress_reports", columns: ["id", "order_id", "supplier_id", "line_no", "operation", "good_quantity", "scrap_quantity",
                                                                         "stage", "note", "report_day", "reported_by", "created_at"], reportRows)
            try await sql.insertRows(into: "inspection_defects", columns: ["id", "inspection_id", "supplier_id", "item_id", "code", "name", "count", "created_at"], defectRows)
            try await sql.insertRows(into: "eight_d_steps", columns: ["id", "exception_id", "step", "state", "content", "return_reason", "submitted_by",
                                                                      "submitted_at", "decided_by", "decided_at"], stepRows)
            try await sql.insertRows(into: "statements", columns: BenchData.statementColumns, statementRows)
            try await sql.raw("UPDATE statement_feed SET seq = \(bind: finalSeq) WHERE id = 1").run()
        }
        // Each month's statement has taken that month's receipts and penalties, as its month-end
        // would have; otherwise the first statement made or refreshed now takes the whole year
        // as late (192 receipt lines a supplier). Write-offs and rejects stay with the demo's own.
        for month in months {
            guard let period = SettlementPeriod(month.description) else { continue }
            let b = StatementBuilder.bounds(period, settings: settings)
            try await BenchData.claimSources(of: period, from: b.start, to: b.end, kinds: ["receipt_line", "exception"], on: sql)
        }
        try await ShipReadiness.refreshAll(on: sql)
        try await ReportGaps.rebuild(on: sql)
        // The corrective actions watched and the grades closed as the background jobs would have
        // done month by month, oldest first.
        try await CorrectiveChecks.run(app: app)
        for month in months { _ = try await ScorecardGrading.closeMonth(month, by: .system, notify: month == months.last, app: app) }
        // Last month's review with SUP-BM: held, with action items on both sides (one done);
        // this month's is planned.
        guard let bm = try await Organization.query(on: app.database).filter(\.$code == "SUP-BM").first()?.id else { return }
        let purchaser = try await DemoOrders.principal("purchaser", app), bmUser = try await DemoOrders.principal("supplier2", app)
        let held = try await ReviewService.plan(purchaser, supplier: bm, ReviewInput(cadence: "monthly", scheduledOn: this.previous.first.adding(days: 4)), app: app)
        let minutes = try await ReviewService.hold(purchaser, held.id, MinutesInput(
            version: held.version, minutes: "交付准时率连续下滑,PAD-SHIFT 在 8D 关闭后复发。双方同意:供应商提交产能与治具改善计划,我方提供新版治具图纸并派员现场审核。",
            actions: [.init(title: "提交产能提升计划(含排班)", ownerSide: "supplier", dueOn: this.previous.first.adding(days: 14)),
                      .init(title: "更换贴片定位治具并提交首件报告", ownerSide: "supplier", dueOn: app.subcon.today().adding(days: 5)),
                      .init(title: "提供新版定位治具图纸", ownerSide: "buyer", dueOn: app.subcon.today().adding(days: 3))]), app: app)
        if let first = minutes.actions.first(where: { $0.title.hasPrefix("提交产能") }) {
            _ = try await ReviewService.done(bmUser, try await ReviewService.ownAction(bmUser, first.id, on: app.database), VersionInput(version: first.version), app: app)
        }
    }
}
