/// Why a line is late, in the supplier's words: one of the installation's reasons (设定的延期原因),
/// with a note that is required for "other".
public struct DelayReasons: Sendable, Equatable {
    /// The list an installation starts with; `DELAY_REASONS` may replace it.
    public static let standard = ["material_shortage", "equipment", "quality_rework", "capacity", "customer_change", "other"]
    public static let other = "other"

    public let codes: [String]

    /// Codes are lower-case words (they name translations); "other" is always offered last.
    public init(codes: [String]) {
        var seen = Set<String>()
        var list = codes.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0.count <= 40 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && seen.insert($0).inserted && $0 != Self.other }
        list.append(Self.other)
        self.codes = list
    }

    public enum Refusal: Error, Equatable, Sendable {
        /// The promise or projection is late and no reason was given.
        case required
        case unknown(String)
        /// "other" says nothing without a note.
        case noteRequired
    }

    /// A reason is owed when the supplier promises a day after the due date, or when its line
    /// is projected late (at risk or beyond the threshold) whatever it promises.
    public static func isRequired(promised: Day?, due: Day, risk: Projection.Risk) -> Bool {
        if let promised, promised > due { return true }
        return risk.isLate
    }

    /// Checks a given reason; `nil` when it is acceptable (or not needed and not given).
    public func check(code: String?, note: String, required: Bool) -> Refusal? {
        let code = code?.trimmingCharacters(in: .whitespaces) ?? ""
        if code.isEmpty { return required ? .required : nil }
        guard codes.contains(code) else { return .unknown(code) }
        if code == Self.other && note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return .noteRequired }
        return nil
    }
}

extension Projection.Risk {
    /// Projected after the due date or already past it while open: the one meaning of "late"
    /// for lists, filters, the home page and the order page.
    public var isLate: Bool { self == .late || self == .atRisk }
    /// The stored risks that count as late, for a filter in SQL.
    public static let lateValues = [Projection.Risk.late.rawValue, Projection.Risk.atRisk.rawValue]
}
