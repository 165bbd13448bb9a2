/// Material held by suppliers (供应商库存), as an append-only list of movements per supplier ×
/// item × lot. Balances are sums of movements; nothing is ever updated in place.
public struct StockKey: Hashable, Sendable, Comparable {
    public var supplier: String
    public var item: String
    public var lot: String
    public init(supplier: String, item: String, lot: String) { self.supplier = supplier; self.item = item; self.lot = lot }
    public static func < (a: StockKey, b: StockKey) -> Bool { (a.supplier, a.item, a.lot) < (b.supplier, b.item, b.lot) }
}

public enum MovementKind: String, Codable, Sendable, CaseIterable {
    /// Sent by the manufacturer (发料); in transit until the supplier confirms it.
    case issued
    /// The supplier confirms what arrived: from in transit to held.
    case receiptConfirmed = "receipt_confirmed"
    /// Used up by accepted goods (accepted quantity × BOM quantity per).
    case consumed
    /// Reported scrapped at the supplier.
    case scrapped
    /// Sent back to the manufacturer (退料), good or defective.
    case returned
    /// Moved to or from another supplier; always one pair in one transaction.
    case transferredOut = "transferred_out"
    case transferredIn = "transferred_in"
    /// A counted correction, either way.
    case adjusted
}

extension MovementKind {
    /// How a movement of this kind changes what the supplier holds: in (1), out (-1), or not
    /// yet (0: issued material is in transit until confirmed). Adjustments carry their own sign.
    /// Stated once, for the balance here and for readers that sum in SQL.
    public var heldSign: Int {
        switch self {
        case .issued: 0
        case .receiptConfirmed, .transferredIn, .adjusted: 1
        case .consumed, .scrapped, .returned, .transferredOut: -1
        }
    }

    /// How it changes what is on its way to the supplier: issued material is in transit (1)
    /// until the supplier confirms receipt of it (-1).
    public var transitSign: Int {
        switch self {
        case .issued: 1
        case .receiptConfirmed: -1
        case .consumed, .scrapped, .returned, .transferredOut, .transferredIn, .adjusted: 0
        }
    }
}

public struct Movement: Hashable, Sendable {
    public var key: StockKey
    public var kind: MovementKind
    /// Always positive, except for adjustments (signed).
    public var quantity: FixedDecimal
    /// The order it belongs to, when there is one.
    public var order: String?
    /// For consumption: the loss the BOM's scrap rate allows on it.
    public var allowance: FixedDecimal
    public init(key: StockKey, kind: MovementKind, quantity: FixedDecimal, order: String? = nil, allowance: FixedDecimal = .zero) {
        self.key = key; self.kind = kind; self.quantity = quantity; self.order = order; self.allowance = allowance
    }
}

/// What the movements of one key add up to.
public struct StockBalance: Equatable, Sendable {
    /// Issued but not yet confirmed by the supplier.
    public var inTransit: FixedDecimal = .zero
    /// At the supplier (may go below zero when accepted goods imply more use than was issued:
    /// that is a shortfall the write-off shows, not something to hide).
    public var held: FixedDecimal = .zero
    public init(inTransit: FixedDecimal = .zero, held: FixedDecimal = .zero) { self.inTransit = inTransit; self.held = held }

    /// Whether anything can leave by choice (scrap, return, transfer): `check` refuses more than
    /// is held, so at zero or a shortfall nothing can.
    public var canMoveOut: Bool { held > .zero }
}

public enum StockLedger {
    public enum Refusal: Error, Equatable, Sendable {
        case nonPositive
        case moreThanInTransit(available: FixedDecimal)
        case moreThanHeld(available: FixedDecimal)
        case sameSupplier
        case overflow
    }

    /// The balance of one key from its movements.
    public static func balance(_ movements: some Sequence<Movement>) throws(Refusal) -> StockBalance {
        var b = StockBalance()
        do {
            for m in movements {
                switch m.kind.transitSign {
                case 1: b.inTransit = try b.inTransit.adding(m.quantity)
                case -1: b.inTransit = try b.inTransit.subtracting(m.quantity)
                default: break
                }
                switch m.kind.heldSign {
                case 1: b.held = try b.held.adding(m.quantity)
                case -1: b.held = try b.held.subtracting(m.quantity)
                default: break
                }
            }
        } catch { throw .overflow }
        return b
    }

    /// Balances of every key.
    public static func balances(_ movements: [Movement]) throws(Refusal) -> [StockKey: StockBalance] {
        var out: [StockKey: StockBalance] = [:]
        for (key, ms) in Dictionary(grouping: movements, by: \.key) { out[key] = try balance(ms) }
        return out
    }

    /// Checks a new movement against the current balance of its key. Consumption is not limited
    /// (accepted goods are a fact); what leaves the supplier's hands by choice — scrap, return,
    /// transfer — cannot exceed what it holds, and a confirmation cannot exceed what is in transit.
    public static func check(_ m: Movement, against b: StockBalance) throws(Refusal) {
        switch m.kind {
        case .adjusted:
            if m.quantity == .zero { throw .nonPositive }
        default:
            if m.quantity <= .zero { throw .nonPositive }
        }
        switch m.kind {
        case .receiptConfirmed where m.quantity > b.inTransit: throw .moreThanInTransit(available: b.inTransit)
        case .scrapped, .returned, .transferredOut:
            if m.quantity > b.held { throw .moreThanHeld(available: b.held) }
        default: break
        }
    }

