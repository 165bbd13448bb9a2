/// Supplier performance (绩效考核) computed from the records. The database sums the records per
/// supplier and period; the rules here turn those sums into rates, sub-scores, a weighted score
/// and a grade, so the formulas people read on the page are the ones that ran.
///
/// Rates are basis points (1/100 of a percent, 0…10 000) so no floating point touches a figure.
public enum Rate {
    /// `part ÷ whole` in basis points, rounded half up; nil when there is nothing to divide by.
    public static func of(_ part: Int64, _ whole: Int64) -> Int? {
        guard whole > 0 else { return nil }
        let n = Int128(max(0, part)) * 10_000
        return Int((n * 2 + Int128(whole)) / (Int128(whole) * 2))
    }

    /// Basis points as people read them, to one decimal: 7750 → "77.5%".
    public static func percentText(_ bp: Int) -> String { "\(bp / 100).\(bp % 100 / 10)%" }

    /// Tenths (of a point, of a day) to one decimal: 796 → "79.6".
    public static func tenthsText(_ t: Int) -> String { "\(t / 10).\(t % 10)" }
}

/// The nearest-rank percentile of sorted values: the value at rank ⌈p·n⌉ (1-based). The database
/// picks the same row with `ROW_NUMBER() = (n·p_num + p_den − 1) / p_den`.
public enum Percentile {
    public static func nearestRank(_ sorted: [Int64], percent: Int) -> Int64? {
        guard !sorted.isEmpty else { return nil }
        return sorted[rank(count: sorted.count, percent: percent) - 1]
    }

    public static func rank(count: Int, percent: Int) -> Int { max(1, (count * percent + 99) / 100) }
}

/// 交付准时率 of one order line: the rule the drill-down applies to the line's receipts, and the
/// one the scorecard's SQL sums.
public enum OnTimeDelivery {
    public struct Receipt: Sendable, Equatable {
        public var day: Day
        public var accepted: Int64
        public init(day: Day, accepted: Int64) { self.day = day; self.accepted = accepted }
    }

    public struct Line: Sendable, Equatable {
        /// Accepted quantity received on or before the due date, at most the ordered quantity.
        public var onTime: Int64
        /// All of the line arrived, accepted, by its due date.
        public var complete: Bool
        /// Days after the due date: of the last accepted receipt when all arrived, else up to today
        /// once the due date has passed; 0 when on time.
        public var daysLate: Int
    }

    /// The due date is the line's current one: a counter-proposal the buyer accepted has already
    /// moved it, so the date the buyer agreed to is the one measured against.
    public static func line(quantity: Int64, due: Day, receipts: [Receipt], today: Day) -> Line {
        let accepted = receipts.filter { $0.accepted > 0 }
        let onTime = min(quantity, accepted.filter { $0.day <= due }.reduce(0) { $0 + $1.accepted })
        let all = accepted.reduce(0) { $0 + $1.accepted }
        let late: Int
        if all >= quantity, let lastDay = accepted.map(\.day).max() {
            late = max(0, lastDay.ordinal - due.ordinal)
        } else {
            late = max(0, today.ordinal - due.ordinal)
        }
        return Line(onTime: onTime, complete: onTime >= quantity, daysLate: late)
    }
}

/// 进度报告及时 of one progress report: the rule the drill-down's count and the scorecard's SQL
/// (over the gap each report keeps) apply.
public enum ReportTimeliness {
    /// Whole days from the latest day reported on the line before to this report's day; nil
    /// for the line's first report.
    public static func gap(previous: Day?, day: Day) -> Int? { previous.map { day.ordinal - $0.ordinal } }

    /// A line's first report is on time; a later one when it comes within `silentDays` of the
    /// latest day reported before it.
    public static func onTime(gap: Int?, silentDays: Int) -> Bool { gap.map { $0 <= silentDays } ?? true }
}

/// The five measures, as sums over one supplier and one period.
public struct DeliveryFigures: Sendable, Equatable, Codable {
    /// Quantity of the lines due in the period (scale-4 units), and the part of it accepted on time.
    public var dueQuantity: Int64 = 0
    public var onTimeQuantity: Int64 = 0
    public var lines = 0
    public var linesOnTime = 0
    public var lateLines = 0
    public var daysLate = 0
    public init(dueQuantity: Int64 = 0, onTimeQuantity: Int64 = 0, lines: Int = 0, linesOnTime: Int = 0, lateLines: Int = 0, daysLate: Int = 0) {
        self.dueQuantity = dueQuantity; self.onTimeQuantity = onTimeQuantity; self.lines = lines
        self.linesOnTime = linesOnTime; self.lateLines = lateLines; self.daysLate = daysLate
    }
    public var rate: Int? { Rate.of(onTimeQuantity, dueQuantity) }
    public var lineShare: Int? { Rate.of(Int64(linesOnTime), Int64(lines)) }
    /// Average days late over the lines that were late, in tenths of a day.
    public var averageDaysLateTenths: Int? { lateLines > 0 ? (daysLate * 10 * 2 + lateLines) / (lateLines * 2) : nil }
}

