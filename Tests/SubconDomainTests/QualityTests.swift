import Foundation
import Testing
@testable import SubconDomain

struct SamplingTableTests {
    @Test func codeLettersFollowTable1() {
        // Lot size, level → letter, read off ISO 2859-1 Table 1.
        let cases: [(Int, Sampling.Level, Sampling.CodeLetter)] = [
            (2, .s1, .A), (8, .iii, .B), (9, .iii, .C), (25, .ii, .C), (26, .ii, .D), (50, .s4, .C), (90, .ii, .E),
            (150, .i, .D), (280, .ii, .G), (500, .i, .F), (1000, .ii, .J), (1200, .iii, .K), (3200, .s4, .G),
            (10_000, .ii, .L), (10_001, .ii, .M), (35_001, .s1, .D), (150_000, .ii, .N), (500_000, .iii, .Q),
            (500_001, .iii, .R), (2_000_000, .s3, .H), (600, .s2, .C),
        ]
        for (lot, level, letter) in cases {
            #expect(Sampling.codeLetter(lotSize: lot, level: level) == letter, "lot \(lot) level \(level.rawValue)")
        }
    }

    private func plan(_ lot: Int, _ level: Sampling.Level = .ii, aql: Sampling.AQL, _ sev: Sampling.Severity = .normal) -> (String, Int, Int, Int) {
        let p = Sampling.plan(lotSize: lot, level: level, aql: aql, severity: sev)
        return (p.codeLetter.rawValue, p.sampleSize, p.acceptance, p.rejection)
    }

    @Test func normalInspectionMasterTable() {
        // Plain cells of Table 2-A.
        #expect(plan(1000, aql: .p0_65) == ("J", 80, 1, 2))
        #expect(plan(2000, aql: .p1_0) == ("K", 125, 3, 4))
        #expect(plan(5000, aql: .p2_5) == ("L", 200, 10, 11))
        #expect(plan(5000, aql: .p4_0) == ("L", 200, 14, 15))
        #expect(plan(100, aql: .p2_5) == ("F", 20, 1, 2))
        #expect(plan(100, aql: .p4_0) == ("F", 20, 2, 3))
        #expect(plan(60, aql: .p1_0) == ("E", 13, 0, 1))
        #expect(plan(20_000, aql: .p0_15) == ("M", 315, 1, 2))
        #expect(plan(20_000, aql: .p0_25) == ("M", 315, 2, 3))
        #expect(plan(2000, aql: .p10) == ("K", 125, 21, 22))
    }

    @Test func arrowsLeadToTheFirstPlanBelowOrAbove() {
        // H (50) under 0.65 is ↓: J, 80, 1 2.
        #expect(plan(400, aql: .p0_65) == ("J", 80, 1, 2))
        // G (32) under 0.65 is ↑: F, 20, 0 1.
        #expect(plan(200, aql: .p0_65) == ("F", 20, 0, 1))
        // G (32) under 1.0 is ↓: H, 50, 1 2.
        #expect(plan(200, aql: .p1_0) == ("H", 50, 1, 2))
        // M (315) under 0.10 is ↓: N, 500, 1 2.
        #expect(plan(20_000, aql: .p0_10) == ("N", 500, 1, 2))
        // Long way down: C (5) under 0.10 → K (125), 0 1.
        #expect(plan(20, aql: .p0_10) == ("K", 20, 0, 1))
        // Past 21 22 the table points up: K (125) under 10 is 21 22, L (200) under 10 is ↑ to K.
        #expect(plan(5000, aql: .p10) == ("K", 125, 21, 22))
        // Row R continues the diagonal: 1 2 under 0.010; Q's ↓ under 0.025 lands on R's 3 4.
        #expect(plan(600_000, .iii, aql: .p0_010) == ("R", 2000, 1, 2))
        #expect(plan(200_000, .iii, aql: .p0_025) == ("R", 2000, 3, 4))
    }

