/// The ordered operations that make an item (工序), each done in-house or outsourced (工序委外).
public struct RoutingOperation: Hashable, Sendable {
    public enum Mode: String, Codable, Sendable, CaseIterable { case inHouse = "in_house", outsourced }

    public var sequence: Int
    public var code: String
    public var name: String
    public var mode: Mode
    /// Supplier code; required when outsourced.
    public var defaultSupplier: String?

    public init(sequence: Int, code: String, name: String, mode: Mode, defaultSupplier: String? = nil) {
        self.sequence = sequence; self.code = code; self.name = name; self.mode = mode; self.defaultSupplier = defaultSupplier
    }
}

public enum RoutingRules {
    public enum Problem: Error, Equatable, Sendable {
        case duplicateSequence(Int)
        case duplicateCode(String)
        case nonPositiveSequence(Int)
        case outsourcedWithoutSupplier(String)
        case inHouseWithSupplier(String)
    }

    public static func check(_ ops: [RoutingOperation]) -> [Problem] {
        var problems: [Problem] = []
        var seqs = Set<Int>(), codes = Set<String>()
        for op in ops {
            if op.sequence <= 0 { problems.append(.nonPositiveSequence(op.sequence)) }
            if !seqs.insert(op.sequence).inserted { problems.append(.duplicateSequence(op.sequence)) }
            if !codes.insert(op.code).inserted { problems.append(.duplicateCode(op.code)) }
            if op.mode == .outsourced && (op.defaultSupplier ?? "").isEmpty { problems.append(.outsourcedWithoutSupplier(op.code)) }
            if op.mode == .inHouse && !(op.defaultSupplier ?? "").isEmpty { problems.append(.inHouseWithSupplier(op.code)) }
        }
        return problems
    }

    /// Operations in the order they are done.
    public static func ordered(_ ops: [RoutingOperation]) -> [RoutingOperation] { ops.sorted { $0.sequence < $1.sequence } }
}