public struct QualityFigures: Sendable, Equatable, Codable {
    public var lots = 0
    /// Lots accepted as they were at their first inspection (no concession, no partial).
    public var firstPassLots = 0
    public var concessionLots = 0
    public var inspectedQuantity: Int64 = 0
    public var rejectedQuantity: Int64 = 0
    public init(lots: Int = 0, firstPassLots: Int = 0, concessionLots: Int = 0, inspectedQuantity: Int64 = 0, rejectedQuantity: Int64 = 0) {
        self.lots = lots; self.firstPassLots = firstPassLots; self.concessionLots = concessionLots
        self.inspectedQuantity = inspectedQuantity; self.rejectedQuantity = rejectedQuantity
    }
    public var passRate: Int? { Rate.of(Int64(firstPassLots), Int64(lots)) }
    public var ppm: Int64? {
        guard inspectedQuantity > 0 else { return nil }
        return ExceptionRules.ppm(rejected: FixedDecimal(units: rejectedQuantity), received: FixedDecimal(units: inspectedQuantity))
    }
}

public struct ExceptionFigures: Sendable, Equatable, Codable {
    public var opened = 0
    public var responseMedianMinutes: Int64?
    public var responseP90Minutes: Int64?
    public var closureMedianMinutes: Int64?
    public var closureP90Minutes: Int64?
    /// Response and resolution deadlines that have come (met or passed), and those met in time.
    public var deadlinesDue = 0
    public var deadlinesMet = 0
    public init(opened: Int = 0, responseMedianMinutes: Int64? = nil, responseP90Minutes: Int64? = nil, closureMedianMinutes: Int64? = nil,
                closureP90Minutes: Int64? = nil, deadlinesDue: Int = 0, deadlinesMet: Int = 0) {
        self.opened = opened; self.responseMedianMinutes = responseMedianMinutes; self.responseP90Minutes = responseP90Minutes
        self.closureMedianMinutes = closureMedianMinutes; self.closureP90Minutes = closureP90Minutes
        self.deadlinesDue = deadlinesDue; self.deadlinesMet = deadlinesMet
    }
    public var metShare: Int? { Rate.of(Int64(deadlinesMet), Int64(deadlinesDue)) }

    /// Whether one deadline counts, and whether it was met: it counts once it was met or has passed.
    public static func deadline(by: Int64, doneAt: Int64?, now: Int64) -> (counts: Bool, met: Bool) {
        if let doneAt { return (true, doneAt <= by) }
        return (now > by, false)
    }
}

public struct CostFigures: Sendable, Equatable, Codable {
    /// Money as scale-4 units (1/10 000 yuan, as statements keep it): the period's turnover, and
    /// deductions (write-off variance, penalties) against it.
    public var turnover: Int64 = 0
    public var deductions: Int64 = 0
    /// The figures come from statements (true) or, for months without one yet, from accepted receipts × price.
    public var fromStatements = true
    public init(turnover: Int64 = 0, deductions: Int64 = 0, fromStatements: Bool = true) {
        self.turnover = turnover; self.deductions = deductions; self.fromStatements = fromStatements
    }
    public var ratio: Int? { Rate.of(deductions, turnover) }
}

public struct CommunicationFigures: Sendable, Equatable, Codable {
    /// Revisions whose answer deadline has come, and those answered before it.
    public var revisionsDue = 0
    public var answeredInTime = 0
    public var answerMedianMinutes: Int64?
    /// Progress reports in the period, and those that came within the silent-days limit of the line's previous report.
    public var reports = 0
    public var reportsOnTime = 0
    public init(revisionsDue: Int = 0, answeredInTime: Int = 0, answerMedianMinutes: Int64? = nil, reports: Int = 0, reportsOnTime: Int = 0) {
        self.revisionsDue = revisionsDue; self.answeredInTime = answeredInTime; self.answerMedianMinutes = answerMedianMinutes
        self.reports = reports; self.reportsOnTime = reportsOnTime
    }
    public var answerShare: Int? { Rate.of(Int64(answeredInTime), Int64(revisionsDue)) }
    public var reportShare: Int? { Rate.of(Int64(reportsOnTime), Int64(reports)) }
}

public enum Measure: String, Sendable, CaseIterable, Codable {
    case delivery, quality, exceptions, cost, communication
}

public enum Grade: String, Sendable, Codable, CaseIterable, Comparable {
    case a = "A", b = "B", c = "C", d = "D"
    public static func < (x: Grade, y: Grade) -> Bool { x.rawValue > y.rawValue }
}