    @Test func sampleAtLeastTheLotMeansHundredPercent() {
        let p = Sampling.plan(lotSize: 20, level: .ii, aql: .p0_10, severity: .normal)
        #expect(p.hundredPercent && p.sampleSize == 20 && p.acceptance == 0)
        let q = Sampling.plan(lotSize: 3, level: .ii, aql: .p6_5, severity: .normal)
        #expect(q.sampleSize == 2 && !q.hundredPercent)
        #expect(Sampling.plan(lotSize: 1, level: .ii, aql: .p6_5, severity: .normal).sampleSize == 1)
    }

    @Test func tightenedInspectionMasterTable() {
        #expect(plan(2000, aql: .p1_0, .tightened) == ("K", 125, 2, 3))
        #expect(plan(2000, aql: .p2_5, .tightened) == ("K", 125, 5, 6))
        #expect(plan(100, aql: .p1_0, .tightened) == ("F", 20, 0, 1))
        #expect(plan(200, aql: .p2_5, .tightened) == ("G", 32, 1, 2))
        #expect(plan(400, aql: .p10, .tightened) == ("H", 50, 8, 9))
        // Tightened has two ↓ after 0 1: J (80) under 0.65 → K (125), 1 2.
        #expect(plan(1000, aql: .p0_65, .tightened) == ("K", 125, 1, 2))
        // Past 18 19 it points up: L (200) under 10 → K (125), 18 19.
        #expect(plan(5000, aql: .p10, .tightened) == ("K", 125, 18, 19))
        // Row S (3150) exists only under tightened 0.010.
        #expect(plan(600_000, .iii, aql: .p0_010, .tightened) == ("S", 3150, 1, 2))
    }

    @Test func reducedInspectionMasterTable() {
        // K reduced takes 50 with the numbers normal gives 50 units.
        #expect(plan(2000, aql: .p1_0, .reduced) == ("K", 50, 1, 2))
        #expect(plan(1000, aql: .p2_5, .reduced) == ("J", 32, 2, 3))
        #expect(plan(5000, aql: .p0_65, .reduced) == ("L", 80, 1, 2))
        // Arrow in reduced: J (32) under 0.65 — normal G (32) points up to 20, 0 1: reduced H, 20.
        #expect(plan(1000, aql: .p0_65, .reduced) == ("H", 20, 0, 1))
        // A–C all sample 2.
        #expect(plan(10, aql: .p6_5, .reduced) == ("C", 2, 0, 1))
    }
}

struct SwitchingTests {
    private func run(_ results: [Bool], ac: Int = 1, nc: Int = 0, reduced: Bool = false, from start: Switching = Switching()) -> Switching {
        var s = start
        for r in results { s.record(accepted: r, acceptance: ac, nonconforming: r ? nc : ac + 1, reducedAllowed: reduced) }
        return s
    }

    @Test func twoOfFiveNotAcceptedTightens() {
        #expect(run([true, false, true, true, true]).state == .normal)
        #expect(run([true, false, true, true, false]).state == .tightened)
        #expect(run([false, false]).state == .tightened)
        // Two not accepted six lots apart: the first has left the window of five.
        #expect(run([false, true, true, true, true, false]).state == .normal)
    }

    @Test func fiveAcceptedOnTightenedReturnToNormal() {
        let t = run([false, false])
        #expect(run([true, true, true, true], from: t).state == .tightened)
        let back = run([true, true, true, true, true], from: t)
        #expect(back.state == .normal && back.recentNormal.isEmpty)
        // A run broken by a failure starts again.
        #expect(run([true, true, false, true, true, true, true], from: t).state == .tightened)
    }

    @Test func fiveNotAcceptedOnTightenedDiscontinue() {
        let t = run([false, false])
        let d = run([false, true, false, true, false, false, true, false], from: t)
        #expect(d.state == .discontinued && d.severity == nil)
        #expect(d.samplingSeverity == .tightened && t.samplingSeverity == .tightened && Switching().samplingSeverity == .normal)
        var resumed = d
        resumed.resume()
        #expect(resumed.state == .tightened)
    }

