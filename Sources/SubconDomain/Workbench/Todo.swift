import Foundation

/// Something a person (or their role) has to act on now — the home page's 待我处理. Each kind
/// names the permission that makes it someone's task and the side that does it.
public enum TodoKind: String, CaseIterable, Sendable, Codable {
    // The supplier's side
    case answerRevision = "answer_revision"
    case confirmMaterial = "confirm_material"
    case explainDelay = "explain_delay"
    case shipReady = "ship_ready"
    case answerException = "answer_exception"
    case rework8D = "rework_8d"
    case confirmStatement = "confirm_statement"
    case countStock = "count_stock"
    case reviewActionSupplier = "review_action_supplier"
    /// Messages to the organization's own chat groups or systems that were given up.
    case retryDeliverySupplier = "retry_delivery_supplier"
    /// A new revision of a drawing or process sheet to read and acknowledge.
    case acknowledgeDocument = "acknowledge_document"
    // The manufacturer's side
    case decideCounter = "decide_counter"
    case confirmPlanChange = "confirm_plan_change"
    case approveSupplementary = "approve_supplementary"
    case receiveDelivery = "receive_delivery"
    case inspect
    case review8D = "review_8d"
    case answerDispute = "answer_dispute"
    case lockStatement = "lock_statement"
    case reviewAction = "review_action"
    case retryDelivery = "retry_delivery"

    public var action: Action {
        switch self {
        case .answerRevision: .answerOrders
        case .confirmMaterial, .explainDelay, .shipReady: .fulfilOrders
        case .answerException, .rework8D: .answerExceptions
        case .confirmStatement: .answerStatements
        case .countStock: .countStock
        case .decideCounter: .manageOrders
        case .confirmPlanChange: .managePlans
        case .approveSupplementary: .approveSupplementaryIssue
        case .receiveDelivery: .handleMaterial
        case .inspect: .inspectGoods
        case .review8D: .handleExceptions
        case .answerDispute: .prepareStatements
        case .lockStatement: .lockStatements
        case .reviewActionSupplier: .answerOrders
        case .reviewAction: .manageSuppliers
        case .retryDelivery, .retryDeliverySupplier: .manageChannels
        case .acknowledgeDocument: .viewTechnicalDocuments
        }
    }

    public var side: OrganizationKind {
        switch self {
        case .answerRevision, .confirmMaterial, .explainDelay, .shipReady, .answerException, .rework8D, .confirmStatement, .countStock,
             .reviewActionSupplier, .retryDeliverySupplier, .acknowledgeDocument: .supplier
        default: .manufacturer
        }
    }

    /// The kinds that are this person's work: their side, and a role that may do it.
    public static func kinds(for roles: Set<Role>, side: OrganizationKind) -> [TodoKind] {
        allCases.filter { $0.side == side && Policy.allows(roles, $0.action) }
    }
}

/// One kind of task with how many are waiting, since when, and the nearest deadline.
public struct TodoGroup: Sendable, Equatable {
    public let kind: TodoKind
    public let count: Int
    public let oldest: Date?
    public let deadline: Date?

    public init(kind: TodoKind, count: Int, oldest: Date?, deadline: Date?) {
        self.kind = kind; self.count = count; self.oldest = oldest; self.deadline = deadline
    }

    public enum Urgency: Int, Sendable, Comparable {
        case overdue = 0, dueSoon, waiting
        public static func < (a: Urgency, b: Urgency) -> Bool { a.rawValue < b.rawValue }
    }

    /// Past its deadline; due within `soon`; or simply waiting.
    public func urgency(now: Date, soon: TimeInterval = 24 * 3600) -> Urgency {
        guard let deadline else { return .waiting }
        if deadline < now { return .overdue }
        return deadline.timeIntervalSince(now) <= soon ? .dueSoon : .waiting
    }

    /// Most urgent first: overdue, due soon, then the rest; within each, the nearest deadline,
    /// then the longest waiting, then the most.
    public static func sorted(_ groups: [TodoGroup], now: Date) -> [TodoGroup] {
        groups.filter { $0.count > 0 }.sorted { a, b in
            let ua = a.urgency(now: now), ub = b.urgency(now: now)
            if ua != ub { return ua < ub }
            switch (a.deadline, b.deadline) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: break
            }
            switch (a.oldest, b.oldest) {
            case let (x?, y?) where x != y: return x < y
            default: break
            }
            if a.count != b.count { return a.count > b.count }
            return a.kind.rawValue < b.kind.rawValue
        }
    }
}
