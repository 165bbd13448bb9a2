/// Bills of materials (物料清单): versions per parent item, each effective for a period, with
/// lines giving a component, its quantity per one parent unit, and a scrap rate.
public enum SupplyBy: String, Codable, Sendable, CaseIterable {
    /// The manufacturer issues the component to the supplier (发料).
    case manufacturer
    /// The supplier buys the component itself.
    case supplier
}

public struct BOMLine: Hashable, Sendable {
    public var component: String
    /// Quantity of the component per one unit of the parent.
    public var quantityPer: FixedDecimal
    /// Scrap rate in percent (2.5 means 2.5 %).
    public var scrapPercent: FixedDecimal
    public var supplyBy: SupplyBy

    public init(component: String, quantityPer: FixedDecimal, scrapPercent: FixedDecimal = .zero, supplyBy: SupplyBy = .manufacturer) {
        self.component = component; self.quantityPer = quantityPer; self.scrapPercent = scrapPercent; self.supplyBy = supplyBy
    }
}

public struct BOMVersion: Hashable, Sendable {
    public var parent: String
    public var number: Int
    public var validity: Validity
    public var lines: [BOMLine]

    public init(parent: String, number: Int, validity: Validity, lines: [BOMLine]) {
        self.parent = parent; self.number = number; self.validity = validity; self.lines = lines
    }
}

public enum BOMRules {
    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        /// A cycle, as the chain of item codes that closes on itself (first == last).
        case cycle([String])
        /// Two versions of one parent are effective on a common day.
        case overlappingVersions(parent: String, first: Int, second: Int)
        case nonPositiveQuantity(parent: String, component: String)
        case negativeScrap(parent: String, component: String)
        case selfReference(String)

        public var description: String {
            switch self {
            case .cycle(let chain): "BOM cycle: " + chain.joined(separator: " → ")
            case .overlappingVersions(let p, let a, let b): "\(p): versions \(a) and \(b) are effective on the same days"
            case .nonPositiveQuantity(let p, let c): "\(p) → \(c): quantity per must be greater than 0"
            case .negativeScrap(let p, let c): "\(p) → \(c): scrap rate cannot be negative"
            case .selfReference(let p): "\(p) lists itself as a component"
            }
        }
    }

    /// Checks a whole set of BOM versions: line values, overlapping versions, and cycles across
    /// every version (a cycle in any version could be exploded on some day).
    public static func check(_ versions: [BOMVersion]) -> [Problem] {
        var problems: [Problem] = []
        for v in versions {
            for line in v.lines {
                if line.component == v.parent { problems.append(.selfReference(v.parent)) }
                if line.quantityPer <= .zero { problems.append(.nonPositiveQuantity(parent: v.parent, component: line.component)) }
                if line.scrapPercent < .zero { problems.append(.negativeScrap(parent: v.parent, component: line.component)) }
            }
        }
        let byParent = Dictionary(grouping: versions, by: \.parent)
        for parent in byParent.keys.sorted() {
            let vs = byParent[parent]!.sorted { $0.number < $1.number }
            for i in vs.indices { for j in vs.indices where j > i && vs[i].validity.overlaps(vs[j].validity) {
                problems.append(.overlappingVersions(parent: parent, first: vs[i].number, second: vs[j].number))
            } }
        }
        if let cycle = findCycle(versions) { problems.append(.cycle(cycle)) }
        return problems
    }

    /// The first cycle in the parent → component graph, as a closed chain of codes, or nil.
    /// Deterministic: parents and components are visited in code order.
    public static func findCycle(_ versions: [BOMVersion]) -> [String]? {
        var edges: [String: Set<String>] = [:]
        for v in versions { for l in v.lines where l.component != v.parent { edges[v.parent, default: []].insert(l.component) } }
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var path: [String] = []

        func visit(_ node: String) -> [String]? {
            if marks[node] == .done { return nil }
            if marks[node] == .visiting {
                let start = path.firstIndex(of: node)!
                return Array(path[start...]) + [node]
            }
            marks[node] = .visiting
            path.append(node)
            for next in (edges[node] ?? []).sorted() {
                if let found = visit(next) { return found }
            }
            path.removeLast()
            marks[node] = .done
            return nil
        }
        for node in edges.keys.sorted() {
            if let found = visit(node) { return found }
        }
        return nil
    }
}

