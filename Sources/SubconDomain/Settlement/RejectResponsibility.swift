/// Who answers for a rejected or scrapped quantity (责任判定): the supplier's processing spoiled it
/// (工废), the material the manufacturer issued was defective (料废), or it is not decided yet.
/// One rule, `settle`, says what each answer does to the write-off and to the statement.
public enum RejectResponsibility: String, Codable, Sendable, CaseIterable {
    /// 工废: not paid for the pieces, and pays for the material they consumed at cost.
    case supplier
    /// 料废: paid the processing fee for the pieces worked; the material loss is the manufacturer's.
    case material
    /// Not decided: nothing is paid or charged yet, and the material stays unexplained in the write-off.
    case undetermined

    public enum Problem: Error, Equatable, Sendable {
        case negativeQuantity
        case negativePrice
        /// Quality decides with a reason (it is shown to the supplier, who may dispute it).
        case reasonRequired
        case tooLarge
    }

    /// One material in the rejected pieces: how much of it each piece took (the order's
    /// requirement snapshot, with the BOM's scrap allowance already in it) and its cost price.
    public struct Material: Equatable, Sendable {
        public let item: String
        public let quantityPer: FixedDecimal
        public let costPrice: FixedDecimal
        public init(item: String, quantityPer: FixedDecimal, costPrice: FixedDecimal) {
            self.item = item; self.quantityPer = quantityPer; self.costPrice = costPrice
        }
    }

    public struct MaterialEffect: Equatable, Sendable {
        public let item: String
        /// The material in the rejected pieces.
        public let quantity: FixedDecimal
        /// 工废: charged on the statement at cost (rounded once to the fen); zero otherwise.
        public let charge: FixedDecimal
        /// 料废: a loss the write-off allows; zero otherwise.
        public let allowedLoss: FixedDecimal
        /// 工废: accounted for by the charge, so not a variance again; zero otherwise.
        public let charged: FixedDecimal
    }

    public struct Effects: Equatable, Sendable {
        /// 料废: the processing fee for the pieces worked (quantity × unit price, to the fen).
        public let processingFee: FixedDecimal
        public let materials: [MaterialEffect]
        /// What the statement gains (+) or loses (−) by it: the fee less the material charges.
        public var statementNet: FixedDecimal {
            materials.reduce(processingFee) { FixedDecimal(units: $0.units - $1.charge.units) }
        }
    }

    /// What `quantity` rejected pieces of a line at `unitPrice` (the processing fee per piece)
    /// made of `materials` do to the statement and the write-off under this responsibility.
    /// For scrapped material itself (no pieces worked), pass the material with `quantityPer` 1
    /// and a `unitPrice` of zero.
    public func settle(quantity: FixedDecimal, unitPrice: FixedDecimal, materials: [Material]) throws(Problem) -> Effects {
        guard quantity >= .zero else { throw .negativeQuantity }
        guard unitPrice >= .zero, materials.allSatisfy({ $0.costPrice >= .zero && $0.quantityPer >= .zero }) else { throw .negativePrice }
        do {
            var out: [MaterialEffect] = []
            for m in materials {
                let used = try quantity.multiplied(by: m.quantityPer)
                switch self {
                case .supplier:
                    out.append(.init(item: m.item, quantity: used, charge: try StatementAmounts.fen(used, times: m.costPrice), allowedLoss: .zero, charged: used))
                case .material:
                    out.append(.init(item: m.item, quantity: used, charge: .zero, allowedLoss: used, charged: .zero))
                case .undetermined:
                    out.append(.init(item: m.item, quantity: used, charge: .zero, allowedLoss: .zero, charged: .zero))
                }
            }
            let fee = self == .material ? try StatementAmounts.fen(quantity, times: unitPrice) : .zero
            return Effects(processingFee: fee, materials: out)
        } catch let p as Problem {
            throw p
        } catch {
            throw .tooLarge
        }
    }

    /// What `settle` does to a reject of this kind: worked pieces are paid their fee (料废) and
    /// carry the material their line puts in each; material itself earns no fee; and material
    /// that never reached the supplier's stock (short on arrival) is still counted in transit by
    /// the write-off, so a decision moves only the statement.
    public func settle(_ source: RejectSource, quantity: FixedDecimal, unitPrice: FixedDecimal, materials: [Material]) throws(Problem) -> Effects {
        let e = try settle(quantity: quantity, unitPrice: source.isWorkedPieces ? unitPrice : .zero, materials: materials)
        if source.reachedSupplier { return e }
        return Effects(processingFee: e.processingFee, materials: e.materials.map {
            MaterialEffect(item: $0.item, quantity: $0.quantity, charge: $0.charge, allowedLoss: .zero, charged: .zero)
        })
    }

    /// A decision (other than undetermined) states its reason.
    public static func check(_ r: RejectResponsibility, reason: String) throws(Problem) {
        if r != .undetermined, reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw .reasonRequired }
    }
}

/// What a reject is: pieces the supplier worked (rejected in incoming inspection, scrapped in
/// process) or material (scrapped at the supplier, short on arrival).
public enum RejectSource: String, Codable, Sendable, CaseIterable {
    case inspection, scrap, process, discrepancy

    /// Worked pieces: a processing fee is at stake, and the material the order line puts in each.
    /// Otherwise the material is its own piece (one of itself, no fee).
    public var isWorkedPieces: Bool { self == .inspection || self == .process }

    /// Whether the material reached the supplier's stock (and so the write-off accounts for it).
    public var reachedSupplier: Bool { self != .discrepancy }
}
