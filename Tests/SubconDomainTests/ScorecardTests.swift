import Testing
@testable import SubconDomain

private func day(_ s: String) -> Day { Day(s)! }
/// Whole pieces as scale-4 units.
private func pcs(_ n: Int64) -> Int64 { n * 10_000 }

@Suite struct ScorePeriodTests {
    @Test func periodsParseAndSpanTheirDays() throws {
        let m = try #require(ScorePeriod("2026-11"))
        #expect((m.first, m.last) == (day("2026-11-01"), day("2026-11-30")))
        let q = try #require(ScorePeriod("2026-Q1"))
        #expect((q.first, q.last) == (day("2026-01-01"), day("2026-03-31")))
        #expect(q.months == ["2026-01", "2026-02", "2026-03"])
        let y = try #require(ScorePeriod("2024"))
        #expect((y.first, y.last) == (day("2024-01-01"), day("2024-12-31")))
        let r = try #require(ScorePeriod("2026-11-03..2026-11-20"))
        #expect((r.first, r.last) == (day("2026-11-03"), day("2026-11-20")))
        #expect(r.previous == .range(day("2026-10-16"), day("2026-11-02")))
        for bad in ["2026-13", "2026-Q5", "26-11", "2026-11-20..2026-11-03", "2020-01-01..2026-01-01", "", "2026-1", "next month"] {
            #expect(ScorePeriod(bad) == nil, "\(bad)")
        }
    }

    @Test func aTrendIsTwelvePeriodsEndingWithThisOneAcrossTheYearEnd() {
        let t = ScorePeriod.month(year: 2026, month: 3).trailing(12)
        #expect(t.count == 12)
        #expect(t.first == .month(year: 2025, month: 4))
        #expect(t.last == .month(year: 2026, month: 3))
        #expect(ScorePeriod.quarter(year: 2026, quarter: 1).trailing(3).map(\.description) == ["2025-Q3", "2025-Q4", "2026-Q1"])
    }
}

@Suite struct ScorecardMeasureTests {
    /// Reports on days 0, 2, 7 and 7 of a line, with the limit of 3 silent days: the first is on
    /// time whatever, the third came five days after the second and is late.
    @Test func aReportIsOnTimeWithinTheSilentDaysOfTheLineBefore() {
        let days = ["2026-11-01", "2026-11-03", "2026-11-08", "2026-11-08"].map(day)
        var previous: Day?
        var gaps: [Int?] = []
        for d in days {
            gaps.append(ReportTimeliness.gap(previous: previous, day: d))
            previous = max(previous ?? d, d)
        }
        #expect(gaps == [nil, 2, 5, 0])
        #expect(gaps.map { ReportTimeliness.onTime(gap: $0, silentDays: 3) } == [true, true, false, true])
        #expect(ReportTimeliness.onTime(gap: 3, silentDays: 3) && !ReportTimeliness.onTime(gap: 4, silentDays: 3))
    }

    @Test func aLineDeliveredPartlyInTimeAndPartlyAfterThePeriodEnd() {
        // Due 28 Nov, 100 ordered: 60 accepted on the 27th, 40 on 2 Dec (in December's records,
        // but the line belongs to November, the month it was due).
        let line = OnTimeDelivery.line(quantity: pcs(100), due: day("2026-11-28"),
                                       receipts: [.init(day: day("2026-11-27"), accepted: pcs(60)), .init(day: day("2026-12-02"), accepted: pcs(40))],
                                       today: day("2026-12-10"))
        #expect(line == .init(onTime: pcs(60), complete: false, daysLate: 4))
    }

    @Test func anOpenLinePastItsDueDateIsLateUntilToday() {
        let line = OnTimeDelivery.line(quantity: pcs(50), due: day("2026-11-20"), receipts: [.init(day: day("2026-11-19"), accepted: pcs(10))], today: day("2026-11-25"))
        #expect(line == .init(onTime: pcs(10), complete: false, daysLate: 5))
        // Not yet due: nothing late.
        #expect(OnTimeDelivery.line(quantity: pcs(50), due: day("2026-11-30"), receipts: [], today: day("2026-11-25")).daysLate == 0)
    }

