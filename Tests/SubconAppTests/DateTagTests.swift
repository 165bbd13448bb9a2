import Foundation
import LeafKit
@testable import SubconApp
import Testing

struct DateTagTests {
    static let patterns = ["yyyy-MM-dd HH:mm", "MM-dd HH:mm", "yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ssZ", "yyyy-MM-dd'T'HH:mm:ss",
                           "yy/M/d H:m:s", "HH'h'mm 'o''clock'", "dd.MM.yyyy", "''yyyy''"]
    static let zones = ["Asia/Shanghai", "America/New_York", "UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]

    @Test func writesWhatDateFormatterWrites() throws {
        var rng = SystemRandomNumberGenerator()
        // Whole milliseconds from 1900 to 2100, and the hours around New York's 2026 DST changes.
        var instants = (0..<1_500).map { _ in Double(Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &rng)) / 1000 }
        for start in [1_772_953_200.0, 1_793_512_800.0] { instants += stride(from: start - 7_200, through: start + 7_200, by: 899.5).map { $0 } }
        instants += [0, -1, -0.001, 86_399.999, 951_782_400 /* 2000-02-29 */, 4_107_542_400 /* 2100-03-01 */]
        for zone in Self.zones {
            let tz = try #require(TimeZone(identifier: zone))
            for format in Self.patterns {
                let f = DateFormatter()
                f.dateFormat = format
                f.timeZone = tz
                let pattern = DatePattern(format, zone: tz)
                #expect(pattern.parts != nil, "\(format) is written out, not formatted")
                for t in instants {
                    let d = Date(timeIntervalSince1970: t)
                    let expected = f.string(from: d), got = pattern.string(from: d)
                    #expect(got == expected, "\(format) \(zone) \(t)")
                    if got != expected { return }
                }
            }
        }
    }

    @Test func leavesOtherFieldsToAFormatter() {
        let tz = TimeZone(identifier: "Asia/Shanghai")!
        for format in ["EEE yyyy-MM-dd", "yyyy-MM-dd a", "MMMM d", "y"] {
            let pattern = DatePattern(format, zone: tz)
            #expect(pattern.parts == nil, "\(format)")
            let f = DateFormatter()
            f.dateFormat = format
            f.timeZone = tz
            let d = Date(timeIntervalSince1970: 1_780_000_000)
            #expect(pattern.string(from: d) == f.string(from: d))
        }
    }

    @Test func takesLeafKitsParameters() throws {
        let tag = DateTag()
        func render(_ parameters: [LeafData]) throws -> String { try tag.text(parameters) }
        let t = 1_780_000_000.0 // 2026-05-28 20:26:40 UTC
        #expect(try render([.double(t), .string("yyyy-MM-dd HH:mm"), .string("Asia/Shanghai")]) == "2026-05-29 04:26")
        #expect(try render([.double(t), .string("MM-dd HH:mm"), .string("UTC")]) == "05-28 20:26")
        #expect(throws: LeafError.self) { try render([]) }
        #expect(throws: LeafError.self) { try render([.string("not a date"), .string("yyyy")]) }
        #expect(throws: LeafError.self) { try render([.double(t), .string("yyyy"), .string("UTC"), .string("extra")]) }
        // Numbers no date has are refused, not trapped on.
        for huge in [1e300, -1e300, Double.infinity, Double.nan] { #expect(throws: LeafError.self) { try render([.double(huge), .string("yyyy")]) } }
    }
}
