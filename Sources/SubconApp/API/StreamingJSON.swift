import Foundation
import NIOCore
import NIOHTTP1
import SubconDomain
import Vapor

/// The API's JSON encoder: writes a value out as it encodes itself, field by field.
///
/// Foundation's encoder first builds the whole value as a tree of dictionaries, then writes the
/// tree out. For a list of 50 orders that was a fifth of the server's time, most of it hashing
/// every key of every row into those dictionaries. A synthesized `encode(to:)` writes each field
/// once and in order, so the text can be written as it comes.
///
/// What it writes parses to what Foundation's encoder writes as Vapor sets it up (dates in ISO
/// 8601 to the second, data in base64, NaN and infinities refused). Two things differ in the
/// text only: keys stay in the order they were encoded (Foundation's order changes from process
/// to process), and "/" is not escaped.
struct StreamingJSONEncoder: ContentEncoder {
    func encode<E: Encodable>(_ encodable: E, to body: inout ByteBuffer, headers: inout HTTPHeaders) throws {
        headers.contentType = .json
        body.writeBytes(try Self.encode(encodable))
    }

    func encode<E: Encodable>(_ encodable: E, to body: inout ByteBuffer, headers: inout HTTPHeaders,
                              userInfo: [CodingUserInfoKey: any Sendable]) throws {
        try encode(encodable, to: &body, headers: &headers)
    }

    static func encode<E: Encodable>(_ value: E) throws -> [UInt8] {
        let writer = JSONStreamWriter()
        try writer.write(value)
        return writer.bytes
    }
}

/// Writes JSON in the order an `Encodable` asks for its containers and values.
///
/// Containers are written as they are opened and closed when the value that opened them has
/// been encoded, or when their parent writes its next element. A container written to after a
/// later one of its parent's was opened cannot be written any more in order; that is refused
/// (no synthesized encoding does it).
final class JSONStreamWriter: Encoder {
    // One writer is used by one encoding on one thread. Without `unchecked`, every touch of these
    // fields went through Swift's run-time exclusivity checks: a tenth of an order list's time.
    @exclusivity(unchecked) fileprivate(set) var bytes: [UInt8] = []
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    private struct Frame {
        let object: Bool
        let serial: Int
        var count = 0
        /// Values given to `superEncoder`, written out under their keys before the next element.
        var deferred: [(key: String?, writer: JSONStreamWriter)] = []
    }

    /// The open containers, innermost last.
    @exclusivity(unchecked) private var open: [Frame] = []
    @exclusivity(unchecked) private var serials = 0
    /// The depth at which the value being encoded now opens its container.
    @exclusivity(unchecked) private var base = 0

    /// Whether values that write their own JSON (`DirectJSON`) do so; off, they go through their
    /// `encode(to:)` like any other (for the test that compares the two).
    private let direct: Bool

    init(direct: Bool = true) {
        self.direct = direct
        bytes.reserveCapacity(1024)
    }

    /// Writes one value, closing whatever it opened.
    func write<T: Encodable>(_ value: T) throws {
        if try primitive(value) { return }
        if direct, let own = value as? any DirectJSON {
            var fields = JSONFields(writer: self)
            bytes.append(UInt8(ascii: "{"))
            try own.writeJSON(&fields)
            bytes.append(UInt8(ascii: "}"))
            return
        }
        let saved = base
        base = open.count
        defer { base = saved }
        let start = bytes.count
        try value.encode(to: self)
        if bytes.count == start { bytes.append(contentsOf: "{}".utf8) }
        try close(to: base)
    }

