/// The two sides of the platform. A manufacturer installation has exactly one manufacturer.
public enum OrganizationKind: String, Codable, Sendable, CaseIterable {
    case manufacturer
    case supplier
}

public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    // Manufacturer side
    case admin, planner, purchaser, quality, warehouse, finance, viewer
    // Supplier side
    case supplierAdmin = "supplier_admin"
    case supplierUser = "supplier_user"
    /// The supplier's accountant: reads, confirms and disputes statements.
    case supplierFinance = "supplier_finance"

    public var side: OrganizationKind {
        switch self {
        case .supplierAdmin, .supplierUser, .supplierFinance: .supplier
        default: .manufacturer
        }
    }

    public static func roles(for kind: OrganizationKind) -> [Role] {
        allCases.filter { $0.side == kind }
    }

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Parses a comma-separated list as stored in the database.
    public static func parseList(_ text: String) -> Set<Role> {
        Set(text.split(separator: ",").compactMap { Role(rawValue: String($0)) })
    }

    public static func storageText(_ roles: Set<Role>) -> String {
        roles.sorted().map(\.rawValue).joined(separator: ",")
    }
}
