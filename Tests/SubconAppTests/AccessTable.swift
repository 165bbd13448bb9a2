import SubconDomain
import Vapor

/// Who may use which route: the one table the authorization matrix test checks every route
/// against. `scoped` marks paths that name a record of one supplier (another supplier gets
/// 404); the permission names are those of `Policy`.
enum AccessTable {
    static func key(_ route: Route) -> String {
        "\(route.method.rawValue) /" + route.path.map(\.description).joined(separator: "/")
    }

    static let rules: [String: Access] = [:]
}