    @Test func switchingScoreLeadsToReducedOnlyWhenAllowed() {
        // Ac 0/1: +2 per accepted lot; 15 lots reach 30.
        #expect(run(Array(repeating: true, count: 14), reduced: true).state == .normal)
        #expect(run(Array(repeating: true, count: 15), reduced: true).state == .reduced)
        #expect(run(Array(repeating: true, count: 40), reduced: false).state == .normal)
        // Ac ≥ 2: +3 only when the lot would pass one step tighter (Ac 5 → 3); a lot with 4 resets.
        var s = Switching()
        for _ in 0..<9 { s.record(accepted: true, acceptance: 5, nonconforming: 3, reducedAllowed: true) }
        #expect(s.score == 27)
        s.record(accepted: true, acceptance: 5, nonconforming: 4, reducedAllowed: true)
        #expect(s.score == 0 && s.state == .normal)
        for _ in 0..<10 { s.record(accepted: true, acceptance: 5, nonconforming: 0, reducedAllowed: true) }
        #expect(s.state == .reduced)
        // Reduced: one lot not accepted returns to normal.
        s.record(accepted: false, acceptance: 1, nonconforming: 2, reducedAllowed: true)
        #expect(s.state == .normal && s.score == 0)
    }

    @Test func exemptionAfterARunOfPassedLots() {
        let s = run(Array(repeating: true, count: 5))
        #expect(s.earnsExemption(after: 5) && !s.earnsExemption(after: 6) && !s.earnsExemption(after: 0))
        #expect(run([true, true, true, true, false, true]).passRun == 1)
    }
}

struct EightDTests {
    typealias E = EightD

    @Test func theWholeLoop() throws {
        var c = E()
        for step in E.Step.allCases {
            c = try c.applying(.submit(step), by: .supplier)
            if step == .d4 {
                c = try c.applying(.sendBack(step), by: .buyer)
                #expect(c[step] == .returned)
                c = try c.applying(.submit(step), by: .supplier)
            }
            #expect(!c.closed)
            c = try c.applying(.approve(step), by: .buyer)
        }
        #expect(c.closed && c.current == nil)
        c = try c.applying(.reopen(from: .d4), by: .buyer)
        #expect(!c.closed && c.current == .d4 && c[.d3] == .approved && c[.d8] == .open)
    }

