import NIOConcurrencyHelpers
import RoutingKit
import Vapor

/// Which methods a path answers to, so a request with the wrong method is a 405 with `Allow`
/// (RFC 9110 §15.5.6) instead of a 404 that suggests the path does not exist. Built once from
/// the route table, on the first miss (routes are all registered by then). The router is only
/// touched under the lock, hence `@unchecked`.
final class AllowedMethods: @unchecked Sendable {
    private let router = NIOLockedValueBox<TrieRouter<Bool>?>(nil)
    private static let methods: [HTTPMethod] = [.GET, .POST, .PUT, .PATCH, .DELETE]

    func allowed(for path: String, routes: Routes) -> [String] {
        router.withLockedValue { router in
            if router == nil {
                let r = TrieRouter(Bool.self)
                for route in routes.all {
                    let path = route.path.filter { if case .constant(let s) = $0 { !s.isEmpty } else { true } }
                    r.register(true, at: [.constant(route.method.rawValue)] + path)
                }
                router = r
            }
            let parts = path.split(separator: "/").map(String.init)
            var allowed: [String] = []
            for method in Self.methods {
                var parameters = Parameters()
                if router!.route(path: [method.rawValue] + parts, parameters: &parameters) != nil {
                    allowed.append(method.rawValue)
                    if method == .GET { allowed.append("HEAD") }
                }
            }
            return allowed
        }
    }
}
