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
/// also works across instances. Changes may pass their turn on to the next change without
/// committing, so that a queue of them shares one COMMIT (`WriteConnection.groupedTransaction`).
///
/// As the gate of heavy reads (a month's write-off of every supplier, a statement of 50,000
/// lines, the reports): each holds its whole result while it is built, so 64 of them at once
/// took the server to 3.8 GB. A few at a time take as long in total on two cores and keep the
/// memory of a few. Their queue is bounded: each takes seconds, so a long queue only means
/// answers that come after the asker has given up, and work done for nobody that holds up
/// everything after it (64 clients asking for the write-off for eight seconds queued over a
/// minute of it, and the statement generated next took 147 s instead of 9). Past the bound a
/// request is told at once that the server is busy (`TurnGate.Full`, a 503 with Retry-After).
public final class TurnGate: Sendable {
    /// nil: no limit.
    private let limit: Int?
    /// How many may wait for their turn; nil: any number.
    private let maxWaiting: Int?

    /// The gate's queue is full.
    struct Full: Error {}
    /// A caller waiting for its turn, and whether it would carry on a commit group (see `passToGroupMember`).
    private struct Waiter {
        let continuation: CheckedContinuation<Bool, Never>
        let joinsGroup: Bool
    }
    private struct State {
        var running = 0
        var waiters: [Waiter] = []
        /// A holder waiting for someone to queue (`awaitArrival`), and which wait it is, so that
        /// a wait's time running out cannot end a later one.
        var lingerer: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var lingers: UInt64 = 0
    }
    private let state = NIOLockedValueBox(State())

    init(enabled: Bool) { limit = enabled ? 1 : nil; maxWaiting = nil }

    init(limit: Int, maxWaiting: Int? = nil) { self.limit = max(1, limit); self.maxWaiting = maxWaiting.map { max(0, $0) } }

    /// - Parameter bounded: `false` waits however long the queue (for work already promised,
    ///   such as an answer whose head has gone out; `refuseIfFull` checks before that).
    func run<T: Sendable>(bounded: Bool = true, _ body: () async throws -> T) async throws -> T {
        guard let limit else { return try await body() }
        try await acquire(limit, bounded: bounded)
        defer { release() }
        return try await body()
    }

    /// Takes a turn, to be given back with `leave` or passed on with `passToGroupMember`: for a
    /// holder whose turn does not end where a closure does (a change of a commit group).
    func enter(joinsGroup: Bool) async throws {
        guard let limit else { return }
        try await acquire(limit, bounded: false, joinsGroup: joinsGroup)
    }

    /// Gives back a turn taken with `enter`.
    func leave() {
        guard limit != nil else { return }
        release()
    }

    /// Passes the holder's turn straight to the first waiter if that one joins commit groups, and
    /// says whether it did; otherwise the holder keeps its turn (nobody waits, or the next one
    /// must find the database without an open transaction). One check under the lock, so no
    /// newcomer can step in between.
    func passToGroupMember() -> Bool {
        guard limit != nil else { return false }
        let next = state.withLockedValue { s -> CheckedContinuation<Bool, Never>? in
            guard let first = s.waiters.first, first.joinsGroup else { return nil }
            s.waiters.removeFirst()
            return first.continuation
        }
        next?.resume(returning: false)
        return next != nil
    }

    /// Waits, holding the turn, until someone queues for it or `limit` has passed, whichever
    /// comes first; at once if someone waits already. A change whose group would commit alone
    /// gives the changes on their way a moment to join it (`WriteConnection.groupedTransaction`).
    func awaitArrival(within limit: Duration) async {
        guard self.limit != nil, limit > .zero else { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let id = state.withLockedValue { s -> UInt64? in
                guard s.waiters.isEmpty, s.lingerer == nil else { return nil }
                s.lingers &+= 1
                s.lingerer = (s.lingers, c)
                return s.lingers
            }
            guard let id else { return c.resume() }
            Task.detached { [self] in
                try? await Task.sleep(for: limit)
                let timedOut = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
                    guard let l = s.lingerer, l.id == id else { return nil }
                    s.lingerer = nil
                    return l.continuation
                }
                timedOut?.resume()
            }
        }
    }

    /// Whether the holder waits for someone to queue (`awaitArrival`), for tests.
    var lingering: Bool { state.withLockedValue { $0.lingerer != nil } }

    /// How many wait for their turn now.
    var waiting: Int { state.withLockedValue { $0.waiters.count } }

    /// Throws `Full` if a newcomer would be turned away now.
    func refuseIfFull() throws {
        guard let limit, let maxWaiting else { return }
        if state.withLockedValue({ $0.running >= limit && $0.waiters.count >= maxWaiting }) { throw Full() }
    }

    private func acquire(_ limit: Int, bounded: Bool, joinsGroup: Bool = false) async throws {
        let full = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            enum Next { case run, wait(lingerer: CheckedContinuation<Void, Never>?), full }
            let next = state.withLockedValue { s -> Next in
                if s.running < limit { s.running += 1; return .run }
                if bounded, let maxWaiting, s.waiters.count >= maxWaiting { return .full }
                s.waiters.append(Waiter(continuation: c, joinsGroup: joinsGroup))
                defer { s.lingerer = nil }
                return .wait(lingerer: s.lingerer?.continuation)
            }
            switch next {
            case .run: c.resume(returning: false)
            case .full: c.resume(returning: true)
            case .wait(let lingerer): lingerer?.resume()
            }
        }
        if full { throw Full() }
    }

    /// A waiter takes over the leaver's place (the count stays), so no newcomer overtakes it.
    private func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Bool, Never>? in
            if s.waiters.isEmpty { s.running -= 1; return nil }
            return s.waiters.removeFirst().continuation
        }
        next?.resume(returning: false)
    }
}
