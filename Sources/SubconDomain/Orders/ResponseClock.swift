/// How long a supplier has to answer a released revision, and who is told when it does not.
/// Times are seconds since 1970 so the rule needs no calendar.
public struct ResponseClock: Sendable, Equatable {
    /// Hours the supplier has to answer (installation setting, default 24).
    public var answerHours: Int
    /// Hours after the deadline before admins are told as well (default 24).
    public var escalateAfterHours: Int

    public init(answerHours: Int = 24, escalateAfterHours: Int = 24) {
        self.answerHours = answerHours; self.escalateAfterHours = escalateAfterHours
    }

    /// Who has been told so far; stored per revision so each step happens once.
    public enum Stage: Int, Sendable, Comparable, Codable {
        case none = 0, purchaser = 1, admins = 2
        public static func < (a: Stage, b: Stage) -> Bool { a.rawValue < b.rawValue }
    }

    public func deadline(releasedAt: Int64) -> Int64 { releasedAt + Int64(answerHours) * 3600 }

    /// Whether an answer came in time: nil while unanswered and the deadline has not passed.
    public func answeredInTime(responseSeconds: Int64?, releasedAt: Int64, now: Int64) -> Bool? {
        if let responseSeconds { return responseSeconds <= Int64(answerHours) * 3600 }
        return now > deadline(releasedAt: releasedAt) ? false : nil
    }

    public func isOverdue(releasedAt: Int64, answeredAt: Int64?, now: Int64) -> Bool {
        answeredAt == nil && now > deadline(releasedAt: releasedAt)
    }

    /// The escalation due now for an unanswered revision.
    public func stageDue(releasedAt: Int64, now: Int64) -> Stage {
        let d = deadline(releasedAt: releasedAt)
        if now > d + Int64(escalateAfterHours) * 3600 { return .admins }
        if now > d { return .purchaser }
        return .none
    }

    /// What to send now, given what was already sent: nothing, or the next step(s) in order.
    public func escalations(releasedAt: Int64, answeredAt: Int64?, alreadySent: Stage, now: Int64) -> [Stage] {
        guard answeredAt == nil else { return [] }
        let due = stageDue(releasedAt: releasedAt, now: now)
        return [Stage.purchaser, .admins].filter { $0 > alreadySent && $0 <= due }
    }
}
