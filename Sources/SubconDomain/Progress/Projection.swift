/// Where an order line is heading: from the good quantity reported so far and the days it took,
/// the day the rest will be done at the same pace, and how late that is against the due date.
public struct Projection: Equatable, Sendable {
    public enum Risk: String, Codable, Sendable, CaseIterable {
        /// Everything is reported done.
        case done
        /// Projected (or promised) on or before the due date.
        case onTrack = "on_track"
        /// Later than due, but within the threshold.
        case atRisk = "at_risk"
        /// Later than due by more than the threshold: a delay.
        case late
        /// Nothing reported yet, so no pace to project from.
        case unknown

        /// How urgently a line needs attention: late first, then at risk, then lines nobody has
        /// reported on, then those on track; done last.
        public var urgency: Int {
            switch self { case .late: 0; case .atRisk: 1; case .unknown: 2; case .onTrack: 3; case .done: 4 }
        }

        /// The order a supplier's work list shows open lines in: the most urgent risk first, then
        /// the earliest due day (`yyyy-MM-dd`), then by order code and line, so that every line
        /// has one place and a page of them is always the same page. A risk not known sorts last.
        public static func moreUrgent(_ a: (risk: String, due: String, order: String, line: Int),
                                      _ b: (risk: String, due: String, order: String, line: Int)) -> Bool {
            urgencyKey(a) < urgencyKey(b)
        }

        /// The same order as a value to sort by, made once per line: comparing through
        /// `moreUrgent` parses both risks on every comparison (a work list of 500 lines makes
        /// about 4,500 of them).
        /// Where a risk this version does not know sorts: after every known one.
        public static let unknownRiskUrgency = 9

        public static func urgencyKey(_ line: (risk: String, due: String, order: String, line: Int)) -> UrgencyKey {
            UrgencyKey(rank: Risk(rawValue: line.risk)?.urgency ?? unknownRiskUrgency, due: line.due, order: line.order, line: line.line)
        }

        public struct UrgencyKey: Comparable, Sendable {
            let rank: Int, due: String, order: String, line: Int
            public static func < (a: UrgencyKey, b: UrgencyKey) -> Bool { (a.rank, a.due, a.order, a.line) < (b.rank, b.due, b.order, b.line) }
        }
    }

    /// The projected completion day (nil while there is no pace to project from).
    public var eta: Day?
    /// Days after the due date (0 when on time; the later of projection and promise counts).
    public var daysLate: Int
    public var risk: Risk

    /// - Parameters:
    ///   - quantity: the line's ordered quantity.
    ///   - good: good quantity reported so far.
    ///   - started: the day work started (the first report's day when nothing else is known).
    ///   - lastReport: the day of the latest report (a finished line is done that day).
    ///   - promised: the supplier's promised completion day, if it stated one.
    ///   - thresholdDays: lateness beyond this is a delay.
    public static func project(quantity: FixedDecimal, good: FixedDecimal, started: Day?, lastReport: Day?, today: Day, due: Day,
                               promised: Day? = nil, thresholdDays: Int) -> Projection {
        if good >= quantity, quantity > .zero {
            let finished = lastReport ?? today
            let late = max(0, finished.ordinal - due.ordinal)
            return Projection(eta: finished, daysLate: late, risk: .done)
        }
        var eta: Day?
        if good > .zero, let started {
            // Pace = good / elapsed days (at least one); the rest takes remaining / pace days,
            // rounded up: remaining × elapsed / good, in whole units so nothing is lost.
            let elapsed = max(1, today.ordinal - started.ordinal)
            let remaining = Int64(quantity.units) - Int64(good.units)
            let numerator = remaining.multipliedReportingOverflow(by: Int64(elapsed))
            if !numerator.overflow {
                let days = (numerator.partialValue + Int64(good.units) - 1) / Int64(good.units)
                if days < 100_000 { eta = today.adding(days: Int(days)) }
            }
        }
        let latest = [eta, promised].compactMap { $0 }.max(by: { $0.ordinal < $1.ordinal })
        guard let latest else {
            // No pace and no promise: once the due date has passed it is late anyway.
            let overdue = today.ordinal - due.ordinal
            if overdue > 0 { return Projection(eta: nil, daysLate: overdue, risk: overdue > thresholdDays ? .late : .atRisk) }
            return Projection(eta: nil, daysLate: 0, risk: .unknown)
        }
        let late = max(0, latest.ordinal - due.ordinal)
        let risk: Risk = late == 0 ? .onTrack : late > thresholdDays ? .late : .atRisk
        return Projection(eta: eta, daysLate: late, risk: risk)
    }

    /// A line of an order no longer worked on (delivered, closed or cancelled): nothing is left
    /// to project, whatever its reports add up to (deliveries finished it, and reports often stop
    /// short). It is done, on its last report's day if it had any.
    public static func finished(lastReport: Day?, due: Day) -> Projection {
        Projection(eta: lastReport, daysLate: lastReport.map { max(0, $0.ordinal - due.ordinal) } ?? 0, risk: .done)
    }
}