    @Test func overDeliveryAndRejectedReceiptsDoNotInflateOnTime() {
        let line = OnTimeDelivery.line(quantity: pcs(100), due: day("2026-11-28"),
                                       receipts: [.init(day: day("2026-11-20"), accepted: pcs(120)), .init(day: day("2026-12-05"), accepted: 0)],
                                       today: day("2026-12-10"))
        // The rejected lot of 5 Dec accepted nothing, so it does not make the line late.
        #expect(line == .init(onTime: pcs(100), complete: true, daysLate: 0))
    }

    @Test func ratesAreBasisPointsRoundedHalfUp() {
        #expect(Rate.of(2, 3) == 6_667)
        #expect(Rate.of(1, 8) == 1_250)
        #expect(Rate.of(0, 0) == nil)
        let d = DeliveryFigures(dueQuantity: pcs(400), onTimeQuantity: pcs(310), lines: 4, linesOnTime: 2, lateLines: 2, daysLate: 7)
        #expect(d.rate == 7_750)
        #expect(d.lineShare == 5_000)
        #expect(d.averageDaysLateTenths == 35)
        let q = QualityFigures(lots: 8, firstPassLots: 7, concessionLots: 1, inspectedQuantity: pcs(4_000), rejectedQuantity: pcs(3))
        #expect(q.passRate == 8_750)
        #expect(q.ppm == 750)
    }

    @Test func percentilesAreNearestRank() {
        let v: [Int64] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
        #expect(Percentile.nearestRank(v, percent: 50) == 50)
        #expect(Percentile.nearestRank(v, percent: 90) == 90)
        #expect(Percentile.nearestRank([7, 9, 30], percent: 50) == 9)
        #expect(Percentile.nearestRank([7], percent: 90) == 7)
        #expect(Percentile.nearestRank([], percent: 50) == nil)
    }

    @Test func aDeadlineCountsOnceMetOrPassed() {
        #expect(ExceptionFigures.deadline(by: 100, doneAt: 90, now: 50) == (true, true))
        #expect(ExceptionFigures.deadline(by: 100, doneAt: 101, now: 200) == (true, false))
        #expect(ExceptionFigures.deadline(by: 100, doneAt: nil, now: 99) == (false, false))
        #expect(ExceptionFigures.deadline(by: 100, doneAt: nil, now: 101) == (true, false))
    }
}

@Suite struct ScoreWeightTests {
    /// Worked by hand with the default weights 35/30/15/10/10 and a 10 % cost limit:
    ///   delivery 77.50 %, quality 87.50 %, exceptions 3 of 4 = 75 %,
    ///   cost 2.5 % of turnover → 1 − 0.25 = 75 %, communication (3 + 9) ÷ (4 + 12) = 75 %;
    ///   (35·77.5 + 30·87.5 + 15·75 + 10·75 + 10·75) ÷ 100 = (2712.5 + 2625 + 1125 + 750 + 750) ÷ 100
    ///   = 79.625 → 79.6, grade B.
    @Test func theWeightedScoreAndGrade() {
        let card = Scorecard(
            delivery: DeliveryFigures(dueQuantity: pcs(400), onTimeQuantity: pcs(310), lines: 4, linesOnTime: 2, lateLines: 2, daysLate: 7),
            quality: QualityFigures(lots: 8, firstPassLots: 7), exceptions: ExceptionFigures(opened: 3, deadlinesDue: 4, deadlinesMet: 3),
            cost: CostFigures(turnover: 1_000_000, deductions: 25_000), communication: CommunicationFigures(revisionsDue: 4, answeredInTime: 3, reports: 12, reportsOnTime: 9))
        let w = ScoreWeights()
        #expect(card.subScore(.cost, w) == 7_500)
        #expect(card.subScore(.communication, w) == 7_500)
        #expect(card.score(w) == 796)
        #expect(card.grade(w) == .b)
    }

    @Test func aMeasureWithNothingToMeasureLeavesTheOthersInProportion() {
        // Only delivery (90 %) and quality (60 %) have data: (35·90 + 30·60) ÷ 65 = 76.15 → 76.2.
        let card = Scorecard(delivery: DeliveryFigures(dueQuantity: pcs(10), onTimeQuantity: pcs(9), lines: 1),
                             quality: QualityFigures(lots: 5, firstPassLots: 3))
        #expect(card.score(ScoreWeights()) == 762)
        #expect(Scorecard().score(ScoreWeights()) == nil)
        #expect(Scorecard().grade(ScoreWeights()) == nil)
    }

