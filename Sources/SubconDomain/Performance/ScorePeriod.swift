import Foundation

/// The stretch of days a scorecard covers: a month (the default), a quarter, a year or any range.
/// Written as people type it: `2026-11`, `2026-Q4`, `2026`, `2026-11-03..2026-11-20`.
public enum ScorePeriod: Hashable, Sendable, CustomStringConvertible {
    case month(year: Int, month: Int)
    case quarter(year: Int, quarter: Int)
    case year(Int)
    case range(Day, Day)

    /// Ranges longer than this are refused: a scorecard over decades says nothing and costs a lot.
    public static let longestRangeDays = 3 * 366

    public init?(_ text: String) {
        let t = text.trimmingSpaces()
        if let sep = t.range(of: "..") {
            guard let a = Day(String(t[..<sep.lowerBound])), let b = Day(String(t[sep.upperBound...])),
                  a <= b, b.ordinal - a.ordinal < Self.longestRangeDays else { return nil }
            self = .range(a, b)
            return
        }
        let parts = t.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, first.count == 4, let y = Int(first), (2000...2999).contains(y) else { return nil }
        switch parts.count {
        case 1: self = .year(y)
        case 2 where parts[1].hasPrefix("Q"):
            guard parts[1].count == 2, let q = Int(parts[1].dropFirst()), (1...4).contains(q) else { return nil }
            self = .quarter(year: y, quarter: q)
        case 2:
            guard parts[1].count == 2, let m = Int(parts[1]), (1...12).contains(m) else { return nil }
            self = .month(year: y, month: m)
        default: return nil
        }
    }

    /// The month that holds `day`.
    public static func month(of day: Day) -> ScorePeriod { .month(year: day.year, month: day.month) }

    public var first: Day {
        switch self {
        case let .month(y, m): Day(year: y, month: m, day: 1)!
        case let .quarter(y, q): Day(year: y, month: (q - 1) * 3 + 1, day: 1)!
        case let .year(y): Day(year: y, month: 1, day: 1)!
        case let .range(a, _): a
        }
    }

    /// The last day inside the period.
    public var last: Day { next.first.adding(days: -1) }

    /// The period of the same kind that follows (a range: the same number of days after it).
    public var next: ScorePeriod {
        switch self {
        case let .month(y, m): m == 12 ? .month(year: y + 1, month: 1) : .month(year: y, month: m + 1)
        case let .quarter(y, q): q == 4 ? .quarter(year: y + 1, quarter: 1) : .quarter(year: y, quarter: q + 1)
        case let .year(y): .year(y + 1)
        case let .range(a, b):
            .range(b.adding(days: 1), b.adding(days: 1 + b.ordinal - a.ordinal))
        }
    }

    public var previous: ScorePeriod {
        switch self {
        case let .month(y, m): m == 1 ? .month(year: y - 1, month: 12) : .month(year: y, month: m - 1)
        case let .quarter(y, q): q == 1 ? .quarter(year: y - 1, quarter: 4) : .quarter(year: y, quarter: q - 1)
        case let .year(y): .year(y - 1)
        case let .range(a, b):
            .range(a.adding(days: -(1 + b.ordinal - a.ordinal)), a.adding(days: -1))
        }
    }

    /// `count` periods of this kind ending with this one, oldest first (the trend's x axis).
    public func trailing(_ count: Int) -> [ScorePeriod] {
        var out = [self]
        while out.count < count { out.insert(out[0].previous, at: 0) }
        return out
    }

    /// The calendar months (`YYYY-MM`) the period touches, for records kept per month (statements).
    public var months: [String] {
        var out: [String] = []
        var y = first.year, m = first.month
        while (y, m) <= (last.year, last.month) {
            out.append(String(format: "%04d-%02d", y, m))
            (y, m) = m == 12 ? (y + 1, 1) : (y, m + 1)
        }
        return out
    }

    public var kind: String {
        switch self {
        case .month: "month"
        case .quarter: "quarter"
        case .year: "year"
        case .range: "range"
        }
    }

    public var description: String {
        switch self {
        case let .month(y, m): String(format: "%04d-%02d", y, m)
        case let .quarter(y, q): "\(y)-Q\(q)"
        case let .year(y): "\(y)"
        case let .range(a, b): "\(a)..\(b)"
        }
    }

    /// A short label for a chart's x axis ("11月" style is left to the page; this is "11", "Q4", "2026").
    public var shortLabel: String {
        switch self {
        case let .month(_, m): "\(m)"
        case let .quarter(_, q): "Q\(q)"
        case let .year(y): "\(y)"
        case let .range(a, _): "\(a.month)/\(a.day)"
        }
    }
}
