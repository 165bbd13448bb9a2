import Testing
@testable import SubconDomain

struct LoginThrottleTests {
    let throttle = LoginThrottle(window: .seconds(900), maxFailuresPerAccount: 5, maxFailuresPerAddress: 20)

    @Test func allowsUntilTheLimit() {
        #expect(throttle.decide(accountFailures: [100, 200, 300, 400], addressFailures: [], now: 500) == .allow)
    }

    @Test func refusesAtTheLimitUntilOldFailuresAgeOut() {
        let fails: [Int64] = [100, 200, 300, 400, 500]
        #expect(throttle.decide(accountFailures: fails, addressFailures: [], now: 600) == .refuse(retryAfterSeconds: 400))
        #expect(throttle.decide(accountFailures: fails, addressFailures: [], now: 1000) == .allow)
    }

    @Test func addressLimitCountsToo() {
        let fails = (0..<20).map { Int64($0) }
        #expect(throttle.decide(accountFailures: [], addressFailures: fails, now: 30) != .allow)
    }

    @Test func passwordRules() {
        #expect(throws: PasswordRules.Problem.tooShort) { try PasswordRules.check("short", login: "x") }
        #expect(throws: PasswordRules.Problem.sameAsLogin) { try PasswordRules.check("planner1", login: "Planner1") }
        #expect(throws: PasswordRules.Problem.tooCommon) { try PasswordRules.check("12345678", login: "x") }
        #expect(throws: PasswordRules.Problem.tooCommon) { try PasswordRules.check("Password1", login: "x") }
        #expect(throws: PasswordRules.Problem.tooCommon) { try PasswordRules.check("88888888", login: "x") }
        #expect(throws: Never.self) { try PasswordRules.check("苏州精工2026!", login: "x") }
    }
}