    @Test func costBeyondTheLimitScoresZero() {
        let card = Scorecard(cost: CostFigures(turnover: 100_000, deductions: 30_000))
        #expect(card.subScore(.cost, ScoreWeights()) == 0)
    }

    @Test func gradesFollowTheThresholds() {
        var w = ScoreWeights()
        #expect(w.grade(scoreTenths: 900) == .a)
        #expect(w.grade(scoreTenths: 899) == .b)
        #expect(w.grade(scoreTenths: 750) == .b)
        #expect(w.grade(scoreTenths: 600) == .c)
        #expect(w.grade(scoreTenths: 599) == .d)
        w.gradeA = 95
        #expect(w.grade(scoreTenths: 940) == .b)
    }

    @Test func badWeightsAreRefusedWithTheField() {
        var w = ScoreWeights()
        #expect(w.problems().isEmpty)
        w.delivery = 40
        #expect(w.problems() == [.init(field: "weights", code: "weightsNotHundred")])
        w.delivery = -5; w.quality = 70
        #expect(w.problems().map(\.field) == ["delivery"])
        w = ScoreWeights(); w.gradeB = 95
        #expect(w.problems() == [.init(field: "gradeB", code: "thresholdsNotDescending")])
        w = ScoreWeights(); w.gradeA = 120
        #expect(w.problems().contains(.init(field: "gradeA", code: "outOfRange")))
        w = ScoreWeights(); w.silentDays = 0; w.costLimitPercent = 0
        #expect(w.problems().map(\.field) == ["silentDays", "costLimitPercent"])
    }

    @Test func twoDGradesInARowCallForACorrectiveAction() {
        #expect(GradeActions.needsCorrectiveAction(previous: .d, current: .d))
        #expect(!GradeActions.needsCorrectiveAction(previous: .c, current: .d))
        #expect(!GradeActions.needsCorrectiveAction(previous: .d, current: nil))
        #expect(!GradeActions.needsCorrectiveAction(previous: nil, current: .d))
        #expect(GradeActions.preferredNext(.a))
        #expect(!GradeActions.preferredNext(.b))
    }
}

@Suite struct PreferredSupplierTests {
    private func agreement(_ id: String, _ supplier: String, _ price: String) -> PriceAgreement {
        PriceAgreement(id: id, supplier: supplier, item: "FG-9", validity: Validity(from: day("2026-01-01"), to: nil)!, unitPrice: try! FixedDecimal.parse(price))
    }

    @Test func aPreferredSupplierWithAValidPriceIsChosenAndTheReasonSaid() {
        let agreements = [agreement("a1", "CHEAP", "90"), agreement("a2", "GOOD", "96"), agreement("a3", "BEST", "99")]
        let status: [String: SupplierStatus] = ["CHEAP": .qualified, "GOOD": .qualified, "BEST": .qualified]
        let plan = [PlanLine(number: 1, item: "FG-9", quantity: FixedDecimal(10), dueDate: day("2026-12-22"))]
        let plain = OrderProposal.make(plan, routings: [:], agreements: agreements, supplierStatus: status, on: day("2026-12-01"))
        #expect(plain.orders.map(\.supplier) == ["CHEAP"])
        #expect(plain.orders[0].lines[0].reason == .lowestPrice)
        // Two preferred: the cheaper of them, even though a non-preferred one is cheaper still.
        let preferred = OrderProposal.make(plan, routings: [:], agreements: agreements, supplierStatus: status, preferred: ["GOOD", "BEST"], on: day("2026-12-01"))
        #expect(preferred.orders.map(\.supplier) == ["GOOD"])
        #expect(preferred.orders[0].lines[0].reason == .preferred)
        // A preferred supplier without a valid price is passed over.
        let noPrice = OrderProposal.make(plan, routings: [:], agreements: agreements, supplierStatus: status, preferred: ["ELSEWHERE"], on: day("2026-12-01"))
        #expect(noPrice.orders.map(\.supplier) == ["CHEAP"])
        // The routing's own supplier still comes first.
        let routed = OrderProposal.make(plan, routings: ["FG-9": [RoutingOperation(sequence: 10, code: "ASM", name: "装配", mode: .outsourced, defaultSupplier: "BEST")]],
                                        agreements: agreements.map { var a = $0; a.operation = "ASM"; return a }, supplierStatus: status, preferred: ["GOOD"], on: day("2026-12-01"))
        #expect(routed.orders.map(\.supplier) == ["BEST"])
        #expect(routed.orders[0].lines[0].reason == .routingDefault)
    }
}

