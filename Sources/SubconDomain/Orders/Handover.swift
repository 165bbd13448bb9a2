/// Changing suppliers (更换供应商交接): open order lines move from supplier A to supplier B.
/// A keeps what it has delivered (received, in inspection or accepted) and what is on its way;
/// B is ordered the rest. The split is decided here; the app applies it in one transaction.
public enum Handover {
    /// One line of A's order as the records stand.
    public struct LineState: Sendable, Equatable {
        public let ordered: FixedDecimal
        /// Received at the manufacturer (accepted, rejected or still in inspection).
        public let received: FixedDecimal
        /// Shipped on delivery notes, not yet received.
        public let inTransit: FixedDecimal
        public let open: Bool
        public init(ordered: FixedDecimal, received: FixedDecimal, inTransit: FixedDecimal, open: Bool) {
            self.ordered = ordered; self.received = received; self.inTransit = inTransit; self.open = open
        }

        /// What is still to be made: neither received nor on its way.
        public var remaining: FixedDecimal {
            let done = (try? received.adding(inTransit)) ?? ordered
            return ordered > done ? ((try? ordered.subtracting(done)) ?? .zero) : .zero
        }
    }

    public enum Refusal: Error, Equatable, Sendable {
        case sameSupplier
        case targetNotQualified(SupplierStatus)
        case orderNotOpen(OrderStatus)
        case lineNotOpen
        case nothingToMove
        case moreThanRemains(FixedDecimal)
    }

    public struct Split: Equatable, Sendable {
        /// To B.
        public let moved: FixedDecimal
        /// A's line from now on.
        public let kept: FixedDecimal
        public init(moved: FixedDecimal, kept: FixedDecimal) { self.moved = moved; self.kept = kept }
    }

    /// Orders whose lines may be handed over: released to A and not finished.
    public static let fromStatuses: Set<OrderStatus> = [.released, .acknowledged, .inProduction, .partiallyDelivered]

    /// B must be a different supplier that may receive orders.
    public static func checkTarget(sameAsSource: Bool, status: SupplierStatus) throws(Refusal) {
        guard !sameAsSource else { throw .sameSupplier }
        guard SupplierStatus.mayReceiveOrders.contains(status) else { throw .targetNotQualified(status) }
    }

    /// `quantity` nil moves all that remains.
    public static func split(_ line: LineState, order: OrderStatus, quantity: FixedDecimal?) throws(Refusal) -> Split {
        guard fromStatuses.contains(order) else { throw .orderNotOpen(order) }
        guard line.open else { throw .lineNotOpen }
        let rest = line.remaining
        let moved = quantity ?? rest
        guard moved > .zero else { throw .nothingToMove }
        guard moved <= rest else { throw .moreThanRemains(rest) }
        return Split(moved: moved, kept: (try? line.ordered.subtracting(moved)) ?? .zero)
    }
}
