import Fluent
import Foundation
import SubconDomain
import Vapor

/// Turns every error into an answer for the caller: problem details (RFC 9457) on the API,
/// an error page for people. Unexpected errors become a 500 without internals, and are logged.
struct ProblemMiddleware: AsyncMiddleware {
    let catalog: Catalog
    let allowedMethods = AllowedMethods()

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            return try await next.respond(to: request)
        } catch {
            var problem = Self.problem(for: error, request: request)
            if error is RouteNotFound {
                let allowed = allowedMethods.allowed(for: request.url.path, routes: request.application.routes)
                if !allowed.isEmpty {
                    problem = Problem(.methodNotAllowed, "method-not-allowed", params: ["allowed": allowed.joined(separator: ", ")])
                    problem.headers.replaceOrAdd(name: .allow, value: allowed.joined(separator: ", "))
                }
            }
            if problem.status == .internalServerError {
                request.logger.report(error: error)
            }
            if request.wantsJSON {
                return Self.json(problem, request: request, catalog: catalog)
            }
            return await Self.page(problem, request: request, catalog: catalog)
        }
    }

    static func problem(for error: any Error, request: Request) -> Problem {
        switch error {
        case let p as Problem:
            return p
        case let d as DecodingError:
            return Problem.badRequest("problem.body.invalid", fields: [FieldProblem.from(d)])
        case let db as any DatabaseError where db.isConstraintFailure:
            return Problem.conflict("problem.conflict.constraint")
        case is ConnectionPoolTimeoutError, is TurnGate.Full, is PreparedReads.ConnectionLost, is WriteConnection.GroupLost:
            // Every database connection stayed taken (a long read or a background pass on a
            // cold file), or too many heavy reads wait their turn already: nothing was written,
            // and trying again shortly is the right answer. So too when a read lost its
            // connection twice running (the database server restarting), and when SQLite ended
            // the transaction a change shared with its commit group (the change was undone).
            var p = Problem(.serviceUnavailable, "busy")
            p.headers.replaceOrAdd(name: .retryAfter, value: "5")
            return p
        case let abort as any AbortError:
            var p: Problem
            switch abort.status {
            case .notFound: p = .notFound
            case .unauthorized: p = .unauthorized
            case .forbidden: p = .forbidden
            case .payloadTooLarge: p = Problem(.payloadTooLarge, "too-large")
            case .unsupportedMediaType: p = Problem(.unsupportedMediaType, "unsupported-media-type")
            case .methodNotAllowed: p = Problem(.methodNotAllowed, "method-not-allowed")
            default:
                p = Problem(abort.status, abort.status.code < 500 ? "bad-request" : "server-error",
                            detailKey: abort.status.code < 500 ? "problem.bad-request.detail" : nil)
            }
            p.headers = abort.headers
            return p
        default:
            return Problem(.internalServerError, "server-error")
        }
    }

    static func json(_ p: Problem, request: Request, catalog: Catalog) -> Response {
        let locale = request.locale
        var body: [String: Any] = [
            "type": "/problems/\(p.kind)",
            "title": catalog.text("problem.\(p.kind)", locale),
            "status": Int(p.status.code),
            "detail": catalog.text(p.detailKey, locale, p.params),
        ]
        if !p.fields.isEmpty {
            body["errors"] = p.fields.map {
                ["field": $0.field, "code": $0.code, "message": catalog.text("error.\($0.code)", locale, $0.params)]
            }
        }
        if p.kind == "stale-version", let current = p.params["current"].flatMap(Int.init) {
            body["currentVersion"] = current
        }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        var headers = p.headers
        headers.replaceOrAdd(name: .contentType, value: "application/problem+json; charset=utf-8")
        if p.status == .unauthorized, headers[.wwwAuthenticate].isEmpty {
            // RFC 9110 §11.6.1: a 401 names the scheme that would work (RFC 6750 for bearer tokens).
            let error = request.headers.bearerAuthorization != nil ? #", error="invalid_token""# : ""
            headers.replaceOrAdd(name: .wwwAuthenticate, value: #"Bearer realm="subcon""# + error)
        }
        return Response(status: p.status, headers: headers, body: .init(data: data))
    }

    /// A field as the page's reader knows it (`field.<name>` in the catalog); a name the
    /// catalog has no label for is shown as it is, the name an API client would send.
    static func fieldLabel(_ field: String, _ locale: AppLocale, _ catalog: Catalog) -> String {
        catalog.has("field." + field) ? catalog.text("field." + field, locale) : field
    }

    static func page(_ p: Problem, request: Request, catalog: Catalog) async -> Response {
        let locale = request.locale
        let message = catalog.text(p.detailKey, locale, p.params)
        if p.status == .unauthorized {
            // A person whose session ended goes back to the login page, then on to where they were.
            let target = request.url.path
            return request.redirect(to: "/login?next=\(target.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/")")
        }
        struct ErrorView: Encodable { let status: Int; let title: String; let message: String; let fields: [String] }
        let view = ErrorView(status: Int(p.status.code), title: catalog.text("problem.\(p.kind)", locale), message: message,
                             fields: p.fields.map { fieldLabel($0.field, locale, catalog) + ": " + catalog.text("error.\($0.code)", locale, $0.params) })
        do {
            let response = try await request.renderPage("error", titleKey: "problem.\(p.kind)", view).encodeResponse(for: request)
            response.status = p.status
            for (name, value) in p.headers { response.headers.replaceOrAdd(name: name, value: value) }
            return response
        } catch {
            return Response(status: p.status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .init(string: message))
        }
    }
}

extension Request {
    /// API paths and operational endpoints answer JSON; everything else is a page.
    var wantsJSON: Bool {
        let path = url.path
        return path.hasPrefix("/api/") || path == "/healthz" || path == "/metrics"
    }
}
