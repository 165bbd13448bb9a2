extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal, as digests are shown and stored. A formatted string per byte was 2%
    /// of a signed-in list's time (its token's hash) and 3% of a progress report's, inside the
    /// write gate (the audit entry's hash).
    public var lowercaseHex: String {
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self { appendLowercaseHex(byte, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The byte's two lowercase hexadecimal digits.
func appendLowercaseHex(_ byte: UInt8, to out: inout [UInt8]) {
    let digits: StaticString = "0123456789abcdef"
    digits.withUTF8Buffer { out.append($0[Int(byte >> 4)]); out.append($0[Int(byte & 0x0F)]) }
}
