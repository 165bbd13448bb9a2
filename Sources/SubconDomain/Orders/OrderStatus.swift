/// A production plan's life: drafted, released (orders proposed from it), closed.
public enum PlanStatus: String, Codable, Sendable, CaseIterable {
    case draft, released, closed

    public func canMove(to target: PlanStatus) -> Bool {
        switch (self, target) {
        case (.draft, .released), (.released, .closed): true
        default: false
        }
    }
}

/// An outsourcing order's life. The supplier's answer to each released revision moves it to
/// acknowledged, change proposed or rejected; production and deliveries move it on; a new
/// revision puts it back to released until the supplier answers again.
public enum OrderStatus: String, Codable, Sendable, CaseIterable {
    case draft
    case released
    case acknowledged
    case changeProposed = "change_proposed"
    case rejected
    case inProduction = "in_production"
    case partiallyDelivered = "partially_delivered"
    case delivered
    case closed
    case cancelled

    /// Every move the order may make. Anything not listed is refused.
    public var next: Set<OrderStatus> {
        switch self {
        case .draft: [.released, .cancelled]
        case .released: [.acknowledged, .changeProposed, .rejected, .cancelled]
        // The buyer accepts the counter-proposal (acknowledged, as a new revision), declines it
        // (released again, for the supplier to answer), or gives up.
        case .changeProposed: [.acknowledged, .released, .cancelled]
        // A rejected order is revised and released again, or cancelled.
        case .rejected: [.released, .cancelled]
        case .acknowledged: [.inProduction, .partiallyDelivered, .delivered, .released, .cancelled]
        case .inProduction: [.partiallyDelivered, .delivered, .released, .cancelled]
        case .partiallyDelivered: [.delivered, .released, .closed]
        case .delivered: [.closed]
        case .closed, .cancelled: []
        }
    }

    public func canMove(to target: OrderStatus) -> Bool { next.contains(target) }

    /// The buyer may change the order by revision only once the supplier has seen it and before
    /// it is finished.
    public var acceptsRevision: Bool {
        [.released, .acknowledged, .changeProposed, .rejected, .inProduction, .partiallyDelivered].contains(self)
    }

    /// Accepted and not yet delivered: material is issued, progress reported, goods shipped and
    /// received, and the order's open lines are on the supplier's work list.
    public static let working: Set<OrderStatus> = [.acknowledged, .inProduction, .partiallyDelivered]

    /// Waiting for the supplier's answer to the current revision.
    public var awaitsAcknowledgment: Bool { self == .released }

    public var isOpen: Bool { ![.closed, .cancelled, .delivered].contains(self) }

    public enum Refusal: Error, Equatable, Sendable { case notAllowed(from: OrderStatus, to: OrderStatus) }

    public func move(to target: OrderStatus) throws(Refusal) -> OrderStatus {
        guard canMove(to: target) else { throw .notAllowed(from: self, to: target) }
        return target
    }
}
