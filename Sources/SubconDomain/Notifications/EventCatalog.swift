/// Every event Subcon raises, with whom it is meant for by default. The app refuses to raise an
/// event that is not listed here (a test scans the sources too), so channels, preferences and
/// the webhook documentation can never miss one. Each event's name is `event.<key>` in the
/// locale catalogs; the message itself is the notice the raising code writes.
public struct EventType: Sendable, Hashable {
    public enum Audience: String, Sendable {
        /// The supplier's people the record belongs to.
        case supplier
        /// The manufacturer's people in the roles listed.
        case manufacturer
        /// Whichever side did not act (exception threads, 8D steps).
        case otherSide = "other_side"
        /// One person (a new account, a reset password).
        case person
    }

    public let key: String
    public let audience: Audience
    /// The manufacturer's roles that receive it (empty for supplier and personal events).
    public let roles: [Role]
    /// Urgent enough to be emailed unless the person turns it off.
    public let emailByDefault: Bool
    /// Names the page or record it links to, for a webhook receiver's routing.
    public let recordType: String

    init(_ key: String, _ audience: Audience, _ roles: [Role] = [], email: Bool = false, record: String) {
        self.key = key; self.audience = audience; self.roles = roles; self.emailByDefault = email; self.recordType = record
    }

    /// Whether a person on this side is ever meant to receive it (their preferences list it).
    public func concerns(_ side: OrganizationKind) -> Bool {
        switch audience {
        case .supplier: side == .supplier
        case .manufacturer: side == .manufacturer
        case .otherSide, .person: true
        }
    }
}

public enum EventCatalog {
    public static let all: [EventType] = [
        // Orders and revisions
        EventType("order.released", .supplier, email: true, record: "order"),
        EventType("order.revised", .supplier, email: true, record: "order"),
        EventType("order.answered", .manufacturer, [.purchaser], email: true, record: "order"),
        EventType("order.decided", .supplier, record: "order"),
        EventType("order.cancelled", .supplier, email: true, record: "order"),
        EventType("order.handed_over", .supplier, email: true, record: "order"),
        EventType("order.overdue", .supplier, email: true, record: "order"),
        EventType("order.overdue.escalated", .manufacturer, [.admin, .purchaser], email: true, record: "order"),
        EventType("order.delay", .manufacturer, [.purchaser, .planner], record: "order"),
        // Material
        EventType("material.issued", .supplier, email: true, record: "material_document"),
        EventType("material.approvalNeeded", .manufacturer, [.purchaser], email: true, record: "material_document"),
        EventType("material.decided", .supplier, record: "material_document"),
        EventType("material.discrepancy", .manufacturer, [.warehouse, .purchaser], email: true, record: "material_document"),
        EventType("material.scrapped", .manufacturer, [.warehouse], record: "material_document"),
        EventType("material.return", .supplier, record: "material_document"),
        EventType("material.adjustment", .supplier, record: "material_document"),
        EventType("material.transfer", .supplier, record: "material_document"),
        EventType("stockCount.closed", .supplier, record: "stock_count"),
        // Deliveries and receipts
        EventType("delivery.shipped", .manufacturer, [.warehouse], record: "delivery"),
        EventType("receipt.created", .supplier, record: "receipt"),
        EventType("receipt.awaitingInspection", .manufacturer, [.quality], record: "receipt"),
        EventType("receipt.decided", .supplier, record: "receipt"),
        // Quality
        EventType("inspection.concession", .manufacturer, [.quality, .purchaser], record: "inspection"),
        EventType("quality.switched", .supplier, record: "item"),
        EventType("reject.decided", .supplier, record: "reject"),
        EventType("reject.disputed", .manufacturer, [.quality], email: true, record: "exception"),
        EventType("exception.raised", .otherSide, email: true, record: "exception"),
        EventType("exception.assigned", .person, record: "exception"),
        EventType("exception.comment", .otherSide, record: "exception"),
        EventType("exception.8d", .otherSide, email: true, record: "exception"),
        EventType("exception.escalated", .manufacturer, [.quality, .purchaser, .admin], email: true, record: "exception"),
        EventType("exception.closed", .otherSide, record: "exception"),
        EventType("exception.reopened", .otherSide, email: true, record: "exception"),
        // Settlement
        EventType("statement.send", .supplier, email: true, record: "statement"),
        EventType("statement.confirm", .manufacturer, [.finance, .purchaser], record: "statement"),
        EventType("statement.dispute", .manufacturer, [.finance, .purchaser], email: true, record: "statement"),
        EventType("statement.lock", .supplier, record: "statement"),
        EventType("statement.improvementNotice", .supplier, email: true, record: "statement"),
        EventType("invoice.registered", .manufacturer, [.finance], record: "invoice"),
        EventType("invoice.rejected", .supplier, email: true, record: "invoice"),
        EventType("invoice.paid", .supplier, record: "invoice"),
        // Suppliers and performance
        EventType("certificate.expiring", .manufacturer, [.purchaser, .quality], email: true, record: "supplier"),
        EventType("supplier.status_changed", .supplier, email: true, record: "supplier"),
        EventType("scorecard.suggestions", .manufacturer, [.purchaser, .quality], record: "scorecard"),
        EventType("scorecard.probation_proposed", .manufacturer, [.admin], record: "scorecard"),
        EventType("review.planned", .supplier, record: "review"),
        EventType("review.held", .supplier, record: "review"),
        // Technical documents
        EventType("document.revised", .supplier, email: true, record: "technical_document"),
        // Accounts
        EventType("organization.created", .person, record: "organization"),
        EventType("user.created", .person, record: "user"),
        EventType("user.roles_changed", .person, record: "user"),
        EventType("user.password_reset", .person, email: true, record: "user"),
        // A channel's own test message.
        EventType("channel.test", .person, record: "channel"),
    ]

    private static let index: [String: EventType] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })

    public static func find(_ key: String) -> EventType? { index[key] }
    public static func contains(_ key: String) -> Bool { index[key] != nil }
}
