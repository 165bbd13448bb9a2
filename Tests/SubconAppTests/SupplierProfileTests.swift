import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

@Suite struct SupplierProfileTests {
    @Test func statusLifecycleNeedsReasonsAndIsAudited() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let created = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code":"SUP-NEW","name":"常州新协力"}"#)
            let id = created.json["id"] as? String ?? ""
            let profile = try await t.request(.GET, "/api/v1/organizations/\(id)/profile", token: admin)
            #expect(profile.json["status"] as? String == "prospect")
            let purchaser = try await t.token("purchaser")
            let noReason = try await t.request(.POST, "/api/v1/organizations/\(id)/status", token: purchaser, json: #"{"status":"qualified","reason":" "}"#)
            #expect(noReason.status == .unprocessableEntity)
            let skip = try await t.request(.POST, "/api/v1/organizations/\(id)/status", token: purchaser, json: #"{"status":"probation","reason":"试用"}"#)
            #expect(skip.status == .unprocessableEntity)
            // Qualification waits for the checklist.
            let early = try await t.request(.POST, "/api/v1/organizations/\(id)/status", token: purchaser, json: #"{"status":"qualified","reason":"现场审核通过 2026-11"}"#)
            #expect(early.status == .unprocessableEntity)
            #expect(early.body.string.contains("checklistIncomplete") && early.body.string.contains("营业执照"), "\(early.body.string)")
            try await QualificationTests.completeChecklist(t, orgID: id, token: purchaser)
            let ok = try await t.request(.POST, "/api/v1/organizations/\(id)/status", token: purchaser, json: #"{"status":"qualified","reason":"现场审核通过 2026-11"}"#)
            #expect(ok.status == .ok, "\(ok.body.string)")
            #expect(ok.json["status"] as? String == "qualified")
            let history = try await t.request(.GET, "/api/v1/audit?entity=supplier_profile&entityId=\(id)", token: admin)
            let change = (history.json["items"] as? [[String: Any]])?.first { $0["action"] as? String == "status_change" }
            let reason = (change?["changes"] as? [String: Any])?["reason"] as? [String: String]
            #expect(reason?["after"] == "现场审核通过 2026-11")
            // The planner may look but not change.
            let planner = try await t.token("planner")
            #expect(try await t.request(.POST, "/api/v1/organizations/\(id)/status", token: planner, json: #"{"status":"suspended","reason":"x"}"#).status == .forbidden)
        }
    }

    @Test func supplierSeesItsOwnProfileOnly() async throws {
        try await TestApp.run { t in
            let s1 = try await t.token("supplier1")
            let own = try await t.organization(code: "SUP-JG")
            let other = try await t.organization(code: "SUP-BM")
            let mine = try await t.request(.GET, "/api/v1/organizations/\(own.id!)/profile", token: s1)
            #expect(mine.status == .ok)
            #expect(mine.json["status"] as? String == "qualified")
            #expect(try await t.request(.GET, "/api/v1/organizations/\(other.id!)/profile", token: s1).status == .notFound)
            #expect(try await t.request(.PATCH, "/api/v1/organizations/\(own.id!)/profile", token: s1,
                                        json: #"{"version":1,"contactName":"x"}"#).status == .forbidden)
        }
    }

    @Test func expiringCertificatesRemindPurchasersOnce() async throws {
        try await TestApp.run { t in
            // The demo has one certificate expiring in 20 days.
            let today = DemoData.daysFromNow(0, t.clock.now())
            #expect(try await SupplierProfileService.remindExpiringCertificates(app: t.app, today: today) == 1)
            #expect(try await SupplierProfileService.remindExpiringCertificates(app: t.app, today: today) == 0)
            _ = try await Outbox.deliverPending(app: t.app)
            let purchaser = try await t.token("purchaser")
            let inbox = try await t.request(.GET, "/api/v1/notifications", token: purchaser)
            let messages = (inbox.json["items"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? String }
            #expect(messages.contains { $0.contains("IATF 16949") && $0.contains("到期") }, "\(messages)")
            // A certificate far in the future is not due until it comes within 30 days.
            let admin = try await t.token("admin")
            let s1 = try await t.organization(code: "SUP-JG")
            let far = today.adding(days: 45).description
            _ = try await t.request(.POST, "/api/v1/organizations/\(s1.id!)/certificates", token: admin,
                                    json: #"{"kind":"ISO 14001","number":"EMS-1","validTo":"\#(far)"}"#)
            #expect(try await SupplierProfileService.remindExpiringCertificates(app: t.app, today: today) == 0)
            #expect(try await SupplierProfileService.remindExpiringCertificates(app: t.app, today: today.adding(days: 15)) == 1)
        }
    }

    @Test func profileFormsOnTheOrganizationPage() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("purchaser")
            let csrf = try await t.csrf(&b)
            let s2 = try await t.organization(code: "SUP-BM")
            let page = try await t.page(.GET, "/admin/organizations/\(s2.id!)", browser: &b)
            #expect(page.body.string.contains("阳极氧化"))
            #expect(page.body.string.contains("30 天内到期"))
            let bad = try await t.page(.POST, "/admin/organizations/\(s2.id!)/status", browser: &b, form: ["_csrf": csrf, "status": "suspended", "reason": ""])
            #expect(bad.status == .unprocessableEntity)
            let ok = try await t.page(.POST, "/admin/organizations/\(s2.id!)/status", browser: &b,
                                      form: ["_csrf": csrf, "status": "probation", "reason": "连续两批来料不良"])
            #expect(ok.status == .seeOther)
            let profile = try await SupplierProfile.query(on: t.db).filter(\.$organization.$id == s2.id!).first()
            #expect(profile?.status == "probation")
        }
    }
}
