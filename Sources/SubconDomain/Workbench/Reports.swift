/// The reports people run and save: what each one is about, and the filters they take.
public enum ReportKind: String, CaseIterable, Sendable, Codable {
    case orderProgress = "order-progress"
    case deliveryPerformance = "delivery-performance"
    case qualityBySupplier = "quality-by-supplier"
    case qualityByItem = "quality-by-item"
    case qualityByDefect = "quality-by-defect"
    case heldMaterial = "held-material"
    case writeOffVariance = "write-off-variance"
    case exceptionAging = "exception-aging"

    /// Whether the months of the filter apply (material held and exceptions open are "now").
    public var usesPeriod: Bool { ![.heldMaterial, .exceptionAging].contains(self) }
}

/// The months a report covers (plant, supplier and item narrow it in the app's queries).
public struct ReportFilter: Sendable, Equatable {
    public var from: SettlementPeriod
    public var to: SettlementPeriod

    /// A report covers at most two years, so one request never reads the whole history.
    public static let maxMonths = 24

    public enum Refusal: Error, Equatable, Sendable { case fromAfterTo, tooLong(maxMonths: Int) }

    public init(from: SettlementPeriod, to: SettlementPeriod) throws(Refusal) {
        guard from <= to else { throw .fromAfterTo }
        guard to.index - from.index < Self.maxMonths else { throw .tooLong(maxMonths: Self.maxMonths) }
        self.from = from; self.to = to
    }

    /// The first and last calendar day the months span.
    public var firstDay: Day { Day(year: from.year, month: from.month, day: 1)! }
    public var lastDay: Day { Day(year: to.year, month: to.month, day: 1)!.adding(days: 40).firstOfMonth.adding(days: -1) }
}

extension SettlementPeriod {
    /// Months since year 0, for spans between periods.
    public var index: Int { year * 12 + month - 1 }
}

extension Day {
    var firstOfMonth: Day { Day(year: year, month: month, day: 1)! }
}

/// A Pareto view of counts: largest first, each with its share and the running share, in
/// whole percent (rounded down, except that the last running share is exactly 100).
public enum Pareto {
    public struct Bar: Sendable, Equatable {
        public let key: String
        public let count: Int64
        public let percent: Int
        public let cumulativePercent: Int
    }

    public static func bars(_ counts: [(key: String, count: Int64)]) -> [Bar] {
        let sorted = counts.filter { $0.count > 0 }.sorted { ($0.count, $1.key) > ($1.count, $0.key) }
        let total = sorted.reduce(Int64(0)) { $0 + $1.count }
        guard total > 0 else { return [] }
        var running: Int64 = 0
        return sorted.enumerated().map { n, c in
            running += c.count
            let cumulative = n == sorted.count - 1 ? 100 : Int(running * 100 / total)
            return Bar(key: c.key, count: c.count, percent: Int(c.count * 100 / total), cumulativePercent: cumulative)
        }
    }
}

/// How long an open exception has been open, in the buckets people talk about.
public enum AgeBucket: String, CaseIterable, Sendable {
    case underOneDay = "lt1d", oneToThreeDays = "1to3d", threeToSevenDays = "3to7d", oneToFourWeeks = "7to30d", overThirtyDays = "gt30d"

    /// The bucket's lower bound in days.
    public var fromDays: Int {
        switch self { case .underOneDay: 0; case .oneToThreeDays: 1; case .threeToSevenDays: 3; case .oneToFourWeeks: 7; case .overThirtyDays: 30 }
    }

    public static func of(ageSeconds: Int64) -> AgeBucket {
        let days = ageSeconds / 86_400
        return allCases.last { Int64($0.fromDays) <= days } ?? .underOneDay
    }
}