/// The weights and grade thresholds of an installation. Each saved change is a new version, and a
/// scorecard names the version it was computed with.
public struct ScoreWeights: Sendable, Equatable, Codable {
    public var delivery = 35
    public var quality = 30
    public var exceptions = 15
    public var cost = 10
    public var communication = 10
    /// Lowest whole score for A, B and C; below C is D.
    public var gradeA = 90
    public var gradeB = 75
    public var gradeC = 60
    /// A line in production without a progress report for this many days counts as silent.
    public var silentDays = 3
    /// Deductions at this share of turnover (percent) bring the cost score to 0.
    public var costLimitPercent = 10

    public init() {}

    public func weight(_ m: Measure) -> Int {
        switch m {
        case .delivery: delivery
        case .quality: quality
        case .exceptions: exceptions
        case .cost: cost
        case .communication: communication
        }
    }

    public struct Problem: Sendable, Equatable {
        public var field: String
        public var code: String
    }

    public func problems() -> [Problem] {
        var out: [Problem] = []
        for m in Measure.allCases where !(0...100).contains(weight(m)) { out.append(Problem(field: m.rawValue, code: "outOfRange")) }
        if out.isEmpty, Measure.allCases.reduce(0, { $0 + weight($1) }) != 100 { out.append(Problem(field: "weights", code: "weightsNotHundred")) }
        for (f, v) in [("gradeA", gradeA), ("gradeB", gradeB), ("gradeC", gradeC)] where !(0...100).contains(v) {
            out.append(Problem(field: f, code: "outOfRange"))
        }
        if !(gradeA > gradeB && gradeB > gradeC) { out.append(Problem(field: "gradeB", code: "thresholdsNotDescending")) }
        if !(1...60).contains(silentDays) { out.append(Problem(field: "silentDays", code: "outOfRange")) }
        if !(1...100).contains(costLimitPercent) { out.append(Problem(field: "costLimitPercent", code: "outOfRange")) }
        return out
    }

    public func grade(scoreTenths: Int) -> Grade {
        if scoreTenths >= gradeA * 10 { return .a }
        if scoreTenths >= gradeB * 10 { return .b }
        if scoreTenths >= gradeC * 10 { return .c }
        return .d
    }
}

/// One supplier's figures for one period, scored.
public struct Scorecard: Sendable, Equatable {
    public var delivery = DeliveryFigures()
    public var quality = QualityFigures()
    public var exceptions = ExceptionFigures()
    public var cost = CostFigures()
    public var communication = CommunicationFigures()

    public init(delivery: DeliveryFigures = .init(), quality: QualityFigures = .init(), exceptions: ExceptionFigures = .init(),
                cost: CostFigures = .init(), communication: CommunicationFigures = .init()) {
        self.delivery = delivery; self.quality = quality; self.exceptions = exceptions; self.cost = cost; self.communication = communication
    }

    /// Each measure's score in basis points, nil when the period has nothing to measure it by.
    /// - delivery: accepted quantity on time ÷ quantity due;
    /// - quality: lots accepted at first inspection ÷ lots inspected;
    /// - exceptions: deadlines met ÷ deadlines come;
    /// - cost: 1 − (deductions ÷ turnover) ÷ the cost limit, at least 0;
    /// - communication: (revisions answered in time + progress reports on time) ÷ (revisions due + reports).
    public func subScore(_ m: Measure, _ w: ScoreWeights) -> Int? {
        switch m {
        case .delivery: return delivery.rate
        case .quality: return quality.passRate
        case .exceptions: return exceptions.metShare
        case .cost:
            guard let r = cost.ratio else { return nil }
            return max(0, 10_000 - (r * 10_000 + w.costLimitPercent * 50) / (w.costLimitPercent * 100))
        case .communication:
            return Rate.of(Int64(communication.answeredInTime + communication.reportsOnTime), Int64(communication.revisionsDue + communication.reports))
        }
    }

    /// The weighted score in tenths of a point (0…1000). Measures with nothing to measure are left
    /// out and the others' weights count in proportion; nil when no measure has data.
    public func score(_ w: ScoreWeights) -> Int? {
        var sum: Int64 = 0, weights: Int64 = 0
        for m in Measure.allCases {
            guard let s = subScore(m, w), w.weight(m) > 0 else { continue }
            sum += Int64(s) * Int64(w.weight(m)); weights += Int64(w.weight(m))
        }
        guard weights > 0 else { return nil }
        // basis points × weight ÷ weights → basis points; ÷ 10 → tenths of a point, rounded half up.
        return Int((sum * 2 + weights * 10) / (weights * 20))
    }

    public func grade(_ w: ScoreWeights) -> Grade? { score(w).map { w.grade(scoreTenths: $0) } }
}

/// What follows from the grades of consecutive months.
public enum GradeActions {
    /// A D grade twice in a row: open a corrective action and propose probation.
    public static func needsCorrectiveAction(previous: Grade?, current: Grade?) -> Bool { previous == .d && current == .d }

    /// An A grade makes the supplier preferred for the next period.
    public static func preferredNext(_ current: Grade?) -> Bool { current == .a }
}
