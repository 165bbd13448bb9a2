import Foundation
import LeafKit
import NIOConcurrencyHelpers
import SubconDomain

/// `#date(t, "yyyy-MM-dd HH:mm", zone)`: the parameters of LeafKit's own `#date`, which built a
/// new `DateFormatter` (an ICU formatter, its locale and its symbols) for every date it showed:
/// half the server's time on a list page of 50 exceptions (83 pages a second). Patterns made of
/// the fields the pages use (y, M, d, H, m, s, Z and quoted text) are written out from the
/// zone's offset at that instant; any other pattern goes to a formatter made once per pattern
/// and zone.
struct DateTag: LeafTag {
    private let cache = NIOLockedValueBox<[String: DatePattern]>([:])
    private let zones = NIOLockedValueBox<[String: TimeZone]>([:])

    func render(_ ctx: LeafContext) throws -> LeafData { .string(try text(ctx.parameters)) }

    func text(_ p: [LeafData]) throws -> String {
        guard (1...3).contains(p.count) else { throw LeafError(.unknownError("invalid parameters provided for date")) }
        guard p.count < 2 || p[1].string != nil else { throw LeafError(.unknownError("#date(): Unable to convert date format to string")) }
        guard p.count < 3 || p[2].string != nil else { throw LeafError(.unknownError("#date(): Unable to convert time zone to string")) }
        // A number no date has (beyond ±30 million years, or not finite) would trap on the
        // way to whole seconds; it is refused like any other parameter that is not a date.
        guard let seconds = p[0].double, seconds.isFinite, abs(seconds) < 1e15 else {
            throw LeafError(.unknownError("#date(): Unable to convert parameter to double for date"))
        }
        let format = p.count >= 2 ? p[1].string! : "yyyy-MM-dd'T'HH:mm:ss"
        let zone = p.count == 3 ? zone(p[2].string!) : TimeZone.current
        return pattern(format, zone).string(from: Date(timeIntervalSince1970: seconds))
    }

    private func zone(_ identifier: String) -> TimeZone {
        if let z = zones.withLockedValue({ $0[identifier] }) { return z }
        // DateFormatter falls back to the process's zone for an unknown identifier, and so do we.
        let z = TimeZone(identifier: identifier) ?? TimeZone.current
        zones.withLockedValue { if $0.count < 64 { $0[identifier] = z } }
        return z
    }

    private func pattern(_ format: String, _ zone: TimeZone) -> DatePattern {
        let key = zone.identifier + "\u{0}" + format
        if let p = cache.withLockedValue({ $0[key] }) { return p }
        let p = DatePattern(format, zone: zone)
        // Patterns come from the templates; the bound only guards against one built from data.
        cache.withLockedValue { if $0.count < 256 { $0[key] = p } }
        return p
    }
}

/// A date pattern read once: its fields in order, or the formatter that writes it.
struct DatePattern: @unchecked Sendable {
    enum Part: Equatable { case text(String), year(Int), month(Int), day(Int), hour(Int), minute(Int), second(Int), zone }
    let parts: [Part]?
    let zone: TimeZone
    /// Only for patterns with fields not written out here; DateFormatter locks its own state.
    let formatter: DateFormatter?

    init(_ format: String, zone: TimeZone) {
        self.zone = zone
        parts = Self.parse(format)
        if parts == nil {
            let f = DateFormatter()
            f.dateFormat = format
            f.timeZone = zone
            formatter = f
        } else {
            formatter = nil
        }
    }

    func string(from date: Date) -> String {
        guard let parts else { return formatter!.string(from: date) }
        let offset = zone.secondsFromGMT(for: date)
        // Whole seconds toward minus infinity, as the formatter truncates them.
        let local = Int64((date.timeIntervalSince1970).rounded(.down)) + Int64(offset)
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secondOfDay = Int(local - days * 86_400)
        let (y, m, d) = Day.civil(ordinal: Int(days))
        var out = ""
        for part in parts {
            switch part {
            case .text(let t): out += t
            case .year(let n): out += n == 2 ? Self.padded(y % 100, 2) : Self.padded(y, n)
            case .month(let n): out += Self.padded(m, n)
            case .day(let n): out += Self.padded(d, n)
            case .hour(let n): out += Self.padded(secondOfDay / 3600, n)
            case .minute(let n): out += Self.padded(secondOfDay / 60 % 60, n)
            case .second(let n): out += Self.padded(secondOfDay % 60, n)
            case .zone:
                // Local mean time before 1901 has offsets in seconds, which ICU writes too.
                let a = abs(offset)
                out += (offset < 0 ? "-" : "+") + Self.padded(a / 3600, 2) + Self.padded(a / 60 % 60, 2) + (a % 60 == 0 ? "" : Self.padded(a % 60, 2))
            }
        }
        return out
    }

    /// The fields of a pattern, or nil when it has one this type does not write (the formatter does).
    static func parse(_ format: String) -> [Part]? {
        var parts: [Part] = []
        var chars = Array(format)[...]
        while let c = chars.first {
            if c == "'" {
                chars = chars.dropFirst()
                var text = ""
                while let q = chars.first {
                    chars = chars.dropFirst()
                    if q == "'" {
                        if chars.first == "'" { text.append("'"); chars = chars.dropFirst() } else { break }
                    } else { text.append(q) }
                }
                parts.append(.text(text.isEmpty ? "'" : text))
                continue
            }
            let run = chars.prefix { $0 == c }.count
            chars = chars.dropFirst(run)
            switch c {
            case "y" where run == 2 || run == 4: parts.append(.year(run))
            case "M" where run <= 2: parts.append(.month(run))
            case "d" where run <= 2: parts.append(.day(run))
            case "H" where run <= 2: parts.append(.hour(run))
            case "m" where run <= 2: parts.append(.minute(run))
            case "s" where run <= 2: parts.append(.second(run))
            case "Z" where run <= 3: parts.append(.zone)
            case _ where c.isLetter: return nil
            default: parts.append(.text(String(repeating: c, count: run)))
            }
        }
        return parts
    }

    private static func padded(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
