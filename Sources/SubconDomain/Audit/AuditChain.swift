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

    /// A stable text form: keys sorted, so the same changes always hash the same.
    public static func canonicalJSON(_ changes: [String: FieldChange]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(changes)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
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
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
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
