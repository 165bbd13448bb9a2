import Fluent
import Foundation
import Prometheus
import SQLKit
import Vapor

struct OpsRoutes: RouteCollection {
    struct Health: Content {
        let status: String
        let database: String
    }

    func boot(routes: any RoutesBuilder) throws {
        routes.get("healthz", use: health)
        routes.get("metrics", use: metrics)
        routes.get("api", "v1", "openapi.json", use: openAPI)
    }

    /// Answers 503 when the database does not respond, so a load balancer takes the instance out.
    func health(req: Request) async throws -> Response {
        do {
            _ = try await (req.db as! any SQLDatabase).raw("SELECT 1 AS ok").all()
            return try await Health(status: "ok", database: "ok").encodeResponse(for: req)
        } catch {
            let r = try await Health(status: "unavailable", database: "unreachable").encodeResponse(for: req)
            r.status = .serviceUnavailable
            return r
        }
    }

    func metrics(req: Request) async throws -> Response {
        Response(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(string: req.subcon.metrics.emitToString()))
    }

    func openAPI(req: Request) async throws -> Response {
        Response(status: .ok, headers: ["Content-Type": "application/json; charset=utf-8"],
                 body: .init(data: req.subcon.openAPIDocument))
    }
}

/// Counts requests and their latency per route, for `/metrics`.
struct RequestMetrics: AsyncMiddleware {
    let registry: PrometheusCollectorRegistry
    static let buckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]

    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next.respond(to: req)
        let route = req.route.map { "/" + $0.path.map(\.description).joined(separator: "/") } ?? "unmatched"
        let labels = [("method", req.method.rawValue), ("route", route), ("status", String(response.status.code))]
        registry.makeCounter(name: "subcon_http_requests_total", labels: labels).increment()
        registry.makeDurationHistogram(name: "subcon_http_request_duration_seconds",
                                       labels: [("method", req.method.rawValue), ("route", route)],
                                       buckets: Self.buckets).record(ContinuousClock.now - start)
        return response
    }
}