/// Gross requirements from exploding BOMs.
public enum BOMExplosion {
    public struct Requirement: Hashable, Sendable {
        public var component: String
        /// Parent item whose line asked for it (the direct parent, at any level).
        public var parent: String
        /// 1 for direct components of the exploded item, 2 for theirs, and so on.
        public var level: Int
        public var bomVersion: Int
        /// Quantity consumed without loss: parent quantity × quantity per.
        public var netQuantity: FixedDecimal
        /// Quantity including the scrap allowance: net × (1 + scrap % / 100).
        public var grossQuantity: FixedDecimal
        public var scrapPercent: FixedDecimal
        public var quantityPer: FixedDecimal
        public var supplyBy: SupplyBy
    }

    public enum Failure: Error, Equatable, Sendable {
        case cycle([String])
        case overflow
    }

    /// Explodes `quantity` of `item` on `day`, through every level that has a BOM effective on
    /// that day. Each line's gross is computed exactly and rounded once, to scale 4, half away
    /// from zero; a sub-assembly is then exploded from its rounded gross quantity, the amount
    /// that will really be made.
    public static func explode(_ item: String, quantity: FixedDecimal, on day: Day, versions: [BOMVersion]) throws(Failure) -> [Requirement] {
        let byParent = Dictionary(grouping: versions, by: \.parent)
        func effective(_ parent: String) -> BOMVersion? {
            byParent[parent]?.filter { $0.validity.contains(day) }.max { $0.number < $1.number }
        }
        var out: [Requirement] = []
        func walk(_ parent: String, _ qty: FixedDecimal, _ level: Int, _ chain: [String]) throws(Failure) {
            guard let bom = effective(parent) else { return }
            for line in bom.lines {
                if chain.contains(line.component) { throw .cycle(chain + [line.component]) }
                let net: FixedDecimal, gross: FixedDecimal
                do {
                    net = try qty.multiplied(by: line.quantityPer)
                    gross = try FixedDecimal.withScrap(qty, line.quantityPer, line.scrapPercent)
                } catch { throw .overflow }
                out.append(Requirement(component: line.component, parent: parent, level: level, bomVersion: bom.number,
                                       netQuantity: net, grossQuantity: gross, scrapPercent: line.scrapPercent,
                                       quantityPer: line.quantityPer, supplyBy: line.supplyBy))
                try walk(line.component, gross, level + 1, chain + [line.component])
            }
        }
        try walk(item, quantity, 1, [item])
        return out
    }

    /// Sums requirements per component (e.g. a screw used at two levels).
    public static func totals(_ requirements: [Requirement]) -> [(component: String, gross: FixedDecimal)] {
        var sums: [String: FixedDecimal] = [:]
        for r in requirements { sums[r.component] = FixedDecimal(units: (sums[r.component]?.units ?? 0) + r.grossQuantity.units) }
        return sums.keys.sorted().map { ($0, sums[$0]!) }
    }
}

extension FixedDecimal {
    /// quantity × per × (1 + scrap% / 100), exact in 128 bits, rounded once to scale 4.
    public static func withScrap(_ quantity: FixedDecimal, _ per: FixedDecimal, _ scrapPercent: FixedDecimal) throws(ArithmeticError) -> FixedDecimal {
        // units: Q·P·(10^6 + S) / 10^10, where S is the scrap percent in 1/10_000 units.
        let factor = Int128(1_000_000) + Int128(scrapPercent.units)
        let (hi, lo) = quantity.units.multipliedFullWidth(by: per.units)
        let product = (Int128(hi) << 64) | Int128(lo)
        let (scaled, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { throw .overflow }
        let divisor = Int128(10_000_000_000)
        var q = scaled / divisor
        let r = scaled % divisor
        if r.magnitude * 2 >= divisor.magnitude { q += scaled < 0 ? -1 : 1 }
        guard q >= Int128(Int64.min), q <= Int128(Int64.max) else { throw .overflow }
        return FixedDecimal(units: Int64(q))
    }
}
