/// Regular supplier reviews (定期沟通): how often they recur, what period each looks back on,
/// and who may close an action item.
public enum ReviewCadence: String, Sendable, Codable, CaseIterable {
    case weekly, monthly, quarterly

    /// Reviews are planned in the years scorecards cover; the bound also keeps date arithmetic
    /// away from the end of the calendar.
    public static let years = 2000...2998

    /// The scorecard period a review on `day` looks back on: the month before (weekly and
    /// monthly reviews), or the quarter before.
    public func period(on day: Day) -> ScorePeriod {
        guard self == .quarterly else { return ScorePeriod.month(of: day).previous }
        return ScorePeriod.quarter(year: day.year, quarter: (day.month - 1) / 3 + 1).previous
    }

    /// The next review of this cadence after one on `day` (the 31st becomes the month's last day).
    public func next(after day: Day) -> Day {
        switch self {
        case .weekly: return day.adding(days: 7)
        case .monthly: return Self.adding(months: 1, to: day)
        case .quarterly: return Self.adding(months: 3, to: day)
        }
    }

    static func adding(months n: Int, to d: Day) -> Day {
        let total = d.year * 12 + (d.month - 1) + n
        let (year, month) = (total / 12, total % 12 + 1)
        return Day(year: year, month: month, day: min(d.day, Day.daysIn(month, year)))!
    }
}

public enum ReviewActionOwner: String, Sendable, Codable, CaseIterable {
    case buyer, supplier

    /// An action item is closed by its own side: any of the supplier's people for the
    /// supplier's items, the buyer's people who manage suppliers for the buyer's.
    public func mayComplete(side: OrganizationKind, roles: Set<Role>) -> Bool {
        switch self {
        case .supplier: side == .supplier
        case .buyer: side == .manufacturer && Policy.allows(roles, .manageSuppliers)
        }
    }
}