@Suite struct CorrectiveEffectTests {
    let window = CorrectiveEffect.Window(days: 90, lots: 5)

    @Test func theWindowIsLotsOrDaysWhicheverComesFirst() {
        let before = CorrectiveEffect.Counts(lots: 10, defective: 4)
        #expect(CorrectiveEffect.judge(before: before, after: .init(lots: 4, defective: 0), daysSinceClose: 30, window: window) == .watching)
        #expect(CorrectiveEffect.judge(before: before, after: .init(lots: 5, defective: 0), daysSinceClose: 30, window: window) == .effective)
        #expect(CorrectiveEffect.judge(before: before, after: .init(lots: 2, defective: 0), daysSinceClose: 90, window: window) == .effective)
        #expect(CorrectiveEffect.judge(before: before, after: .init(lots: 0, defective: 0), daysSinceClose: 91, window: window) == .unverified)
    }

    /// Before: 4 of 10 lots (40 %). After: 1 of 5 (20 %) is exactly half — effective; 2 of 5 (40 %) is not.
    @Test func effectiveMeansAtMostHalfTheRateBefore() {
        let before = CorrectiveEffect.Counts(lots: 10, defective: 4)
        #expect(CorrectiveEffect.judge(before: before, after: .init(lots: 5, defective: 1), daysSinceClose: 40, window: window) == .effective)
        #expect(CorrectiveEffect.judge(before: before, after: .init(lots: 5, defective: 2), daysSinceClose: 40, window: window) == .ineffective)
        #expect(CorrectiveEffect.recurred(after: .init(lots: 5, defective: 1)))
        #expect(!CorrectiveEffect.recurred(after: .init(lots: 5, defective: 0)))
    }

    @Test func withNothingBeforeAnyRecurrenceIsIneffective() {
        let none = CorrectiveEffect.Counts(lots: 0, defective: 0)
        #expect(CorrectiveEffect.judge(before: none, after: .init(lots: 6, defective: 0), daysSinceClose: 10, window: window) == .effective)
        #expect(CorrectiveEffect.judge(before: none, after: .init(lots: 6, defective: 1), daysSinceClose: 10, window: window) == .ineffective)
    }
}

@Suite struct ImprovementRuleTests {
    @Test func eachRuleFiresOnItsFiguresAndNamesThem() {
        let card = Scorecard(
            delivery: DeliveryFigures(dueQuantity: pcs(100), onTimeQuantity: pcs(70), lines: 4, linesOnTime: 2, lateLines: 2, daysLate: 9),
            quality: QualityFigures(lots: 10, firstPassLots: 8, inspectedQuantity: pcs(1000), rejectedQuantity: pcs(5)),
            exceptions: ExceptionFigures(opened: 3, responseMedianMinutes: 1500, deadlinesDue: 6, deadlinesMet: 3),
            communication: CommunicationFigures(revisionsDue: 9, answeredInTime: 3, answerMedianMinutes: 31 * 60, reports: 10, reportsOnTime: 6))
        let previous = Scorecard(delivery: DeliveryFigures(dueQuantity: pcs(100), onTimeQuantity: pcs(95), lines: 4))
        let s = ImprovementRules.suggest(card, previous: previous, answerHours: 24, silentDays: 3,
                                         recurrences: [.init(exception: "YC-0007", defect: "PAD-SHIFT", lots: 4)])
        #expect(s.map(\.rule) == ["slowAnswers", "slippingDelivery", "quality", "silentProgress", "slowExceptions", "ineffectiveAction"])
        #expect(s[0].params == ["median": "31.0", "deadline": "24", "late": "6", "due": "9"])
        #expect(s[1].params == ["rate": "70.0%", "before": "95.0%", "late": "2", "days": "4.5"])
        #expect(s[2].params["pass"] == "80.0%" && s[2].params["ppm"] == "5,000")
        #expect(s[3].params["share"] == "60.0%")
        #expect(s[4].params["met"] == "50.0%")
        #expect(s[5].params == ["exception": "YC-0007", "defect": "PAD-SHIFT", "lots": "4"])
    }

