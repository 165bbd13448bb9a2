import Foundation
import Testing
@testable import SubconDomain

@Suite struct DelayReasonTests {
    let reasons = DelayReasons(codes: DelayReasons.standard)
    let due = Day("2026-12-10")!

    @Test func aReasonIsOwedForALatePromiseOrALateProjectionOnly() {
        #expect(DelayReasons.isRequired(promised: Day("2026-12-11")!, due: due, risk: .onTrack))
        #expect(!DelayReasons.isRequired(promised: Day("2026-12-10")!, due: due, risk: .onTrack))
        #expect(!DelayReasons.isRequired(promised: nil, due: due, risk: .unknown))
        // Projected late (within the threshold or beyond it): owed whatever the promise says.
        #expect(DelayReasons.isRequired(promised: Day("2026-12-01")!, due: due, risk: .atRisk))
        #expect(DelayReasons.isRequired(promised: nil, due: due, risk: .late))
        #expect(!DelayReasons.isRequired(promised: nil, due: due, risk: .done))
    }

    @Test func checksTheCodeAndTheNoteForOther() {
        #expect(reasons.check(code: nil, note: "", required: true) == .required)
        #expect(reasons.check(code: "  ", note: "", required: true) == .required)
        #expect(reasons.check(code: nil, note: "", required: false) == nil)
        #expect(reasons.check(code: "capacity", note: "", required: true) == nil)
        #expect(reasons.check(code: "weather", note: "", required: true) == .unknown("weather"))
        #expect(reasons.check(code: "other", note: " ", required: true) == .noteRequired)
        #expect(reasons.check(code: "other", note: "停电", required: true) == nil)
        // A given reason is checked even when none is owed.
        #expect(reasons.check(code: "weather", note: "", required: false) == .unknown("weather"))
    }

    @Test func aConfiguredListIsCleanedAndEndsWithOther() {
        let list = DelayReasons(codes: ["Tooling", "tooling", "", "bad code!", "other", "mould_repair"])
        #expect(list.codes == ["tooling", "mould_repair", "other"])
        #expect(DelayReasons(codes: []).codes == ["other"])
    }

    /// Late means projected after the due date or past it while open: at risk and late, never
    /// done, on track or unknown.
    @Test func oneMeaningOfLate() {
        #expect(Projection.Risk.atRisk.isLate && Projection.Risk.late.isLate)
        #expect(!Projection.Risk.onTrack.isLate && !Projection.Risk.done.isLate && !Projection.Risk.unknown.isLate)
        #expect(Set(Projection.Risk.lateValues) == ["late", "at_risk"])
        // A line with no reports past its due date is late by the days past due.
        let p = Projection.project(quantity: FixedDecimal(100), good: .zero, started: nil, lastReport: nil, today: Day("2026-12-15")!,
                                   due: due, thresholdDays: 3)
        #expect(p.risk.isLate && p.daysLate == 5)
    }
}

