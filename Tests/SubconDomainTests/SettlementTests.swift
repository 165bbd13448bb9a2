import PropertyBased
import Testing
@testable import SubconDomain

private func d(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }
private func day(_ s: String) -> Day { Day(s)! }

@Suite struct StatementAmountTests {
    @Test func aLineIsRoundedOnceFromTheExactProduct() throws {
        // 0.0001 × 49.9995 = 0.00499995: straight to the fen it is 0.00; rounding to four places
        // first (0.0050) and then to the fen would give 0.01.
        #expect(try StatementAmounts.fen(d("0.0001"), times: d("49.9995")) == d("0"))
        #expect(try d("0.0001").multiplied(by: d("49.9995")).rounded(toScale: 2) == d("0.01"))
        #expect(try StatementAmounts.fen(d("3"), times: d("0.3333")) == d("1"))      // 0.9999
        #expect(try StatementAmounts.fen(d("7"), times: d("0.0125")) == d("0.09"))   // 0.0875, half away from zero
        #expect(try StatementAmounts.fen(d("2.5"), times: d("0.001")) == d("0"))      // 0.0025
    }

    @Test func tierPricesDecideTheUnitPrice() {
        let agreement = PriceAgreement(id: "PA-1", supplier: "SUP-JG", item: "FG-RD-002",
                                       validity: Validity(from: day("2026-01-01"), to: nil)!, unitPrice: d("12.5"),
                                       tiers: [.init(minimumQuantity: d("500"), unitPrice: d("12.1")), .init(minimumQuantity: d("1000"), unitPrice: d("11.8"))])
        #expect(agreement.unitPrice(for: d("499")) == d("12.5"))
        #expect(agreement.unitPrice(for: d("500")) == d("12.1"))
        #expect(agreement.unitPrice(for: d("1200")) == d("11.8"))
    }

    /// Two receipts of one line, a revision raising the price from 12.50 to 12.80 between them;
    /// every kind of deduction; two adjustments; 13 % VAT. Worked by hand:
    ///   goods       100 × 12.50 = 1,250.00;  37 × 12.80 = 473.60;              total 1,723.60
    ///   deductions  2 pieces × 15.50 = 31.00; 8D fee 200.00; 3 % of 1,250.00 = 37.50 (waived: first
    ///               occurrence); 2 kg × 0.8567 = 1.7134 → 1.71; 4 days × 50.00 = 200.00, capped at 150.00
    ///                                                                          total   382.71
    ///   adjustments −10.00 and +5.555 → 5.56                                   total    −4.44
    ///   net 1,723.60 − 382.71 − 4.44 = 1,336.45; tax 13 % = 173.7385 → 173.74; gross 1,510.19
    @Test func aMonthWithEveryKindOfDeduction() throws {
        let t = try StatementAmounts.totals(
            goods: [.init(id: "R1", acceptedQuantity: d("100"), unitPrice: d("12.5")),
                    .init(id: "R2", acceptedQuantity: d("37"), unitPrice: d("12.8"))],
            deductions: [.init(id: "E1", basis: .perPiece(pieces: d("2"), rate: d("15.5"))),
                         .init(id: "E2", basis: .fixed(d("200"))),
                         .init(id: "E3", basis: .percentOf(base: d("1250"), percent: d("3")), waived: true),
                         .init(id: "W1", basis: .materialVariance(quantity: d("2"), costPrice: d("0.8567"))),
                         .init(id: "L1", basis: .lateDelivery(daysLate: 4, perDay: d("50"), cap: d("150")))],
            adjustments: [.init(id: "A1", amount: d("-10")), .init(id: "A2", amount: d("5.555"))])
        #expect(t.lineAmounts == [d("1250"), d("473.6")])
        #expect(t.deductionAmounts == [d("31"), d("200"), d("0"), d("1.71"), d("150")])
        #expect(t.goods == d("1723.6"))
        #expect(t.deductions == d("382.71"))
        #expect(t.adjustments == d("-4.44"))
        #expect(t.net == d("1336.45"))
        #expect(t.tax == d("173.74"))
        #expect(t.gross == d("1510.19"))
        #expect(try t.net.adding(t.tax) == t.gross)
    }

