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
struct SessionAuthenticator: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let secret = req.cookies[SessionCookie.name]?.string, !secret.isEmpty {
            if let session = try await PrincipalLoader.signedIn(.session, tokenHash: Secrets.hash(secret), on: req.db),
               session.expires_at.map({ $0 > req.now }) ?? false {
                req.principal = session.principal(.session)
            }
        }
        return try await next.respond(to: req)
    }
}

/// Signs in API callers from `Authorization: Bearer`. A token that is wrong, expired, revoked,
/// or whose user is deactivated is a 401 at once.
struct BearerAuthenticator: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        if let bearer = req.headers.bearerAuthorization {
            guard let token = try await PrincipalLoader.signedIn(.apiToken, tokenHash: Secrets.hash(bearer.token), on: req.db),
                  token.revoked_at == nil, token.expires_at.map({ $0 > req.now }) ?? true
            else {
                throw Problem(.unauthorized, "unauthorized", detailKey: "problem.unauthorized.token")
            }
            req.principal = token.principal(.apiToken)
            // "Last used" is for people reviewing their tokens: hourly precision is enough and
            // keeps a write off almost every request.
            if token.last_used_at.map({ req.now.timeIntervalSince($0) > 3600 }) ?? true {
                let now = req.now
                try await req.subcon.writeGate.run {
                    try await APIToken.query(on: req.db).filter(\.$id == token.id).set(\.$lastUsedAt, to: now).update()
                }
            }
        }
        return try await next.respond(to: req)
    }
}

/// Requires a signed-in principal on everything behind it.
struct RequireSignIn: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        _ = try req.requirePrincipal()
        return try await next.respond(to: req)
    }
}

/// Refuses any state-changing form request that does not carry the session's CSRF token (or,
/// before sign-in, the token from the pre-login cookie).
struct CSRFProtection: AsyncMiddleware {
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
