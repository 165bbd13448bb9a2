import NIOConcurrencyHelpers
import Vapor

/// The requests being answered right now. When the server is told to stop (SIGTERM), it stops
/// taking connections, but handlers already running go on; the databases have to stay until
/// they finish — a handler that reaches for a database already shut down traps, and the
/// process dies halfway through a write's answer. `subcon serve` drains before shutting down.
public final class InFlightRequests: AsyncMiddleware, Sendable {
    private let count = NIOLockedValueBox(0)

    public init() {}

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        count.withLockedValue { $0 += 1 }
        defer { count.withLockedValue { $0 -= 1 } }
        return try await next.respond(to: request)
    }

    public var running: Int { count.withLockedValue { $0 } }

    /// An answer whose body is written after its handler has returned (a streamed statement or
    /// write-off) reads the database until its last byte: it counts as running from `enter`,
    /// before the handler returns, to `leave`, once the body is written.
    func enter() { count.withLockedValue { $0 += 1 } }
    func leave() { count.withLockedValue { $0 -= 1 } }

    /// Returns once no request is running, or when `limit` has passed (a stuck request must not
    /// keep the process from stopping).
    public func drain(limit: Duration = .seconds(15), poll: Duration = .milliseconds(20)) async {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: limit)
        while running > 0, clock.now < end { try? await Task.sleep(for: poll) }
    }
}

extension Application {
    private struct InFlightKey: StorageKey { typealias Value = InFlightRequests }

    /// Set by `configure` (the outermost middleware).
    public var inFlightRequests: InFlightRequests? {
        get { storage[InFlightKey.self] }
        set { storage[InFlightKey.self] = newValue }
    }
}
