/// Did the corrective action work? (效果验证) After an 8D closes, the same supplier × item ×
/// defect is watched: lots inspected before the case was opened are compared with lots after it
/// closed, over a window of days or lots, whichever is reached first.
public enum CorrectiveEffect {
    public struct Window: Sendable, Equatable {
        public var days: Int
        public var lots: Int
        public init(days: Int = 90, lots: Int = 5) { self.days = days; self.lots = lots }
    }

    /// Lots inspected, and those among them that showed the defect.
    public struct Counts: Sendable, Equatable, Codable {
        public var lots: Int
        public var defective: Int
        public init(lots: Int, defective: Int) { self.lots = lots; self.defective = defective }
    }

    public enum Verdict: String, Sendable, Codable, CaseIterable {
        /// The window is still open.
        case watching
        /// The defect rate after is at most half the rate before (or, with nothing before, the
        /// defect did not come back).
        case effective
        case ineffective
        /// The window passed without a single lot to judge by.
        case unverified
    }

    /// A lot with the defect after the closure: a linked exception is opened at once, whatever
    /// the verdict turns out to be.
    public static func recurred(after: Counts) -> Bool { after.defective > 0 }

    public static func judge(before: Counts, after: Counts, daysSinceClose: Int, window: Window) -> Verdict {
        let complete = after.lots >= window.lots || daysSinceClose >= window.days
        guard complete else { return .watching }
        guard after.lots > 0 else { return .unverified }
        guard before.lots > 0, before.defective > 0 else { return after.defective == 0 ? .effective : .ineffective }
        // after.defective / after.lots ≤ ½ · before.defective / before.lots, in whole numbers.
        return after.defective * before.lots * 2 <= before.defective * after.lots ? .effective : .ineffective
    }
}
