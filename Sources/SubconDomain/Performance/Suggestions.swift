/// Improvement suggestions (优化建议): rules over a month's scorecard (and the one before) that
/// say what to look at, each with the figures it came from, so a reader can check it.
public enum ImprovementRules {
    public struct Suggestion: Sendable, Equatable {
        public var rule: String
        /// The figures behind it, by name, as the text shows them.
        public var params: [String: String]
        public init(rule: String, params: [String: String]) { self.rule = rule; self.params = params }
    }

    /// A corrective action whose defect came back after its 8D closed.
    public struct Recurrence: Sendable, Equatable {
        public var exception: String
        public var defect: String
        public var lots: Int
        public init(exception: String, defect: String, lots: Int) { self.exception = exception; self.defect = defect; self.lots = lots }
    }

    static func pct(_ bp: Int) -> String { Rate.percentText(bp) }
    static func hours(_ minutes: Int64) -> String { "\(minutes / 60).\(minutes % 60 * 10 / 60)" }

    /// - slow answers: the median answer to a revision took longer than the deadline, or fewer
    ///   than 80 % came in time (at least 3 revisions due);
    /// - slipping delivery: on time below 85 % and at least 10 points below the month before;
    /// - quality: fewer than 90 % of lots passed first time (at least 3 lots);
    /// - silent progress: fewer than 70 % of progress reports came within the silent-days limit (at least 5);
    /// - slow exceptions: fewer than 70 % of exception deadlines met (at least 3 come);
    /// - every corrective action whose defect came back.
    public static func suggest(_ card: Scorecard, previous: Scorecard?, answerHours: Int, silentDays: Int, recurrences: [Recurrence]) -> [Suggestion] {
        var out: [Suggestion] = []
        let c = card.communication
        if c.revisionsDue >= 3, let share = c.answerShare,
           share < 8_000 || (c.answerMedianMinutes ?? 0) > Int64(answerHours) * 60 {
            out.append(Suggestion(rule: "slowAnswers", params: [
                "median": c.answerMedianMinutes.map(hours) ?? "—", "deadline": String(answerHours),
                "late": String(c.revisionsDue - c.answeredInTime), "due": String(c.revisionsDue)]))
        }
        if let rate = card.delivery.rate, rate < 8_500 {
            let before = previous?.delivery.rate
            if before.map({ $0 - rate >= 1_000 }) ?? true {
                out.append(Suggestion(rule: "slippingDelivery", params: [
                    "rate": pct(rate), "before": before.map(pct) ?? "—", "late": String(card.delivery.lateLines),
                    "days": card.delivery.averageDaysLateTenths.map(Rate.tenthsText) ?? "—"]))
            }
        }
        if card.quality.lots >= 3, let pass = card.quality.passRate, pass < 9_000 {
            out.append(Suggestion(rule: "quality", params: [
                "pass": pct(pass), "failed": String(card.quality.lots - card.quality.firstPassLots), "lots": String(card.quality.lots),
                "ppm": card.quality.ppm.map { FixedDecimal(units: $0 * FixedDecimal.unit).grouped } ?? "—"]))
        }
        if c.reports >= 5, let share = c.reportShare, share < 7_000 {
            out.append(Suggestion(rule: "silentProgress", params: [
                "share": pct(share), "late": String(c.reports - c.reportsOnTime), "reports": String(c.reports), "days": String(silentDays)]))
        }
        let e = card.exceptions
        if e.deadlinesDue >= 3, let met = e.metShare, met < 7_000 {
            out.append(Suggestion(rule: "slowExceptions", params: [
                "met": pct(met), "missed": String(e.deadlinesDue - e.deadlinesMet), "due": String(e.deadlinesDue),
                "median": e.responseMedianMinutes.map(hours) ?? "—"]))
        }
        for r in recurrences {
            out.append(Suggestion(rule: "ineffectiveAction", params: ["exception": r.exception, "defect": r.defect, "lots": String(r.lots)]))
        }
        return out
    }
}
