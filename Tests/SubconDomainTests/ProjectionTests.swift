import Testing
@testable import SubconDomain

private func d(_ s: String) -> Day { Day(s)! }
private func q(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

struct ProjectionTests {
    @Test func paceFromReportsProjectsTheRestRoundedUp() {
        // 300 of 1000 good in 10 days: 700 more take 700 × 10 / 300 = 23.3 → 24 days.
        let p = Projection.project(quantity: q("1000"), good: q("300"), started: d("2026-09-01"), lastReport: d("2026-09-11"),
                                   today: d("2026-09-11"), due: d("2026-09-30"), thresholdDays: 3)
        #expect(p.eta == d("2026-10-05"))
        #expect(p.daysLate == 5)
        #expect(p.risk == .late)
        let lenient = Projection.project(quantity: q("1000"), good: q("300"), started: d("2026-09-01"), lastReport: d("2026-09-11"),
                                         today: d("2026-09-11"), due: d("2026-09-30"), thresholdDays: 7)
        #expect(lenient.risk == .atRisk)
    }

    @Test func onTrackDoneAndUnknown() {
        // 50 of 100 in 4 days: 4 more days, due in 5.
        let p = Projection.project(quantity: q("100"), good: q("50"), started: d("2026-09-01"), lastReport: d("2026-09-05"),
                                   today: d("2026-09-05"), due: d("2026-09-10"), thresholdDays: 2)
        #expect(p == Projection(eta: d("2026-09-09"), daysLate: 0, risk: .onTrack))
        // Started today: one day is the least a pace is measured over (0.5 of 1.5 → 2 more days).
        let today = Projection.project(quantity: q("1.5"), good: q("0.5"), started: d("2026-09-05"), lastReport: d("2026-09-05"),
                                       today: d("2026-09-05"), due: d("2026-09-06"), thresholdDays: 0)
        #expect(today.eta == d("2026-09-07"))
        #expect(today.risk == .late)
        let done = Projection.project(quantity: q("100"), good: q("100.5"), started: d("2026-09-01"), lastReport: d("2026-09-12"),
                                      today: d("2026-09-20"), due: d("2026-09-10"), thresholdDays: 5)
        #expect(done == Projection(eta: d("2026-09-12"), daysLate: 2, risk: .done))
        let nothing = Projection.project(quantity: q("100"), good: .zero, started: nil, lastReport: nil, today: d("2026-09-05"),
                                         due: d("2026-09-10"), thresholdDays: 2)
        #expect(nothing == Projection(eta: nil, daysLate: 0, risk: .unknown))
        let overdue = Projection.project(quantity: q("100"), good: .zero, started: nil, lastReport: nil, today: d("2026-09-13"),
                                         due: d("2026-09-10"), thresholdDays: 2)
        #expect(overdue == Projection(eta: nil, daysLate: 3, risk: .late))
    }

    @Test func aLaterPromiseCounts() {
        let p = Projection.project(quantity: q("100"), good: q("50"), started: d("2026-09-01"), lastReport: d("2026-09-05"),
                                   today: d("2026-09-05"), due: d("2026-09-10"), promised: d("2026-09-12"), thresholdDays: 3)
        #expect(p == Projection(eta: d("2026-09-09"), daysLate: 2, risk: .atRisk))
    }

    @Test func lateLinesComeFirst() {
        let order: [Projection.Risk] = [.onTrack, .done, .late, .unknown, .atRisk].sorted { $0.urgency < $1.urgency }
        #expect(order == [.late, .atRisk, .unknown, .onTrack, .done])
    }

    @Test func theWorkListShowsTheMostUrgentLineFirstAndEveryLineInOnePlace() {
        typealias L = (risk: String, due: String, order: String, line: Int)
        let lines: [L] = [("on_track", "2026-12-01", "A", 1), ("unknown", "2026-12-01", "A", 2), ("late", "2027-01-05", "B", 1),
                          ("at_risk", "2026-12-20", "C", 1), ("late", "2026-12-30", "D", 2), ("late", "2026-12-30", "D", 1),
                          ("done", "2026-11-01", "E", 1), ("strange", "2026-11-01", "F", 1)]
        let sorted = lines.sorted(by: Projection.Risk.moreUrgent).map { "\($0.order)\($0.line)" }
        #expect(sorted == ["D1", "D2", "B1", "C1", "A2", "A1", "E1", "F1"])
        // Any starting order comes out the same.
        #expect(lines.reversed().sorted(by: Projection.Risk.moreUrgent).map { "\($0.order)\($0.line)" } == sorted)
    }
}
