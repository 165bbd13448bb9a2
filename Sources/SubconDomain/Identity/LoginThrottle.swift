/// Slows down password guessing: too many recent failures for one account, or from one
/// network address, and further attempts are refused until the window has passed.
public struct LoginThrottle: Sendable, Equatable {
    public var window: Duration
    public var maxFailuresPerAccount: Int
    public var maxFailuresPerAddress: Int

    public init(window: Duration = .seconds(15 * 60), maxFailuresPerAccount: Int = 5, maxFailuresPerAddress: Int = 20) {
        self.window = window
        self.maxFailuresPerAccount = maxFailuresPerAccount
        self.maxFailuresPerAddress = maxFailuresPerAddress
    }

    public enum Decision: Equatable, Sendable {
        case allow
        /// Refused; the caller may try again after this many seconds.
        case refuse(retryAfterSeconds: Int)
    }

    /// - Parameters: failure times (seconds since some epoch) within or before the window, and `now`.
    public func decide(accountFailures: [Int64], addressFailures: [Int64], now: Int64) -> Decision {
        let windowSeconds = window.components.seconds
        func check(_ times: [Int64], limit: Int) -> Int? {
            let recent = times.filter { now - $0 < windowSeconds }.sorted()
            guard recent.count >= limit else { return nil }
            // Allowed again once enough of the recent failures have aged out of the window.
            let unlocking = recent[recent.count - limit]
            return Int(max(1, unlocking + windowSeconds - now))
        }
        let waits = [check(accountFailures, limit: maxFailuresPerAccount), check(addressFailures, limit: maxFailuresPerAddress)].compactMap { $0 }
        if let wait = waits.max() { return .refuse(retryAfterSeconds: wait) }
        return .allow
    }
}

public enum PasswordRules {
    public static let minimumLength = 8
    public static let maximumLength = 128

    public enum Problem: Error, Equatable, Sendable { case tooShort, tooLong, sameAsLogin, tooCommon }

    /// The passwords tried first by anyone guessing (the top of published leak lists, the
    /// Chinese favourites among them); length alone does not keep them out.
    static let common: Set<String> = [
        "12345678", "123456789", "1234567890", "87654321", "11223344", "123123123", "147258369", "12344321",
        "password", "password1", "passw0rd", "qwertyui", "qwerty123", "1qaz2wsx", "1q2w3e4r", "abc12345",
        "abcd1234", "a1234567", "admin123", "iloveyou", "woaini1314", "5201314520", "zxcvbnm123", "aa123456",
    ]

    public static func check(_ password: String, login: String) throws(Problem) {
        if password.count < minimumLength { throw .tooShort }
        if password.count > maximumLength { throw .tooLong }
        if password.lowercased() == login.lowercased() { throw .sameAsLogin }
        // One character repeated ("88888888") is as guessable as anything on the list.
        if common.contains(password.lowercased()) || Set(password).count == 1 { throw .tooCommon }
    }
}
