import Vapor

/// Headers that make every answer harder to misuse in a browser. It wraps the error middleware,
/// so error pages and problem details carry them too.
struct SecurityHeaders: AsyncMiddleware {
    /// No inline script or style anywhere: every script and stylesheet is a file under `Public/`.
    /// Images may be data: or blob: URLs (photo previews on the phone before upload).
    static let contentSecurityPolicy = [
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
        "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ].joined(separator: "; ")
    static let permissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

    let httpsOnly: Bool

    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: req)
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Security-Policy", value: Self.contentSecurityPolicy)
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        headers.replaceOrAdd(name: "Referrer-Policy", value: "same-origin")
        headers.replaceOrAdd(name: "Permissions-Policy", value: Self.permissionsPolicy)
        if httpsOnly { headers.replaceOrAdd(name: "Strict-Transport-Security", value: "max-age=31536000") }
        // What a signed-in person saw must not stay in a shared browser's cache or a proxy.
        let path = req.url.path
        let staticFile = path.hasPrefix("/css/") || path.hasPrefix("/js/") || path.hasPrefix("/img/") || path == "/favicon.svg"
        if !staticFile && (req.principal != nil || req.headers.bearerAuthorization != nil || req.cookies[SessionCookie.name] != nil) {
            headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        }
        response.headers = headers
        return response
    }
}