    @Test func deductionBasesOnTheirOwn() throws {
        #expect(try StatementAmounts.DeductionBasis.percentOf(base: d("1250"), percent: d("3")).amount() == d("37.5"))
        #expect(try StatementAmounts.DeductionBasis.lateDelivery(daysLate: 2, perDay: d("50"), cap: d("150")).amount() == d("100"))
        #expect(try StatementAmounts.DeductionBasis.lateDelivery(daysLate: 0, perDay: d("50"), cap: nil).amount() == .zero)
        #expect(try StatementAmounts.DeductionBasis.lateDelivery(daysLate: 9, perDay: d("50"), cap: nil).amount() == d("450"))
        // A count that found more than the ledger says is not a loss to deduct.
        #expect(try StatementAmounts.DeductionBasis.materialVariance(quantity: d("-3"), costPrice: d("2")).amount() == .zero)
        #expect(try StatementAmounts.DeductionBasis.fixed(d("0.005")).amount() == d("0.01"))
    }

    @Test func penaltyRulesSetOnAnException() throws {
        // 8 rejected pieces of a lot at ¥92.00: 2.50 a piece, 5 % of the rejected value, a fixed sum, an 8D fee.
        #expect(try PenaltyRule(kind: .perPiece, value: d("2.5")).basis(rejected: d("8"), unitPrice: d("92")).amount() == d("20"))
        #expect(try PenaltyRule(kind: .percent, value: d("5")).basis(rejected: d("8"), unitPrice: d("92")).amount() == d("36.8"))
        #expect(try PenaltyRule(kind: .fixed, value: d("300")).basis(rejected: d("8"), unitPrice: d("92")).amount() == d("300"))
        #expect(try PenaltyRule(kind: .eightDFee, value: d("800")).basis(rejected: .zero, unitPrice: .zero).amount() == d("800"))
        #expect(throws: PenaltyRule.Problem.negative) { try PenaltyRule(kind: .fixed, value: d("-1")) }
        #expect(throws: PenaltyRule.Problem.percentOver100) { try PenaltyRule(kind: .percent, value: d("100.5")) }
        #expect(throws: PenaltyRule.Problem.tooLarge) { try PenaltyRule(kind: .perPiece, value: d("99999999999")) }
        // Totals from stored, already rounded amounts: net = goods − deductions + adjustments; the tax once on the net.
        let sums = try StatementAmounts.summarize(goods: [d("13616"), d("1500.01")], deductions: [d("300"), d("11.53")], adjustments: [d("-50")])
        #expect(sums.net == d("14754.48") && sums.tax == d("1918.08") && sums.gross == d("16672.56"))
    }

    @Test func badFiguresAreRefused() {
        #expect(throws: StatementAmounts.Problem.negativeQuantity(line: "R1")) {
            try StatementAmounts.totals(goods: [.init(id: "R1", acceptedQuantity: d("-1"), unitPrice: d("1"))], deductions: [], adjustments: [])
        }
        #expect(throws: StatementAmounts.Problem.negativeDeduction(id: "E1")) {
            try StatementAmounts.totals(goods: [], deductions: [.init(id: "E1", basis: .fixed(d("-5")))], adjustments: [])
        }
        #expect(throws: StatementAmounts.Problem.taxRateOutOfRange) {
            try StatementAmounts.totals(goods: [], deductions: [], adjustments: [], taxPercent: d("101"))
        }
        #expect(throws: StatementAmounts.Problem.tooLarge) {
            try StatementAmounts.totals(goods: [.init(id: "R1", acceptedQuantity: d("900000000000"), unitPrice: d("900000000000"))],
                                        deductions: [], adjustments: [])
        }
    }

    @Test func taxIsRoundedOnceOnTheNet() throws {
        // Three lines of 0.10: per-line tax would be 3 × 0.013 → 3 × 0.01 = 0.03; on the net 0.30 × 13 % = 0.039 → 0.04.
        let t = try StatementAmounts.totals(goods: (1...3).map { .init(id: "R\($0)", acceptedQuantity: d("1"), unitPrice: d("0.1")) },
                                            deductions: [], adjustments: [])
        #expect(t.tax == d("0.04"))
        #expect(t.gross == d("0.34"))
        let zeroRate = try StatementAmounts.totals(goods: [.init(id: "R", acceptedQuantity: d("1"), unitPrice: d("9.99"))], deductions: [],
                                                   adjustments: [], taxPercent: .zero)
        #expect(zeroRate.gross == d("9.99"))
    }
}