    /// The types Foundation's encoder writes by a rule of its own, and the common ones, without
    /// the value's `encode(to:)`. Metatype comparisons, not dynamic casts.
    private func primitive<T: Encodable>(_ value: T) throws -> Bool {
        if T.self == String.self { string(unsafeBitCast(value, to: String.self)); return true }
        if T.self == Int.self { number(unsafeBitCast(value, to: Int.self)); return true }
        if T.self == Bool.self { bytes.append(contentsOf: (unsafeBitCast(value, to: Bool.self) ? "true" : "false").utf8); return true }
        if T.self == UUID.self { uuid(unsafeBitCast(value, to: UUID.self)); return true }
        if T.self == Date.self { date(unsafeBitCast(value, to: Date.self)); return true }
        if T.self == FixedDecimal.self { string(unsafeBitCast(value, to: FixedDecimal.self).description); return true }
        if T.self == Day.self { string(unsafeBitCast(value, to: Day.self).description); return true }
        if T.self == Int64.self { number(unsafeBitCast(value, to: Int64.self)); return true }
        if T.self == Double.self { try double(unsafeBitCast(value, to: Double.self)); return true }
        if T.self == Float.self { try float(unsafeBitCast(value, to: Float.self)); return true }
        if T.self == Decimal.self { bytes.append(contentsOf: unsafeBitCast(value, to: Decimal.self).description.utf8); return true }
        if T.self == URL.self { string(unsafeBitCast(value, to: URL.self).absoluteString); return true }
        if T.self == Data.self { string(unsafeBitCast(value, to: Data.self).base64EncodedString()); return true }
        if T.self == Int32.self { number(unsafeBitCast(value, to: Int32.self)); return true }
        if T.self == Int16.self { number(unsafeBitCast(value, to: Int16.self)); return true }
        if T.self == Int8.self { number(unsafeBitCast(value, to: Int8.self)); return true }
        if T.self == UInt.self { number(unsafeBitCast(value, to: UInt.self)); return true }
        if T.self == UInt64.self { number(unsafeBitCast(value, to: UInt64.self)); return true }
        if T.self == UInt32.self { number(unsafeBitCast(value, to: UInt32.self)); return true }
        if T.self == UInt16.self { number(unsafeBitCast(value, to: UInt16.self)); return true }
        if T.self == UInt8.self { number(unsafeBitCast(value, to: UInt8.self)); return true }
        return false
    }

