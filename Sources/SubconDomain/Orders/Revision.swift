/// One line of an outsourcing order as a revision fixes it.
public struct OrderLine: Hashable, Sendable, Codable {
    public enum State: String, Codable, Sendable { case open, cancelled }

    /// Stable across revisions: a line keeps its number when it changes.
    public var number: Int
    public var item: String
    /// nil: the whole item is outsourced; otherwise one routed operation of it.
    public var operation: String?
    public var quantity: FixedDecimal
    public var dueDate: Day
    public var unitPrice: FixedDecimal
    public var state: State

    public init(number: Int, item: String, operation: String? = nil, quantity: FixedDecimal, dueDate: Day,
                unitPrice: FixedDecimal, state: State = .open) {
        self.number = number; self.item = item; self.operation = operation; self.quantity = quantity
        self.dueDate = dueDate; self.unitPrice = unitPrice; self.state = state
    }

    /// Quantity × unit price, rounded once to money's two places. Within `OrderLines.maxQuantity`
    /// and `maxUnitPrice` it cannot overflow.
    public func amount() throws(FixedDecimal.ArithmeticError) -> FixedDecimal { try quantity.multiplied(by: unitPrice).rounded(toScale: 2) }
}

/// What changed between two revisions, line by line.
public enum LineChange: Hashable, Sendable {
    case added(OrderLine)
    /// The line is gone from the new revision (only lines nothing has happened to may go).
    case removed(OrderLine)
    case cancelled(OrderLine)
    case changed(number: Int, fields: [FieldChange])

    public struct FieldChange: Hashable, Sendable {
        public enum Field: String, Sendable, Codable { case quantity, dueDate = "due_date", unitPrice = "unit_price" }
        public let field: Field
        public let before: String
        public let after: String
    }

    public var lineNumber: Int {
        switch self {
        case .added(let l), .removed(let l), .cancelled(let l): l.number
        case .changed(let n, _): n
        }
    }
}

public enum RevisionDiff {
    /// The changes that turn `old` into `new`, ordered by line number.
    public static func between(_ old: [OrderLine], _ new: [OrderLine]) -> [LineChange] {
        let before = Dictionary(uniqueKeysWithValues: old.map { ($0.number, $0) })
        let after = Dictionary(uniqueKeysWithValues: new.map { ($0.number, $0) })
        var changes: [LineChange] = []
        for n in Set(before.keys).union(after.keys).sorted() {
            switch (before[n], after[n]) {
            case (nil, let a?): changes.append(.added(a))
            case (let b?, nil): changes.append(.removed(b))
            case (let b?, let a?):
                if b.state == .open && a.state == .cancelled { changes.append(.cancelled(a)); continue }
                var fields: [LineChange.FieldChange] = []
                if b.quantity != a.quantity { fields.append(.init(field: .quantity, before: b.quantity.description, after: a.quantity.description)) }
                if b.dueDate != a.dueDate { fields.append(.init(field: .dueDate, before: b.dueDate.description, after: a.dueDate.description)) }
                if b.unitPrice != a.unitPrice { fields.append(.init(field: .unitPrice, before: b.unitPrice.description, after: a.unitPrice.description)) }
                if !fields.isEmpty { changes.append(.changed(number: n, fields: fields)) }
            case (nil, nil): break
            }
        }
        return changes
    }
}

/// The rules for the lines of a revision the buyer proposes.
public enum OrderLines {
    public enum Problem: Error, Equatable, Sendable {
        case empty
        case nonPositiveQuantity(line: Int)
        case negativePrice(line: Int)
        case duplicateNumber(Int)
        /// A cancelled line cannot come back, and item or operation cannot change: that is a new line.
        case reopened(line: Int)
        case subjectChanged(line: Int)
        case noChange
        case tooLarge(line: Int)
    }

    /// Bounds that keep every amount (quantity × price) exact in 64-bit fixed point.
    public static let maxQuantity = FixedDecimal(100_000_000)
    public static let maxUnitPrice = FixedDecimal(1_000_000)

    public static func check(_ lines: [OrderLine], replacing old: [OrderLine]? = nil) -> [Problem] {
        var problems: [Problem] = []
        if lines.allSatisfy({ $0.state == .cancelled }) { problems.append(.empty) }
        var seen = Set<Int>()
        for l in lines {
            if !seen.insert(l.number).inserted { problems.append(.duplicateNumber(l.number)) }
            if l.state == .open && l.quantity <= .zero { problems.append(.nonPositiveQuantity(line: l.number)) }
            if l.unitPrice < .zero { problems.append(.negativePrice(line: l.number)) }
            if l.quantity >= maxQuantity || l.unitPrice >= maxUnitPrice { problems.append(.tooLarge(line: l.number)) }
        }
        if let old {
            let before = Dictionary(uniqueKeysWithValues: old.map { ($0.number, $0) })
            for l in lines {
                guard let b = before[l.number] else { continue }
                if b.state == .cancelled && l.state == .open { problems.append(.reopened(line: l.number)) }
                if b.item != l.item || b.operation != l.operation { problems.append(.subjectChanged(line: l.number)) }
            }
            if problems.isEmpty && RevisionDiff.between(old, lines).isEmpty { problems.append(.noChange) }
        }
        return problems
    }
}