@Suite struct GradedPenaltyTests {
    let rule = GradedPenalty(windowDays: 90, freeOccurrences: 1)

    @Test func theFirstInTheWindowIsANoticeTheSecondAPenalty() {
        let today = day("2026-11-30")
        #expect(rule.occurrence(on: today, earlier: []) == 1)
        #expect(rule.waives(occurrence: 1))
        // 2026-09-02 is the 90th day back (inclusive window); 2026-09-01 is outside it.
        #expect(rule.occurrence(on: today, earlier: [day("2026-09-01")]) == 1)
        #expect(rule.occurrence(on: today, earlier: [day("2026-09-02")]) == 2)
        #expect(!rule.waives(occurrence: 2))
        #expect(rule.occurrence(on: today, earlier: [day("2026-10-01"), day("2026-11-15"), day("2025-11-30")]) == 3)
        // A later record does not count for an earlier occurrence.
        #expect(rule.occurrence(on: day("2026-10-01"), earlier: [day("2026-11-15")]) == 1)
        #expect(GradedPenalty(windowDays: 90, freeOccurrences: 0).waives(occurrence: 1) == false)
    }
}

@Suite struct StatementLifecycleTests {
    typealias L = StatementLifecycle

    /// Every state × action × party against the rule, written out independently.
    @Test func everyMoveByEveryPartyInEveryState() throws {
        let allowed: [L.Action: (from: Set<L.State>, by: Set<String>, to: L.State?)] = [
            .edit: ([.draft, .revised], ["buyer", "finance"], nil),
            .send: ([.draft, .revised], ["buyer", "finance"], .sent),
            .confirm: ([.sent], ["supplier"], .confirmed),
            .dispute: ([.sent], ["supplier"], .disputed),
            .revise: ([.disputed], ["buyer", "finance"], .revised),
            .lock: ([.confirmed], ["finance"], .locked),
            .answer: ([.disputed], ["buyer", "finance"], nil),
        ]
        var moves = 0
        for state in L.State.allCases {
            for action in L.Action.allCases {
                for party in L.Party.allCases {
                    let rule = allowed[action]!
                    let name = "\(party)"
                    let result = Result { () throws(L.Refusal) -> L.State in try L.next(state, action, by: party, disputedLines: 1, unanswered: 0) }
                    if !rule.by.contains(name) {
                        #expect(result.failure == .notYours, "\(party) \(action) in \(state)")
                    } else if !rule.from.contains(state) {
                        #expect(result.failure == .notNow(state), "\(party) \(action) in \(state)")
                    } else {
                        #expect(try result.get() == (rule.to ?? state), "\(party) \(action) in \(state)")
                        moves += 1
                    }
                }
            }
        }
        #expect(moves == 15)  // edit 4, send 4, confirm 1, dispute 1, revise 2, lock 1, answer 2
        // Nothing at all leaves a locked statement.
        for action in L.Action.allCases { for party in L.Party.allCases { #expect(throws: L.Refusal.self) { try L.next(.locked, action, by: party) } } }
    }

    @Test func aDisputeNamesLinesAndARevisionAnswersThemAll() throws {
        var s = L.State.draft
        s = try L.next(s, .send, by: .buyer)
        #expect(throws: L.Refusal.nothingDisputed) { try L.next(s, .dispute, by: .supplier, disputedLines: 0) }
        s = try L.next(s, .dispute, by: .supplier, disputedLines: 2)
        #expect(throws: L.Refusal.unansweredLines(1)) { try L.next(s, .revise, by: .buyer, unanswered: 1) }
        #expect(L.makesNewVersion(.revise))
        s = try L.next(s, .revise, by: .buyer, unanswered: 0)
        s = try L.next(s, .edit, by: .finance)
        s = try L.next(s, .send, by: .buyer)
        s = try L.next(s, .confirm, by: .supplier)
        #expect(throws: L.Refusal.notYours) { try L.next(s, .lock, by: .buyer) }
        s = try L.next(s, .lock, by: .finance)
        #expect(s == .locked)
    }

    @Test func answersToDisputedLines() throws {
        typealias A = L.LineAnswer
        #expect(try A.acceptSupplierFigure.amount(current: d("100"), supplierFigure: d("95.555")) == d("95.56"))
        #expect(throws: A.Problem.noSupplierFigure) { try A.acceptSupplierFigure.amount(current: d("100"), supplierFigure: nil) }
        #expect(try A.keep(reason: "按合同单价").amount(current: d("100"), supplierFigure: d("95")) == d("100"))
        #expect(throws: A.Problem.reasonRequired) { try A.keep(reason: "  ").amount(current: d("100"), supplierFigure: nil) }
        #expect(try A.correct(to: d("98")).amount(current: d("100"), supplierFigure: d("95")) == d("98"))
        #expect(throws: A.Problem.negativeAmount) { try A.correct(to: d("-1")).amount(current: d("100"), supplierFigure: nil) }
    }
}

@Suite struct ChineseAmountTests {
    @Test func capitalsAsBanksWriteThem() {
        let cases: [(String, String)] = [
            ("0", "零元整"), ("0.5", "伍角整"), ("0.05", "伍分"), ("0.55", "伍角伍分"),
            ("1", "壹元整"), ("10", "壹拾元整"), ("15", "壹拾伍元整"), ("20", "贰拾元整"), ("101", "壹佰零壹元整"),
            ("110", "壹佰壹拾元整"), ("1010", "壹仟零壹拾元整"), ("1200", "壹仟贰佰元整"), ("1409.02", "壹仟肆佰零玖元零贰分"),
            ("1000.5", "壹仟元伍角整"), ("10005", "壹万零伍元整"), ("100010", "壹拾万零壹拾元整"), ("200000", "贰拾万元整"),
            ("1010000", "壹佰零壹万元整"), ("10000100", "壹仟万零壹佰元整"), ("1000000001", "壹拾亿零壹元整"),
            ("1510.19", "壹仟伍佰壹拾元壹角玖分"), ("-36.8", "负叁拾陆元捌角整"), ("12.345", "壹拾贰元叁角伍分"),
        ]
        for (amount, words) in cases {
            #expect(ChineseAmount.words(d(amount)) == words, "\(amount)")
        }
    }
}

extension Result {
    fileprivate var failure: Failure? { if case .failure(let f) = self { f } else { nil } }
}

@Suite struct SettlementPeriodTests {
    @Test func cutOffDaysDecideThePeriod() {
        let c25 = SettlementCalendar(cutOffDay: 25)!
        #expect(c25.period(of: day("2026-11-25")).description == "2026-11")
        #expect(c25.period(of: day("2026-11-26")).description == "2026-12")
        #expect(c25.period(of: day("2026-12-26")).description == "2027-01")
        #expect(c25.days(of: SettlementPeriod("2026-12")!) == (day("2026-11-26"), day("2026-12-25")))
        #expect(SettlementCalendar.monthEnd.days(of: SettlementPeriod("2028-02")!) == (day("2028-02-01"), day("2028-02-29")))
        #expect(SettlementCalendar(cutOffDay: 31) == nil)
        #expect(SettlementPeriod("2026-13") == nil && SettlementPeriod("26-1") == nil)
    }

    @Test func aLateReceiptLandsInTheNextOpenStatement() {
        let locked: Set = [SettlementPeriod("2026-10")!, SettlementPeriod("2026-11")!]
        let p = StatementAssignment.place(day("2026-10-20"), calendar: .monthEnd, locked: locked)
        #expect(p == .init(period: SettlementPeriod("2026-12")!, late: true))
        #expect(StatementAssignment.place(day("2026-12-01"), calendar: .monthEnd, locked: locked) == .init(period: SettlementPeriod("2026-12")!, late: false))
    }

    /// A year of random receipts, deductions and corrections, recorded on random days (some
    /// after their own period was locked), with periods locked as the year goes by. Whatever the
    /// order, every source is in exactly one locked statement and the locked statements add up
    /// to the sources, to the fen.
    @Test func aYearOfRandomSourcesIsCountedOnceAndOnlyOnce() throws {
        struct Source { let id: Int; let day: Day; let amount: FixedDecimal }
        var rng = Xoshiro(seed: (2026, 12, 1, 14))
        for calendar in [SettlementCalendar.monthEnd, SettlementCalendar(cutOffDay: 25)!] {
            var locked: Set<SettlementPeriod> = []
            var statements: [SettlementPeriod: [Int: FixedDecimal]] = [:]
            var sources: [Source] = []
            let start = day("2026-01-01")
            for offset in 0..<365 {
                let today = start.adding(days: offset)
                // Lock the period before last once a week has passed since it ended.
                let closing = calendar.period(of: today.adding(days: -7)).previous
                if !locked.contains(closing), calendar.days(of: closing).last < today { locked.insert(closing) }
                for _ in 0..<Int.random(in: 0...4, using: &rng) {
                    // Most records are of today; some are of a day weeks back (a late receipt).
                    let back = Int.random(in: 0...9, using: &rng) < 8 ? 0 : Int.random(in: 1...70, using: &rng)
                    let cents = Int64.random(in: -50_000...900_000, using: &rng)  // deductions and corrections are negative
                    let s = Source(id: sources.count, day: today.adding(days: -back), amount: FixedDecimal(units: cents * 100))
                    sources.append(s)
                    let placed = StatementAssignment.place(s.day, calendar: calendar, locked: locked)
                    #expect(!locked.contains(placed.period))
                    #expect(placed.period >= calendar.period(of: s.day))
                    statements[placed.period, default: [:]][s.id] = s.amount
                }
            }
            for p in statements.keys { locked.insert(p) }
            let ids = statements.values.flatMap(\.keys)
            #expect(ids.count == sources.count)
            #expect(Set(ids).count == sources.count)
            let total = try statements.values.flatMap(\.values).reduce(FixedDecimal.zero) { try $0.adding($1) }
            let expected = try sources.map(\.amount).reduce(FixedDecimal.zero) { try $0.adding($1) }
            #expect(total == expected)
            #expect(sources.count > 500)
        }
    }
}

@Suite struct MonthEndCountTests {
    let l1 = StockKey(supplier: "SUP-JG", item: "RM-PAD-65", lot: "L1")
    let l2 = StockKey(supplier: "SUP-JG", item: "RM-PAD-65", lot: "L2")

    /// 640 issued (500 + a transfer in of 40 + 100 opening), 300 consumed with 6 allowed, 60 back,
    /// 4 scrapped: the ledger says 276 are held and the variance is −2 (less lost than allowed).
    /// The supplier counts 270: a correction of −6, and the write-off now shows a real loss of 4 —
    /// beyond a 0.5 % tolerance (3.2 of 640).
    @Test func aCountedDifferenceBecomesACorrectionAndMovesTheWriteOff() throws {
        let ms = [Movement(key: l1, kind: .issued, quantity: d("500")), Movement(key: l2, kind: .transferredIn, quantity: d("40")),
                  Movement(key: l1, kind: .consumed, quantity: d("300"), allowance: d("6")),
                  Movement(key: l1, kind: .returned, quantity: d("50")), Movement(key: l2, kind: .transferredOut, quantity: d("10")),
                  Movement(key: l1, kind: .scrapped, quantity: d("4"))]
        let opening = StockBalance(inTransit: d("5"), held: d("95"))
        let before = try WriteOff.summarize(opening: opening, movements: ms)
        #expect(before.held == d("276"))
        #expect(before.variance == d("-2"))
        #expect(try !before.exceeds(tolerancePercent: d("0.5")))

        let count = try MonthEndCount.corrections([.init(key: l1, ledger: d("246"), counted: d("240")),
                                                   .init(key: l2, ledger: d("30"), counted: d("30"))])
        #expect(count == [Movement(key: l1, kind: .adjusted, quantity: d("-6"))])
        let after = try WriteOff.summarize(opening: opening, movements: ms + count)
        #expect(after.held == d("270"))
        #expect(after.variance == d("4"))
        #expect(try after.exceeds(tolerancePercent: d("0.5")))
    }

    @Test func countsAreRefusedWhenTheyCannotBeTrue() throws {
        #expect(throws: MonthEndCount.Problem.negativeCount(l1)) { try MonthEndCount.corrections([.init(key: l1, ledger: d("5"), counted: d("-1"))]) }
        #expect(throws: MonthEndCount.Problem.countedTwice(l1)) {
            try MonthEndCount.corrections([.init(key: l1, ledger: d("5"), counted: d("5")), .init(key: l1, ledger: d("5"), counted: d("4"))])
        }
        // Found more than the ledger says: a positive correction.
        #expect(try MonthEndCount.corrections([.init(key: l2, ledger: d("5"), counted: d("7.5"))]) == [Movement(key: l2, kind: .adjusted, quantity: d("2.5"))])
    }
}


@Suite struct SettlementRuleTests {
    @Test func lateDeliveryTermsAndDays() throws {
        #expect(LateDeliveryTerms.daysLate(due: day("2026-11-20"), received: day("2026-11-23")) == 3)
        #expect(LateDeliveryTerms.daysLate(due: day("2026-11-20"), received: day("2026-11-18")) == 0)
        let terms = LateDeliveryTerms(perDay: d("50"), cap: d("120"))
        #expect(try terms.deduction(due: day("2026-11-20"), received: day("2026-11-23")).amount() == d("120"))
        #expect(try terms.deduction(due: day("2026-11-20"), received: day("2026-11-21")).amount() == d("50"))
        #expect(LateDeliveryTerms.check(perDay: nil, cap: d("10")) == [.capWithoutPerDay])
        #expect(LateDeliveryTerms.check(perDay: d("-1"), cap: nil) == [.negativePerDay])
        #expect(LateDeliveryTerms.check(perDay: nil, cap: nil).isEmpty)
    }

