import Crypto
import Foundation

/// One field's value before and after a write. `nil` means absent (created or removed).
public struct FieldChange: Codable, Equatable, Sendable {
    public let before: String?
    public let after: String?
    public init(before: String?, after: String?) { self.before = before; self.after = after }
}

public enum FieldChanges {
    /// The fields whose value differs between two snapshots of a record.
    public static func between(_ before: [String: String?], _ after: [String: String?]) -> [String: FieldChange] {
        var out: [String: FieldChange] = [:]
        for key in Set(before.keys).union(after.keys) {
            let b = before[key] ?? nil, a = after[key] ?? nil
            if b != a { out[key] = FieldChange(before: b, after: a) }
        }
        return out
    }

    /// A stable text form: keys sorted, so the same changes always hash the same. The text
    /// `JSONEncoder` writes with sorted keys and slashes unescaped (keys in the order of their
    /// UTF-8 bytes, an absent side left out), written here directly: the encoder was 2% of a
    /// progress report's time, all of it inside the write gate.
    public static func canonicalJSON(_ changes: [String: FieldChange]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(64 * changes.count + 2)
        for (n, (key, change)) in changes.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            appendString(key, to: &out)
            out.append(contentsOf: ":{".utf8)
            if let after = change.after { out.append(contentsOf: "\"after\":".utf8); appendString(after, to: &out) }
            if let before = change.before {
                if change.after != nil { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: "\"before\":".utf8); appendString(before, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// A JSON string as `JSONEncoder` escapes it: quote, backslash and control characters only.
    private static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                appendLowercaseHex(c, to: &out)
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// The content of one audit row, in the exact form that is hashed.
public struct AuditRecord: Equatable, Sendable {
    public var sequence: Int64
    public var atMilliseconds: Int64
    public var actorID: String?
    public var actorLogin: String
    public var entity: String
    public var entityID: String
    public var action: String
    public var changesJSON: String
    public var previousHash: String

    public init(sequence: Int64, atMilliseconds: Int64, actorID: String?, actorLogin: String, entity: String,
                entityID: String, action: String, changesJSON: String, previousHash: String) {
        self.sequence = sequence; self.atMilliseconds = atMilliseconds; self.actorID = actorID
        self.actorLogin = actorLogin; self.entity = entity; self.entityID = entityID
        self.action = action; self.changesJSON = changesJSON; self.previousHash = previousHash
    }

    /// SHA-256 over every field, each length-prefixed so no two different records share a text.
    public var hash: String {
        let fields = [String(sequence), String(atMilliseconds), actorID ?? "", actorLogin, entity, entityID,
                      action, changesJSON, previousHash]
        let text = fields.map { "\($0.utf8.count):\($0)" }.joined(separator: "|")
        return SHA256.hash(data: Array(text.utf8)).lowercaseHex
    }
}

public enum AuditChain {
    /// The previous-hash of the very first row.
    public static let genesis = String(repeating: "0", count: 64)

    public enum Break: Equatable, Sendable, CustomStringConvertible {
        /// A row's stored hash does not match its content (the row was altered).
        case altered(sequence: Int64)
        /// A row does not point at the hash of the row before it.
        case relinked(sequence: Int64)
        /// Sequence numbers jump: rows are missing before `sequence`.
        case missing(expected: Int64, found: Int64)

        public var description: String {
            switch self {
            case .altered(let s): "row \(s) was altered: its content no longer matches its hash"
            case .relinked(let s): "row \(s) does not follow the row before it (previous hash differs)"
            case .missing(let e, let f): "row \(e) is missing (next row found is \(f))"
            }
        }
    }

    /// Incremental verification, so the caller can stream rows from the database in batches.
    public struct Verifier: Sendable {
        public private(set) var expectedSequence: Int64 = 1
        public private(set) var previousHash: String = AuditChain.genesis
        public private(set) var checked = 0
        public init() {}

        /// Returns the first break, or nil when the row continues the chain.
        public mutating func check(_ record: AuditRecord, storedHash: String) -> Break? {
            if record.sequence != expectedSequence { return .missing(expected: expectedSequence, found: record.sequence) }
            if record.previousHash != previousHash { return .relinked(sequence: record.sequence) }
            if record.hash != storedHash { return .altered(sequence: record.sequence) }
            previousHash = storedHash
            expectedSequence += 1
            checked += 1
            return nil
        }
    }
}