    @Test func aGoodMonthOrTooFewRecordsSuggestNothing() {
        let good = Scorecard(delivery: DeliveryFigures(dueQuantity: pcs(100), onTimeQuantity: pcs(98), lines: 4),
                             quality: QualityFigures(lots: 10, firstPassLots: 10),
                             communication: CommunicationFigures(revisionsDue: 2, answeredInTime: 0, reports: 4, reportsOnTime: 0))
        #expect(ImprovementRules.suggest(good, previous: nil, answerHours: 24, silentDays: 3, recurrences: []).isEmpty)
        // Slipping only counts when it fell 10 points: 80 % after 85 % is not news.
        let steady = Scorecard(delivery: DeliveryFigures(dueQuantity: pcs(100), onTimeQuantity: pcs(80), lines: 4))
        let before = Scorecard(delivery: DeliveryFigures(dueQuantity: pcs(100), onTimeQuantity: pcs(85), lines: 4))
        #expect(ImprovementRules.suggest(steady, previous: before, answerHours: 24, silentDays: 3, recurrences: []).isEmpty)
    }
}

@Suite struct CounterProposedDateTests {
    /// The buyer accepted the supplier's counter-proposal of 5 Dec instead of 28 Nov: the order
    /// line now carries 5 Dec, and delivery on 3 Dec is on time against it — late against the
    /// original date.
    @Test func theAgreedDateIsTheOneMeasuredAgainst() {
        let receipts = [OnTimeDelivery.Receipt(day: day("2026-12-03"), accepted: pcs(100))]
        #expect(OnTimeDelivery.line(quantity: pcs(100), due: day("2026-12-05"), receipts: receipts, today: day("2026-12-10"))
                == .init(onTime: pcs(100), complete: true, daysLate: 0))
        #expect(OnTimeDelivery.line(quantity: pcs(100), due: day("2026-11-28"), receipts: receipts, today: day("2026-12-10"))
                == .init(onTime: 0, complete: false, daysLate: 5))
    }
}

@Suite struct ReviewCadenceTests {
    @Test func eachCadenceLooksBackOnItsPeriodAndRecurs() {
        #expect(ReviewCadence.monthly.period(on: day("2026-12-05")) == .month(year: 2026, month: 11))
        #expect(ReviewCadence.weekly.period(on: day("2026-01-07")) == .month(year: 2025, month: 12))
        #expect(ReviewCadence.quarterly.period(on: day("2026-01-15")) == .quarter(year: 2025, quarter: 4))
        #expect(ReviewCadence.weekly.next(after: day("2026-12-29")) == day("2027-01-05"))
        // The 31st becomes the month's last day, across a leap February.
        #expect(ReviewCadence.monthly.next(after: day("2028-01-31")) == day("2028-02-29"))
        #expect(ReviewCadence.quarterly.next(after: day("2026-11-30")) == day("2027-02-28"))
        #expect(ReviewCadence.monthly.next(after: day("2998-12-31")) == day("2999-01-31"))
    }

    @Test func anActionItemIsClosedByItsOwnSide() {
        #expect(ReviewActionOwner.supplier.mayComplete(side: .supplier, roles: [.supplierUser]))
        #expect(!ReviewActionOwner.supplier.mayComplete(side: .manufacturer, roles: [.admin]))
        #expect(ReviewActionOwner.buyer.mayComplete(side: .manufacturer, roles: [.purchaser]))
        #expect(!ReviewActionOwner.buyer.mayComplete(side: .manufacturer, roles: [.warehouse]))
        #expect(!ReviewActionOwner.buyer.mayComplete(side: .supplier, roles: [.supplierAdmin]))
    }

    @Test func anAnswerIsInTimeWithinTheAnswerHours() {
        let clock = ResponseClock(answerHours: 24)
        #expect(clock.answeredInTime(responseSeconds: 24 * 3600, releasedAt: 0, now: 999_999) == true)
        #expect(clock.answeredInTime(responseSeconds: 24 * 3600 + 1, releasedAt: 0, now: 999_999) == false)
        #expect(clock.answeredInTime(responseSeconds: nil, releasedAt: 0, now: 3600) == nil)
        #expect(clock.answeredInTime(responseSeconds: nil, releasedAt: 0, now: 24 * 3600 + 1) == false)
        #expect(Rate.percentText(7750) == "77.5%" && Rate.tenthsText(796) == "79.6")
    }
}
