import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct SupplierIsolationTests {
    @Test func listsNeverShowAnotherSupplier() async throws {
        try await TestApp.run { t in
            let token = try await t.token("supplier1")
            let s1 = try await t.organization(code: "SUP-JG")

            let orgs = try await t.request(.GET, "/api/v1/organizations", token: token)
            #expect(orgs.status == .ok)
            let orgIDs = (orgs.json["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(orgIDs == [s1.id!.uuidString])

            let users = try await t.request(.GET, "/api/v1/users?per=200", token: token)
            let userOrgs = Set((users.json["items"] as? [[String: Any]] ?? []).compactMap { $0["organizationId"] as? String })
            #expect(userOrgs == [s1.id!.uuidString])
            #expect(users.json["total"] as? Int == 1)

            let sites = try await t.request(.GET, "/api/v1/sites", token: token)
            #expect(sites.body.string == "[]")
        }
    }

    /// Every `/api/v1` route with an `:id`, asked by supplier1 about each kind of record that
    /// belongs to supplier2 (or to the manufacturer), answers 404: existence is not revealed.
    @Test func everyIdRouteAnswers404ForOtherOrganizations() async throws {
        try await TestApp.run { t in
            let s1 = try await t.token("supplier1")
            let s2Token = try await t.token("supplier2")
            // Give supplier2 a personal token and a notification so those ids exist too.
            let personal = try await t.request(.POST, "/api/v1/me/tokens", token: s2Token, json: #"{"name":"erp"}"#)
            let personalID = try personal.content.get(String.self, at: "id")
            _ = try await Outbox.deliverPending(app: t.app)
            let s2User = try await t.user("supplier2")
            // And a price agreement of supplier2's.
            let item = try await t.request(.POST, "/api/v1/items", token: try await t.token("admin"),
                                           json: #"{"code":"ISO-1","name":"隔离测试件","uom":"PCS","kind":"finished"}"#)
            let s2Org = try await t.organization(code: "SUP-BM").id!
            let price = try await t.request(.POST, "/api/v1/price-agreements", token: try await t.token("admin"), json: """
                {"supplierId":"\(s2Org)","itemId":"\(item.json["id"] as? String ?? "")","validFrom":"2026-01-01","unitPrice":"3"}
                """)
            let priceID = try #require(price.json["id"] as? String)
            let s2Notice = try await InboxItem.query(on: t.db).filter(\.$user.$id == s2User.id!).first()!
            let foreignIDs = [
                try await t.organization(code: "SUP-BM").id!.uuidString,
                try await t.organization(code: "HDJM").id!.uuidString,
                s2User.id!.uuidString,
                try await t.user("admin").id!.uuidString,
                try await Site.query(on: t.db).first()!.id!.uuidString,
                personalID,
                priceID,
                s2Notice.id!.uuidString,
            ]
            let idRoutes = t.app.routes.all.filter { r in
                r.path.first?.description == "api" && r.path.contains { $0.description == ":id" }
            }
            #expect(idRoutes.count >= 8)
            let body = #"{"version":1,"name":"x","password":"longenough1"}"#
            for route in idRoutes {
                func path(_ id: String) -> String {
                    "/" + route.path.map { $0.description == ":id" ? id : $0.description }.joined(separator: "/")
                }
                // What an id that exists nowhere gets: 404, or 403 for a route the supplier may not use at all.
                let baseline = try await t.request(route.method, path(UUID().uuidString), token: s1, json: body).status
                #expect([.notFound, .forbidden].contains(baseline), "\(route.method) \(path("…"))")
                for id in foreignIDs {
                    let r = try await t.request(route.method, path(id), token: s1, json: body)
                    #expect(r.status == baseline, "\(route.method) \(path(id)) answered \(r.status), unknown id \(baseline)")
                }
            }
            // Nothing was changed by any of those requests.
            #expect(try await t.organization(code: "SUP-BM").version == 1)
            #expect(try await t.user("supplier2").version == 1)
        }
    }

    @Test func auditHistoryOfAnotherSupplierIsHidden() async throws {
        try await TestApp.run { t in
            let s1 = try await t.token("supplier1")
            let s2User = try await t.user("supplier2")
            let own = try await t.user("supplier1")
            let foreign = try await t.request(.GET, "/api/v1/audit?entity=user&entityId=\(s2User.id!)", token: s1)
            #expect(foreign.status == .notFound)
            let all = try await t.request(.GET, "/api/v1/audit", token: s1)
            #expect(all.status == .notFound)
            let mine = try await t.request(.GET, "/api/v1/audit?entity=user&entityId=\(own.id!)", token: s1)
            #expect(mine.status == .ok)
            #expect((mine.json["total"] as? Int ?? 0) >= 1)

            var browser = try await t.signIn("supplier1")
            let page = try await t.page(.GET, "/history/user/\(s2User.id!)", browser: &browser)
            #expect(page.status == .notFound)
        }
    }

    @Test func supplierAdminManagesOnlyOwnPeople() async throws {
        try await TestApp.run { t in
            let s1 = try await t.token("supplier1")
            let s1Org = try await t.organization(code: "SUP-JG")
            let s2Org = try await t.organization(code: "SUP-BM")
            let ok = try await t.request(.POST, "/api/v1/users", token: s1, json: """
                {"organizationId":"\(s1Org.id!)","login":"jg-li","displayName":"李工","password":"secret-123","roles":["supplier_user"]}
                """)
            #expect(ok.status == .created, "\(ok.body.string)")
            let other = try await t.request(.POST, "/api/v1/users", token: s1, json: """
                {"organizationId":"\(s2Org.id!)","login":"bm-x","displayName":"X","password":"secret-123","roles":["supplier_user"]}
                """)
            #expect(other.status == .notFound)
            let wrongSide = try await t.request(.POST, "/api/v1/users", token: s1, json: """
                {"organizationId":"\(s1Org.id!)","login":"jg-z","displayName":"Z","password":"secret-123","roles":["admin"]}
                """)
            #expect(wrongSide.status == .unprocessableEntity)
            // A supplier cannot create organizations at all.
            let org = try await t.request(.POST, "/api/v1/organizations", token: s1, json: #"{"code":"X1","name":"X"}"#)
            #expect(org.status == .forbidden)
        }
    }
}
