import Testing
@testable import SubconDomain

struct FixedDecimalTests {
    @Test func parsesAndPrintsExactly() throws {
        #expect(try FixedDecimal.parse("12").units == 120_000)
        #expect(try FixedDecimal.parse("-3.5").units == -35_000)
        #expect(try FixedDecimal.parse("0.0125").description == "0.0125")
        #expect(try FixedDecimal.parse(" 7.10 ").description == "7.1")
        #expect(try FixedDecimal.parse(".5").description == "0.5")
    }

    @Test func refusesWhatItCannotHoldExactly() {
        #expect(throws: FixedDecimal.ParseError.tooManyDecimals) { try FixedDecimal.parse("1.23456") }
        #expect(throws: FixedDecimal.ParseError.invalidCharacter) { try FixedDecimal.parse("1e5") }
        #expect(throws: FixedDecimal.ParseError.empty) { try FixedDecimal.parse("") }
        #expect(throws: FixedDecimal.ParseError.outOfRange) { try FixedDecimal.parse("99999999999999999999") }
    }

    @Test func multipliesWithOneRounding() throws {
        // 0.1 + 0.2 is exactly 0.3 here, unlike with Double.
        let sum = try FixedDecimal.parse("0.1").adding(FixedDecimal.parse("0.2"))
        #expect(sum == (try FixedDecimal.parse("0.3")))
        // 3 × 0.0125 = 0.0375 exactly; 0.3333 × 0.5 = 0.16665 → 0.1667 (half away from zero).
        #expect(try FixedDecimal(3).multiplied(by: .parse("0.0125")).description == "0.0375")
        #expect(try FixedDecimal.parse("0.3333").multiplied(by: .parse("0.5")).description == "0.1667")
        #expect(try FixedDecimal.parse("-0.3333").multiplied(by: .parse("0.5")).description == "-0.1667")
        #expect(throws: FixedDecimal.ArithmeticError.overflow) {
            try FixedDecimal.parse("900000000000000").multiplied(by: FixedDecimal(100))
        }
    }

    @Test func roundsMoneyToCents() throws {
        #expect(try FixedDecimal.parse("2.345").rounded(toScale: 2).description == "2.35")
        #expect(try FixedDecimal.parse("-2.345").rounded(toScale: 2).description == "-2.35")
        #expect(try FixedDecimal.parse("2.3449").rounded(toScale: 2).description == "2.34")
    }
}

@Suite struct FixedDecimalDisplayTests {
    @Test func thousandsSeparatorsAndYuan() throws {
        func d(_ s: String) throws -> FixedDecimal { try FixedDecimal.parse(s) }
        #expect(try d("0").grouped == "0")
        #expect(try d("999").grouped == "999")
        #expect(try d("1000").grouped == "1,000")
        #expect(try d("20000").grouped == "20,000")
        #expect(try d("1234567.125").grouped == "1,234,567.125")
        #expect(try d("-1234.5").grouped == "-1,234.5")
        #expect(try d("1234.5").yuan == "¥1,234.50")
        #expect(try d("1510.19").yuan == "¥1,510.19")
        #expect(try d("12").yuan == "¥12.00")
        #expect(try d("-36.8").yuan == "-¥36.80")
        #expect(try d("-0.004").yuan == "¥0.00")
        #expect(try d("0.005").yuan == "¥0.01")
    }
}

@Suite struct FixedDecimalTextTests {
    /// The texts as they were first written (from `String(Int)`, padding and splitting), kept
    /// here as the reference the one-buffer writer must equal.
    enum Reference {
        static func description(_ units: Int64) -> String {
            let magnitude = units.magnitude
            let whole = magnitude / 10_000, frac = magnitude % 10_000
            var text = String(whole)
            if frac != 0 {
                var f = String(frac)
                f = String(repeating: "0", count: 4 - f.count) + f
                while f.hasSuffix("0") { f.removeLast() }
                text += "." + f
            }
            return units < 0 ? "-" + text : text
        }

        static func group(_ plain: String) -> String {
            var s = Substring(plain)
            let sign = s.first == "-" ? "-" : ""
            if !sign.isEmpty { s = s.dropFirst() }
            let parts = s.split(separator: ".", maxSplits: 1)
            let whole = Array(parts[0])
            var out = ""
            for (i, ch) in whole.enumerated() {
                if i > 0 && (whole.count - i) % 3 == 0 { out += "," }
                out.append(ch)
            }
            return sign + out + (parts.count > 1 ? "." + parts[1] : "")
        }

        static func yuan(_ value: FixedDecimal) -> String {
            let fen = value.rounded(toScale: 2)
            let magnitude = fen.units.magnitude > UInt64(Int64.max) ? Int64.max : Int64(fen.units.magnitude)
            var text = group(description(magnitude))
            if text.firstIndex(of: ".") == nil { text += ".00" } else if text.split(separator: ".")[1].count == 1 { text += "0" }
            return (fen.units < 0 ? "-¥" : "¥") + text
        }
    }

    @Test func everyTextEqualsTheReferenceAndParsesBack() throws {
        var values: [Int64] = [0, 1, -1, 9, 10, 99, 100, 9_999, 10_000, 10_001, -10_000, Int64.max, Int64.min + 1, Int64.min]
        var p: Int64 = 1
        for _ in 0..<18 {
            p *= 10
            values += [p - 1, p, p + 1, -(p - 1), -p, -(p + 1), p / 2, p + p / 3]
        }
        var rng = SystemRandomNumberGenerator()
        for digits in 1...18 {
            let bound = (0..<digits).reduce(Int64(1)) { a, _ in a * 10 }
            for _ in 0..<500 { values.append(Int64.random(in: -bound...bound, using: &rng)) }
        }
        for units in values {
            let v = FixedDecimal(units: units)
            #expect(v.description == Reference.description(units), "\(units)")
            #expect(v.grouped == Reference.group(Reference.description(units)), "\(units)")
            if units > Int64.min + 100 { #expect(v.yuan == Reference.yuan(v), "\(units)") }
            if units != Int64.min { #expect(try FixedDecimal.parse(v.description) == v, "\(units)") }
        }
    }
}
