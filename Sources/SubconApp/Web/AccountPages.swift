import Fluent
import Foundation
import SubconDomain
import Vapor

struct AccountPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let a = routes.grouped("account")
        a.get(use: show)
        a.post("preferences", use: preferences)
        a.post("password", use: password)
        a.post("tokens", use: createToken)
        a.post("tokens", ":id", "revoke", use: revokeToken)
    }

    struct AccountView: Encodable {
        let user: UserDTO
        let organization: String
        let roles: [String]
        let localeOptions: [Option]
        let tokens: [MeAPI.TokenDTO]
        let newToken: String?
        let errors: FormErrors
        let form: String?
    }


    func render(_ req: Request, newToken: String? = nil, problem: Problem? = nil, form: String? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        guard let user = try await User.find(p.userID, on: req.db) else { throw Problem.unauthorized }
        var options = [Option(value: "", label: req.t("locale.auto"), selected: user.locale.isEmpty)]
        options += AppLocale.allCases.map { Option(value: $0.rawValue, label: req.t("locale.\($0.rawValue)"), selected: user.locale == $0.rawValue) }
        let view = AccountView(user: UserDTO(user), organization: p.organizationName,
                               roles: user.roles.sorted().map { req.t("role.\($0.rawValue)") }, localeOptions: options,
                               tokens: try await PersonalTokens.list(p, on: req.db), newToken: newToken,
                               errors: req.formErrors(problem), form: form)
        return try await req.renderForm("account", titleKey: "account.title", view, problem: problem)
    }

    func show(req: Request) async throws -> Response { try await render(req) }

    struct PreferencesForm: Content { var displayName: String?; var locale: String? }

    func preferences(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let form = try req.content.decode(PreferencesForm.self)
        let problem = try await attempt {
            guard let user = try await User.find(p.userID, on: req.db) else { throw Problem.unauthorized }
            var problems: [FieldProblem] = UserInputRules.locale(form.locale)
            Check.text(form.displayName, "displayName", max: 100, into: &problems)
            if !problems.isEmpty { throw Problem.validation(problems) }
            let before = user.auditSnapshot
            user.displayName = form.displayName!.trimmingCharacters(in: .whitespaces)
            user.locale = form.locale ?? ""
            try await req.write { change in
                try await User.query(on: change.db).filter(\.$id == p.userID).set(\.$displayName, to: user.displayName)
                    .set(\.$locale, to: user.locale).set(\.$updatedAt, to: change.now).update()
                try await change.audit("user", p.userID, "update", before: before, after: user.auditSnapshot)
            }
        }
        if let problem { return try await render(req, problem: problem, form: "preferences") }
        let response = req.redirect(to: "/account?ok=saved")
        // The saved choice also becomes this device's choice.
        if let l = form.locale.flatMap(AppLocale.init(rawValue:)) {
            response.cookies["lang"] = LoginPages.languageCookie(l, req)
        } else {
            response.cookies["lang"] = HTTPCookies.Value(string: "", maxAge: 0, path: "/")
        }
        return response
    }

    struct PasswordForm: Content { var currentPassword: String?; var newPassword: String?; var confirmPassword: String? }

    func password(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let form = try req.content.decode(PasswordForm.self)
        let problem = try await attempt {
            guard form.newPassword == form.confirmPassword else {
                throw Problem.validation([FieldProblem("confirmPassword", "passwordMismatch")])
            }
            try await UserService.changeOwnPassword(p, current: form.currentPassword ?? "", new: form.newPassword ?? "", app: req.application)
        }
        if let problem { return try await render(req, problem: problem, form: "password") }
        return req.redirect(to: "/account?ok=passwordChanged")
    }

    struct TokenForm: Content { var name: String?; var expiresInDays: String? }

    func createToken(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let form = try req.content.decode(TokenForm.self)
        var issued: AuthService.IssuedToken?
        let problem = try await attempt {
            var problems: [FieldProblem] = []
            Check.text(form.name, "name", max: 100, into: &problems)
            var days: Int?
            if let raw = form.expiresInDays, !raw.isEmpty {
                if let d = Int(raw), (1...3650).contains(d) { days = d } else {
                    problems.append(FieldProblem("expiresInDays", "outOfRange", ["min": "1", "max": "3650"]))
                }
            }
            if !problems.isEmpty { throw Problem.validation(problems) }
            issued = try await PersonalTokens.create(p, name: form.name!, days: days, app: req.application)
        }
        // The secret is shown once, on this response, and never again.
        return try await render(req, newToken: issued?.token, problem: problem, form: "token")
    }

    func revokeToken(req: Request) async throws -> Response {
        try await PersonalTokens.revoke(try req.requirePrincipal(), try req.idParameter(), app: req.application)
        return req.redirect(to: "/account?ok=tokenRevoked")
    }
}
