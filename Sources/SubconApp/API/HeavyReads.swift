import Vapor

/// Routes whose answer is built whole in memory (a month's write-off of every supplier, a
/// statement's export and print view, the reports, the ranking of all suppliers) take turns
/// through the instance's heavy-read gate, from the handler to the encoded body, so the server's
/// memory is that of a few such answers however many people ask at once.
struct HeavyReads: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        try await request.subcon.heavyReads.run { try await next.respond(to: request) }
    }
}

extension RoutesBuilder {
    /// The same routes, taking turns as heavy reads.
    var heavy: any RoutesBuilder { grouped(HeavyReads()) }
}
