/// Goods coming back from the supplier: how much an order line may still take, what an
/// inspection outcome must add up to, and what the accepted quantities make of the order.
public enum Receiving {
    public enum Refusal: Error, Equatable, Sendable {
        case nonPositive
        /// More than the ordered quantity plus the installation's tolerance; `remaining` is what
        /// may still be received (zero or more).
        case overReceipt(remaining: FixedDecimal)
        case overflow
    }

    /// The most an order line may count as received: ordered × (100 % + tolerance).
    public static func limit(ordered: FixedDecimal, tolerancePercent: FixedDecimal) throws(Refusal) -> FixedDecimal {
        do { return try ordered.adding(try ordered.percent(tolerancePercent)) } catch { throw .overflow }
    }

    /// Checks an incoming quantity against what the line already counts (received and not
    /// rejected: rejected goods go back and may be replaced).
    public static func check(incoming: FixedDecimal, ordered: FixedDecimal, counted: FixedDecimal,
                             tolerancePercent: FixedDecimal) throws(Refusal) {
        guard incoming > .zero else { throw .nonPositive }
        let max = try limit(ordered: ordered, tolerancePercent: tolerancePercent)
        let remaining: FixedDecimal
        do { remaining = try max.subtracting(counted) } catch { throw .overflow }
        if incoming > remaining { throw .overReceipt(remaining: remaining > .zero ? remaining : .zero) }
    }

    public enum OutcomeProblem: Error, Equatable, Sendable { case negative, doesNotAddUp(received: FixedDecimal) }

    /// Accepted and rejected parts of a received quantity must be non-negative and add up to it.
    public static func checkOutcome(received: FixedDecimal, accepted: FixedDecimal, rejected: FixedDecimal) throws(OutcomeProblem) {
        guard accepted >= .zero, rejected >= .zero else { throw .negative }
        guard let sum = try? accepted.adding(rejected), sum == received else { throw .doesNotAddUp(received: received) }
    }

    /// What the accepted quantities make of an order: nothing yet (nil), partially delivered, or
    /// delivered when every open line has at least its quantity accepted.
    public static func deliveryStatus(_ lines: [(ordered: FixedDecimal, accepted: FixedDecimal)]) -> OrderStatus? {
        guard lines.contains(where: { $0.accepted > .zero }) else { return nil }
        return lines.allSatisfy { $0.accepted >= $0.ordered } ? .delivered : .partiallyDelivered
    }
}

/// Issuing components against an order's requirements (用料清单).
public enum MaterialIssuing {
    /// Still to issue for one requirement: gross quantity − issued so far (never below zero).
    public static func remaining(gross: FixedDecimal, issued: FixedDecimal) -> FixedDecimal {
        guard let r = try? gross.subtracting(issued), r > .zero else { return .zero }
        return r
    }

    /// An issue beyond what remains is a supplementary issue (补料): it needs a reason and a
    /// purchaser's approval before anything moves.
    public static func isSupplementary(requested: [(remaining: FixedDecimal, quantity: FixedDecimal)]) -> Bool {
        requested.contains { $0.quantity > $0.remaining }
    }
}

/// Consumption booked against the lots a supplier holds, oldest (first by name) first, so a
/// received lot can be traced to the component lots it used. What no lot covers goes on the
/// last lot by name the supplier ever had of the material, held or used up (held goes below zero
/// there: a shortfall the write-off shows), or on lot "" if it never had any. So a consumption
/// needs the lots held and the name of that last lot, never the supplier's used-up lots.
public enum Consumption {
    /// `held`: the lots with some stock, in any order (others are passed over); `lastLot`: the
    /// greatest name among every lot the supplier had of the material, nil if none.
    public static func allocate(_ quantity: FixedDecimal, held: [(lot: String, held: FixedDecimal)], lastLot: String?) -> [(lot: String, quantity: FixedDecimal)] {
        guard quantity > .zero else { return [] }
        var left = quantity
        var out: [(lot: String, quantity: FixedDecimal)] = []
        for (lot, held) in held.sorted(by: { $0.lot < $1.lot }) where held > .zero && left > .zero {
            let take = held < left ? held : left
            out.append((lot, take))
            left = (try? left.subtracting(take)) ?? .zero
        }
        if left > .zero {
            let lot = lastLot ?? ""
            if let i = out.firstIndex(where: { $0.lot == lot }) {
                out[i].quantity = (try? out[i].quantity.adding(left)) ?? out[i].quantity
            } else {
                out.append((lot, left))
            }
        }
        return out
    }

    /// Consumption of one requirement for an accepted quantity, and the loss the BOM allows on it.
    public static func of(accepted: FixedDecimal, quantityPer: FixedDecimal, scrapPercent: FixedDecimal)
        throws(FixedDecimal.ArithmeticError) -> (consumed: FixedDecimal, allowance: FixedDecimal) {
        let consumed = try accepted.multiplied(by: quantityPer)
        return (consumed, try consumed.percent(scrapPercent))
    }
}
