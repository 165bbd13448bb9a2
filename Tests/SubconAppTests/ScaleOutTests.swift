import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// Several app instances on one database, sharing no memory: what one instance changes about
/// who may sign in holds on the other at once, and background work is done once.
@Suite struct ScaleOutTests {
    /// Two instances on one database: a SQLite file (the in-memory default cannot be shared) or
    /// the same PostgreSQL schema.
    static func twoInstances(_ body: (TestApp, TestApp) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("subcon-scale-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Both booted, so that on PostgreSQL both listen for sign-in changes and keep a cache.
        try await TestApp.run(live: true, adjust: { s in
            if case .sqliteMemory = s.database { s.database = .sqliteFile(path: dir.path + "/subcon.sqlite") }
            s.signInCacheTrust = .seconds(1)
        }) { a in
            try await a.sibling { b in try await body(a, b) }
        }
    }

    @Test func aRevokedTokenOrDeactivatedUserIsRefusedAtOnceOnTheOtherInstance() async throws {
        try await Self.twoInstances { a, b in
            // A token issued by one instance works on the other; logging out on one ends it on
            // both, also where the other signs it in from its cache (PostgreSQL).
            let first = try await a.token("supplier2")
            try await Self.signInFromCache(first, on: b)
            #expect(try await a.request(.POST, "/api/v1/me/logout", token: first).status == .noContent)
            #expect(try await b.request(.GET, "/api/v1/me", token: first).status == .unauthorized)

            // A browser signed in on one instance is signed in on the other.
            let second = try await b.token("supplier2")
            var browser = try await a.signIn("supplier2")
            #expect(try await b.page(.GET, "/account", browser: &browser).status == .ok)
            try await Self.signInFromCache(second, on: a)

            // Deactivated on one instance: the very next request on the other is refused.
            let admin = try await b.token("admin")
            let user = try await b.user("supplier2")
            let r = try await b.request(.PATCH, "/api/v1/users/\(user.id!)", token: admin, json: #"{"version":\#(user.version),"active":false}"#)
            #expect(r.status == .ok)
            #expect(try await a.request(.GET, "/api/v1/me", token: second).status == .unauthorized)
            let page = try await a.page(.GET, "/account", browser: &browser)
            #expect(page.status == .seeOther)
            #expect(page.headers.first(name: .location)?.hasPrefix("/login") == true)
            // On an SQLite file both instances read who is signed in on their read connections
            // (see ReadConnections), so the refusals above went through them.
            if !a.app.subcon.isPostgres {
                for t in [a, b] { #expect(try #require(t.app.readConnections).statementsRun.withLockedValue { $0 } > 0) }
            }
        }
    }

    /// Signs in with `token` on `t` until its sign-in cache serves it (PostgreSQL; SQLite keeps
    /// none): a refusal after this is a refusal of a kept row.
    static func signInFromCache(_ token: String, on t: TestApp, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect((t.app.subcon.signInCache != nil) == t.app.subcon.isPostgres, sourceLocation: sourceLocation)
        guard let cache = t.app.subcon.signInCache else {
            #expect(try await t.request(.GET, "/api/v1/me", token: token).status == .ok, sourceLocation: sourceLocation)
            return
        }
        for _ in 0..<400 {
            let before = cache.uses
            #expect(try await t.request(.GET, "/api/v1/me", token: token).status == .ok, sourceLocation: sourceLocation)
            if cache.uses > before { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("the sign-in cache never served the token", sourceLocation: sourceLocation)
    }

    /// An instance that has stopped hearing (its listener stalled) still refuses a token revoked
    /// on the other at once: the revocation answers only after the deaf instance's trust in its
    /// cache has run out. (Without that wait the kept row would sign the token in.)
    @Test func anInstanceThatHearsNothingStopsTrustingBeforeARevocationAnswers() async throws {
        try await Self.twoInstances { a, b in
            guard let deaf = b.app.subcon.signInCache else { return }
            let token = try await a.token("supplier2")
            try await Self.signInFromCache(token, on: b)
            deaf.deafen()
            #expect(try await a.request(.POST, "/api/v1/me/logout", token: token).status == .noContent)
            #expect(try await b.request(.GET, "/api/v1/me", token: token).status == .unauthorized)
            deaf.hear()
        }
    }

    /// A change made beside the application (a person in psql, a script) is not waited for, but
    /// the triggers still tell every instance: the kept row is forgotten.
    @Test func aChangeMadeBesideTheAppIsHeardByEveryInstance() async throws {
        try await Self.twoInstances { a, b in
            guard a.app.subcon.isPostgres else { return }
            let token = try await a.token("supplier2")
            try await Self.signInFromCache(token, on: b)
            let user = try await a.user("supplier2")
            try await a.sql.raw("UPDATE users SET active = false WHERE id = \(bind: user.id!)").run()
            var refused = false
            for _ in 0..<200 where !refused {
                refused = try await b.request(.GET, "/api/v1/me", token: token).status == .unauthorized
                if !refused { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(refused)
        }
    }

    /// Both instances run the outbox at the same time: every message is claimed by exactly one
    /// (PostgreSQL's `FOR UPDATE SKIP LOCKED`) and every recipient gets one notice. SQLite runs
    /// one instance per file, so this is PostgreSQL's test.
    @Test func backgroundWorkIsClaimedOnceAcrossInstances() async throws {
        try await TestApp.run { a in
            guard a.app.subcon.isPostgres else { return }
            try await a.sibling { b in
                let people = try await User.query(on: a.db).filter(\.$login ~~ ["purchaser", "planner", "supplier1"]).all(\.$id)
                func drain(_ t: TestApp) async throws -> Int {
                    var total = 0
                    while true {
                        let n = try await Outbox.deliverPending(app: t.app, limit: 10)
                        if n == 0 { return total }
                        total += n
                    }
                }
                _ = try await drain(a)  // what the demo left waiting
                let before = try await InboxItem.query(on: a.db).count()
                let now = a.clock.now()
                for i in 0..<240 {
                    try await Outbox.enqueue(on: a.db, event: "scale.test", notice: .init(recipients: people, messageKey: "notice.supplierCreated",
                                                                                           params: ["name": "\(i)"], link: nil), now: now)
                }
                async let here = drain(a)
                async let there = drain(b)
                let (x, y) = try await (here, there)
                // A message claimed twice would be counted twice.
                #expect(x + y == 240)
                #expect(try await InboxItem.query(on: a.db).count() - before == 240 * people.count)
                #expect(try await OutboxMessage.query(on: a.db).filter(\.$event == "scale.test").filter(\.$processedAt == nil).count() == 0)
            }
        }
    }
}
