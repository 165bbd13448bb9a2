/// The money of a reconciliation statement (对账单): what the goods are worth, what is deducted,
/// what is adjusted, and the tax — exact, with rounding to the fen in one place (`fen(_:)`):
/// once per line (quantity × unit price, rounded straight from the exact product), once per
/// deduction, and once for the tax on the net. Net + tax = gross holds exactly, because the
/// gross is computed as that sum rather than rounded on its own.
public enum StatementAmounts {
    /// Money is kept in `FixedDecimal` at two decimals (the fen).
    public static let moneyScale = 2
    /// China's standard VAT rate on processing services and goods.
    public static let defaultTaxPercent = FixedDecimal(13)

    public enum Problem: Error, Equatable, Sendable {
        case negativeQuantity(line: String)
        case negativePrice(line: String)
        case negativeDeduction(id: String)
        case taxRateOutOfRange
        case tooLarge
    }

    /// One accepted receipt line at the price of the order revision in force when it was received.
    public struct GoodsLine: Equatable, Sendable {
        public let id: String
        public let acceptedQuantity: FixedDecimal
        public let unitPrice: FixedDecimal
        public init(id: String, acceptedQuantity: FixedDecimal, unitPrice: FixedDecimal) {
            self.id = id; self.acceptedQuantity = acceptedQuantity; self.unitPrice = unitPrice
        }
    }

    /// How a deduction's amount comes about; each kind says in its values what it was computed from.
    public enum DeductionBasis: Equatable, Sendable {
        /// A sum agreed on the exception.
        case fixed(FixedDecimal)
        /// So much per rejected piece.
        case perPiece(pieces: FixedDecimal, rate: FixedDecimal)
        /// A percentage of an amount (for example of the rejected lot's value).
        case percentOf(base: FixedDecimal, percent: FixedDecimal)
        /// Material lost beyond the write-off tolerance, at the material's cost price.
        case materialVariance(quantity: FixedDecimal, costPrice: FixedDecimal)
        /// The agreement's penalty per day late, capped when the agreement says so.
        case lateDelivery(daysLate: Int, perDay: FixedDecimal, cap: FixedDecimal?)

        /// The amount, rounded once to the fen; never negative.
        public func amount() throws(Problem) -> FixedDecimal {
            do {
                switch self {
                case .fixed(let a): return a.rounded(toScale: moneyScale)
                case .perPiece(let pieces, let rate): return try pieces.multiplied(by: rate, roundedToScale: moneyScale)
                case .percentOf(let base, let percent): return try base.percent(percent, roundedToScale: moneyScale)
                case .materialVariance(let quantity, let cost):
                    // Only a loss is deducted; material the supplier holds beyond the ledger is not paid out here.
                    return quantity > .zero ? try quantity.multiplied(by: cost, roundedToScale: moneyScale) : .zero
                case .lateDelivery(let days, let perDay, let cap):
                    guard days > 0 else { return .zero }
                    let raw = try FixedDecimal(days).multiplied(by: perDay, roundedToScale: moneyScale)
                    return cap.map { min(raw, $0.rounded(toScale: moneyScale)) } ?? raw
                }
            } catch {
                throw .tooLarge
            }
        }
    }

    public struct Deduction: Equatable, Sendable {
        public let id: String
        public let basis: DeductionBasis
        /// Graded penalties: this occurrence carries no amount (a notice is sent instead).
        public let waived: Bool
        public init(id: String, basis: DeductionBasis, waived: Bool = false) {
            self.id = id; self.basis = basis; self.waived = waived
        }
    }

    /// A manual adjustment with its reason; either sign. A correction after a statement was
    /// locked is one of these in the next period, pointing back to the locked line.
    public struct Adjustment: Equatable, Sendable {
        public let id: String
        public let amount: FixedDecimal
        public init(id: String, amount: FixedDecimal) { self.id = id; self.amount = amount }
    }

    public struct Totals: Equatable, Sendable {
        /// Per goods line and per deduction, the rounded amount (same order as given).
        public let lineAmounts: [FixedDecimal]
        public let deductionAmounts: [FixedDecimal]
        public let goods: FixedDecimal
        public let deductions: FixedDecimal
        public let adjustments: FixedDecimal
        public let net: FixedDecimal
        public let tax: FixedDecimal
        public let gross: FixedDecimal
    }

    /// The one place where statement money is rounded to the fen.
    public static func fen(_ quantity: FixedDecimal, times price: FixedDecimal) throws(Problem) -> FixedDecimal {
        do { return try quantity.multiplied(by: price, roundedToScale: moneyScale) } catch { throw .tooLarge }
    }

