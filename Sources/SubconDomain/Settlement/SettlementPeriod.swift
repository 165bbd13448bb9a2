/// A statement period: one month, ending on the installation's cut-off day (a supplier's
/// "November" may run from 26 October to 25 November). Days are calendar days where the
/// installation is; the app turns instants into days in its time zone before asking.
public struct SettlementPeriod: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int

    public init?(year: Int, month: Int) {
        guard (1...12).contains(month), (2000...2100).contains(year) else { return nil }
        self.year = year; self.month = month
    }

    /// "2026-11": four digits, a dash, two digits (2000-01 … 2100-12).
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let y = Int(parts[0]), let m = Int(parts[1]) else { return nil }
        self.init(year: y, month: m)
    }

    public var description: String { "\(year)-" + (month < 10 ? "0\(month)" : "\(month)") }
    public var next: SettlementPeriod { month == 12 ? SettlementPeriod(year: year + 1, month: 1)! : SettlementPeriod(year: year, month: month + 1)! }
    public var previous: SettlementPeriod { month == 1 ? SettlementPeriod(year: year - 1, month: 12)! : SettlementPeriod(year: year, month: month - 1)! }
    public static func < (a: Self, b: Self) -> Bool { (a.year, a.month) < (b.year, b.month) }
}

public struct SettlementCalendar: Equatable, Sendable {
    /// The last day of each period: 1…28, or nil for the calendar month's end.
    public let cutOffDay: Int?

    public init?(cutOffDay: Int?) {
        if let c = cutOffDay, !(1...28).contains(c) { return nil }
        self.cutOffDay = cutOffDay
    }

    public static let monthEnd = SettlementCalendar(cutOffDay: nil)!

    /// The period a day belongs to.
    public func period(of day: Day) -> SettlementPeriod {
        let own = SettlementPeriod(year: day.year, month: day.month)!
        guard let c = cutOffDay else { return own }
        return day.day <= c ? own : own.next
    }

    /// The first and last day of a period.
    public func days(of p: SettlementPeriod) -> (first: Day, last: Day) {
        guard let c = cutOffDay else {
            let first = Day(year: p.year, month: p.month, day: 1)!
            let next = p.next
            return (first, Day(year: next.year, month: next.month, day: 1)!.adding(days: -1))
        }
        let previous = p.previous
        return (Day(year: previous.year, month: previous.month, day: c)!.adding(days: 1), Day(year: p.year, month: p.month, day: c)!)
    }
}

/// Which statement a receipt line, a deduction or an adjustment goes into. Its own period's,
/// unless that statement is already locked: then the first later period that is not, marked
/// late, so nothing is left out and nothing is counted in two statements.
public enum StatementAssignment {
    public struct Placement: Equatable, Sendable {
        public let period: SettlementPeriod
        /// Recorded after its own period was locked.
        public let late: Bool
    }

    public static func place(_ day: Day, calendar: SettlementCalendar, locked: Set<SettlementPeriod>) -> Placement {
        let own = calendar.period(of: day)
        var p = own
        while locked.contains(p) { p = p.next }
        return Placement(period: p, late: p != own)
    }
}
