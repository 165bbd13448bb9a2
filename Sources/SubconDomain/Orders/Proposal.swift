/// One line of a production plan: make this quantity of this item by this day.
public struct PlanLine: Hashable, Sendable {
    public var number: Int
    public var item: String
    public var quantity: FixedDecimal
    public var dueDate: Day
    public init(number: Int, item: String, quantity: FixedDecimal, dueDate: Day) {
        self.number = number; self.item = item; self.quantity = quantity; self.dueDate = dueDate
    }
}

/// Turning a released plan into proposed outsourcing orders, one per supplier.
public enum OrderProposal {
    public struct ProposedLine: Hashable, Sendable {
        public var planLine: Int
        public var item: String
        public var operation: String?
        public var quantity: FixedDecimal
        public var dueDate: Day
        public var unitPrice: FixedDecimal
        public var currency: String
        public var agreementID: String
        /// Why this supplier was chosen.
        public var reason: Choice = .lowestPrice
    }

    /// Why a line went to its supplier, in order of precedence.
    public enum Choice: String, Hashable, Sendable, Codable {
        /// The routing names it as the operation's supplier.
        case routingDefault = "routing_default"
        /// Graded A last period (preferred), lowest price among the preferred.
        case preferred
        /// The lowest price among qualified suppliers with a valid agreement.
        case lowestPrice = "lowest_price"
    }

    public struct ProposedOrder: Hashable, Sendable {
        public var supplier: String
        public var lines: [ProposedLine]
    }

    /// A plan line (or one of its operations) that is outsourced but has no supplier to go to.
    public struct Unassigned: Hashable, Sendable {
        public var planLine: Int
        public var item: String
        public var operation: String?
    }

    /// - Parameters:
    ///   - routings: item → its operations.
    ///   - agreements: price agreements, supplier and item as codes.
    ///   - supplierStatus: status of every supplier by code.
    ///   - day: the day prices and agreements must be valid (the release day).
    ///
    /// For each plan line, every outsourced operation of the item's routing becomes an order line;
    /// an item with no outsourced operation but a whole-item agreement is outsourced whole; any
    /// other line is made in-house. The supplier is the routing's default supplier when it holds a
    /// valid agreement and is qualified, else the qualified supplier with the lowest price for the
    /// quantity (then the lowest code) — among the `preferred` suppliers (graded A last period) first
    /// when one of them has a valid price. Suspended, terminated, probation and prospect suppliers
    /// are never proposed.
    public static func make(_ plan: [PlanLine], routings: [String: [RoutingOperation]], agreements: [PriceAgreement],
                            supplierStatus: [String: SupplierStatus], preferred: Set<String> = [],
                            on day: Day) -> (orders: [ProposedOrder], unassigned: [Unassigned]) {
        var bySupplier: [String: [ProposedLine]] = [:]
        var unassigned: [Unassigned] = []
        let usable = agreements.filter { supplierStatus[$0.supplier] == .qualified && $0.validity.contains(day) }
        for line in plan.sorted(by: { $0.number < $1.number }) {
            let outsourced = RoutingRules.ordered(routings[line.item] ?? []).filter { $0.mode == .outsourced }
            let subjects: [(operation: String?, preferred: String?)]
            if !outsourced.isEmpty {
                subjects = outsourced.map { ($0.code, $0.defaultSupplier) }
            } else if usable.contains(where: { $0.item == line.item && $0.operation == nil }) {
                subjects = [(nil, nil)]
            } else {
                continue
            }
            for subject in subjects {
                let candidates = usable.filter { $0.item == line.item && $0.operation == subject.operation }
                let quote = { (a: PriceAgreement) in a.unitPrice(for: line.quantity) }
                let cheapest = { (among: [PriceAgreement]) in among.min { (quote($0), $0.supplier) < (quote($1), $1.supplier) } }
                var choice = Choice.routingDefault
                var chosen = candidates.first { $0.supplier == subject.preferred }
                if chosen == nil, let best = cheapest(candidates.filter { preferred.contains($0.supplier) }) { chosen = best; choice = .preferred }
                if chosen == nil { chosen = cheapest(candidates); choice = .lowestPrice }
                guard let chosen else {
                    unassigned.append(Unassigned(planLine: line.number, item: line.item, operation: subject.operation))
                    continue
                }
                bySupplier[chosen.supplier, default: []].append(ProposedLine(
                    planLine: line.number, item: line.item, operation: subject.operation, quantity: line.quantity,
                    dueDate: line.dueDate, unitPrice: quote(chosen), currency: chosen.currency, agreementID: chosen.id, reason: choice))
            }
        }
        return (bySupplier.keys.sorted().map { ProposedOrder(supplier: $0, lines: bySupplier[$0]!) }, unassigned)
    }
}

/// The component requirements (用料清单) an order line carries from the BOM in force when it is
/// released: one level down, per unit and for the line's quantity with scrap. Later BOM edits
/// never touch them; a quantity change recomputes from these per-unit figures.
public struct OrderRequirement: Hashable, Sendable, Codable {
    public var lineNumber: Int
    public var component: String
    public var quantityPer: FixedDecimal
    public var scrapPercent: FixedDecimal
    public var supplyBy: SupplyBy
    /// For the line's current quantity: quantity × per × (1 + scrap %), rounded once.
    public var grossQuantity: FixedDecimal

    public init(lineNumber: Int, component: String, quantityPer: FixedDecimal, scrapPercent: FixedDecimal,
                supplyBy: SupplyBy, grossQuantity: FixedDecimal) {
        self.lineNumber = lineNumber; self.component = component; self.quantityPer = quantityPer
        self.scrapPercent = scrapPercent; self.supplyBy = supplyBy; self.grossQuantity = grossQuantity
    }

    public enum Failure: Error, Equatable, Sendable { case overflow }

    /// Requirements of one order line. A whole-item line needs the item's direct components; an
    /// operation line needs the item itself (the part is sent out for that operation and comes back).
    public static func forLine(_ line: OrderLine, bom: BOMVersion?) throws(Failure) -> [OrderRequirement] {
        if line.operation != nil {
            return [OrderRequirement(lineNumber: line.number, component: line.item, quantityPer: FixedDecimal(1), scrapPercent: .zero,
                                supplyBy: .manufacturer, grossQuantity: line.quantity)]
        }
        return try (bom?.lines ?? []).map { l throws(Failure) in
            try OrderRequirement(lineNumber: line.number, component: l.component, quantityPer: l.quantityPer, scrapPercent: l.scrapPercent,
                            supplyBy: l.supplyBy, grossQuantity: gross(line.quantity, per: l.quantityPer, scrap: l.scrapPercent))
        }
    }

    /// The same requirements for a new quantity, from the stored per-unit figures.
    public func scaled(to quantity: FixedDecimal) throws(Failure) -> OrderRequirement {
        var r = self
        r.grossQuantity = try Self.gross(quantity, per: quantityPer, scrap: scrapPercent)
        return r
    }

    static func gross(_ quantity: FixedDecimal, per: FixedDecimal, scrap: FixedDecimal) throws(Failure) -> FixedDecimal {
        do { return try FixedDecimal.withScrap(quantity, per, scrap) } catch { throw .overflow }
    }
}
