import Fluent
import Foundation
import NIOConcurrencyHelpers

/// Lets at most `limit` callers run a body at once inside one process; the rest wait their
/// turn in arrival order.
///
/// As the write gate (limit 1, SQLite only): SQLite allows one writer at a time; two pooled
/// connections that both start a transaction by reading (the audit chain's last hash) and then
/// write would fail with SQLITE_BUSY. Queueing them here turns that failure into a short wait.
/// PostgreSQL needs no gate: it serializes the audit chain with an advisory lock instead, which
/// also works across instances.
///
/// As the gate of heavy reads (a month's write-off of every supplier, a statement of 50,000
/// lines, the reports): each holds its whole result while it is built, so 64 of them at once
/// took the server to 3.8 GB. A few at a time take as long in total on two cores and keep the
/// memory of a few.
public final class TurnGate: Sendable {
    /// nil: no limit.
    private let limit: Int?
    private let state = NIOLockedValueBox<(running: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    init(enabled: Bool) { limit = enabled ? 1 : nil }

    init(limit: Int) { self.limit = max(1, limit) }

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard let limit else { return try await body() }
        await acquire(limit)
        defer { release() }
        return try await body()
    }

    /// How many wait for their turn now.
    var waiting: Int { state.withLockedValue { $0.waiters.count } }

    private func acquire(_ limit: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { s -> Bool in
                if s.running < limit { s.running += 1; return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    /// A waiter takes over the leaver's place (the count stays), so no newcomer overtakes it.
    private func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.running -= 1; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
