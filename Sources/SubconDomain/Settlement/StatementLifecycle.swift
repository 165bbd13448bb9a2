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
        case .edit, .send, .revise: p == .buyer || p == .finance
        case .confirm, .dispute: p == .supplier
        case .lock: p == .finance
        }
    }

    static func from(_ a: Action) -> Set<State> {
        switch a {
        case .edit: [.draft, .revised]
        case .send: [.draft, .revised]
        case .confirm, .dispute: [.sent]
        case .revise: [.disputed]
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
        case .edit: return state
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

        public enum Problem: Error, Equatable, Sendable { case reasonRequired, negativeAmount, noSupplierFigure }

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
