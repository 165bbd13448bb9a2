import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct AuditTrailTests {
    @Test func writesAreAuditedWithBeforeAndAfter() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let org = try await t.organization(code: "SUP-JG")
            _ = try await t.request(.PATCH, "/api/v1/organizations/\(org.id!)", token: admin, json: #"{"version":1,"name":"苏州精工机械股份有限公司"}"#)
            let history = try await t.request(.GET, "/api/v1/audit?entity=organization&entityId=\(org.id!)", token: admin)
            let items = history.json["items"] as? [[String: Any]] ?? []
            let update = items.first { $0["action"] as? String == "update" }
            #expect(update?["actorLogin"] as? String == "admin")
            let name = (update?["changes"] as? [String: Any])?["name"] as? [String: String]
            #expect(name == ["before": "苏州精工机械有限公司", "after": "苏州精工机械股份有限公司"])
        }
    }

    @Test func verifyPassesOnACleanLogAndFailsAfterTampering() async throws {
        try await TestApp.run { t in
            let clean = try await AuditVerification.run(app: t.app)
            #expect(clean.ok)
            #expect(clean.checked > 10)

            try await t.sql.raw("UPDATE audit_log SET actor_login = 'mallory' WHERE seq = 3").run()
            let altered = try await AuditVerification.run(app: t.app)
            #expect(!altered.ok)
            #expect(altered.checked == 2)
            #expect(altered.message.contains("row 3"))

            let admin = try await t.token("admin")
            let api = try await t.request(.POST, "/api/v1/audit/verify", token: admin)
            #expect(api.json["ok"] as? Bool == false)
        }
    }

    @Test func deletedRowIsDetected() async throws {
        try await TestApp.run { t in
            try await t.sql.raw("DELETE FROM audit_log WHERE seq = 5").run()
            let report = try await AuditVerification.run(app: t.app)
            #expect(!report.ok)
            #expect(report.message.contains("row 5 is missing"))
        }
    }

    @Test func failedWriteLeavesNoAuditRowAndNoMessage() async throws {
        try await TestApp.run { t in
            let rowsBefore = try await AuditEntry.query(on: t.db).count()
            let outboxBefore = try await OutboxMessage.query(on: t.db).count()
            do {
                try await t.app.write(as: .system) { change in
                    let org = Organization(kind: .supplier, code: "TMP", name: "临时", now: change.now)
                    try await org.create(on: change.db)
                    try await change.audit("organization", org.id, "create", after: org.auditSnapshot)
                    try await change.notify("organization.created", recipients: [UUID()], messageKey: "notice.welcome")
                    throw Problem.conflict("problem.conflict.detail")
                }
            } catch {}
            #expect(try await AuditEntry.query(on: t.db).count() == rowsBefore)
            #expect(try await OutboxMessage.query(on: t.db).count() == outboxBefore)
            #expect(try await Organization.query(on: t.db).filter(\.$code == "TMP").count() == 0)
            #expect(try await AuditVerification.run(app: t.app).ok)
        }
    }
}

@Suite struct NotificationTests {
    @Test func outboxDeliversToTheInboxOnce() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let s1Org = try await t.organization(code: "SUP-JG")
            let created = try await t.request(.POST, "/api/v1/users", token: admin, json: """
                {"organizationId":"\(s1Org.id!)","login":"jg-wang","displayName":"王师傅","password":"secret-123","roles":["supplier_user"]}
                """)
            #expect(created.status == .created)
            let newToken = try await t.token("jg-wang", password: "secret-123")
            let before = try await t.request(.GET, "/api/v1/notifications/unread-count", token: newToken)
            #expect(before.json["unread"] as? Int == 0)

            #expect(try await Outbox.deliverPending(app: t.app) > 0)
            #expect(try await Outbox.deliverPending(app: t.app) == 0)
            let after = try await t.request(.GET, "/api/v1/notifications", token: newToken, headers: [("Accept-Language", "en")])
            let items = after.json["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1)
            #expect((items.first?["message"] as? String)?.contains("Welcome to Subcon") == true)

            let id = items.first?["id"] as? String ?? ""
            #expect(try await t.request(.POST, "/api/v1/notifications/\(id)/read", token: newToken).status == .noContent)
            let count = try await t.request(.GET, "/api/v1/notifications/unread-count", token: newToken)
            #expect(count.json["unread"] as? Int == 0)
            // Someone else cannot mark it.
            #expect(try await t.request(.POST, "/api/v1/notifications/\(id)/read", token: admin).status == .notFound)
        }
    }

    @Test func unreadCountShowsInThePageHeader() async throws {
        try await TestApp.run { t in
            _ = try await Outbox.deliverPending(app: t.app)
            var b = try await t.signIn("warehouse")
            let home = try await t.page(.GET, "/", browser: &b)
            #expect(home.body.string.contains(#"<span class="badge" id="unread">1</span>"#))
            let token = try await t.csrf(&b)
            _ = try await t.page(.POST, "/inbox/read-all", browser: &b, form: ["_csrf": token])
            let after = try await t.page(.GET, "/", browser: &b)
            #expect(!after.body.string.contains(#"id="unread""#))
            // Beyond 99 the bell says 99+; the API gives the number.
            let warehouse = try #require(try await User.query(on: t.db).filter(\.$login == "warehouse").first())
            for n in 1...100 {
                let item = InboxItem()
                item.id = UUID(); item.$user.id = warehouse.id!; item.event = "test"; item.messageKey = "notice.test"; item.params = "{}"
                item.createdAt = t.clock.now(); item.outboxID = UUID()
                try await item.create(on: t.db)
                if n == 99 { #expect(try await t.page(.GET, "/", browser: &b).body.string.contains(#"<span class="badge" id="unread">99</span>"#)) }
            }
            #expect(try await t.page(.GET, "/orders", browser: &b).body.string.contains(#"<span class="badge" id="unread">99+</span>"#))
            #expect(try await t.request(.GET, "/api/v1/notifications/unread-count", token: try await t.token("warehouse")).json["unread"] as? Int == 100)
        }
    }
}

@Suite struct HousekeepingTests {
    @Test func expiredSessionsAndOldRecordsAreRemoved() async throws {
        try await TestApp.run { t in
            _ = try await t.signIn("admin")
            _ = try await t.request(.POST, "/api/v1/auth/token", json: #"{"login":"admin","password":"wrong"}"#)
            #expect(try await WebSession.query(on: t.db).count() == 1)
            try await Housekeeping.run(app: t.app)
            #expect(try await WebSession.query(on: t.db).count() == 1)
            t.clock.advance(by: 2 * 86400)
            try await Housekeeping.run(app: t.app)
            #expect(try await WebSession.query(on: t.db).count() == 0)
            #expect(try await LoginAttempt.query(on: t.db).count() == 0)
        }
    }
}
