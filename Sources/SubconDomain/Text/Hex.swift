extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal, as digests are shown and stored. A formatted string per byte was 2%
    /// of a signed-in list's time (its token's hash) and 3% of a progress report's, inside the
    /// write gate (the audit entry's hash).
    public var lowercaseHex: String {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        digits.withUTF8Buffer { digits in
            for byte in self {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
