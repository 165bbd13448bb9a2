/// The life of a reconciliation statement (对账单):
///
///     draft ─send→ sent ─confirm→ confirmed ─lock→ locked
///                   └─dispute→ disputed ─revise→ revised ─send→ sent …
///
/// The buyer (purchasing or finance) edits a draft or a revision and sends it; the supplier
/// confirms the whole statement or disputes single lines; the buyer answers every disputed line
/// (accept the supplier's figure, keep it with a reason, or correct it) and revises, which makes
/// a new numbered version; finance locks a confirmed statement, and a locked statement never
/// changes again — a later correction goes into the next period.
public enum StatementLifecycle {
    public enum State: String, Codable, Sendable, CaseIterable {
        case draft, sent, confirmed, disputed, revised, locked
    }

    public enum Action: String, Codable, Sendable, CaseIterable {
        /// Change lines, deductions or adjustments.
        case edit
        case send, confirm, dispute, revise, lock
        /// Answer a disputed line (the buyer's side, while the statement is disputed).
        case answer
    }

    /// Who acts, as far as the statement is concerned.
    public enum Party: Sendable, CaseIterable {
        /// Purchasing: prepares, sends and revises.
        case buyer
        /// Finance: all the buyer does, and locks.
        case finance
        /// The supplier's people who may confirm or dispute.
        case supplier
    }

    public enum Refusal: Error, Equatable, Sendable {
        /// This party never takes this action.
        case notYours
        /// Not from this state.
        case notNow(State)
        /// A dispute names at least one line.
        case nothingDisputed
        /// Revise only when every disputed line has its answer.
        case unansweredLines(Int)
    }

    static func party(_ p: Party, may a: Action) -> Bool {
        switch a {
        case .edit, .send, .revise, .answer: p == .buyer || p == .finance
        case .confirm, .dispute: p == .supplier
        case .lock: p == .finance
        }
    }

    static func from(_ a: Action) -> Set<State> {
        switch a {
        case .edit: [.draft, .revised]
        case .send: [.draft, .revised]
        case .confirm, .dispute: [.sent]
        case .revise, .answer: [.disputed]
        case .lock: [.confirmed]
        }
    }

    /// The state after `action`, or why not. `disputedLines` counts the lines a dispute names;
    /// `unanswered` the disputed lines still without the buyer's answer.
    public static func next(_ state: State, _ action: Action, by party: Party,
                            disputedLines: Int = 0, unanswered: Int = 0) throws(Refusal) -> State {
        guard Self.party(party, may: action) else { throw .notYours }
        guard from(action).contains(state) else { throw .notNow(state) }
        switch action {
        case .edit, .answer: return state
        case .send: return .sent
        case .confirm: return .confirmed
        case .dispute:
            guard disputedLines > 0 else { throw .nothingDisputed }
            return .disputed
        case .revise:
            guard unanswered == 0 else { throw .unansweredLines(unanswered) }
            return .revised
        case .lock: return .locked
        }
    }

    /// Whether `party` may take `action` now (what a page offers).
    public static func may(_ party: Party?, _ action: Action, in state: State, unanswered: Int = 0) -> Bool {
        guard let party else { return false }
        // A dispute names its lines when it is made; offering it needs no count.
        return (try? next(state, action, by: party, disputedLines: 1, unanswered: unanswered)) != nil
    }

    /// A revision makes a new version; the others keep it.
    public static func makesNewVersion(_ action: Action) -> Bool { action == .revise }

    /// The buyer's answer to one disputed line.
    public enum LineAnswer: Equatable, Sendable {
        /// Take the figure the supplier gave.
        case acceptSupplierFigure
        /// Keep the line as it is; the reason is shown to the supplier.
        case keep(reason: String)
        /// Set a new amount.
        case correct(to: FixedDecimal)

        public enum Problem: Error, Equatable, Sendable { case reasonRequired, negativeAmount, noSupplierFigure, amountRequired, unknownAnswer }

        /// The answer as a form or the API names it: `accept`, `keep` (with a reason) or `correct` (with an amount).
        public init(name: String, reason: String?, amount: FixedDecimal?) throws(Problem) {
            switch name {
            case "accept": self = .acceptSupplierFigure
            case "keep": self = .keep(reason: reason ?? "")
            case "correct":
                guard let amount else { throw .amountRequired }
                self = .correct(to: amount)
            default: throw .unknownAnswer
            }
        }

        public var name: String {
            switch self { case .acceptSupplierFigure: "accept"; case .keep: "keep"; case .correct: "correct" }
        }

        /// The line's amount after the answer.
        public func amount(current: FixedDecimal, supplierFigure: FixedDecimal?) throws(Problem) -> FixedDecimal {
            switch self {
            case .acceptSupplierFigure:
                guard let f = supplierFigure else { throw .noSupplierFigure }
                return f.rounded(toScale: StatementAmounts.moneyScale)
            case .keep(let reason):
                guard !reason.trimmingSpaces().isEmpty else { throw .reasonRequired }
                return current
            case .correct(let a):
                guard a >= .zero else { throw .negativeAmount }
                return a.rounded(toScale: StatementAmounts.moneyScale)
            }
        }
    }
}
