/// A supplier's qualification lifecycle (准入). Every change needs a reason and is audited.
public enum SupplierStatus: String, Codable, Sendable, CaseIterable {
    case prospect, qualified, probation, suspended, terminated

    /// Where a supplier may go from here.
    public var next: Set<SupplierStatus> {
        switch self {
        case .prospect: [.qualified, .terminated]
        case .qualified: [.probation, .suspended, .terminated]
        case .probation: [.qualified, .suspended, .terminated]
        case .suspended: [.probation, .qualified, .terminated]
        case .terminated: []
        }
    }


    public enum Refusal: Error, Equatable, Sendable {
        case notAllowed(from: SupplierStatus, to: SupplierStatus)
        case reasonRequired
    }

    /// Who may receive orders: qualified suppliers, and those on probation (watched closely).
    public static let mayReceiveOrders: Set<SupplierStatus> = [.qualified, .probation]

    public func change(to target: SupplierStatus, reason: String) throws(Refusal) -> SupplierStatus {
        guard next.contains(target) else { throw .notAllowed(from: self, to: target) }
        guard !reason.trimmingSpaces().isEmpty else { throw .reasonRequired }
        return target
    }
}

public enum ItemKind: String, Codable, Sendable, CaseIterable {
    case raw = "raw_material"
    case semiFinished = "semi_finished"
    case finished
    case service
}

/// When a supplier's certificate needs attention: purchasers are reminded once it is within
/// `reminderDays` of its last valid day.
public enum CertificateExpiry {
    public static let reminderDays = 30

    public enum State: String, Sendable, Equatable { case valid, expiringSoon, expired }

    public static func state(validTo: Day, today: Day) -> State {
        if validTo < today { return .expired }
        return validTo <= reminderHorizon(today) ? .expiringSoon : .valid
    }

    /// Certificates valid until this day or earlier are due a reminder.
    public static func reminderHorizon(_ today: Day) -> Day { today.adding(days: reminderDays) }
}