    public static func totals(goods lines: [GoodsLine], deductions: [Deduction], adjustments: [Adjustment],
                              taxPercent: FixedDecimal = defaultTaxPercent) throws(Problem) -> Totals {
        guard taxPercent >= .zero, taxPercent <= FixedDecimal(100) else { throw .taxRateOutOfRange }
        var lineAmounts: [FixedDecimal] = []
        var goods = FixedDecimal.zero
        do {
            for l in lines {
                guard l.acceptedQuantity >= .zero else { throw Problem.negativeQuantity(line: l.id) }
                guard l.unitPrice >= .zero else { throw Problem.negativePrice(line: l.id) }
                let a = try fen(l.acceptedQuantity, times: l.unitPrice)
                lineAmounts.append(a)
                goods = try goods.adding(a)
            }
            var deductionAmounts: [FixedDecimal] = []
            var deducted = FixedDecimal.zero
            for d in deductions {
                let a = d.waived ? .zero : try d.basis.amount()
                guard a >= .zero else { throw Problem.negativeDeduction(id: d.id) }
                deductionAmounts.append(a)
                deducted = try deducted.adding(a)
            }
            let sums = try summarize(goods: lineAmounts, deductions: deductionAmounts,
                                     adjustments: adjustments.map { $0.amount.rounded(toScale: moneyScale) }, taxPercent: taxPercent)
            return Totals(lineAmounts: lineAmounts, deductionAmounts: deductionAmounts, goods: sums.goods, deductions: sums.deductions,
                          adjustments: sums.adjustments, net: sums.net, tax: sums.tax, gross: sums.gross)
        } catch let p as Problem {
            throw p
        } catch {
            throw .tooLarge
        }
    }
}

extension StatementAmounts {
    public struct Sums: Equatable, Sendable {
        public let goods: FixedDecimal
        public let deductions: FixedDecimal
        public let adjustments: FixedDecimal
        public let net: FixedDecimal
        public let tax: FixedDecimal
        public let gross: FixedDecimal
    }

    /// Totals from amounts already rounded per line (a statement's stored lines, or a revision
    /// whose disputed lines were corrected): net = goods − deductions + adjustments, the tax
    /// rounded once on the net, gross = net + tax.
    public static func summarize(goods: [FixedDecimal], deductions: [FixedDecimal], adjustments: [FixedDecimal],
                                 taxPercent: FixedDecimal = defaultTaxPercent) throws(Problem) -> Sums {
        guard taxPercent >= .zero, taxPercent <= FixedDecimal(100) else { throw .taxRateOutOfRange }
        do {
            let g = try goods.reduce(FixedDecimal.zero) { try $0.adding($1) }
            let d = try deductions.reduce(FixedDecimal.zero) { try $0.adding($1) }
            let a = try adjustments.reduce(FixedDecimal.zero) { try $0.adding($1) }
            let net = try g.subtracting(d).adding(a)
            let tax = try net.percent(taxPercent, roundedToScale: moneyScale)
            return Sums(goods: g, deductions: d, adjustments: a, net: net, tax: tax, gross: try net.adding(tax))
        } catch {
            throw .tooLarge
        }
    }
}

/// What quality or purchasing sets on an exception as its penalty: a sum, so much per rejected
/// piece, a percentage of the rejected lot's value, or the agreed fee for an 8D.
public enum PenaltyRule: Equatable, Sendable {
    case fixed(FixedDecimal)
    case perPiece(FixedDecimal)
    case percent(FixedDecimal)
    case eightDFee(FixedDecimal)

    public enum Kind: String, Codable, Sendable, CaseIterable { case fixed, perPiece = "per_piece", percent, eightDFee = "eight_d_fee" }

    public enum Problem: Error, Equatable, Sendable { case negative, percentOver100, tooLarge }

    /// Money stays below 10^10 yuan; a percentage within 0…100.
    public init(kind: Kind, value: FixedDecimal) throws(Problem) {
        guard value >= .zero else { throw .negative }
        guard value <= FixedDecimal(units: 10_000_000_000 * FixedDecimal.unit) else { throw .tooLarge }
        switch kind {
        case .fixed: self = .fixed(value)
        case .perPiece: self = .perPiece(value)
        case .percent:
            guard value <= FixedDecimal(100) else { throw .percentOver100 }
            self = .percent(value)
        case .eightDFee: self = .eightDFee(value)
        }
    }

