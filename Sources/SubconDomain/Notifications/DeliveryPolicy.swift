import Foundation

/// What one attempt to deliver a message came to.
public enum AttemptOutcome: String, Sendable, Equatable {
    case delivered
    /// Worth trying again: a timeout, a refused connection, 5xx, 429, a robot's rate limit.
    case retry
    /// Trying again will not help: the address or the secret is wrong (4xx, a robot's error).
    case failed
}

public enum DeliveryPolicy {
    /// Classifies an HTTP answer. Robots answer 200 with an error code in the body; their
    /// rate-limit codes (WeCom 45009, DingTalk 130101, Feishu 9499 and 11232) are retried.
    public static func outcome(kind: ChannelKind, status: Int?, body: [UInt8]) -> (AttemptOutcome, String?) {
        guard let status else { return (.retry, "noResponse") }
        if status == 429 || status == 408 || (500...599).contains(status) { return (.retry, "HTTP \(status)") }
        guard (200...299).contains(status) else { return (.failed, "HTTP \(status)") }
        guard kind.isRobot else { return (.delivered, nil) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return (.failed, "unreadable answer")
        }
        let code = (object["errcode"] ?? object["code"] ?? object["StatusCode"]) as? Int ?? 0
        if code == 0 { return (.delivered, nil) }
        let message = (object["errmsg"] ?? object["msg"] ?? object["StatusMessage"]) as? String ?? ""
        let limited: Set<Int> = [45009, 130101, 9499, 11232]
        return (limited.contains(code) ? .retry : .failed, "\(code) \(message)".trimmingCharacters(in: .whitespaces))
    }

    /// Exponential backoff with full jitter: attempt 1 waits up to `base`, then 2×, 4×… capped
    /// at `cap`, so a receiver that comes back is not hit by every sender at the same second.
    public static func delay(afterAttempt attempt: Int, base: TimeInterval = 10, cap: TimeInterval = 3600,
                             random: Double) -> TimeInterval {
        let ceiling = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        // Never less than a second, so a failing receiver is not hammered in a loop.
        return max(1, ceiling * min(1, max(0, random)))
    }

    /// A message that could not be delivered for this long is given up and shown to admins.
    public static func givesUp(firstTriedAt: Date, now: Date, after: TimeInterval) -> Bool {
        now.timeIntervalSince(firstTriedAt) >= after
    }
}

/// A person's daily digest: the day's notices grouped by event, newest first within a group.
public enum Digest {
    public struct Entry: Sendable, Equatable {
        public let eventName: String
        public let text: String
        public let link: String?
        public let at: Date
        public init(eventName: String, text: String, link: String?, at: Date) {
            self.eventName = eventName; self.text = text; self.link = link; self.at = at
        }
    }

    public struct Section: Sendable, Equatable {
        public let eventName: String
        public let entries: [Entry]
    }

    /// Largest groups first (what needs the most attention), then by name for a stable order.
    public static func sections(_ entries: [Entry]) -> [Section] {
        Dictionary(grouping: entries, by: \.eventName)
            .map { Section(eventName: $0.key, entries: $0.value.sorted { $0.at > $1.at }) }
            .sorted { ($0.entries.count, $1.eventName) > ($1.entries.count, $0.eventName) }
    }

    /// When the next digest is due: the next `hour` o'clock in the calendar's time zone after `last`.
    public static func isDue(now: Date, last: Date?, hour: Int, calendar: Calendar) -> Bool {
        guard let today = calendar.date(bySettingHour: hour, minute: 0, second: 0, of: now) else { return false }
        guard now >= today else { return false }
        return (last ?? .distantPast) < today
    }
}