    // MARK: Containers

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Keyed<Key>(writer: self, at: openContainer(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        Unkeyed(writer: self, at: openContainer(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(writer: self) }

    /// The container the current value writes into: a new one, or the one it opened already (a
    /// subclass's `encode(to:)` and its superclass's share one object).
    private func openContainer(object: Bool) -> (depth: Int, serial: Int) {
        if open.count > base, open[base].object == object {
            try? close(to: base + 1)
            return (base, open[base].serial)
        }
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        serials += 1
        open.append(Frame(object: object, serial: serials))
        return (open.count - 1, serials)
    }

    /// Makes the container at `depth` the innermost and starts its next element (a key for an object).
    fileprivate func element(_ at: (depth: Int, serial: Int), key: String?) throws {
        guard isOpen(at) else {
            throw EncodingError.invalidValue(key ?? "", .init(codingPath: codingPath,
                debugDescription: "A container was written to after a later one was opened; JSON is written in order."))
        }
        try close(to: at.depth + 1)
        try flushDeferred(at.depth)
        if open[at.depth].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[at.depth].count += 1
        if let key { string(key); bytes.append(UInt8(ascii: ":")) }
    }

    /// Whether a handle's container is still open (a nested container that could not be opened
    /// has the handle (-1, -1), which never is).
    private func isOpen(_ at: (depth: Int, serial: Int)) -> Bool {
        at.depth >= 0 && at.depth < open.count && open[at.depth].serial == at.serial
    }

    fileprivate func count(_ at: (depth: Int, serial: Int)) -> Int {
        isOpen(at) ? open[at.depth].count + open[at.depth].deferred.count : 0
    }

    fileprivate func nested(_ at: (depth: Int, serial: Int), key: String?, object: Bool) throws -> (depth: Int, serial: Int) {
        try element(at, key: key)
        bytes.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        serials += 1
        open.append(Frame(object: object, serial: serials))
        return (open.count - 1, serials)
    }

    fileprivate func deferred(_ at: (depth: Int, serial: Int), key: String?) -> JSONStreamWriter {
        let writer = JSONStreamWriter()
        if isOpen(at) { open[at.depth].deferred.append((key, writer)) }
        return writer
    }

    private func flushDeferred(_ depth: Int) throws {
        guard !open[depth].deferred.isEmpty else { return }
        let pending = open[depth].deferred
        open[depth].deferred = []
        for (key, writer) in pending {
            try writer.close(to: 0)
            if open[depth].count > 0 { bytes.append(UInt8(ascii: ",")) }
            open[depth].count += 1
            if let key { string(key); bytes.append(UInt8(ascii: ":")) }
            bytes.append(contentsOf: writer.bytes.isEmpty ? Array("{}".utf8) : writer.bytes)
        }
    }

    private func close(to depth: Int) throws {
        while open.count > depth {
            try flushDeferred(open.count - 1)
            let frame = open.removeLast()
            bytes.append(frame.object ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    // MARK: Scalars

    fileprivate func null() { bytes.append(contentsOf: "null".utf8) }

    fileprivate func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    fileprivate func bool(_ b: Bool) { bytes.append(contentsOf: (b ? "true" : "false").utf8) }

    fileprivate func number<N: BinaryInteger>(_ n: N) {
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        var v = n.magnitude
        repeat { bytes.append(UInt8(ascii: "0") + UInt8(v % 10)); v /= 10 } while v > 0
        bytes[start...].reverse()
    }

    private func double(_ d: Double) throws {
        guard d.isFinite else { throw nonConforming(d) }
        var s = d.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        bytes.append(contentsOf: s.utf8)
    }

    private func float(_ f: Float) throws {
        guard f.isFinite else { throw nonConforming(f) }
        var s = f.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        bytes.append(contentsOf: s.utf8)
    }

    private func nonConforming(_ value: Any) -> EncodingError {
        EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "Unable to encode \(value) directly in JSON."))
    }

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Upper-case, as `UUID.uuidString` writes it.
    fileprivate func uuid(_ id: UUID) {
        bytes.append(UInt8(ascii: "\""))
        withUnsafeBytes(of: id.uuid) { raw in
            for (i, b) in raw.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { bytes.append(UInt8(ascii: "-")) }
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0x0F)])
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `2026-12-04T20:11:43Z`: ISO 8601 in UTC, whole seconds toward minus infinity, as Foundation's
    /// encoder writes a date (its `.iso8601` style; `ISO8601DateFormatter` rounds to the
    /// millisecond first, and is not what the encoder uses).
    fileprivate func date(_ date: Date) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        // 1900 to 9999 only; outside them the format style itself writes it.
        guard seconds >= -2_208_988_800, seconds < 253_402_300_800 else {
            string(date.formatted(.iso8601))
            return
        }
        let s = Int64(seconds)
        let days = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
        let secondOfDay = Int(s - days * 86_400)
        let (y, m, d) = Day.civil(ordinal: Int(days))
        bytes.append(UInt8(ascii: "\""))
        digits(y, 4); bytes.append(UInt8(ascii: "-")); digits(m, 2); bytes.append(UInt8(ascii: "-")); digits(d, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2); bytes.append(UInt8(ascii: ":")); digits(secondOfDay / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":")); digits(secondOfDay % 60, 2)
        bytes.append(contentsOf: "Z\"".utf8)
    }

    private func digits(_ n: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 { bytes.append(UInt8(ascii: "0") + UInt8(n / divisor % 10)); divisor /= 10 }
    }

    /// Quotes and escapes as Foundation does, but for "/".
    fileprivate func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var start = 0
            for (i, c) in utf8.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i]))
                start = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(c)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: "u00".utf8)
                    bytes.append(Self.hex[Int(c >> 4)].lowercasedHex)
                    bytes.append(Self.hex[Int(c & 0x0F)].lowercasedHex)
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    // MARK: The three containers

    private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let writer: JSONStreamWriter
        let at: (depth: Int, serial: Int)
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { try writer.element(at, key: key.stringValue); writer.null() }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try writer.element(at, key: key.stringValue)
            try writer.write(value)
        }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: String, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { try writer.element(at, key: key.stringValue); try writer.write(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(Keyed<NestedKey>(writer: writer, at: (try? writer.nested(at, key: key.stringValue, object: true)) ?? (-1, -1)))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            Unkeyed(writer: writer, at: (try? writer.nested(at, key: key.stringValue, object: false)) ?? (-1, -1))
        }
        mutating func superEncoder() -> any Encoder { writer.deferred(at, key: "super") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { writer.deferred(at, key: key.stringValue) }
    }

    private struct Unkeyed: UnkeyedEncodingContainer {
        let writer: JSONStreamWriter
        let at: (depth: Int, serial: Int)
        var codingPath: [any CodingKey] { [] }
        var count: Int { writer.count(at) }

        mutating func encodeNil() throws { try writer.element(at, key: nil); writer.null() }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try writer.element(at, key: nil)
            try writer.write(value)
        }
        mutating func encode(_ value: Bool) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: String) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Double) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Float) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Int) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Int8) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Int16) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Int32) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: Int64) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: UInt) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: UInt8) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: UInt16) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: UInt32) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func encode(_ value: UInt64) throws { try writer.element(at, key: nil); try writer.write(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(Keyed<NestedKey>(writer: writer, at: (try? writer.nested(at, key: nil, object: true)) ?? (-1, -1)))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            Unkeyed(writer: writer, at: (try? writer.nested(at, key: nil, object: false)) ?? (-1, -1))
        }
        mutating func superEncoder() -> any Encoder { writer.deferred(at, key: nil) }
    }

    /// Writes in place: the key (or the comma) before it is written already.
    private struct Single: SingleValueEncodingContainer {
        let writer: JSONStreamWriter
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { writer.null() }
        mutating func encode<T: Encodable>(_ value: T) throws { try writer.write(value) }
        mutating func encode(_ value: Bool) throws { try writer.write(value) }
        mutating func encode(_ value: String) throws { try writer.write(value) }
        mutating func encode(_ value: Double) throws { try writer.write(value) }
        mutating func encode(_ value: Float) throws { try writer.write(value) }
        mutating func encode(_ value: Int) throws { try writer.write(value) }
        mutating func encode(_ value: Int8) throws { try writer.write(value) }
        mutating func encode(_ value: Int16) throws { try writer.write(value) }
        mutating func encode(_ value: Int32) throws { try writer.write(value) }
        mutating func encode(_ value: Int64) throws { try writer.write(value) }
        mutating func encode(_ value: UInt) throws { try writer.write(value) }
        mutating func encode(_ value: UInt8) throws { try writer.write(value) }
        mutating func encode(_ value: UInt16) throws { try writer.write(value) }
        mutating func encode(_ value: UInt32) throws { try writer.write(value) }
        mutating func encode(_ value: UInt64) throws { try writer.write(value) }
    }
}