    @Test func manualAdjustmentsAndAnswersAsTyped() throws {
        #expect(ManualAdjustment.check(d("-120.5")).isEmpty)
        #expect(ManualAdjustment.check(.zero) == [.zero])
        #expect(ManualAdjustment.check(d("0.001")) == [.notToTheFen])
        #expect(ManualAdjustment.check(d("-99999999999")) == [.tooLarge])
        #expect(try StatementLifecycle.LineAnswer(name: "correct", reason: nil, amount: d("10")) == .correct(to: d("10")))
        #expect(throws: StatementLifecycle.LineAnswer.Problem.amountRequired) { try StatementLifecycle.LineAnswer(name: "correct", reason: nil, amount: nil) }
        #expect(throws: StatementLifecycle.LineAnswer.Problem.unknownAnswer) { try StatementLifecycle.LineAnswer(name: "maybe", reason: nil, amount: nil) }
        // Grading is for quality exceptions only.
        #expect(GradedPenalty().waives(occurrence: 1, exceptionType: "quality"))
        #expect(!GradedPenalty().waives(occurrence: 1, exceptionType: "delay"))
        // What a page offers follows the lifecycle: revise only once every disputed line is answered.
        #expect(StatementLifecycle.may(.buyer, .revise, in: .disputed, unanswered: 0))
        #expect(!StatementLifecycle.may(.buyer, .revise, in: .disputed, unanswered: 1))
        #expect(!StatementLifecycle.may(nil, .confirm, in: .sent))
        #expect(StatementLifecycle.may(.supplier, .confirm, in: .sent))
    }
}
