import Foundation
import NIOConcurrencyHelpers

/// API tokens' sign-in rows, kept in memory on PostgreSQL so that a request signed in by a token
/// seen a moment ago makes no round trip before its handler. Signing in was one of the two or
/// three statements every list and detail made, and each statement costs PostgreSQL's server
/// and ours more than the read itself. (SQLite reads the row on the event loop in microseconds,
/// and keeps no cache.)
///
/// A revoked token, an ended session or a deactivated user must still be refused by the very
/// next request on every instance. Three rules give that:
///
/// - **Every change that matters is heard.** Triggers on the tokens, users and organizations
///   (`AddSignInChangeNotices`) send a notice on the installation's channel when a column the
///   sign-in reads changes, whatever code or person made it; `SignInListener` forgets
///   everything when it hears one.
/// - **A cache is used only while it is known to be current.** Notices reach a listener in the
///   order their transactions committed. Each instance sends itself a tick every quarter of
///   `trust` and, when it hears the tick back, trusts its cache until `trust` after the moment
///   the tick was sent: any change committed before that moment was heard first. An instance
///   that stops hearing (its connection lost, its threads starved) stops using its cache
///   within `trust`, and starts again empty.
/// - **A change that matters returns only when every instance has heard it or stopped
///   trusting.** The trigger marks its transaction; `Application.write` sees the mark, forgets
///   this instance's rows at once, and waits `trust` (and a margin) after the commit before
///   answering. Revoking and deactivating are rare; a second's wait on them buys a round trip on
///   every other request.
///
/// A row read from the database while a notice arrived is not kept (`generation`), so a read
/// from just before a change cannot outlive the change's notice.
final class SignInCache: Sendable {
    /// How long a tick heard back keeps the cache trusted.
    let trust: Duration
    /// Rows beyond this many start the cache over (a token seen once an hour should not grow it
    /// for good).
    let capacity: Int

    private struct State {
        var rows: [String: PrincipalLoader.SignInRow] = [:]
        var generation: UInt64 = 0
        /// Monotonic nanoseconds until which the rows may be used; 0: not now.
        var trustedUntil: UInt64 = 0
        /// Ticks sent and not yet heard back: their number → when they were sent.
        var ticks: [UInt64: UInt64] = [:]
        var nextTick: UInt64 = 0
        var used = 0
        var deaf = false
    }
    private let state = NIOLockedValueBox(State())

    init(trust: Duration, capacity: Int = 50_000) {
        self.trust = trust; self.capacity = capacity
    }

    private static func nanoseconds(_ d: Duration) -> UInt64 {
        let (seconds, attoseconds) = d.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds / 1_000_000_000))
    }
    private static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The token's row, if kept and the cache is trusted now.
    func row(tokenHash: String) -> PrincipalLoader.SignInRow? {
        state.withLockedValue { s in
            guard Self.now < s.trustedUntil, let row = s.rows[tokenHash] else { return nil }
            s.used += 1
            return row
        }
    }

    /// Taken before reading a row from the database, and given back to `keep`.
    var generation: UInt64 { state.withLockedValue { $0.generation } }

    /// Keeps a row read from the database, unless a change was heard since the read began.
    func keep(_ row: PrincipalLoader.SignInRow, tokenHash: String, readAt generation: UInt64) {
        state.withLockedValue { s in
            guard s.generation == generation, Self.now < s.trustedUntil else { return }
            if s.rows.count >= capacity { s.rows.removeAll(keepingCapacity: true) }
            s.rows[tokenHash] = row
        }
    }

    /// Forgets every row: a change was heard, or made here.
    func forgetAll() {
        state.withLockedValue { s in s.generation &+= 1; s.rows.removeAll() }
    }

    /// The listener lost its connection (or is starting): nothing heard since can be vouched for.
    func lostContact() {
        state.withLockedValue { s in s.generation &+= 1; s.rows.removeAll(); s.trustedUntil = 0; s.ticks.removeAll() }
    }

    /// A tick about to be sent: its number.
    func tickSent() -> UInt64 {
        state.withLockedValue { s in
            s.nextTick &+= 1
            s.ticks[s.nextTick] = Self.now
            // Ticks lost with a connection are never heard: keep only the recent ones.
            if s.ticks.count > 64 { s.ticks = s.ticks.filter { $0.key + 32 > s.nextTick } }
            return s.nextTick
        }
    }

    /// A tick of this instance heard back: everything committed before it was sent has been heard.
    func tickHeard(_ number: UInt64) {
        let trust = Self.nanoseconds(self.trust)
        state.withLockedValue { s in
            guard let sent = s.ticks.removeValue(forKey: number) else { return }
            s.trustedUntil = max(s.trustedUntil, sent + trust)
        }
    }

    /// The last hourly "last used" write is remembered on the kept row.
    func used(tokenHash: String, at date: Date) {
        state.withLockedValue { s in s.rows[tokenHash]?.last_used_at = date }
    }

    /// Tests: the listener hears nothing, as an instance whose listener has stalled (or whose
    /// connection is cut off without its knowing). `hear()` starts it hearing again, with the
    /// cache forgotten, as after a new connection.
    func deafen() { state.withLockedValue { $0.deaf = true } }
    func hear() { state.withLockedValue { s in s.deaf = false; s.generation &+= 1; s.rows.removeAll(); s.trustedUntil = 0; s.ticks.removeAll() } }
    var isDeaf: Bool { state.withLockedValue { $0.deaf } }

    var isTrusted: Bool { state.withLockedValue { Self.now < $0.trustedUntil } }
    /// Requests signed in from the cache (for tests and the metrics page).
    var uses: Int { state.withLockedValue { $0.used } }

    /// How long a change that matters waits after its commit before it answers.
    var settle: Duration { trust + .milliseconds(100) }
}
