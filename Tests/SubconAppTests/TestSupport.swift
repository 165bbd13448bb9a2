import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// The package root, so tests find `Resources/` and `Public/` wherever `swift test` runs.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// One app per test: a fresh in-memory SQLite database, or — when `DATABASE_URL` is set, as in
/// CI's second pass — a fresh schema on that PostgreSQL server, dropped afterwards.
struct TestApp {
    let app: Application
    let clock: ManualClock
    let settings: Settings

    /// - Parameter live: boot the lifecycle handlers too — on PostgreSQL the live-update
    ///   listener, which holds a connection of its own (most tests do not need it).
    static func run(demo: Bool = true, scenario: Bool = false, live: Bool = false, adjust: (inout Settings) -> Void = { _ in },
                    _ body: (TestApp) async throws -> Void) async throws {
        let clock = ManualClock()
        var schema: String?
        var settings = Settings(resourcesDirectory: packageRoot + "/Resources", publicDirectory: packageRoot + "/Public",
                                demo: demo, demoScenario: scenario, examplesDirectory: packageRoot + "/examples",
                                runBackgroundWorkers: false, logLevel: .error)
        // Most tests boot no listener, so no sign-in cache is ever trusted; a change to who may
        // sign in still waits out the trust, kept short here (the scale-out tests use a second).
        settings.signInCacheTrust = .milliseconds(200)
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty {
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            schema = name
            settings.database = .postgres(url: url, searchPath: [name])
        } else {
            settings.database = .sqliteMemory
        }
        adjust(&settings)
        try await withApp(configure: { app in
            try await configure(app, settings: settings, clock: clock, passwordHasher: PasswordHasher(cost: 4))
        }) { app in
            if live { try await app.asyncBoot() }
            do {
                try await body(TestApp(app: app, clock: clock, settings: settings))
            } catch {
                if let schema { try? await (app.db as! any SQLDatabase).raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
                throw error
            }
            if let schema { try await (app.db as! any SQLDatabase).raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
        }
    }

    /// The demo scenario in an SQLite *file* with the background connections registered (the
    /// workers themselves are not booted), for what needs a second connection to the same
    /// database: another connection cannot open an in-memory one. On PostgreSQL `body` does not run.
    static func runOnSQLiteFile(_ body: (TestApp) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("subcon-file-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await run(scenario: true, adjust: { s in
            if case .sqliteMemory = s.database {
                s.database = .sqliteFile(path: dir.path + "/subcon.sqlite")
                s.runBackgroundWorkers = true
            }
        }) { t in
            guard !t.app.subcon.isPostgres else { return }
            try await body(t)
        }
    }

    var db: any Database { app.db }
    var sql: any SQLDatabase { app.db as! any SQLDatabase }

    /// A second app instance on the same database (PostgreSQL: the same schema), as when the
    /// app runs several times behind a load balancer.
    func sibling(_ body: (TestApp) async throws -> Void) async throws {
        var settings = self.settings
        settings.demo = false
        let clock = self.clock
        try await withApp(configure: { app in
            try await configure(app, settings: settings, clock: clock, passwordHasher: PasswordHasher(cost: 4))
        }) { app in
            try await app.asyncBoot()
            try await body(TestApp(app: app, clock: clock, settings: settings))
        }
    }

    // MARK: API

    func request(_ method: HTTPMethod, _ path: String, token: String? = nil, json: String? = nil,
                 headers extra: [(String, String)] = []) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        if let token { headers.bearerAuthorization = .init(token: token) }
        if json != nil { headers.contentType = .json }
        for (k, v) in extra { headers.replaceOrAdd(name: k, value: v) }
        return try await app.testing().sendRequest(method, path, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    func token(_ login: String, password: String = "demo") async throws -> String {
        let r = try await request(.POST, "/api/v1/auth/token", json: #"{"login":"\#(login)","password":"\#(password)"}"#)
        #expect(r.status == .created, "sign-in of \(login): \(r.body.string)")
        return try r.content.get(String.self, at: "token")
    }

    func user(_ login: String) async throws -> User {
        try await User.query(on: db).filter(\.$login == login).first()!
    }

    func organization(code: String) async throws -> Organization {
        try await Organization.query(on: db).filter(\.$code == code).first()!
    }

    // MARK: Pages

    struct Browser {
        var cookies: [String: String] = [:]
        var cookieHeader: String { cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
    }

    func page(_ method: HTTPMethod, _ path: String, browser: inout Browser, form: [String: String]? = nil,
              headers extra: [(String, String)] = []) async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        if !browser.cookies.isEmpty { headers.replaceOrAdd(name: .cookie, value: browser.cookieHeader) }
        var body: ByteBuffer?
        if let form {
            headers.contentType = .urlEncodedForm
            let encoded = form.map { k, v in
                "\(k.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)=\(v.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            }.joined(separator: "&")
            body = ByteBuffer(string: encoded)
        }
        for (k, v) in extra { headers.replaceOrAdd(name: k, value: v) }
        let r = try await app.testing().sendRequest(method, path, headers: headers, body: body)
        for value in r.headers[.setCookie] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0]), v = pair.count > 1 ? String(pair[1]) : ""
            if value.contains("Max-Age=0") || v.isEmpty { browser.cookies[name] = nil } else { browser.cookies[name] = v }
        }
        return r
    }

    /// Signs in through the login form, like a person.
    func signIn(_ login: String, password: String = "demo") async throws -> Browser {
        var b = Browser()
        _ = try await page(.GET, "/login", browser: &b)
        let r = try await page(.POST, "/login", browser: &b, form: ["login": login, "password": password, "_csrf": b.cookies["subcon_csrf"] ?? ""])
        #expect(r.status == .seeOther, "web sign-in of \(login): \(r.status)")
        return b
    }

    /// The CSRF token a signed-in page carries in its forms.
    func csrf(_ b: inout Browser) async throws -> String {
        let html = try await page(.GET, "/account", browser: &b).body.string
        guard let r = html.range(of: #"name="_csrf" value=""#) else { return "" }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }
}

extension TestingHTTPResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }
}
