import Foundation
import SubconDomain
import Testing
@testable import SubconApp

/// The API's encoder (`StreamingJSONEncoder`) writes what Foundation's encoder, set up as Vapor
/// sets it up, writes — compared after parsing both, since Foundation's key order changes from
/// process to process — for the shapes our answers have and the ones they might.
@Suite struct StreamingJSONTests {
    static let foundation: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    /// Both encoders' output, parsed; fails when they differ.
    static func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = try StreamingJSONEncoder.encode(value)
        let theirs = try foundation.encode(value)
        // Parsed and written again with sorted keys: the same text when the same JSON value.
        func canonical(_ data: Data) throws -> String {
            let parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return String(decoding: try JSONSerialization.data(withJSONObject: parsed, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
        }
        #expect(try canonical(Data(ours)) == canonical(theirs), "\(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: theirs, as: UTF8.self))",
                sourceLocation: sourceLocation)
    }

    struct Row: Encodable {
        let id: UUID; let code: String; let count: Int; let big: Int64; let unsigned: UInt64; let small: Int8
        let ratio: Double; let share: Float; let flag: Bool; let at: Date; let due: Date?; let note: String?
        let amount: FixedDecimal; let day: Day; let tags: [String]; let counts: [String: Int]; let nested: [[Int]]
    }

    enum Shape: Encodable { case none, point(x: Int, y: Int), named(String) }
    enum Kind: String, Encodable { case a = "alpha", b = "beta" }