private extension UInt8 {
    /// Foundation writes control characters as `\u001f`, lower-case.
    var lowercasedHex: UInt8 { self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F") ? self + 32 : self }
}

/// A value that writes its JSON object itself, field by field, without `Encodable`'s containers.
///
/// The items of the busiest lists: 50 of 10 to 26 fields a page, whose encoding was 16–22 % of a
/// list's request, most of it the generic containers' calls (a box, a key's string, a metatype
/// test per field). What a value writes here must be what its own `encode(to:)` writes (the same
/// keys in the same order, a nil optional left out as `encodeIfPresent` leaves it);
/// `DirectRowTests` compares the two.
protocol DirectJSON: Encodable {
    func writeJSON(_ o: inout JSONFields) throws
}

/// The fields of one object being written by a `DirectJSON` value. Keys are the value's own
/// property names, so they are written as they are.
struct JSONFields {
    fileprivate let writer: JSONStreamWriter
    private var count = 0

    fileprivate init(writer: JSONStreamWriter) { self.writer = writer }

    private mutating func key(_ name: StaticString) {
        if count > 0 { writer.bytes.append(UInt8(ascii: ",")) }
        count += 1
        writer.bytes.append(UInt8(ascii: "\""))
        writer.append(name)
        writer.bytes.append(contentsOf: "\":".utf8)
    }

    mutating func callAsFunction(_ name: StaticString, _ value: String) { key(name); writer.string(value) }
    mutating func callAsFunction(_ name: StaticString, _ value: Int) { key(name); writer.number(value) }
    mutating func callAsFunction(_ name: StaticString, _ value: Int64) { key(name); writer.number(value) }
    mutating func callAsFunction(_ name: StaticString, _ value: Bool) { key(name); writer.bool(value) }
    mutating func callAsFunction(_ name: StaticString, _ value: UUID) { key(name); writer.uuid(value) }
    mutating func callAsFunction(_ name: StaticString, _ value: Date) { key(name); writer.date(value) }
    mutating func callAsFunction(_ name: StaticString, _ value: FixedDecimal) { key(name); writer.string(value.description) }
    /// Any other value, through the writer (its own `writeJSON` or its `encode(to:)`).
    mutating func callAsFunction<V: Encodable>(_ name: StaticString, _ value: V) throws { key(name); try writer.write(value) }
    mutating func callAsFunction<V: Encodable>(_ name: StaticString, _ value: V?) throws { if let value { try self(name, value) } }
    mutating func callAsFunction(_ name: StaticString, _ value: String?) { if let value { self(name, value) } }
    mutating func callAsFunction(_ name: StaticString, _ value: Int?) { if let value { self(name, value) } }
    mutating func callAsFunction(_ name: StaticString, _ value: UUID?) { if let value { self(name, value) } }
    mutating func callAsFunction(_ name: StaticString, _ value: Date?) { if let value { self(name, value) } }
}
