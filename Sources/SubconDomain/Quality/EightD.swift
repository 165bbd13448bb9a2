/// The 8D corrective-action loop (整改) as a gate machine: the supplier fills each discipline,
/// the buyer approves it or sends it back; a discipline opens only when the one before it is
/// approved, and the buyer's approval of D8 (verification of the whole) is the only way to close.
public struct EightD: Equatable, Sendable {
    public enum Step: Int, CaseIterable, Codable, Sendable, Comparable {
        case d1 = 1, d2, d3, d4, d5, d6, d7, d8
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
        /// D1 team, D2 problem, D3 containment, D4 root cause, D5 corrective actions chosen,
        /// D6 implemented and verified, D7 prevention, D8 closure.
        public var key: String { ["team", "problem", "containment", "rootCause", "correctiveActions", "implementation", "prevention", "closure"][rawValue - 1] }
        public var code: String { "D\(rawValue)" }
    }

    public enum StepState: String, Codable, Sendable, CaseIterable {
        /// Not yet submitted (or reopened).
        case open
        /// Waiting for the buyer.
        case submitted
        case approved
        /// Sent back by the buyer, with a reason; the supplier submits it again.
        case returned
    }

    public enum Side: Sendable { case supplier, buyer }

    public enum Move: Equatable, Sendable {
        case submit(Step), approve(Step), sendBack(Step), reopen(from: Step)
    }

    public enum Refusal: Error, Equatable, Sendable {
        /// The other side makes this move.
        case notYourMove
        /// The step before is not approved yet.
        case previousNotApproved(Step)
        /// Only a submitted step can be approved or sent back.
        case notSubmitted(Step)
        /// Submitted already, or approved.
        case notOpen(Step)
        case closed
        case notClosed
    }

    public var steps: [StepState]
    public var closed: Bool

    public init(steps: [StepState] = Array(repeating: .open, count: 8), closed: Bool = false) {
        self.steps = steps; self.closed = closed
    }

    public subscript(step: Step) -> StepState { steps[step.rawValue - 1] }

    /// The step the supplier works on next (nil when all are approved).
    public var current: Step? { Step.allCases.first { self[$0] != .approved } }

    public func applying(_ move: Move, by side: Side) throws(Refusal) -> EightD {
        var next = self
        switch move {
        case .submit(let s):
            guard side == .supplier else { throw .notYourMove }
            guard !closed else { throw .closed }
            guard self[s] == .open || self[s] == .returned else { throw .notOpen(s) }
            if let before = Step(rawValue: s.rawValue - 1), self[before] != .approved { throw .previousNotApproved(before) }
            next.steps[s.rawValue - 1] = .submitted
        case .approve(let s):
            guard side == .buyer else { throw .notYourMove }
            guard !closed else { throw .closed }
            guard self[s] == .submitted else { throw .notSubmitted(s) }
            next.steps[s.rawValue - 1] = .approved
            // Approving D8 is the buyer's verification of the whole: the case closes.
            if s == .d8 { next.closed = true }
        case .sendBack(let s):
            guard side == .buyer else { throw .notYourMove }
            guard !closed else { throw .closed }
            guard self[s] == .submitted else { throw .notSubmitted(s) }
            next.steps[s.rawValue - 1] = .returned
        case .reopen(let from):
            guard side == .buyer else { throw .notYourMove }
            guard closed else { throw .notClosed }
            next.closed = false
            for s in Step.allCases where s >= from { next.steps[s.rawValue - 1] = .open }
        }
        return next
    }
}
