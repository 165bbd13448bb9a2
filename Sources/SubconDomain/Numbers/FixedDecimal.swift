/// Exact decimal numbers for quantities, prices and money.
///
/// A value is an `Int64` count of 1/10_000 units (scale 4): enough for unit prices such as
/// 0.0125 per piece and for quantities in grams of kilograms, with room for totals up to
/// about 9.2 × 10^14. No floating point is ever involved: parsing reads the decimal text
/// digit by digit, and the only rounding happens in `rounded(toScale:)`, half away from zero.
public struct FixedDecimal: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let scale = 4
    public static let unit: Int64 = 10_000

    /// The raw value in 1/10_000 units.
    public let units: Int64

    public init(units: Int64) { self.units = units }
    public init(_ whole: Int) { self.units = Int64(whole) * Self.unit }

    public static let zero = FixedDecimal(units: 0)

    public enum ParseError: Error, Equatable, Sendable {
        case empty, invalidCharacter, tooManyDecimals, outOfRange
    }

    /// Parses "12", "-3.5", "0.0125". Refuses more than four decimals rather than rounding them away.
    public static func parse(_ text: String) throws(ParseError) -> FixedDecimal {
        var s = Substring(text.trimmingSpaces())
        guard !s.isEmpty else { throw .empty }
        var negative = false
        if s.first == "-" || s.first == "+" { negative = s.first == "-"; s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let wholeText = parts[0], fractionText = parts.count > 1 ? parts[1] : ""
        guard !(wholeText.isEmpty && fractionText.isEmpty) else { throw .empty }
        guard fractionText.count <= scale else { throw .tooManyDecimals }
        var value: Int64 = 0
        for ch in wholeText + fractionText.padding(toLength: scale) {
            guard let d = ch.wholeNumberValue, ch.isASCII else { throw .invalidCharacter }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { throw .outOfRange }
            value = a
        }
        return FixedDecimal(units: negative ? -value : value)
    }

    public var description: String { Self.text(units.magnitude, negative: units < 0, grouping: false) }

    public static func < (a: Self, b: Self) -> Bool { a.units < b.units }

    /// As tables show numbers: thousands separators, the decimals as they are
    /// (20000 → "20,000", -1234.5 → "-1,234.5").
    public var grouped: String { Self.text(units.magnitude, negative: units < 0, grouping: true) }

    /// Money as pages show it: ¥ in front, thousands separators, two decimals, rounded to the fen
    /// (1234.5 → "¥1,234.50", -0.004 → "¥0.00", -36.8 → "-¥36.80").
    public var yuan: String {
        let fen = rounded(toScale: 2)
        return Self.text(fen.units.magnitude, negative: fen.units < 0, grouping: true, fen: true)
    }

    /// The text of a value, written into one buffer from its last digit back. A statements page
    /// writes some 250 amounts: built from `String(Int)`, padding, `split` and `contains` (which
    /// Foundation answers through `NSString`), that was a fifth of the page's time.
    /// `fen` writes exactly two decimals (the value is already rounded to them); otherwise the
    /// decimals are written without their trailing zeros.
    private static func text(_ magnitude: UInt64, negative: Bool, grouping: Bool, fen: Bool = false) -> String {
        // 20 digits, 6 separators, the point and 4 decimals, "-" and "¥" (two bytes): 34 at most.
        String(unsafeUninitializedCapacity: 40) { buffer in
            var at = buffer.count
            func put(_ byte: UInt8) { at -= 1; buffer[at] = byte }
            var whole = magnitude / UInt64(unit), fraction = magnitude % UInt64(unit)
            var decimals = scale
            if fen {
                fraction /= 100
                decimals = 2
            } else {
                while decimals > 0, fraction % 10 == 0 { fraction /= 10; decimals -= 1 }
            }
            if decimals > 0 {
                for _ in 0..<decimals { put(0x30 + UInt8(fraction % 10)); fraction /= 10 }
                put(0x2E)
            }
            var written = 0
            repeat {
                if grouping, written > 0, written % 3 == 0 { put(0x2C) }
                put(0x30 + UInt8(whole % 10))
                whole /= 10
                written += 1
            } while whole > 0
            if fen { put(0xA5); put(0xC2) }
            if negative { put(0x2D) }
            let count = buffer.count - at
            if at > 0 {
                for i in 0..<count { buffer[i] = buffer[at + i] }
            }
            return count
        }
    }

    public enum ArithmeticError: Error, Equatable, Sendable { case overflow }

    public func adding(_ other: Self) throws(ArithmeticError) -> Self {
        let (r, o) = units.addingReportingOverflow(other.units)
        if o { throw .overflow }
        return Self(units: r)
    }

    public func subtracting(_ other: Self) throws(ArithmeticError) -> Self {
        let (r, o) = units.subtractingReportingOverflow(other.units)
        if o { throw .overflow }
        return Self(units: r)
    }

    /// Exact product, rounded once to scale 4 (half away from zero).
    public func multiplied(by other: Self) throws(ArithmeticError) -> Self {
        let (hi, lo) = units.multipliedFullWidth(by: other.units)
        // The 128-bit product divided by 10^4, rounded half away from zero.
        let wide = (Int128(hi) << 64) | Int128(lo)
        let q = Self.divideRounded(wide, by: Int128(Self.unit))
        guard q >= Int128(Int64.min), q <= Int128(Int64.max) else { throw .overflow }
        return Self(units: Int64(q))
    }

    /// The exact product rounded once, straight to `s` decimals (half away from zero): a money
    /// amount (quantity × unit price) to the fen without first rounding to four places.
    public func multiplied(by other: Self, roundedToScale s: Int) throws(ArithmeticError) -> Self {
        try product(other, over: 1, roundedToScale: s)
    }

    /// This × `p` percent, rounded once straight to `s` decimals (tax to the fen).
    public func percent(_ p: Self, roundedToScale s: Int) throws(ArithmeticError) -> Self {
        try product(p, over: 100, roundedToScale: s)
    }

    /// self × other ÷ `divisor`, from the exact 128-bit product, rounded once to `s` decimals.
    private func product(_ other: Self, over divisor: Int128, roundedToScale s: Int) throws(ArithmeticError) -> Self {
        precondition(s >= 0 && s <= Self.scale)
        let (hi, lo) = units.multipliedFullWidth(by: other.units)
        let wide = (Int128(hi) << 64) | Int128(lo)
        var step: Int128 = 1
        for _ in 0..<(Self.scale - s) { step *= 10 }
        let result = Self.divideRounded(wide, by: Int128(Self.unit) * divisor * step) * step
        guard result >= Int128(Int64.min), result <= Int128(Int64.max) else { throw .overflow }
        return Self(units: Int64(result))
    }

    /// This × `p` percent (2.5 means 2.5 %), rounded once to scale 4, half away from zero.
    public func percent(_ p: Self) throws(ArithmeticError) -> Self {
        let (hi, lo) = units.multipliedFullWidth(by: p.units)
        let wide = (Int128(hi) << 64) | Int128(lo)
        let q = Self.divideRounded(wide, by: Int128(Self.unit) * 100)
        guard q >= Int128(Int64.min), q <= Int128(Int64.max) else { throw .overflow }
        return Self(units: Int64(q))
    }

    /// Rounds to fewer decimals (e.g. 2 for money amounts), half away from zero.
    public func rounded(toScale s: Int) -> Self {
        precondition(s >= 0 && s <= Self.scale)
        var step: Int64 = 1
        for _ in 0..<(Self.scale - s) { step *= 10 }
        let q = Self.divideRounded(Int128(units), by: Int128(step))
        return Self(units: Int64(q) * step)
    }

    private static func divideRounded(_ n: Int128, by d: Int128) -> Int128 {
        let q = n / d, r = n % d
        if (r.magnitude * 2) >= d.magnitude { return n < 0 ? q - 1 : q + 1 }
        return q
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }

    fileprivate func padding(toLength n: Int) -> String {
        count >= n ? self : self + String(repeating: "0", count: n - count)
    }
}

extension Substring {
    fileprivate func padding(toLength n: Int) -> String { String(self).padding(toLength: n) }
}

/// In JSON a decimal travels as a string ("0.0125") so no parser turns it into a binary float;
/// whole numbers may also be plain JSON integers.
extension FixedDecimal: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            // An API body is read by programs: " 5" is a mistake to report, not to tidy up
            // (forms typed by people are still trimmed).
            if decoder.userInfo[.strictDecimalText] as? Bool == true, text != text.trimmingSpaces() {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "spaces around a decimal: \(text)")
            }
            do { self = try FixedDecimal.parse(text) } catch {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an exact decimal with at most 4 places: \(text)")
            }
        } else if let whole = try? c.decode(Int64.self), whole.magnitude <= UInt64(Int64.max / FixedDecimal.unit) {
            self = FixedDecimal(units: whole * FixedDecimal.unit)
        } else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath,
                                                                debugDescription: "decimals are sent as strings, e.g. \"2.5\""))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension CodingUserInfoKey {
    /// Set on API decoders: decimal strings must be exactly the number, without spaces.
    public static let strictDecimalText = CodingUserInfoKey(rawValue: "subcon.strictDecimalText")!
}
