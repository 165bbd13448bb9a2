/// Price agreements: supplier × item (or item operation), a unit processing price in a currency,
/// valid for a period, optionally with quantity tiers.
public struct PriceAgreement: Hashable, Sendable {
    public struct Tier: Hashable, Sendable {
        /// The tier applies from this order quantity upward.
        public var minimumQuantity: FixedDecimal
        public var unitPrice: FixedDecimal
        public init(minimumQuantity: FixedDecimal, unitPrice: FixedDecimal) {
            self.minimumQuantity = minimumQuantity; self.unitPrice = unitPrice
        }
    }

    public var id: String
    public var supplier: String
    public var item: String
    /// nil: the price is for the whole item; otherwise for one routed operation of it.
    public var operation: String?
    public var currency: String
    public var validity: Validity
    /// Base price, for any quantity below the first tier.
    public var unitPrice: FixedDecimal
    public var tiers: [Tier]

    public init(id: String, supplier: String, item: String, operation: String? = nil, currency: String = "CNY",
                validity: Validity, unitPrice: FixedDecimal, tiers: [Tier] = []) {
        self.id = id; self.supplier = supplier; self.item = item; self.operation = operation; self.currency = currency
        self.validity = validity; self.unitPrice = unitPrice; self.tiers = tiers
    }

    /// The unit price for an order quantity: the highest tier reached, else the base price.
    public func unitPrice(for quantity: FixedDecimal) -> FixedDecimal {
        tiers.filter { $0.minimumQuantity <= quantity }.max { $0.minimumQuantity < $1.minimumQuantity }?.unitPrice ?? unitPrice
    }

    func sameSubject(_ other: PriceAgreement) -> Bool {
        supplier == other.supplier && item == other.item && operation == other.operation
    }
}

public enum PriceBook {
    public enum Problem: Error, Equatable, Sendable {
        case negativePrice
        case duplicateTier(FixedDecimal)
        /// Another agreement for the same supplier, item and operation covers some of the same days.
        case overlaps(existingID: String)
        case badCurrency
    }

    /// Checks one agreement against the others already stored, so that at most one price is
    /// ever in force for a supplier, item (operation) and day.
    public static func check(_ agreement: PriceAgreement, against existing: [PriceAgreement]) -> [Problem] {
        var problems: [Problem] = []
        if agreement.unitPrice < .zero || agreement.tiers.contains(where: { $0.unitPrice < .zero }) { problems.append(.negativePrice) }
        var seen = Set<FixedDecimal>()
        for t in agreement.tiers where !seen.insert(t.minimumQuantity).inserted { problems.append(.duplicateTier(t.minimumQuantity)) }
        let c = agreement.currency
        if c.count != 3 || !c.unicodeScalars.allSatisfy({ $0.value >= 65 && $0.value <= 90 }) { problems.append(.badCurrency) }
        for other in existing where other.id != agreement.id && other.sameSubject(agreement) && other.validity.overlaps(agreement.validity) {
            problems.append(.overlaps(existingID: other.id))
        }
        return problems
    }

    public struct Quote: Equatable, Sendable {
        public let agreementID: String
        public let currency: String
        public let unitPrice: FixedDecimal
    }

    /// The price in force for a supplier, item (operation), day and quantity, or nil when no
    /// agreement covers that day. If stored data ever overlapped, the most recently started
    /// agreement wins, so the answer is still one price.
    public static func priceInForce(supplier: String, item: String, operation: String? = nil, on day: Day,
                                    quantity: FixedDecimal, agreements: [PriceAgreement]) -> Quote? {
        let candidates = agreements.filter {
            $0.supplier == supplier && $0.item == item && $0.operation == operation && $0.validity.contains(day)
        }
        guard let chosen = candidates.max(by: { ($0.validity.from, $0.id) < ($1.validity.from, $1.id) }) else { return nil }
        return Quote(agreementID: chosen.id, currency: chosen.currency, unitPrice: chosen.unitPrice(for: quantity))
    }
}
