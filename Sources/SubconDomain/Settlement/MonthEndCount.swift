/// The supplier's month-end count (月末盘点): what it physically holds per material and lot,
/// against what the ledger says. Each difference becomes a counted correction (an `adjusted`
/// movement), so the period's write-off measures real losses instead of the ledger's own
/// balance. Lines that agree make no movement.
public enum MonthEndCount {
    public struct Line: Equatable, Sendable {
        public let key: StockKey
        /// Held according to the ledger when the count was opened.
        public let ledger: FixedDecimal
        public let counted: FixedDecimal
        public init(key: StockKey, ledger: FixedDecimal, counted: FixedDecimal) {
            self.key = key; self.ledger = ledger; self.counted = counted
        }
    }

    public enum Problem: Error, Equatable, Sendable {
        case negativeCount(StockKey)
        case countedTwice(StockKey)
        case tooLarge
    }

    public static func corrections(_ lines: [Line]) throws(Problem) -> [Movement] {
        var seen: Set<StockKey> = []
        var out: [Movement] = []
        for l in lines {
            guard l.counted >= .zero else { throw .negativeCount(l.key) }
            guard seen.insert(l.key).inserted else { throw .countedTwice(l.key) }
            let difference: FixedDecimal
            do { difference = try l.counted.subtracting(l.ledger) } catch { throw .tooLarge }
            if difference != .zero { out.append(Movement(key: l.key, kind: .adjusted, quantity: difference)) }
        }
        return out
    }
}