    class Base: Encodable {
        var base = 1
        enum K: String, CodingKey { case base }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(base, forKey: .base)
        }
    }
    /// A subclass sharing its superclass's object, and one writing it under "super".
    final class Shared: Base {
        var more = "x"
        enum L: String, CodingKey { case more }
        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)
            var c = encoder.container(keyedBy: L.self)
            try c.encode(more, forKey: .more)
        }
    }
    final class Nested: Base {
        enum L: String, CodingKey { case own }
        override func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: L.self)
            try super.encode(to: c.superEncoder())
            try c.encode("own", forKey: .own)
        }
    }
    struct Empty: Encodable {}
    struct WithNulls: Encodable {
        enum K: String, CodingKey { case a, b, list }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encodeNil(forKey: .a)
            var inner = c.nestedContainer(keyedBy: K.self, forKey: .b)
            try inner.encode(Optional<Int>.none, forKey: .a)
            var list = c.nestedUnkeyedContainer(forKey: .list)
            try list.encodeNil()
            try list.encode(2)
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encode("d")
            try list.encode(3)
        }
    }

    @Test func rowsOfEveryFieldKindAreWhatFoundationWrites() throws {
        var rng = SystemRandomNumberGenerator()
        let texts = ["", "plain", "引号\"和\\反斜杠", "a/b", "tab\tnew\nline\r", "\u{1}\u{1f}\u{7f}", "emoji 🏭", "控制器散热器组件"]
        var rows: [Row] = []
        for i in 0..<300 {
            let seconds = Double(Int64.random(in: -62_135_596_800 ..< 253_402_300_800, using: &rng)) + Double.random(in: 0..<1, using: &rng)
            rows.append(Row(id: UUID(), code: texts[i % texts.count], count: Int.random(in: Int.min...Int.max, using: &rng),
                            big: i == 0 ? Int64.min : i == 1 ? Int64.max : Int64.random(in: -1_000...1_000, using: &rng),
                            unsigned: i == 0 ? UInt64.max : UInt64(i), small: Int8(truncatingIfNeeded: i),
                            ratio: [0, -0.0, 1, 0.1, 1e20, 1e-7, 123456789.125, -2.5, Double.random(in: -1e6...1e6, using: &rng)][i % 9],
                            share: [0, 1.5, 0.1, 3e10][i % 4], flag: i % 2 == 0, at: Date(timeIntervalSince1970: seconds),
                            due: i % 3 == 0 ? nil : Date(timeIntervalSince1970: Double(i) * 86_399.5),
                            note: i % 2 == 0 ? nil : texts[(i + 3) % texts.count],
                            amount: FixedDecimal(units: Int64(i) * 1_234_567 - 50_000_000), day: Day(year: 2026, month: 1 + i % 12, day: 1 + i % 28)!,
                            tags: Array(texts.prefix(i % 4)), counts: ["a": i, "b": -i, "/c": 0], nested: [[], [i], [1, 2, 3]]))
        }
        try Self.expectSame(rows)
        for row in rows { try Self.expectSame(row) }
    }

    @Test func enumsClassesNullsAndOddShapesAreWhatFoundationWrites() throws {
        try Self.expectSame([Shape.none, .point(x: 1, y: -2), .named("n")])
        try Self.expectSame([Kind.a, .b])
        try Self.expectSame(Shared())
        try Self.expectSame(Nested())
        try Self.expectSame(Empty())
        try Self.expectSame([Empty(), Empty()])
        try Self.expectSame(WithNulls())
        try Self.expectSame([UUID(): "keys that are not strings make an array"])
        try Self.expectSame(["nil": Optional<Int>.none, "one": 1])
        try Self.expectSame(Decimal(string: "12345.678")!)
        try Self.expectSame(Data([0, 1, 2, 250, 251, 255]))
        try Self.expectSame(URL(string: "https://example.com/a?b=c")!)
        try Self.expectSame("top-level string")
        try Self.expectSame(42)
        try Self.expectSame(Page(items: [1, 2], page: 1, per: 50, total: 2))
    }

    @Test func keysStayInTheOrderTheyWereEncodedAndSlashesAreNotEscaped() throws {
        struct Ordered: Encodable { let z = 1; let a = "x/y"; let m: Int? = nil; let b = [true, false] }
        #expect(String(decoding: try StreamingJSONEncoder.encode(Ordered()), as: UTF8.self) == #"{"z":1,"a":"x/y","b":[true,false]}"#)
        #expect(String(decoding: try StreamingJSONEncoder.encode(Date(timeIntervalSince1970: -0.5)), as: UTF8.self) == #""1969-12-31T23:59:59Z""#)
        #expect(String(decoding: try StreamingJSONEncoder.encode("\u{1f}"), as: UTF8.self) == #""\u001f""#)
    }

    @Test func datesAreWhatFoundationsFormatterWrites() throws {
        var rng = SystemRandomNumberGenerator()
        /// What Foundation's encoder writes for the date alone.
        func foundation(_ date: Date) throws -> String { String(decoding: try Self.foundation.encode(date), as: UTF8.self) }
        let fractions: [Double] = [0.9994, 0.9995, 0.9996, 0.99976, 0.0004, 0.0005, 0.0006]
        let wholes: [Double] = [1_000, -1_000, 37_277_431_079, -2_000_000_000, 1_796_415_103]
        let edges: [Double] = fractions.flatMap { f in wholes.map { $0 + f } }
        for seconds in edges {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(String(decoding: try StreamingJSONEncoder.encode(date), as: UTF8.self) == (try foundation(date)), "\(seconds)")
        }
        for i in 0..<3_000 {
            // Years 1 to 9999, then 1900 to 2199, then around 1970.
            let seconds = i < 1_000
                ? Double(Int64.random(in: -62_135_596_800 ..< 253_402_300_800, using: &rng)) + Double.random(in: 0..<1, using: &rng)
                : i < 2_000 ? Double(Int64.random(in: -2_208_988_800 ..< 7_258_118_400, using: &rng)) + Double.random(in: 0..<1, using: &rng)
                : Double(i - 2_500) + [0, 0.25, 0.5, 0.999][i % 4]
            let date = Date(timeIntervalSince1970: seconds)
            #expect(String(decoding: try StreamingJSONEncoder.encode(date), as: UTF8.self) == (try foundation(date)), "\(seconds)")
        }
    }

    @Test func infinitiesAndNaNAreRefusedAsFoundationRefusesThem() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode(["x": value]) }
            #expect(throws: EncodingError.self) { try Self.foundation.encode(["x": value]) }
        }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode([Float.nan]) }
    }

    /// A container written to after a later one was opened cannot be written in order: refused,
    /// not written into the wrong place.
    @Test func writingToAnEarlierContainerAfterALaterOneIsRefused() {
        /// Opens `a`, then `b` after it, then writes to `a` again: directly, or (`nested`) through
        /// a container opened from it, which cannot be opened and so is written nowhere.
        struct OutOfOrder: Encodable {
            let nested: Bool
            enum K: String, CodingKey { case a, b }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: K.self)
                var first = c.nestedUnkeyedContainer(forKey: .a)
                _ = c.nestedUnkeyedContainer(forKey: .b)
                if nested {
                    var inner = first.nestedUnkeyedContainer()
                    try inner.encode(1)
                } else {
                    try first.encode(1)
                }
            }
        }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode(OutOfOrder(nested: false)) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder.encode(OutOfOrder(nested: true)) }
    }
}
