import Foundation
import NIOConcurrencyHelpers

/// Where "now" comes from. Tests use `ManualClock` to move time instead of sleeping.
public protocol AppClock: Sendable {
    func now() -> Date
}

public struct SystemClock: AppClock {
    public init() {}
    public func now() -> Date { Date() }
}

public final class ManualClock: AppClock, Sendable {
    private let current: NIOLockedValueBox<Date>
    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) { current = .init(start) }
    public func now() -> Date { current.withLockedValue { $0 } }
    public func advance(by seconds: TimeInterval) { current.withLockedValue { $0 += seconds } }
}
