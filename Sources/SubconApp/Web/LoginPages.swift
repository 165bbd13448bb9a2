import Fluent
import Foundation
import SubconDomain
import Vapor

struct LoginPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("login", use: show)
        routes.post("login", use: login)
        routes.post("logout", use: logout)
        routes.get("lang", ":code", use: language)
    }

    struct LoginView: Encodable {
        let login: String
        let next: String
        let errors: FormErrors
        let demoLogins: [String]
    }

    static let demoLogins = ["admin", "planner", "purchaser", "quality", "warehouse", "finance", "supplier1", "supplier2"]

    func show(req: Request) async throws -> Response {
        if req.principal != nil { return req.redirect(to: "/") }
        return try await render(req, login: "", problem: nil)
    }

    func render(_ req: Request, login: String, problem: Problem?) async throws -> Response {
        // The login form has no session yet; its CSRF token rides in a cookie (double submit).
        let token = req.cookies[SessionCookie.preCSRF]?.string ?? Secrets.make()
        req.cookies[SessionCookie.preCSRF] = SessionCookie.make(token, for: req, maxAge: nil)
        let next = Self.safeNext(req.queryText("next") ?? (try? req.content.get(String.self, at: "next")))
        let view = LoginView(login: login, next: next, errors: req.formErrors(problem),
                             demoLogins: req.subcon.settings.demo ? Self.demoLogins : [])
        let response = try await req.renderForm("login", titleKey: "login.title", view, problem: problem)
        response.cookies[SessionCookie.preCSRF] = SessionCookie.make(token, for: req, maxAge: nil)
        return response
    }

    struct LoginForm: Content {
        var login: String?
        var password: String?
        var next: String?
    }

    func login(req: Request) async throws -> Response {
        let form = try req.content.decode(LoginForm.self)
        let login = (form.login ?? "").trimmingCharacters(in: .whitespaces)
        do {
            guard !login.isEmpty, let password = form.password, !password.isEmpty else {
                throw Problem(.unauthorized, "bad-credentials")
            }
            let signedIn = try await AuthService.authenticate(login: login, password: password,
                                                              address: req.remoteAddress?.ipAddress ?? "unknown", app: req.application)
            let secret = try await AuthService.startSession(for: signedIn.user, app: req.application)
            let response = req.redirect(to: Self.safeNext(form.next))
            response.cookies[SessionCookie.name] = SessionCookie.make(secret, for: req,
                                                                      maxAge: Int(req.subcon.settings.sessionLifetime))
            return response
        } catch let p as Problem where p.kind == "bad-credentials" || p.kind == "throttled" {
            let response = try await render(req, login: login, problem: p)
            if p.kind == "bad-credentials" { response.status = .unauthorized }
            return response
        }
    }

    func logout(req: Request) async throws -> Response {
        if let p = req.principal, let sessionID = p.sessionID {
            try await req.write { change in
                try await WebSession.query(on: change.db).filter(\.$id == sessionID).delete()
                try await change.audit("user", p.userID, "logout", after: ["via": "web"])
            }
        }
        let response = req.redirect(to: "/login")
        response.cookies[SessionCookie.name] = SessionCookie.make("", for: req, maxAge: 0)
        return response
    }

    /// Switches the language on this device. It only sets a cookie (a GET must not change data);
    /// the saved preference on the account page is what follows a person to other devices.
    func language(req: Request) async throws -> Response {
        guard let code = req.parameters.get("code"), let locale = AppLocale(rawValue: code) else { throw Problem.notFound }
        let back = Self.safeNext(req.queryText("next"))
        let response = req.redirect(to: back)
        response.cookies["lang"] = Self.languageCookie(locale, req)
        return response
    }

    static func languageCookie(_ locale: AppLocale, _ req: Request) -> HTTPCookies.Value {
        HTTPCookies.Value(string: locale.rawValue, maxAge: 365 * 86400, path: "/",
                          isSecure: SessionCookie.isHTTPS(req), isHTTPOnly: true, sameSite: .lax)
    }

    /// Only local paths, so the login form cannot be used to send people to another site.
    /// Browsers drop tabs and line breaks from a Location and read `\` as `/`, so `/\t/evil`
    /// or `/\\evil` would become `//evil`: any control character, space or backslash is refused.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), next.utf8.count <= 2000,
              next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" && !($0.value >= 0x80 && $0.value < 0xA0) }),
              let url = URLComponents(string: next), url.scheme == nil, url.host == nil
        else { return "/" }
        return next
    }
}
