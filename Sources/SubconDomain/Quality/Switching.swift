/// ISO 2859-1:1999 clause 9: which severity the next lot of an item from a supplier is
/// inspected at, from the results of its earlier lots ("accepted" always means accepted on
/// original inspection, i.e. the sample met the plan and the lot was accepted as it was).
public struct Switching: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable, CaseIterable {
        case normal, tightened, reduced
        /// Five lots not accepted under tightened inspection: acceptance inspection stops until
        /// the supplier has acted, then resumes under tightened inspection (9.4).
        case discontinued
    }

    public var state: State = .normal
    /// Results of the latest lots under normal inspection, oldest first, at most five.
    public var recentNormal: [Bool] = []
    /// Consecutive lots accepted under tightened inspection.
    public var tightenedAcceptedRun = 0
    /// Lots not accepted since tightened inspection began.
    public var tightenedNotAccepted = 0
    /// The switching score towards reduced inspection (9.3.3.2).
    public var score = 0
    /// Consecutive accepted lots, whatever the severity (the run towards inspection exemption).
    public var passRun = 0

    public init() {}

    public var severity: Sampling.Severity? {
        switch state {
        case .normal: .normal
        case .tightened: .tightened
        case .reduced: .reduced
        case .discontinued: nil
        }
    }

    /// The severity the next lot is sampled at. While acceptance is discontinued nothing is
    /// accepted, and what is inspected (to reject, or to show the supplier) follows tightened
    /// inspection, which is where it resumes.
    public var samplingSeverity: Sampling.Severity { severity ?? .tightened }

    /// Records a lot's result and moves to the severity for the next lot.
    /// - Parameters:
    ///   - accepted: accepted on original inspection.
    ///   - acceptance: the plan's acceptance number.
    ///   - nonconforming: nonconforming units found in the sample.
    ///   - reducedAllowed: the responsible authority allows reduced inspection (and production is steady).
    public mutating func record(accepted: Bool, acceptance: Int, nonconforming: Int, reducedAllowed: Bool) {
        passRun = accepted ? passRun + 1 : 0
        switch state {
        case .normal:
            recentNormal = Array((recentNormal + [accepted]).suffix(5))
            if recentNormal.filter({ !$0 }).count >= 2 {
                // 9.3.1: two out of five or fewer consecutive lots not accepted.
                self.enter(.tightened)
                return
            }
            if acceptance >= 2 {
                // Would the lot have passed with the AQL one step tighter (one acceptance number down the diagonal)?
                let tighter = Switching.acceptanceOneStepTighter(acceptance)
                score = accepted && nonconforming <= tighter ? score + 3 : 0
            } else {
                score = accepted ? score + 2 : 0
            }
            if score >= 30 && reducedAllowed { self.enter(.reduced) }
        case .tightened:
            if accepted {
                tightenedAcceptedRun += 1
                if tightenedAcceptedRun >= 5 { self.enter(.normal) }
            } else {
                tightenedAcceptedRun = 0
                tightenedNotAccepted += 1
                if tightenedNotAccepted >= 5 { self.enter(.discontinued) }
            }
        case .reduced:
            // 9.3.4: a lot not accepted returns to normal inspection.
            if !accepted { self.enter(.normal) }
        case .discontinued:
            break
        }
    }

    /// Reduced inspection also ends when production is irregular or the authority withdraws it.
    public mutating func withdrawReduced() { if state == .reduced { enter(.normal) } }

    /// After the supplier's corrective action, inspection resumes under tightened inspection (9.4).
    public mutating func resume() { if state == .discontinued { enter(.tightened) } }

    mutating func enter(_ s: State) {
        state = s
        recentNormal = []; tightenedAcceptedRun = 0; tightenedNotAccepted = 0; score = 0
    }

    /// One AQL step tighter on Table 2-A keeps the sample and takes the previous acceptance
    /// number on the diagonal (for acceptance numbers of 2 and more).
    public static func acceptanceOneStepTighter(_ ac: Int) -> Int {
        let sequence = [0, 1, 2, 3, 5, 7, 10, 14, 21]
        guard let i = sequence.firstIndex(of: ac), i > 0 else { return max(0, ac - 1) }
        return sequence[i - 1]
    }

    /// Exempt from inspection after `after` accepted lots in a row (0: never).
    public func earnsExemption(after: Int) -> Bool { after > 0 && passRun >= after }
}