@Suite struct TodoTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func eachSideGetsTheTasksItsRolesMayDo() {
        #expect(TodoKind.kinds(for: [.supplierUser], side: .supplier)
                == [.answerRevision, .confirmMaterial, .explainDelay, .shipReady, .answerException, .rework8D, .countStock, .reviewActionSupplier, .acknowledgeDocument])
        #expect(TodoKind.kinds(for: [.supplierFinance], side: .supplier) == [.confirmStatement])
        #expect(TodoKind.kinds(for: [.supplierAdmin], side: .supplier).contains(.retryDeliverySupplier))
        #expect(TodoKind.kinds(for: [.admin], side: .manufacturer).contains(.retryDelivery))
        #expect(TodoKind.kinds(for: [.quality], side: .manufacturer) == [.inspect, .review8D, .reviewAction])
        #expect(TodoKind.kinds(for: [.purchaser], side: .manufacturer) == [.decideCounter, .approveSupplementary, .review8D, .answerDispute, .reviewAction])
        #expect(TodoKind.kinds(for: [.warehouse], side: .manufacturer) == [.receiveDelivery])
        #expect(TodoKind.kinds(for: [.finance], side: .manufacturer) == [.answerDispute, .lockStatement])
        #expect(TodoKind.kinds(for: [.viewer], side: .manufacturer).isEmpty)
        // An admin may do everything on its side, nothing of the supplier's.
        #expect(TodoKind.kinds(for: [.admin], side: .manufacturer).allSatisfy { $0.side == .manufacturer })
    }

    @Test func mostUrgentFirst() {
        let h: TimeInterval = 3600
        let groups = [
            TodoGroup(kind: .confirmMaterial, count: 5, oldest: now.addingTimeInterval(-90 * h), deadline: nil),
            TodoGroup(kind: .answerException, count: 1, oldest: now.addingTimeInterval(-2 * h), deadline: now.addingTimeInterval(5 * h)),
            TodoGroup(kind: .answerRevision, count: 2, oldest: now.addingTimeInterval(-30 * h), deadline: now.addingTimeInterval(-6 * h)),
            TodoGroup(kind: .rework8D, count: 1, oldest: now.addingTimeInterval(-1 * h), deadline: now.addingTimeInterval(200 * h)),
            TodoGroup(kind: .shipReady, count: 0, oldest: nil, deadline: nil),
            TodoGroup(kind: .confirmStatement, count: 1, oldest: now.addingTimeInterval(-10 * h), deadline: nil),
        ]
        let sorted = TodoGroup.sorted(groups, now: now)
        #expect(sorted.map(\.kind) == [.answerRevision, .answerException, .rework8D, .confirmMaterial, .confirmStatement])
        #expect(sorted[0].urgency(now: now) == .overdue)
        #expect(sorted[1].urgency(now: now) == .dueSoon)
        #expect(sorted[2].urgency(now: now) == .waiting)
    }
}

@Suite struct ReportRuleTests {
    @Test func paretoSortsSharesAndEndsAtOneHundred() {
        let bars = Pareto.bars([(key: "A", count: 5), (key: "B", count: 30), (key: "C", count: 0), (key: "D", count: 15)])
        #expect(bars.map(\.key) == ["B", "D", "A"])
        #expect(bars.map(\.percent) == [60, 30, 10])
        #expect(bars.map(\.cumulativePercent) == [60, 90, 100])
        // Shares rounded down never make the running share miss 100 at the end.
        let thirds = Pareto.bars([(key: "x", count: 1), (key: "y", count: 1), (key: "z", count: 1)])
        #expect(thirds.map(\.cumulativePercent) == [33, 66, 100])
        #expect(Pareto.bars([]).isEmpty)
    }

    @Test func ageBuckets() {
        #expect(AgeBucket.of(ageSeconds: 3_600) == .underOneDay)
        #expect(AgeBucket.of(ageSeconds: 86_400) == .oneToThreeDays)
        #expect(AgeBucket.of(ageSeconds: 3 * 86_400) == .threeToSevenDays)
        #expect(AgeBucket.of(ageSeconds: 29 * 86_400) == .oneToFourWeeks)
        #expect(AgeBucket.of(ageSeconds: 400 * 86_400) == .overThirtyDays)
    }

    @Test func filtersSpanAtMostTwoYearsForwards() throws {
        let f = try ReportFilter(from: SettlementPeriod("2026-02")!, to: SettlementPeriod("2026-02")!)
        #expect(f.firstDay.description == "2026-02-01" && f.lastDay.description == "2026-02-28")
        let leap = try ReportFilter(from: SettlementPeriod("2027-12")!, to: SettlementPeriod("2028-02")!)
        #expect(leap.lastDay.description == "2028-02-29")
        #expect(throws: ReportFilter.Refusal.fromAfterTo) { try ReportFilter(from: SettlementPeriod("2026-03")!, to: SettlementPeriod("2026-02")!) }
        #expect(throws: ReportFilter.Refusal.tooLong(maxMonths: 24)) { try ReportFilter(from: SettlementPeriod("2024-01")!, to: SettlementPeriod("2026-01")!) }
        _ = try ReportFilter(from: SettlementPeriod("2024-02")!, to: SettlementPeriod("2026-01")!)
    }
}