    public var kind: Kind {
        switch self { case .fixed: .fixed; case .perPiece: .perPiece; case .percent: .percent; case .eightDFee: .eightDFee }
    }
    public var value: FixedDecimal {
        switch self { case .fixed(let v), .perPiece(let v), .percent(let v), .eightDFee(let v): v }
    }

    /// The deduction for an exception about `rejected` pieces of a lot priced at `unitPrice`.
    public func basis(rejected: FixedDecimal, unitPrice: FixedDecimal) throws(StatementAmounts.Problem) -> StatementAmounts.DeductionBasis {
        switch self {
        case .fixed(let v), .eightDFee(let v): return .fixed(v)
        case .perPiece(let rate): return .perPiece(pieces: rejected, rate: rate)
        case .percent(let p):
            do { return .percentOf(base: try rejected.multiplied(by: unitPrice, roundedToScale: StatementAmounts.moneyScale), percent: p) }
            catch { throw .tooLarge }
        }
    }
}

/// Graded penalties (分级处理): within a window, the first occurrences of the same kind of
/// exception for one supplier × item carry no penalty — an improvement notice is sent instead —
/// and later ones carry the agreed penalty. The statement line says which occurrence it is.
public struct GradedPenalty: Equatable, Sendable {
    public var windowDays: Int
    /// How many occurrences in the window go without a penalty.
    public var freeOccurrences: Int

    public init(windowDays: Int = 90, freeOccurrences: Int = 1) {
        self.windowDays = windowDays; self.freeOccurrences = freeOccurrences
    }

    /// 1 for the first in the window ending on `day` (inclusive of `day`, going back
    /// `windowDays − 1` days before it), counting `earlier` occurrences on or before `day`.
    public func occurrence(on day: Day, earlier: [Day]) -> Int {
        let start = day.adding(days: -(windowDays - 1))
        return 1 + earlier.filter { $0 >= start && $0 <= day }.count
    }

    public func waives(occurrence: Int) -> Bool { occurrence <= freeOccurrences }

    /// Grading applies to quality exceptions; other kinds (delay, discrepancy, …) carry their penalty from the first.
    public func waives(occurrence: Int, exceptionType: String) -> Bool { exceptionType == "quality" && waives(occurrence: occurrence) }
}

/// A manual adjustment a buyer types: either sign, never zero, to the fen, below 10^10 yuan.
public enum ManualAdjustment {
    public static let maxAmount = FixedDecimal(units: 10_000_000_000 * FixedDecimal.unit)

    public enum Problem: Error, Equatable, Sendable { case zero, notToTheFen, tooLarge }

    public static func check(_ amount: FixedDecimal) -> [Problem] {
        var p: [Problem] = []
        if amount == .zero { p.append(.zero) }
        if amount.rounded(toScale: StatementAmounts.moneyScale) != amount { p.append(.notToTheFen) }
        if amount > maxAmount || amount < FixedDecimal(units: -maxAmount.units) { p.append(.tooLarge) }
        return p
    }
}

/// The late-delivery terms of a price agreement, and how late a receipt is against a due date.
public struct LateDeliveryTerms: Equatable, Sendable {
    public static let maxAmount = FixedDecimal(units: 100_000_000 * FixedDecimal.unit)
    public let perDay: FixedDecimal
    public let cap: FixedDecimal?

    public enum Problem: Error, Equatable, Sendable { case negativePerDay, negativeCap, capWithoutPerDay, tooLarge }

    /// Both optional (no penalty); a cap needs a daily amount; nothing negative or absurd.
    public static func check(perDay: FixedDecimal?, cap: FixedDecimal?) -> [Problem] {
        var p: [Problem] = []
        if let d = perDay { if d < .zero { p.append(.negativePerDay) } else if d > maxAmount { p.append(.tooLarge) } }
        if let c = cap { if c < .zero { p.append(.negativeCap) } else if c > maxAmount { p.append(.tooLarge) } }
        if cap != nil && perDay == nil { p.append(.capWithoutPerDay) }
        return p
    }

    public init(perDay: FixedDecimal, cap: FixedDecimal?) { self.perDay = perDay; self.cap = cap }

    /// Whole days after the due date (0 when on time or early).
    public static func daysLate(due: Day, received: Day) -> Int { max(0, received.ordinal - due.ordinal) }

    public func deduction(due: Day, received: Day) -> StatementAmounts.DeductionBasis {
        .lateDelivery(daysLate: Self.daysLate(due: due, received: received), perDay: perDay, cap: cap)
    }
}
