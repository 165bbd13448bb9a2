import Fluent
import Foundation
import SubconDomain
import Vapor

enum SessionCookie {
    static let name = "subcon_session"
    /// Double-submit token for forms shown before sign-in (the login form).
    static let preCSRF = "subcon_csrf"

    static func make(_ value: String, for req: Request, maxAge: Int?) -> HTTPCookies.Value {
        HTTPCookies.Value(string: value, maxAge: maxAge, path: "/", isSecure: isHTTPS(req), isHTTPOnly: true, sameSite: .lax)
    }

    /// Configured, or seen on the request (directly, or from a proxy's X-Forwarded-Proto: marking
    /// a cookie Secure only makes it stricter, so trusting the header cannot weaken anything).
    static func isHTTPS(_ req: Request) -> Bool {
        req.subcon.settings.secureCookies || req.url.scheme == "https"
            || req.headers.first(name: "X-Forwarded-Proto")?.lowercased() == "https"
    }
}

/// Signs in browsers from the session cookie. An unknown or expired cookie just means "not signed in".
struct SessionAuthenticator: Middleware {
    func respond(to req: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        guard let secret = req.cookies[SessionCookie.name]?.string, !secret.isEmpty else { return next.respond(to: req) }
        return SignIn.load(.session, tokenHash: Secrets.hash(secret), req) { session in
            if let session, session.expires_at.map({ $0 > req.now }) ?? false {
                req.principal = session.principal(.session)
            }
            return nil
        }.flatMap { next.respond(to: req) }
    }
}

/// Signs in API callers from `Authorization: Bearer`. A token that is wrong, expired, revoked,
/// or whose user is deactivated is a 401 at once.
struct BearerAuthenticator: Middleware {
    func respond(to req: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        guard let bearer = req.headers.bearerAuthorization else { return next.respond(to: req) }
        let tokenHash = Secrets.hash(bearer.token)
        return SignIn.load(.apiToken, tokenHash: tokenHash, req) { token in
            guard let token, token.revoked_at == nil, token.expires_at.map({ $0 > req.now }) ?? true else {
                throw Problem(.unauthorized, "unauthorized", detailKey: "problem.unauthorized.token")
            }
            req.principal = token.principal(.apiToken)
            // "Last used" is for people reviewing their tokens: hourly precision is enough and
            // keeps a write off almost every request.
            guard token.last_used_at.map({ req.now.timeIntervalSince($0) > 3600 }) ?? true else { return nil }
            let now = req.now
            return {
                try await req.subcon.writeGate.run {
                    try await APIToken.query(on: req.db).filter(\.$id == token.id).set(\.$lastUsedAt, to: now).update()
                }
                req.subcon.signInCache?.used(tokenHash: tokenHash, at: now)
            }
        }.flatMap { next.respond(to: req) }
    }
}

/// Reading the session or token behind a request, on every request, without suspending where
/// the database allows: on an SQLite file the row is read on the event loop from the inline read
/// connections (an index lookup, microseconds), so the request does not pass from thread to
/// thread before its handler even starts; on PostgreSQL an API token's row comes from
/// `SignInCache` while that is trusted, and otherwise from a prepared statement (see
/// `PreparedReads`).
private enum SignIn {
    typealias Accept = @Sendable (PrincipalLoader.SignInRow?) throws -> (@Sendable () async throws -> Void)?

    /// Reads the row and hands it to `accept`, which signs the request in (or throws) and may
    /// return a write to make before the request goes on.
    static func load(_ credential: PrincipalLoader.Credential, tokenHash: String, _ req: Request, accept: @escaping Accept) -> EventLoopFuture<Void> {
        if let inline = req.application.reads as? ReadConnections {
            return now(req, accept) { try PrincipalLoader.signedInNow(credential, tokenHash: tokenHash, on: inline) }
        }
        guard credential == .apiToken, let cache = req.subcon.signInCache else {
            return req.eventLoop.makeFutureWithTask {
                try await accept(PrincipalLoader.signedIn(credential, tokenHash: tokenHash, on: req.application.keyedReads))?()
            }
        }
        if let kept = cache.row(tokenHash: tokenHash) { return now(req, accept) { kept } }
        return req.eventLoop.makeFutureWithTask {
            let generation = cache.generation
            let row = try await PrincipalLoader.signedIn(credential, tokenHash: tokenHash, on: req.application.keyedReads)
            // Only rows that sign in are kept: a refused token costs its read every time, as before.
            if let row, row.revoked_at == nil { cache.keep(row, tokenHash: tokenHash, readAt: generation) }
            try await accept(row)?()
        }
    }

    /// Signs in from a row at hand, on the event loop.
    private static func now(_ req: Request, _ accept: Accept, _ row: () throws -> PrincipalLoader.SignInRow?) -> EventLoopFuture<Void> {
        do {
            guard let write = try accept(row()) else { return req.eventLoop.makeSucceededVoidFuture() }
            return req.eventLoop.makeFutureWithTask { try await write() }
        } catch {
            return req.eventLoop.makeFailedFuture(error)
        }
    }
}

/// Requires a signed-in principal on everything behind it.
struct RequireSignIn: Middleware {
    func respond(to req: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        do { _ = try req.requirePrincipal() } catch { return req.eventLoop.makeFailedFuture(error) }
        return next.respond(to: req)
    }
}

/// An async middleware that most requests pass straight through (a GET past a check for
/// POSTs): those go on without the two hand-offs between threads that every async middleware
/// costs a request, which on small reads showed as a large share of the time.
protocol PassingMiddleware: AsyncMiddleware {
    /// Whether the request has nothing to do with this middleware.
    func passes(_ req: Request) -> Bool
}

extension PassingMiddleware {
    func respond(to req: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        if passes(req) { return next.respond(to: req) }
        let promise = req.eventLoop.makePromise(of: Response.self)
        promise.completeWithTask {
            try await self.respond(to: req, chainingTo: AsyncBasicResponder { try await next.respond(to: $0).get() })
        }
        return promise.futureResult
    }
}

/// Refuses any state-changing form request that does not carry the session's CSRF token (or,
/// before sign-in, the token from the pre-login cookie).
struct CSRFProtection: PassingMiddleware {
    func passes(_ req: Request) -> Bool { [.GET, .HEAD, .OPTIONS].contains(req.method) }

    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if ![.GET, .HEAD, .OPTIONS].contains(req.method) {
            var sent = req.headers.first(name: "X-CSRF-Token")
            if sent == nil {
                try await req.collectBodyForMiddleware()
                sent = try? req.content.get(String.self, at: "_csrf")
            }
            let expected = req.principal?.csrfToken ?? req.cookies[SessionCookie.preCSRF]?.string
            guard let sent, let expected, !expected.isEmpty, Secrets.equal(sent, expected) else {
                throw Problem(.forbidden, "csrf")
            }
        }
        return try await next.respond(to: req)
    }
}

extension Request {
    /// The largest body any route accepts (imports).
    static let maxBodyBytes = 20 * 1024 * 1024

    /// Middleware runs before a route collects its body; one that must read the body (CSRF field,
    /// idempotency fingerprint) collects it here first. Routes still apply their own, smaller
    /// limits when they decode (`decodeStrict` refuses JSON over 1 MB).
    func collectBodyForMiddleware() async throws {
        if body.data == nil {
            do { _ = try await body.collect(max: Self.maxBodyBytes).get() } catch {
                throw Problem(.payloadTooLarge, "too-large")
            }
        }
    }
}
