/// The supplier's answer to one line of a released revision.
public enum LineAnswer: Hashable, Sendable {
    case accept
    /// A different date and/or quantity the supplier can commit to, with the reason.
    case counter(quantity: FixedDecimal?, dueDate: Day?, reason: String)
    case reject(reason: String)

    public var kind: String {
        switch self {
        case .accept: "accept"
        case .counter: "counter"
        case .reject: "reject"
        }
    }
}

public enum Acknowledgment {
    public enum Problem: Error, Equatable, Sendable {
        case missingAnswer(line: Int)
        case unknownLine(Int)
        case reasonRequired(line: Int)
        case counterWithoutChange(line: Int)
        case nonPositiveQuantity(line: Int)
        /// A proposal the order could not carry (see `OrderLines.maxQuantity`).
        case tooLarge(line: Int)
    }

    /// Checks a full set of answers: every open line answered once, reasons where needed, and a
    /// counter-proposal that actually proposes something different.
    public static func check(_ answers: [Int: LineAnswer], lines: [OrderLine]) -> [Problem] {
        var problems: [Problem] = []
        let open = lines.filter { $0.state == .open }
        let numbers = Set(open.map(\.number))
        for n in answers.keys.sorted() where !numbers.contains(n) { problems.append(.unknownLine(n)) }
        for line in open {
            guard let answer = answers[line.number] else { problems.append(.missingAnswer(line: line.number)); continue }
            switch answer {
            case .accept: break
            case .reject(let reason):
                if reason.trimmingSpaces().isEmpty { problems.append(.reasonRequired(line: line.number)) }
            case .counter(let quantity, let dueDate, let reason):
                if reason.trimmingSpaces().isEmpty { problems.append(.reasonRequired(line: line.number)) }
                if let quantity, quantity <= .zero { problems.append(.nonPositiveQuantity(line: line.number)) }
                if let quantity, quantity >= OrderLines.maxQuantity { problems.append(.tooLarge(line: line.number)) }
                let changes = (quantity.map { $0 != line.quantity } ?? false) || (dueDate.map { $0 != line.dueDate } ?? false)
                if !changes { problems.append(.counterWithoutChange(line: line.number)) }
            }
        }
        return problems
    }

    /// Where the answers leave the order: any counter-proposal or rejection needs the buyer.
    public static func outcome(_ answers: [Int: LineAnswer]) -> OrderStatus {
        let values = Array(answers.values)
        if values.contains(where: { if case .counter = $0 { true } else { false } }) { return .changeProposed }
        if values.contains(where: { if case .reject = $0 { true } else { false } }) {
            // Rejecting some lines while accepting others is a proposal to drop those lines.
            return values.contains(.accept) ? .changeProposed : .rejected
        }
        return .acknowledged
    }
}

/// The buyer's decision on a supplier's counter-proposals and line rejections.
public enum CounterDecision: String, Sendable, Codable { case accept, decline }

public enum Negotiation {
    public enum Problem: Error, Equatable, Sendable {
        case missingDecision(line: Int)
        case nothingToDecide(line: Int)
    }

    public struct Resolution: Equatable, Sendable {
        /// The lines of the new revision (nil when nothing changes).
        public let lines: [OrderLine]?
        /// Where the order goes: acknowledged when every proposal is accepted (the supplier
        /// proposed exactly this), otherwise released for the supplier to answer again.
        public let status: OrderStatus
    }

    /// Applies the buyer's decisions. An accepted counter-proposal takes the supplier's date and
    /// quantity; an accepted rejection cancels the line; a declined one keeps the line as it was.
    public static func resolve(lines: [OrderLine], answers: [Int: LineAnswer],
                               decisions: [Int: CounterDecision]) throws(Problem) -> Resolution {
        let needing = answers.filter { if case .accept = $0.value { false } else { true } }
        for n in decisions.keys.sorted() where needing[n] == nil { throw .nothingToDecide(line: n) }
        for n in needing.keys.sorted() where decisions[n] == nil { throw .missingDecision(line: n) }
        var new = lines
        var changed = false
        for (i, line) in lines.enumerated() {
            guard let answer = needing[line.number], decisions[line.number] == .accept else { continue }
            switch answer {
            case .counter(let quantity, let dueDate, _):
                if let quantity { new[i].quantity = quantity }
                if let dueDate { new[i].dueDate = dueDate }
            case .reject:
                new[i].state = .cancelled
            case .accept:
                continue
            }
            changed = true
        }
        let allAccepted = needing.keys.allSatisfy { decisions[$0] == .accept }
        // Everything cancelled is no order: the supplier answered no to all of it.
        if new.allSatisfy({ $0.state == .cancelled }) { return Resolution(lines: changed ? new : nil, status: .cancelled) }
        return Resolution(lines: changed ? new : nil, status: allAccepted ? .acknowledged : .released)
    }
}