    /// Every move, by either side, on a step in every state, with the step before approved or
    /// not, on an open and a closed case.
    @Test func everyAllowedAndForbiddenMove() throws {
        for step in E.Step.allCases {
            for state in E.StepState.allCases {
                for previousApproved in [true, false] where step != .d1 || previousApproved {
                    for closed in [false, true] {
                        var steps = Array(repeating: E.StepState.approved, count: 8)
                        for later in E.Step.allCases where later > step { steps[later.rawValue - 1] = .open }
                        steps[step.rawValue - 1] = state
                        if step != .d1 && !previousApproved { steps[step.rawValue - 2] = .submitted }
                        let c = E(steps: steps, closed: closed)
                        let moves: [E.Move] = [.submit(step), .approve(step), .sendBack(step), .reopen(from: step)]
                        for move in moves {
                            for side in [E.Side.supplier, .buyer] {
                                let expected: Bool
                                switch move {
                                case .submit: expected = side == .supplier && !closed && (state == .open || state == .returned) && previousApproved
                                case .approve, .sendBack: expected = side == .buyer && !closed && state == .submitted
                                case .reopen: expected = side == .buyer && closed
                                }
                                let result = Result { () throws(E.Refusal) in try c.applying(move, by: side) }
                                switch result {
                                case .success(let next):
                                    #expect(expected, "\(move) by \(side) on \(step.code) \(state) prev \(previousApproved) closed \(closed)")
                                    switch move {
                                    case .submit: #expect(next[step] == .submitted)
                                    case .approve: #expect(next[step] == .approved && next.closed == (step == .d8))
                                    case .sendBack: #expect(next[step] == .returned)
                                    case .reopen: #expect(!next.closed && next[step] == .open)
                                    }
                                case .failure(let refusal):
                                    #expect(!expected, "\(move) by \(side) on \(step.code) \(state) refused: \(refusal)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func refusalsSayWhy() {
        #expect(throws: E.Refusal.previousNotApproved(.d1)) { try E().applying(.submit(.d2), by: .supplier) }
        #expect(throws: E.Refusal.notYourMove) { try E().applying(.submit(.d1), by: .buyer) }
        #expect(throws: E.Refusal.notSubmitted(.d1)) { try E().applying(.approve(.d1), by: .buyer) }
        #expect(throws: E.Refusal.notClosed) { try E().applying(.reopen(from: .d1), by: .buyer) }
    }
}

struct ExceptionRuleTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func escalationOneLevelPerMissedDeadline() {
        let d = ExceptionRules.defaultDeadlines(.quality, .major)
        let due = ExceptionRules.due(from: t0, d)
        func level(_ hours: Double, responded: Bool = false, contained: Bool = false, current: Int = 0) -> Int {
            ExceptionRules.escalationLevel(now: t0.addingTimeInterval(hours * 3600), due: due, respondedAt: responded ? t0 : nil,
                                           containedAt: contained ? t0 : nil, closedAt: nil, needsContainment: true, current: current)
        }
        #expect(level(23) == 0)
        #expect(level(25) == 1)
        #expect(level(25, responded: true) == 0)
        #expect(level(49) == 2)
        #expect(level(49, responded: true, contained: true) == 0)
        #expect(level(20 * 24 + 1) == 3)
        #expect(level(1, current: 2) == 2)
        #expect(ExceptionRules.escalationLevel(now: t0.addingTimeInterval(1e7), due: due, respondedAt: nil, containedAt: nil,
                                               closedAt: t0, needsContainment: true, current: 1) == 1)
    }

    @Test func deadlinesAndFigures() {
        for k in ExceptionRules.Kind.allCases {
            for s in ExceptionRules.Severity.allCases { #expect(ExceptionRules.defaultDeadlines(k, s).isValid) }
        }
        #expect(!ExceptionRules.Deadlines(responseHours: 0, containmentHours: 1, resolveDays: 1).isValid)
        #expect(ExceptionRules.ppm(rejected: try! FixedDecimal.parse("2"), received: try! FixedDecimal.parse("150")) == 13_333)
        #expect(ExceptionRules.ppm(rejected: .zero, received: .zero) == 0)
        #expect(ExceptionRules.ppm(rejected: try! FixedDecimal.parse("0.5"), received: try! FixedDecimal.parse("3")) == 166_667)
        #expect(ExceptionRules.minutes(from: t0, to: t0.addingTimeInterval(3599)) == 59)
    }
}

struct IncomingInspectionTests {
    typealias I = IncomingInspection
    private func q(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

    @Test func findingsAndTheSample() {
        #expect(I.outside([q("41.98"), q("42"), q("42.011"), q("42.01")], lower: q("41.99"), upper: q("42.01")) == 2)
        #expect(I.outside([q("5"), q("99")], lower: nil, upper: q("10")) == 1)
        #expect(I.nonconforming(defectTally: 3, characteristicTally: 1, sampleSize: 50) == 3)
        #expect(I.nonconforming(defectTally: 0, characteristicTally: 80, sampleSize: 50) == 50)
        let plan = Sampling.plan(lotSize: 200, level: .ii, aql: .p1_0, severity: .normal)   // n 50, Ac 1
        #expect(I.samplePasses(nonconforming: 1, critical: 0, plan: plan))
        #expect(!I.samplePasses(nonconforming: 2, critical: 0, plan: plan))
        #expect(!I.samplePasses(nonconforming: 0, critical: 1, plan: plan))
    }

    @Test func eachDecisionsQuantities() throws {
        let hundred = q("100")
        func decide(_ d: I.Decision?, _ a: String? = nil, _ r: String? = nil, passed: Bool = true, approver: Bool = false,
                    discontinued: Bool = false) throws(I.Refusal) -> I.Outcome {
            try I.decide(d, received: hundred, accepted: a.map(q), rejected: r.map(q), samplePassed: passed, hasApprover: approver, discontinued: discontinued)
        }
        #expect(try decide(.accept) == I.Outcome(decision: .accept, accepted: hundred, rejected: .zero))
        #expect(try decide(.reject, passed: false) == I.Outcome(decision: .reject, accepted: .zero, rejected: hundred))
        #expect(try decide(.concession, passed: false, approver: true) == I.Outcome(decision: .concession, accepted: hundred, rejected: .zero))
        #expect(try decide(.partial, "90", "10") == I.Outcome(decision: .partial, accepted: q("90"), rejected: q("10")))
        // Without a decision: the quantities, else the sample.
        #expect(try decide(nil, "100", "0").decision == .accept)
        #expect(try decide(nil, "0", "100").decision == .reject)
        #expect(try decide(nil, "60", "40").decision == .partial)
        #expect(try decide(nil).decision == .accept)
        #expect(try decide(nil, passed: false).decision == .reject)
        // Refusals.
        #expect(throws: I.Refusal.sampleFailed) { try decide(.accept, passed: false) }
        #expect(throws: I.Refusal.concessionNotNeeded) { try decide(.concession, passed: true, approver: true) }
        #expect(throws: I.Refusal.approverRequired) { try decide(.concession, passed: false) }
        #expect(throws: I.Refusal.partialNeedsBoth) { try decide(.partial, "100", "0") }
        #expect(throws: I.Refusal.partialNeedsBoth) { try decide(.partial) }
        #expect(throws: I.Refusal.doesNotAddUp(received: hundred)) { try decide(.partial, "95", "10") }
        #expect(throws: I.Refusal.negative) { try decide(.partial, "110", "-10") }
        #expect(throws: I.Refusal.doesNotAddUp(received: hundred)) { try decide(.accept, "100", "5") }
        #expect(throws: I.Refusal.doesNotAddUp(received: hundred)) { try decide(.reject, "1", nil, passed: false) }
        #expect(throws: I.Refusal.discontinued) { try decide(.accept, discontinued: true) }
        #expect(try decide(.reject, discontinued: true).decision == .reject)
        // What each decision means for switching and for exceptions.
        #expect(I.Decision.allCases.filter(\.acceptsLot) == [.accept])
        #expect(I.exceptionSeverity(.accept, critical: 0) == nil)
        #expect(I.exceptionSeverity(.concession, critical: 0) == .minor)
        #expect(I.exceptionSeverity(.partial, critical: 0) == .major)
        #expect(I.exceptionSeverity(.reject, critical: 2) == .critical)
        #expect(I.Decision.concession.lineStatus == "concession")
    }
}

@Suite struct ExceptionOverdueTests {
    @Test func theRunningDeadlineDecides() {
        let t0 = Date(timeIntervalSince1970: 1_000_000), hour: TimeInterval = 3600
        let respond = t0.addingTimeInterval(4 * hour), resolve = t0.addingTimeInterval(48 * hour)
        func overdue(open: Bool = true, responded: Date? = nil, at now: Date) -> Bool {
            ExceptionRules.isOverdue(open: open, respondedAt: responded, responseBy: respond, resolveBy: resolve, now: now)
        }
        // Unanswered: the response deadline runs.
        #expect(!overdue(at: respond))
        #expect(overdue(at: respond.addingTimeInterval(1)))
        // Answered: only the resolution deadline counts.
        #expect(!overdue(responded: t0.addingTimeInterval(hour), at: respond.addingTimeInterval(hour)))
        #expect(overdue(responded: t0.addingTimeInterval(hour), at: resolve.addingTimeInterval(1)))
        // Closed, or no deadline set: never overdue.
        #expect(!overdue(open: false, at: resolve.addingTimeInterval(hour)))
        #expect(!ExceptionRules.isOverdue(open: true, respondedAt: nil, responseBy: nil, resolveBy: resolve, now: resolve.addingTimeInterval(1)))
    }
}
