import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

@Suite struct APIConventionTests {
    @Test func staleVersionIsAConflict() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let planner = try await t.user("planner")
            let first = try await t.request(.PATCH, "/api/v1/users/\(planner.id!)", token: admin, json: #"{"version":1,"displayName":"计划员 李强 (一厂)"}"#)
            #expect(first.status == .ok)
            #expect(first.json["version"] as? Int == 2)
            let second = try await t.request(.PATCH, "/api/v1/users/\(planner.id!)", token: admin, json: #"{"version":1,"displayName":"覆盖"}"#)
            #expect(second.status == .conflict)
            #expect(second.headers.contentType?.description.hasPrefix("application/problem+json") == true)
            #expect(second.json["currentVersion"] as? Int == 2)
            #expect(try await t.user("planner").displayName == "计划员 李强 (一厂)")
        }
    }

    @Test func concurrentEditsNeverBothWin() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let org = try await t.organization(code: "SUP-JG")
            let statuses = try await withThrowingTaskGroup(of: HTTPStatus.self) { group in
                for name in ["甲", "乙", "丙", "丁"] {
                    group.addTask {
                        try await t.request(.PATCH, "/api/v1/organizations/\(org.id!)", token: admin, json: #"{"version":1,"name":"\#(name)"}"#).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 3)
            #expect(try await t.organization(code: "SUP-JG").version == 2)
        }
    }

    @Test func idempotencyKeyWritesOnce() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let before = try await Organization.query(on: t.db).count()
            let body = #"{"code":"SUP-NEW","name":"新供应商"}"#
            let key = [("Idempotency-Key", "7f0c3c1e-retry-1")]
            let a = try await t.request(.POST, "/api/v1/organizations", token: admin, json: body, headers: key)
            let b = try await t.request(.POST, "/api/v1/organizations", token: admin, json: body, headers: key)
            #expect(a.status == .created)
            #expect(b.status == .created)
            #expect(b.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(a.json["id"] as? String == b.json["id"] as? String)
            #expect(try await Organization.query(on: t.db).count() == before + 1)
            // The same key for a different request is refused rather than replayed.
            let c = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code":"SUP-OTHER","name":"别的"}"#, headers: key)
            #expect(c.status == .unprocessableEntity)
            #expect(try await Organization.query(on: t.db).count() == before + 1)
        }
    }

    @Test func badBodiesAre400ProblemDetails() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let cases: [(String, String)] = [
                (#"{"code": "A1", "name": "#, "malformed"),
                (#"["not", "an", "object"]"#, "array"),
                (#"{"code": 12, "name": "x"}"#, "wrong type"),
                (#"{"code": "A1"}"#, "missing field"),
                (#"{"code": "A1", "name": "x", "colour": "red"}"#, "unknown field"),
            ]
            for (body, label) in cases {
                let r = try await t.request(.POST, "/api/v1/organizations", token: admin, json: body)
                #expect(r.status == .badRequest, "\(label): \(r.status) \(r.body.string)")
                #expect(r.headers.contentType?.description.hasPrefix("application/problem+json") == true, "\(label)")
                #expect(r.json["status"] as? Int == 400)
                #expect(r.json["detail"] is String)
            }
            let typed = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code": 12, "name": "x"}"#)
            let errors = typed.json["errors"] as? [[String: Any]] ?? []
            #expect(errors.first?["field"] as? String == "code")
            let unknown = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code": "A1", "name": "x", "colour": "red"}"#)
            #expect((unknown.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "colour")

            let org = try await t.organization(code: "SUP-JG")
            let huge = try await t.request(.PATCH, "/api/v1/organizations/\(org.id!)", token: admin, json: #"{"version": 99999999999999999999999}"#)
            #expect(huge.status == .badRequest)
            let noType = try await t.request(.POST, "/api/v1/organizations", token: admin, headers: [("Content-Type", "text/plain")])
            #expect(noType.status == .unsupportedMediaType)
            let invalid = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code": "bad code!", "name": ""}"#)
            #expect(invalid.status == .unprocessableEntity)
            #expect(Set((invalid.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }) == ["code", "name"])
            let big = String(repeating: "x", count: 1_100_000)
            let tooLarge = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code":"A","name":"\#(big)"}"#)
            #expect(tooLarge.status == .payloadTooLarge)
            let badPage = try await t.request(.GET, "/api/v1/users?per=100000", token: admin)
            #expect(badPage.status == .badRequest)
            let badID = try await t.request(.GET, "/api/v1/users/not-a-uuid", token: admin)
            #expect(badID.status == .notFound)
            // Nothing was written by any of those.
            #expect(try await Organization.query(on: t.db).count() == 3)
        }
    }

    @Test func unauthenticatedAndForbidden() async throws {
        try await TestApp.run { t in
            let none = try await t.request(.GET, "/api/v1/users")
            #expect(none.status == .unauthorized)
            let bogus = try await t.request(.GET, "/api/v1/users", token: "sct_nope")
            #expect(bogus.status == .unauthorized)
            let planner = try await t.token("planner")
            let r = try await t.request(.POST, "/api/v1/organizations", token: planner, json: #"{"code":"X2","name":"X"}"#)
            #expect(r.status == .forbidden)
            let verify = try await t.request(.POST, "/api/v1/audit/verify", token: planner)
            #expect(verify.status == .forbidden)
        }
    }

    @Test func openAPIDocumentListsEveryRoute() async throws {
        try await TestApp.run(demo: false) { t in
            let r = try await t.request(.GET, "/api/v1/openapi.json")
            #expect(r.status == .ok)
            let paths = r.json["paths"] as? [String: [String: Any]] ?? [:]
            var documented = Set<String>()
            for (path, ops) in paths where path.hasPrefix("/api/v1") {
                for method in ops.keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            var served = Set<String>()
            for route in t.app.routes.all where route.path.first?.description == "api" {
                let path = "/" + route.path.map { c -> String in
                    let s = c.description
                    return s.hasPrefix(":") ? "{\(s.dropFirst())}" : s
                }.joined(separator: "/")
                served.insert("\(route.method.rawValue) \(path)")
            }
            #expect(served == documented, "served but undocumented: \(served.subtracting(documented)); documented but not served: \(documented.subtracting(served))")
            #expect(r.json["openapi"] as? String == "3.1.0")
        }
    }

    @Test func healthAndMetrics() async throws {
        try await TestApp.run(demo: false) { t in
            let h = try await t.request(.GET, "/healthz")
            #expect(h.status == .ok)
            #expect(h.json["database"] as? String == "ok")
            let m = try await t.request(.GET, "/metrics")
            #expect(m.status == .ok)
            #expect(m.body.string.contains("subcon_http_requests_total"))
        }
    }
}
