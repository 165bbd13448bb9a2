import Fluent
import Foundation
import SQLKit
@testable import SubconApp
import SubconDomain
import Testing
import NIOConcurrencyHelpers
import Vapor

/// Two writes that take the same two rows in opposite orders deadlock on PostgreSQL, which
/// rolls one back; the write is run again instead of answering 500 (the crash test met this:
/// a receipt locks its order and then, by trigger, its lines, a progress report the other way).
@Suite struct DeadlockRetryTests {
    @Test func aWriteBrokenByADeadlockIsRunAgain() async throws {
        try await TestApp.run { t in
            guard t.app.subcon.isPostgres else { return }
            let a = try await t.organization(code: "SUP-JG").id!, b = try await t.organization(code: "SUP-BM").id!
            let attempts = NIOLockedValueBox(0)
            func write(_ first: UUID, _ second: UUID) async throws {
                try await t.app.write(as: .system) { change in
                    attempts.withLockedValue { $0 += 1 }
                    let sql = change.db as! any SQLDatabase
                    try await sql.raw("UPDATE organizations SET name = name WHERE id = \(bind: first)").run()
                    try await Task.sleep(nanoseconds: 300_000_000)
                    try await sql.raw("UPDATE organizations SET name = name WHERE id = \(bind: second)").run()
                }
            }
            async let one: Void = write(a, b)
            async let other: Void = write(b, a)
            _ = try await (one, other)
            // Both committed; one of them needed a second run.
            #expect(attempts.withLockedValue { $0 } >= 3)
        }
    }
}
