import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct AuthTests {
    @Test func everyDemoLoginSignsIn() async throws {
        try await TestApp.run { t in
            for login in LoginPages.demoLogins {
                var b = try await t.signIn(login)
                let home = try await t.page(.GET, "/", browser: &b)
                #expect(home.status == .ok, "\(login)")
                #expect(home.body.string.contains("欢迎回来"), "\(login)")
            }
        }
    }

    @Test func formPostWithoutCSRFTokenIsRefused() async throws {
        try await TestApp.run { t in
            var anon = TestApp.Browser()
            let noToken = try await t.page(.POST, "/login", browser: &anon, form: ["login": "admin", "password": "demo"])
            #expect(noToken.status == .forbidden)

            var b = try await t.signIn("admin")
            let refused = try await t.page(.POST, "/account/preferences", browser: &b, form: ["displayName": "Hacked", "locale": "en"])
            #expect(refused.status == .forbidden)
            let wrong = try await t.page(.POST, "/account/preferences", browser: &b, form: ["displayName": "Hacked", "locale": "en", "_csrf": "guess"])
            #expect(wrong.status == .forbidden)
            #expect(try await t.user("admin").displayName != "Hacked")
            let token = try await t.csrf(&b)
            let accepted = try await t.page(.POST, "/account/preferences", browser: &b, form: ["displayName": "王静", "locale": "en", "_csrf": token])
            #expect(accepted.status == .seeOther)
            #expect(try await t.user("admin").displayName == "王静")
        }
    }

    @Test func sessionCookieIsHttpOnlyAndLax() async throws {
        try await TestApp.run { t in
            var b = TestApp.Browser()
            _ = try await t.page(.GET, "/login", browser: &b)
            let r = try await t.page(.POST, "/login", browser: &b, form: ["login": "admin", "password": "demo", "_csrf": b.cookies["subcon_csrf"]!])
            let cookie = r.headers[.setCookie].first { $0.hasPrefix("subcon_session=") } ?? ""
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            let stored = try await WebSession.query(on: t.db).all()
            #expect(stored.count == 1)
            // Only the hash of the secret is stored.
            #expect(!cookie.contains(stored[0].tokenHash))
        }
    }

    @Test func deactivatedUserLosesTokensAndSessionsAtOnce() async throws {
        try await TestApp.run { t in
            let s2 = try await t.token("supplier2")
            var browser = try await t.signIn("supplier2")
            #expect(try await t.request(.GET, "/api/v1/me", token: s2).status == .ok)
            let admin = try await t.token("admin")
            let user = try await t.user("supplier2")
            let r = try await t.request(.PATCH, "/api/v1/users/\(user.id!)", token: admin, json: #"{"version":1,"active":false}"#)
            #expect(r.status == .ok)
            #expect(try await t.request(.GET, "/api/v1/me", token: s2).status == .unauthorized)
            let page = try await t.page(.GET, "/account", browser: &browser)
            #expect(page.status == .seeOther)
            #expect(page.headers.first(name: .location)?.hasPrefix("/login") == true)
            let again = try await t.request(.POST, "/api/v1/auth/token", json: #"{"login":"supplier2","password":"demo"}"#)
            #expect(again.status == .unauthorized)
        }
    }

    @Test func repeatedFailuresAreThrottled() async throws {
        try await TestApp.run { t in
            for _ in 0..<5 {
                let r = try await t.request(.POST, "/api/v1/auth/token", json: #"{"login":"finance","password":"wrong"}"#)
                #expect(r.status == .unauthorized)
            }
            let blocked = try await t.request(.POST, "/api/v1/auth/token", json: #"{"login":"finance","password":"demo"}"#)
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.headers.first(name: .retryAfter) != nil)
            // Time passes (no sleeping: the clock is ours) and the account opens again.
            t.clock.advance(by: 16 * 60)
            let ok = try await t.request(.POST, "/api/v1/auth/token", json: #"{"login":"finance","password":"demo"}"#)
            #expect(ok.status == .created)
        }
    }

    @Test func tokensExpireAndPersonalTokensRevoke() async throws {
        try await TestApp.run { t in
            let token = try await t.token("purchaser")
            let personal = try await t.request(.POST, "/api/v1/me/tokens", token: token, json: #"{"name":"ERP 接口","expiresInDays":30}"#)
            #expect(personal.status == .created)
            let secret = try personal.content.get(String.self, at: "token")
            let id = try personal.content.get(String.self, at: "id")
            #expect(try await t.request(.GET, "/api/v1/me", token: secret).status == .ok)
            #expect(try await APIToken.query(on: t.db).filter(\.$tokenHash == secret).count() == 0)
            #expect(try await t.request(.DELETE, "/api/v1/me/tokens/\(id)", token: token).status == .noContent)
            #expect(try await t.request(.GET, "/api/v1/me", token: secret).status == .unauthorized)
            t.clock.advance(by: 13 * 3600)
            #expect(try await t.request(.GET, "/api/v1/me", token: token).status == .unauthorized)
        }
    }

    @Test func changingPasswordEndsOtherSessions() async throws {
        try await TestApp.run { t in
            let a = try await t.token("quality")
            let b = try await t.token("quality")
            let weak = try await t.request(.POST, "/api/v1/me/password", token: a, json: #"{"currentPassword":"demo","newPassword":"short"}"#)
            #expect(weak.status == .unprocessableEntity)
            let r = try await t.request(.POST, "/api/v1/me/password", token: a, json: #"{"currentPassword":"demo","newPassword":"quality-2026"}"#)
            #expect(r.status == .noContent)
            #expect(try await t.request(.GET, "/api/v1/me", token: a).status == .ok)
            #expect(try await t.request(.GET, "/api/v1/me", token: b).status == .unauthorized)
            _ = try await t.token("quality", password: "quality-2026")
        }
    }
}
