import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

@Suite struct PageTests {
    @Test func pagesRenderForEachRoleOrRefuse() async throws {
        try await TestApp.run { t in
            let pages = ["/", "/inbox", "/account", "/admin/users", "/admin/organizations", "/admin/audit", "/admin/users/new"]
            for login in ["admin", "planner", "supplier1"] {
                var b = try await t.signIn(login)
                for path in pages {
                    let r = try await t.page(.GET, path, browser: &b)
                    #expect([.ok, .forbidden].contains(r.status), "\(login) \(path): \(r.status)")
                    if login == "admin" { #expect(r.status == .ok, "\(path)") }
                    #expect(r.body.string.contains("委外协同平台"), "\(login) \(path)")
                }
            }
        }
    }

    @Test func detailPagesAndHistoryRender() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("admin")
            let maker = try await t.organization(code: "HDJM")
            let planner = try await t.user("planner")
            let org = try await t.page(.GET, "/admin/organizations/\(maker.id!)", browser: &b)
            #expect(org.status == .ok)
            #expect(org.body.string.contains("苏州一厂"))
            let user = try await t.page(.GET, "/admin/users/\(planner.id!)", browser: &b)
            #expect(user.status == .ok)
            #expect(user.body.string.contains(#"name="version" value="1""#))
            let history = try await t.page(.GET, "/history/user/\(planner.id!)", browser: &b, headers: [("Accept-Language", "en")])
            #expect(history.status == .ok)
            #expect(history.body.string.contains("created"))
            // Field names in the reader's words, not the column names.
            #expect(history.body.string.contains("<th>Name</th>") && !history.body.string.contains("display_name"))
        }
    }

    /// The frame around every page is written in Swift: it must escape what people type, mark
    /// the one page the person is on and keep the language switch on the same page.
    @Test func theFrameNamesThePersonAndMarksWhereTheyAre() async throws {
        try await TestApp.run { t in
            let planner = try await t.user("planner")
            planner.displayName = "<b>王&计划</b>"
            try await planner.save(on: t.db)
            var b = try await t.signIn("planner")
            let page = try await t.page(.GET, "/orders?status=released", browser: &b).body.string
            #expect(page.hasPrefix("<!doctype html>\n<html lang=\"zh-Hans\">"))
            #expect(page.contains("<title>委外订单 · 委外协同平台</title>") && page.contains("<h1>委外订单</h1>"))
            #expect(page.contains(#"<details class="area active"><summary>订单</summary>"#))
            #expect(page.contains(#"<a href="/orders" class="active" aria-current="page">委外订单</a>"#))
            #expect(page.components(separatedBy: "aria-current").count == 2, "one page is the current one")
            #expect(page.contains("&lt;b&gt;王&amp;计划&lt;/b&gt;") && !page.contains("<b>王"))
            #expect(page.contains(#"name="_csrf" value=""#) && page.contains(#"action="/logout""#))
            #expect(page.contains("</main>\n<footer class=\"foot\">\n  <strong>简体中文</strong> <a href=\"/lang/zh-Hant?next=/orders\">繁體中文</a> <a href=\"/lang/en?next=/orders\">English</a> \n</footer>\n</body>\n</html>\n"))
            #expect(page.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("</html>"))
            let english = try await t.page(.GET, "/orders", browser: &b, headers: [("Accept-Language", "en")]).body.string
            #expect(english.contains(#"<html lang="en">"#) && english.contains("<strong>English</strong>"))
            // Signed out: the page has no menu and no bell.
            var stranger = TestApp.Browser()
            let login = try await t.page(.GET, "/login", browser: &stranger).body.string
            #expect(!login.contains("<nav") && !login.contains(#"class="bell""#) && login.contains("<h1>"))
        }
    }

    @Test func cookiesAreSecureBehindHTTPS() async throws {
        try await TestApp.run { t in
            var b = TestApp.Browser()
            let r = try await t.page(.GET, "/login", browser: &b, headers: [("X-Forwarded-Proto", "https")])
            #expect(r.headers[.setCookie].allSatisfy { $0.contains("Secure") })
            let plain = try await t.page(.GET, "/login", browser: &b)
            #expect(!plain.headers[.setCookie].contains { $0.contains("Secure") })
        }
    }

    @Test func languageFollowsAcceptLanguageThenChoice() async throws {
        try await TestApp.run { t in
            var b = TestApp.Browser()
            let zh = try await t.page(.GET, "/login", browser: &b)
            #expect(zh.body.string.contains("登录名"))
            let en = try await t.page(.GET, "/login", browser: &b, headers: [("Accept-Language", "en-US,en;q=0.9")])
            #expect(en.body.string.contains("Sign in"))
            let tw = try await t.page(.GET, "/login", browser: &b, headers: [("Accept-Language", "zh-TW")])
            #expect(tw.body.string.contains("登入名稱"))
            _ = try await t.page(.GET, "/lang/en?next=/login", browser: &b)
            let chosen = try await t.page(.GET, "/login", browser: &b, headers: [("Accept-Language", "zh-CN")])
            #expect(chosen.body.string.contains("Demo logins"))
        }
    }

    @Test func demoLoginsShowOnlyInDemoMode() async throws {
        try await TestApp.run(demo: false) { t in
            var b = TestApp.Browser()
            let r = try await t.page(.GET, "/login", browser: &b)
            #expect(!r.body.string.contains("演示账号"))
        }
        try await TestApp.run(demo: true) { t in
            var b = TestApp.Browser()
            let r = try await t.page(.GET, "/login", browser: &b)
            #expect(r.body.string.contains("演示账号"))
            #expect(r.body.string.contains("supplier2"))
        }
    }

    @Test func wrongPasswordShowsInlineError() async throws {
        try await TestApp.run { t in
            var b = TestApp.Browser()
            _ = try await t.page(.GET, "/login", browser: &b)
            let r = try await t.page(.POST, "/login", browser: &b, form: ["login": "admin", "password": "nope", "_csrf": b.cookies["subcon_csrf"]!])
            #expect(r.status == .unauthorized)
            #expect(r.body.string.contains("登录名或密码不正确"))
        }
    }

    @Test func adminCreatesAndEditsAUserFromTheForms() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("admin")
            let csrf = try await t.csrf(&b)
            let s1 = try await t.organization(code: "SUP-JG")
            let bad = try await t.page(.POST, "/admin/users", browser: &b, form: [
                "_csrf": csrf, "organizationId": s1.id!.uuidString, "login": "bad login", "displayName": "", "password": "x",
            ])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains(#"class="err""#))
            let ok = try await t.page(.POST, "/admin/users", browser: &b, form: [
                "_csrf": csrf, "organizationId": s1.id!.uuidString, "login": "jg-zhao", "displayName": "赵工",
                "password": "secret-456", "roles[]": "supplier_user",
            ])
            #expect(ok.status == .seeOther, "\(ok.body.string)")
            let user = try await t.user("jg-zhao")
            #expect(user.roles == [.supplierUser])
            // A stale edit form does not overwrite a newer save.
            let first = try await t.page(.POST, "/admin/users/\(user.id!)", browser: &b, form: [
                "_csrf": csrf, "version": "1", "displayName": "赵工(新)", "roles[]": "supplier_user", "active": "true",
            ])
            #expect(first.status == .seeOther)
            let stale = try await t.page(.POST, "/admin/users/\(user.id!)", browser: &b, form: [
                "_csrf": csrf, "version": "1", "displayName": "旧表单", "roles[]": "supplier_user", "active": "true",
            ])
            #expect(stale.status == .conflict)
            #expect(stale.body.string.contains("赵工(新)"))
            #expect(try await t.user("jg-zhao").displayName == "赵工(新)")
        }
    }

    @Test func catalogsHaveEveryKeyInEveryLanguage() throws {
        let catalog = try Catalog(directory: packageRoot + "/Resources/Locales")
        let base = catalog.keys(.zhHans)
        for locale in AppLocale.allCases {
            #expect(catalog.keys(locale) == base, "\(locale) differs: \(base.symmetricDifference(catalog.keys(locale)))")
        }
        // Every #t("key") used in a view exists.
        let views = try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/Resources/Views")
        let pattern = try NSRegularExpression(pattern: #"#t\("([^"]+)""#)
        for file in views {
            let text = try String(contentsOfFile: packageRoot + "/Resources/Views/" + file, encoding: .utf8)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let key = String(text[Range(m.range(at: 1), in: text)!])
                if key.hasSuffix(".") { continue }
                #expect(base.contains(key), "\(file): \(key)")
            }
        }
    }
}