    /// A transfer from one supplier to another: the pair of movements, written together.
    public static func transfer(_ quantity: FixedDecimal, item: String, lot: String, from: String, to: String,
                                held: StockBalance) throws(Refusal) -> [Movement] {
        guard from != to else { throw .sameSupplier }
        let out = Movement(key: StockKey(supplier: from, item: item, lot: lot), kind: .transferredOut, quantity: quantity)
        try check(out, against: held)
        return [out, Movement(key: StockKey(supplier: to, item: item, lot: lot), kind: .transferredIn, quantity: quantity)]
    }
}

/// Consumption write-off (核销) for one supplier and material: what was issued against what the
/// accepted goods used, the scrap the BOM allows, what came back, and what is still there.
public struct WriteOff: Equatable, Sendable {
    /// Held and in transit at the start of the period (zero for a whole order).
    public var opening: FixedDecimal = .zero
    public var issued: FixedDecimal
    public var consumed: FixedDecimal
    public var allowedLoss: FixedDecimal
    public var returned: FixedDecimal
    public var held: FixedDecimal
    /// opening + issued − consumed − allowed loss − returned − held − rejects decided. Positive:
    /// material unaccounted for beyond the allowed loss (a deduction candidate); negative: more
    /// accounted for than issued.
    public var variance: FixedDecimal
    /// Material in rejects found to be the material's fault (料废): a loss the manufacturer bears.
    public var materialRejects: FixedDecimal = .zero
    /// Material in rejects found to be the supplier's processing (工废): charged on the statement
    /// at cost, so not a variance as well.
    public var supplierRejects: FixedDecimal = .zero

    /// The write-off once the rejects of the period with a decided responsibility are accounted
    /// for (`RejectResponsibility.settle` gives their quantities): what is left is the variance
    /// nobody has explained.
    public func accounting(materialRejects: FixedDecimal, supplierRejects: FixedDecimal) throws(FixedDecimal.ArithmeticError) -> WriteOff {
        var w = self
        w.materialRejects = try w.materialRejects.adding(materialRejects)
        w.supplierRejects = try w.supplierRejects.adding(supplierRejects)
        w.variance = try variance.subtracting(materialRejects).subtracting(supplierRejects)
        return w
    }

    /// - Parameters:
    ///   - accepted: accepted quantities of the finished lines.
    ///   - quantityPer, scrapPercent: from the order's requirement snapshot.
    public static func compute(issued: FixedDecimal, accepted: [FixedDecimal], quantityPer: FixedDecimal, scrapPercent: FixedDecimal,
                               returned: FixedDecimal, held: FixedDecimal) throws(FixedDecimal.ArithmeticError) -> WriteOff {
        var consumed = FixedDecimal.zero
        for a in accepted { consumed = try consumed.adding(try a.multiplied(by: quantityPer)) }
        let allowedLoss = try consumed.percent(scrapPercent)
        let variance = try issued.subtracting(consumed).subtracting(allowedLoss).subtracting(returned).subtracting(held)
        return WriteOff(issued: issued, consumed: consumed, allowedLoss: allowedLoss, returned: returned, held: held, variance: variance)
    }

    /// The write-off of one supplier and material over a period, from the ledger: what it held
    /// at the start, and the period's movements. From the supplier's side a transfer in is
    /// material received like an issue, a transfer out is material given back like a return;
    /// "held" counts what is still in transit (a discrepancy not yet settled is not a loss yet).
    public static func summarize(opening: StockBalance = StockBalance(), movements: some Sequence<Movement>)
        throws(FixedDecimal.ArithmeticError) -> WriteOff {
        var w = WriteOff(issued: .zero, consumed: .zero, allowedLoss: .zero, returned: .zero, held: .zero, variance: .zero)
        w.opening = try opening.held.adding(opening.inTransit)
        var held = w.opening
        for m in movements {
            switch m.kind {
            case .issued, .transferredIn:
                w.issued = try w.issued.adding(m.quantity); held = try held.adding(m.quantity)
            case .receiptConfirmed: break
            case .consumed:
                w.consumed = try w.consumed.adding(m.quantity); w.allowedLoss = try w.allowedLoss.adding(m.allowance)
                held = try held.subtracting(m.quantity)
            case .returned, .transferredOut:
                w.returned = try w.returned.adding(m.quantity); held = try held.subtracting(m.quantity)
            case .scrapped: held = try held.subtracting(m.quantity)
            case .adjusted: held = try held.adding(m.quantity)
            }
        }
        w.held = held
        w.variance = try w.opening.adding(w.issued).subtracting(w.consumed).subtracting(w.allowedLoss).subtracting(w.returned).subtracting(held)
        return w
    }

    /// The variance tolerated: a percentage of what was there to account for, the opening
    /// balance and what was issued.
    public func allowedVariance(tolerancePercent: FixedDecimal) throws(FixedDecimal.ArithmeticError) -> FixedDecimal {
        try opening.adding(issued).percent(tolerancePercent)
    }

    /// Whether the variance is beyond the tolerance (`allowedVariance`).
    public func exceeds(tolerancePercent: FixedDecimal) throws(FixedDecimal.ArithmeticError) -> Bool {
        variance > (try allowedVariance(tolerancePercent: tolerancePercent))
    }
}
