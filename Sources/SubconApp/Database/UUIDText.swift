import Foundation

/// UUIDs to and from their 36-character text without Foundation's C calls: on Linux
/// `UUID(uuidString:)` parses with `sscanf` and `uuidString` prints with `sprintf`, which a
/// profile of a 50-row list put at a twentieth of the server's time (every id of every row, in
/// and out). The text is the one SQLite stores and the API shows (upper-case hex); anything this
/// does not recognise is left to Foundation.
enum UUIDText {
    private static let digits = Array("0123456789ABCDEF".utf8)

    static func parse(_ text: String) -> UUID? {
        var text = text
        return text.withUTF8 { s -> UUID? in
            guard s.count == 36, s[8] == 0x2D, s[13] == 0x2D, s[18] == 0x2D, s[23] == 0x2D else { return nil }
            var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let ok = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
                var i = 0
                for n in 0..<16 {
                    if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                    guard let high = nibble(s[i]), let low = nibble(s[i + 1]) else { return false }
                    out[n] = high << 4 | low
                    i += 2
                }
                return true
            }
            return ok ? UUID(uuid: bytes) : nil
        }
    }

    static func text(_ id: UUID) -> String {
        withUnsafeBytes(of: id.uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                var i = 0
                for n in 0..<16 {
                    if n == 4 || n == 6 || n == 8 || n == 10 { out[i] = 0x2D; i += 1 }
                    out[i] = digits[Int(bytes[n] >> 4)]; out[i + 1] = digits[Int(bytes[n] & 0x0F)]
                    i += 2
                }
                return 36
            }
        }
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