@Suite struct PreferenceAndAdminFormTests {
    /// A saved language preference follows the person to a new browser, ahead of Accept-Language.
    @Test func savedPreferenceChoosesTheLanguage() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let planner = try await t.user("planner")
            let r = try await t.request(.PATCH, "/api/v1/users/\(planner.id!)", token: admin, json: #"{"version":1,"locale":"zh-Hant"}"#)
            #expect(r.status == .ok)
            var b = try await t.signIn("planner")
            let home = try await t.page(.GET, "/", browser: &b, headers: [("Accept-Language", "en")])
            #expect(home.body.string.contains("歡迎回來"), "\(home.body.string.prefix(400))")
        }
    }

    @Test func adminCreatesASupplierFromTheForm() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("admin")
            let csrf = try await t.csrf(&b)
            let bad = try await t.page(.POST, "/admin/organizations", browser: &b, form: ["_csrf": csrf, "code": "SUP-JG", "name": "重复编码"])
            #expect(bad.status == .conflict)
            #expect(bad.body.string.contains("已被使用"))
            let ok = try await t.page(.POST, "/admin/organizations", browser: &b, form: ["_csrf": csrf, "code": "SUP-CZ", "name": "常州精密电镀"])
            #expect(ok.status == .seeOther)
            let org = try await t.organization(code: "SUP-CZ")
            let profile = try await SupplierProfile.query(on: t.db).filter(\.$organization.$id == org.id!).first()
            #expect(profile?.status == "prospect")
            var planner = try await t.signIn("planner")
            let csrf2 = try await t.csrf(&planner)
            let refused = try await t.page(.POST, "/admin/organizations", browser: &planner, form: ["_csrf": csrf2, "code": "SUP-X", "name": "X"])
            #expect(refused.status == .forbidden)
        }
    }

    /// Quantities read as people write them: thousands separators, the unit once.
    @Test func quantitiesShowSeparatorsAndUnits() async throws {
        try await TestApp.run(scenario: true) { t in
            var supplier = try await t.signIn("supplier1")
            let work = try await t.page(.GET, "/work", browser: &supplier).body.string
            #expect(work.contains("0 / 1,200 件"), "the supplier's work list")
            // (Not just "1200": a link's random id may contain those digits.)
            #expect(!work.contains("/ 1200") && !work.contains(">1200"))
            var warehouse = try await t.signIn("warehouse")
            let material = try await t.page(.GET, "/material", browser: &warehouse).body.string
            #expect(material.contains("<strong>20,000</strong>"))
            #expect(material.contains("苏州精工机械有限公司"), "supplier names next to codes")
        }
    }
}
