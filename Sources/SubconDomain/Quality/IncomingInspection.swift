/// What an incoming inspection finds and what it may decide: nonconforming units from the
/// characteristic results and the defect tally, whether the sample passes, and the quantities
/// each decision accepts and rejects.
public enum IncomingInspection {
    public enum Decision: String, CaseIterable, Codable, Sendable {
        case accept, reject
        /// 让步接收: the sample failed, the lot is used anyway with a named approver.
        case concession
        /// Split into an accepted and a rejected quantity.
        case partial

        /// The receipt line's status after it.
        public var lineStatus: String {
            switch self {
            case .accept: "accepted"
            case .reject: "rejected"
            case .concession: "concession"
            case .partial: "partial"
            }
        }

        /// Accepted on original inspection (what the switching rules count).
        public var acceptsLot: Bool { self == .accept }
    }

    public enum Refusal: Error, Equatable, Sendable {
        /// Accepting needs a passing sample.
        case sampleFailed
        /// A concession is for a failed sample only.
        case concessionNotNeeded
        case approverRequired
        /// A partial decision needs both an accepted and a rejected quantity above zero.
        case partialNeedsBoth
        case negative
        /// The quantities do not add up to what was received, or contradict the decision.
        case doesNotAddUp(received: FixedDecimal)
        /// Acceptance inspection is discontinued for this supplier × item: lots can only be rejected.
        case discontinued
    }

    public struct Outcome: Equatable, Sendable {
        public var decision: Decision
        public var accepted: FixedDecimal
        public var rejected: FixedDecimal
    }

    /// Measured values outside the limits (either limit may be open).
    public static func outside(_ values: [FixedDecimal], lower: FixedDecimal?, upper: FixedDecimal?) -> Int {
        values.filter { v in (lower.map { v < $0 } ?? false) || (upper.map { v > $0 } ?? false) }.count
    }

    /// Nonconforming units in the sample. The defect tally (major and minor) and the
    /// characteristic results usually describe the same units, so the larger of the two counts,
    /// never more than the sample.
    public static func nonconforming(defectTally: Int, characteristicTally: Int, sampleSize: Int) -> Int {
        min(sampleSize, max(defectTally, characteristicTally))
    }

    /// A critical defect fails the sample whatever the acceptance number says.
    public static func samplePasses(nonconforming: Int, critical: Int, plan: Sampling.Plan) -> Bool {
        critical == 0 && plan.accepts(nonconforming: nonconforming)
    }

    /// The outcome of a decision on a received lot. Without a decision, the quantities decide
    /// (accepted only, rejected only, both), or without them the sample does.
    public static func decide(_ requested: Decision?, received: FixedDecimal, accepted: FixedDecimal?, rejected: FixedDecimal?,
                              samplePassed: Bool, hasApprover: Bool, discontinued: Bool) throws(Refusal) -> Outcome {
        let decision: Decision = requested ?? {
            if let a = accepted, let r = rejected { return r == .zero ? .accept : a == .zero ? .reject : .partial }
            return samplePassed ? .accept : .reject
        }()
        if discontinued && decision != .reject { throw .discontinued }
        var outcome = Outcome(decision: decision, accepted: received, rejected: .zero)
        switch decision {
        case .accept:
            guard samplePassed else { throw .sampleFailed }
        case .reject:
            outcome.accepted = .zero; outcome.rejected = received
        case .concession:
            guard !samplePassed else { throw .concessionNotNeeded }
            guard hasApprover else { throw .approverRequired }
        case .partial:
            guard let a = accepted, let r = rejected else { throw .partialNeedsBoth }
            do throws(Receiving.OutcomeProblem) { try Receiving.checkOutcome(received: received, accepted: a, rejected: r) } catch {
                switch error {
                case .negative: throw .negative
                case .doesNotAddUp(let q): throw .doesNotAddUp(received: q)
                }
            }
            guard a > .zero, r > .zero else { throw .partialNeedsBoth }
            outcome.accepted = a; outcome.rejected = r
        }
        // Quantities sent with a whole-lot decision must say the same as the decision.
        if decision != .partial, (accepted.map { $0 != outcome.accepted } ?? false) || (rejected.map { $0 != outcome.rejected } ?? false) {
            throw .doesNotAddUp(received: received)
        }
        return outcome
    }

    /// The exception a decision opens: none for accept; critical when a critical defect was
    /// found; a concession is minor (the goods are used); a rejection, whole or partial, major.
    public static func exceptionSeverity(_ d: Decision, critical: Int) -> ExceptionRules.Severity? {
        if d == .accept { return nil }
        if critical > 0 { return .critical }
        return d == .concession ? .minor : .major
    }
}
