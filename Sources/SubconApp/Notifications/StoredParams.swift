import Foundation

/// A message's parameters as stored: a JSON object of strings that the app itself wrote
/// (`JSONEncoder` of `[String: String]`). The inbox reads one per row on every page, and
/// Foundation's decoder took 8% of its time; most stored objects have no escapes at all, so
/// those are read byte by byte here, and anything else goes to `JSONDecoder` as before.
enum StoredParams {
    static func decode(_ text: String) -> [String: String] {
        if let plain = plain(text) { return plain }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }

    /// The object if it is `{"key":"value",…}` with optional spaces and no backslash in any
    /// string; nil for anything else (the caller then decodes it in full).
    static func plain(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes -> [String: String]? in
            var i = 0
            func skipSpaces() {
                while i < bytes.count {
                    switch bytes[i] {
                    case 0x20, 0x0A, 0x0D, 0x09: i += 1
                    default: return
                    }
                }
            }
            func expect(_ byte: UInt8) -> Bool {
                skipSpaces()
                guard i < bytes.count, bytes[i] == byte else { return false }
                i += 1
                return true
            }
            func string() -> String? {
                guard expect(UInt8(ascii: "\"")) else { return nil }
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    // Escapes and raw control characters are left to the full decoder.
                    if bytes[i] == UInt8(ascii: "\\") || bytes[i] < 0x20 { return nil }
                    i += 1
                }
                guard i < bytes.count else { return nil }
                defer { i += 1 }
                return String(validating: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            }
            guard expect(UInt8(ascii: "{")) else { return nil }
            var result: [String: String] = [:]
            if !expect(UInt8(ascii: "}")) {
                repeat {
                    guard let key = string(), expect(UInt8(ascii: ":")), let value = string() else { return nil }
                    // Of two equal keys Foundation's decoder keeps the first.
                    if result[key] == nil { result[key] = value }
                } while expect(UInt8(ascii: ","))
                guard expect(UInt8(ascii: "}")) else { return nil }
            }
            skipSpaces()
            return i == bytes.count ? result : nil
        }
    }
}
