import Fluent
import Foundation
import NIOConcurrencyHelpers

/// Serializes write transactions inside one process when the store is SQLite.
///
/// SQLite allows one writer at a time; two pooled connections that both start a transaction
/// by reading (the audit chain's last hash) and then write would fail with SQLITE_BUSY.
/// Queueing them here turns that failure into a short wait. PostgreSQL needs no gate: it
/// serializes the audit chain with an advisory lock instead, which also works across instances.
public final class WriteGate: Sendable {
    private let enabled: Bool
    private let state = NIOLockedValueBox<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(enabled: Bool) { self.enabled = enabled }

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard enabled else { return try await body() }
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLockedValue { s -> Bool in
                if !s.busy { s.busy = true; return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    private func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.busy = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
