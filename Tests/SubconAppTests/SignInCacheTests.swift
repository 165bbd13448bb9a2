import Foundation
import Testing
@testable import SubconApp

/// The rules `SignInCache` keeps rows by: used only while a tick heard back vouches for it,
/// forgotten on any change heard, and never kept from a read a change overtook.
@Suite struct SignInCacheTests {
    static func row(_ login: String = "supplier1") -> PrincipalLoader.SignInRow {
        PrincipalLoader.SignInRow(id: UUID(), expires_at: nil, revoked_at: nil, last_used_at: nil, csrf_token: nil, user_id: UUID(), login: login,
                                  display_name: login, roles: "supplier_user", locale: "zh-Hans", organization_id: UUID(),
                                  organization_kind: "supplier", organization_name: "SUP")
    }

    @Test func nothingIsKeptOrServedUntilATickIsHeardBack() {
        let cache = SignInCache(trust: .seconds(60))
        cache.keep(Self.row(), tokenHash: "h", readAt: cache.generation)
        #expect(cache.row(tokenHash: "h") == nil && !cache.isTrusted)
        // A tick sent but not heard back vouches for nothing; another instance's number neither.
        let n = cache.tickSent()
        cache.tickHeard(n + 1)
        #expect(!cache.isTrusted)
        cache.tickHeard(n)
        #expect(cache.isTrusted)
        cache.keep(Self.row(), tokenHash: "h", readAt: cache.generation)
        #expect(cache.row(tokenHash: "h")?.login == "supplier1" && cache.uses == 1)
    }

    @Test func aChangeHeardForgetsEverythingAndOvertakesAReadUnderWay() {
        let cache = SignInCache(trust: .seconds(60))
        cache.tickHeard(cache.tickSent())
        cache.keep(Self.row(), tokenHash: "h", readAt: cache.generation)
        let readBegan = cache.generation
        cache.forgetAll()
        #expect(cache.row(tokenHash: "h") == nil)
        // The row read before the change was heard is not kept; one read after it is.
        cache.keep(Self.row(), tokenHash: "h", readAt: readBegan)
        #expect(cache.row(tokenHash: "h") == nil)
        cache.keep(Self.row(), tokenHash: "h", readAt: cache.generation)
        #expect(cache.row(tokenHash: "h") != nil)
    }

    @Test func lostContactEndsTheTrustAndTheTrustEndsByItself() async throws {
        let cache = SignInCache(trust: .seconds(60))
        cache.tickHeard(cache.tickSent())
        cache.keep(Self.row(), tokenHash: "h", readAt: cache.generation)
        cache.lostContact()
        #expect(!cache.isTrusted && cache.row(tokenHash: "h") == nil)
        // A tick sent before contact was lost is not heard afterwards.
        let old = cache.tickSent()
        cache.lostContact()
        cache.tickHeard(old)
        #expect(!cache.isTrusted)

        // Unheard from, a cache stops being used when its trust runs out (a short one here).
        let brief = SignInCache(trust: .milliseconds(1))
        brief.tickHeard(brief.tickSent())
        brief.keep(Self.row(), tokenHash: "h", readAt: brief.generation)
        try await Task.sleep(for: .milliseconds(20))
        #expect(brief.row(tokenHash: "h") == nil && !brief.isTrusted)
    }

    @Test func aFullCacheStartsOverAndTheHourlyUseIsRemembered() {
        let cache = SignInCache(trust: .seconds(60), capacity: 2)
        cache.tickHeard(cache.tickSent())
        for h in ["a", "b", "c"] { cache.keep(Self.row(), tokenHash: h, readAt: cache.generation) }
        #expect(cache.row(tokenHash: "a") == nil && cache.row(tokenHash: "c") != nil)
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        cache.used(tokenHash: "c", at: at)
        #expect(cache.row(tokenHash: "c")?.last_used_at == at)
    }
}
