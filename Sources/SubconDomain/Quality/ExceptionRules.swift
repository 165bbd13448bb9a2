import Foundation

/// Exceptions (异常): their kinds, deadlines, escalation and the figures kept for the scorecard.
public enum ExceptionRules {
    /// An open exception is overdue once the deadline now running has passed: the response
    /// deadline until the supplier has answered, the resolution deadline after.
    public static func isOverdue(open: Bool, respondedAt: Date?, responseBy: Date?, resolveBy: Date?, now: Date) -> Bool {
        guard open, let deadline = respondedAt == nil ? responseBy : resolveBy else { return false }
        return now > deadline
    }

    public enum Kind: String, CaseIterable, Codable, Sendable {
        case quality, delay
        case materialDiscrepancy = "material_discrepancy"
        case planChange = "plan_change"
        case other
    }

    public enum Severity: String, CaseIterable, Codable, Sendable {
        case critical, major, minor
    }

    /// How long each side has: to respond (the supplier's first answer), to contain (the 8D's D3
    /// approved) and to resolve (closed).
    public struct Deadlines: Equatable, Codable, Sendable {
        public var responseHours: Int
        public var containmentHours: Int
        public var resolveDays: Int
        public init(responseHours: Int, containmentHours: Int, resolveDays: Int) {
            self.responseHours = responseHours; self.containmentHours = containmentHours; self.resolveDays = resolveDays
        }

        public static let limits = (hours: 1...2_160, days: 1...365)
        public var isValid: Bool {
            Self.limits.hours.contains(responseHours) && Self.limits.hours.contains(containmentHours) && Self.limits.days.contains(resolveDays)
        }
    }

    /// The table an installation starts with (quality can change it): the worse and the more it
    /// stops the line, the sooner. Delays and plan changes are about dates, so they resolve sooner.
    public static func defaultDeadlines(_ kind: Kind, _ severity: Severity) -> Deadlines {
        switch (kind, severity) {
        case (.quality, .critical): Deadlines(responseHours: 4, containmentHours: 24, resolveDays: 10)
        case (.quality, .major): Deadlines(responseHours: 24, containmentHours: 48, resolveDays: 20)
        case (.quality, .minor): Deadlines(responseHours: 48, containmentHours: 120, resolveDays: 30)
        case (.delay, .critical), (.planChange, .critical): Deadlines(responseHours: 2, containmentHours: 24, resolveDays: 3)
        case (.delay, .major), (.planChange, .major): Deadlines(responseHours: 8, containmentHours: 48, resolveDays: 7)
        case (.delay, .minor), (.planChange, .minor): Deadlines(responseHours: 24, containmentHours: 72, resolveDays: 14)
        case (_, .critical): Deadlines(responseHours: 8, containmentHours: 24, resolveDays: 7)
        case (_, .major): Deadlines(responseHours: 24, containmentHours: 72, resolveDays: 14)
        case (_, .minor): Deadlines(responseHours: 72, containmentHours: 168, resolveDays: 30)
        }
    }

    public struct Due: Equatable, Sendable {
        public var responseBy: Date
        public var containmentBy: Date
        public var resolveBy: Date
        public init(responseBy: Date, containmentBy: Date, resolveBy: Date) {
            self.responseBy = responseBy; self.containmentBy = containmentBy; self.resolveBy = resolveBy
        }
    }

    public static func due(from raised: Date, _ d: Deadlines) -> Due {
        Due(responseBy: raised.addingTimeInterval(Double(d.responseHours) * 3600),
            containmentBy: raised.addingTimeInterval(Double(d.containmentHours) * 3600),
            resolveBy: raised.addingTimeInterval(Double(d.resolveDays) * 86_400))
    }

    /// The escalation level an open exception has reached: one level for each deadline passed
    /// with its step still undone (response, containment, resolution), never lower than before.
    /// Level 1 tells both owners and the supplier's admins, 2 also the buyer's quality and
    /// purchasing, 3 also the manufacturer's administrators.
    public static func escalationLevel(now: Date, due: Due, respondedAt: Date?, containedAt: Date?, closedAt: Date?,
                                       needsContainment: Bool, current: Int) -> Int {
        guard closedAt == nil else { return current }
        var level = 0
        if respondedAt == nil && now > due.responseBy { level += 1 }
        if needsContainment && containedAt == nil && now > due.containmentBy { level += 1 }
        if now > due.resolveBy { level += 1 }
        return max(current, level)
    }

    /// Whole minutes between two instants (response and closure times for the scorecard).
    public static func minutes(from a: Date, to b: Date) -> Int { max(0, Int((b.timeIntervalSince(a) / 60).rounded(.down))) }

    /// Parts per million rejected of received, rounded half up; quantities are exact decimals.
    public static func ppm(rejected: FixedDecimal, received: FixedDecimal) -> Int64 {
        guard received.units > 0 else { return 0 }
        let n = Int128(rejected.units) * 1_000_000
        let d = Int128(received.units)
        return Int64((n * 2 + d) / (d * 2))
    }
}

/// Where an open exception stands against its two deadlines: the supplier's answer, then the
/// resolution. The dashboard's counts and the list's filter name them the same way (their SQL is
/// `ExceptionService.condition`).
public enum ExceptionDeadlineState: String, Sendable, CaseIterable {
    /// Past either deadline.
    case overdue
    case overdueResponse = "overdue_response"
    case awaitingResponse = "awaiting_response"
    case inWork = "in_work"
    case overdueResolution = "overdue_resolution"

    /// The states one exception can be in (not `overdue`, which is two of them).
    public static let states: [ExceptionDeadlineState] = [.overdueResponse, .awaitingResponse, .inWork, .overdueResolution]
}
