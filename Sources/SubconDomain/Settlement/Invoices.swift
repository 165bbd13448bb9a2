/// Supplier invoices (增值税专用发票) registered against a locked statement, and what has been
/// paid: the checks an invoice must pass on its own, how invoices are matched against the
/// statement, and what is still outstanding. Money is in fen (two decimals), exact.
public enum InvoiceMatching {
    /// VAT rates an invoice may carry in China (percent): 13 and 9 for goods and processing, 6
    /// for services, 5, 3 and 1 for simplified taxpayers, 0 for exempt.
    public static let vatRates: [FixedDecimal] = [0, 1, 3, 5, 6, 9, 13].map { FixedDecimal($0) }
    /// Five fen: the invoice's tax is computed by the tax authority's system, line by line, so a
    /// sum over lines may differ from the statement's single rounding by a few fen.
    public static let defaultTolerance = FixedDecimal(units: 500)

    public enum Problem: Error, Equatable, Sendable {
        /// Net and gross must be more than zero, tax not below zero.
        case notPositive(field: String)
        case negative(field: String)
        /// More than two decimals: not an amount of money.
        case notMoney(field: String)
        case rateNotAllowed
        /// Gross must be net + tax to the fen.
        case grossIsNotNetPlusTax(expected: FixedDecimal)
        /// The tax does not fit net × rate within the tolerance.
        case taxDoesNotFitRate(expected: FixedDecimal)
        case tooLarge
    }

    /// What an invoice says about money.
    public struct Figures: Equatable, Sendable {
        public var net: FixedDecimal
        public var taxPercent: FixedDecimal
        public var tax: FixedDecimal
        public var gross: FixedDecimal
        public init(net: FixedDecimal, taxPercent: FixedDecimal, tax: FixedDecimal, gross: FixedDecimal) {
            self.net = net; self.taxPercent = taxPercent; self.tax = tax; self.gross = gross
        }
    }

    /// The size of a difference, whichever way it goes (amounts of money are far from Int64's limits).
    static func size(_ a: FixedDecimal) -> FixedDecimal { a < .zero ? FixedDecimal(units: -a.units) : a }

    static func isMoney(_ a: FixedDecimal) -> Bool { a.rounded(toScale: StatementAmounts.moneyScale) == a }

    /// Checks an invoice on its own: amounts in fen, a VAT rate, the tax within the tolerance of
    /// net × rate, and gross = net + tax exactly. An invoice that fails is refused, not stored:
    /// no real VAT invoice can look like that, so it is a typing error.
    public static func check(_ f: Figures, tolerance: FixedDecimal = defaultTolerance) throws(Problem) {
        for (name, a) in [("net", f.net), ("tax", f.tax), ("gross", f.gross)] where !isMoney(a) { throw .notMoney(field: name) }
        guard f.net > .zero else { throw .notPositive(field: "net") }
        guard f.tax >= .zero else { throw .negative(field: "tax") }
        guard f.gross > .zero else { throw .notPositive(field: "gross") }
        guard vatRates.contains(f.taxPercent) else { throw .rateNotAllowed }
        do {
            let expectedTax = try f.net.percent(f.taxPercent, roundedToScale: StatementAmounts.moneyScale)
            if size(try f.tax.subtracting(expectedTax)) > tolerance { throw Problem.taxDoesNotFitRate(expected: expectedTax) }
            let expectedGross = try f.net.adding(f.tax)
            if f.gross != expectedGross { throw Problem.grossIsNotNetPlusTax(expected: expectedGross) }
        } catch let p as Problem {
            throw p
        } catch {
            throw .tooLarge
        }
    }

    /// Why an invoice does not fit its statement; stored on the invoice and shown to both sides.
    public enum Flag: String, Codable, Sendable, CaseIterable {
        /// The invoice's VAT rate is not the statement's.
        case rateDiffers = "rate_differs"
        /// With the invoices registered before it, more net or tax than the statement holds.
        case exceedsStatement = "exceeds_statement"
    }

    /// The statement's money an invoice is matched against.
    public struct StatementMoney: Equatable, Sendable {
        public var net: FixedDecimal
        public var tax: FixedDecimal
        public var taxPercent: FixedDecimal
        public init(net: FixedDecimal, tax: FixedDecimal, taxPercent: FixedDecimal) { self.net = net; self.tax = tax; self.taxPercent = taxPercent }
    }

    /// The flags of a new invoice, given the invoices of the statement that still count (not rejected).
    public static func flags(_ new: Figures, statement: StatementMoney, earlier: [Figures],
                             tolerance: FixedDecimal = defaultTolerance) throws(Problem) -> [Flag] {
        var out: [Flag] = []
        if new.taxPercent != statement.taxPercent { out.append(.rateDiffers) }
        let sums = try sum(earlier + [new])
        let netLimit = try add(statement.net, tolerance), taxLimit = try add(statement.tax, tolerance)
        if sums.net > netLimit || sums.tax > taxLimit { out.append(.exceedsStatement) }
        return out
    }

    public enum MatchState: String, Codable, Sendable {
        /// No invoice yet.
        case waiting
        /// Less than the statement (beyond the tolerance): more invoices are expected.
        case partial
        /// Net and tax both within the tolerance of the statement's.
        case matched
        /// More than the statement, beyond the tolerance.
        case over
    }

    public struct Match: Equatable, Sendable {
        public let invoicedNet: FixedDecimal
        public let invoicedTax: FixedDecimal
        /// Statement minus invoiced: positive when more is to be invoiced.
        public let differenceNet: FixedDecimal
        public let differenceTax: FixedDecimal
        public let state: MatchState
    }

    /// The invoices that count (registered or accepted, not rejected) against the statement.
    public static func match(_ statement: StatementMoney, invoices: [Figures], tolerance: FixedDecimal = defaultTolerance) throws(Problem) -> Match {
        let sums = try sum(invoices)
        let dNet: FixedDecimal, dTax: FixedDecimal
        do { dNet = try statement.net.subtracting(sums.net); dTax = try statement.tax.subtracting(sums.tax) } catch { throw .tooLarge }
        let state: MatchState
        if invoices.isEmpty {
            state = .waiting
        } else if size(dNet) <= tolerance && size(dTax) <= tolerance {
            state = .matched
        } else if dNet < .zero && size(dNet) > tolerance || dTax < .zero && size(dTax) > tolerance {
            state = .over
        } else {
            state = .partial
        }
        return Match(invoicedNet: sums.net, invoicedTax: sums.tax, differenceNet: dNet, differenceTax: dTax, state: state)
    }

    static func sum(_ invoices: [Figures]) throws(Problem) -> (net: FixedDecimal, tax: FixedDecimal) {
        var net = FixedDecimal.zero, tax = FixedDecimal.zero
        for f in invoices { net = try add(net, f.net); tax = try add(tax, f.tax) }
        return (net, tax)
    }

    static func add(_ a: FixedDecimal, _ b: FixedDecimal) throws(Problem) -> FixedDecimal {
        do { return try a.adding(b) } catch { throw .tooLarge }
    }
}

/// An invoice's life: the supplier registers it, finance accepts or rejects it with a reason.
/// A rejected invoice no longer counts; the supplier registers a corrected one (a new number).
public enum InvoiceLifecycle {
    public enum State: String, Codable, Sendable, CaseIterable { case registered, accepted, rejected }

    public enum Refusal: Error, Equatable, Sendable {
        case notNow(State)
        /// A rejection, and accepting an invoice that does not fit its statement, say why.
        case reasonRequired
    }

    /// The state after finance's decision. `flagged`: the invoice carries a mismatch flag.
    public static func decide(_ state: State, accept: Bool, reason: String, flagged: Bool) throws(Refusal) -> State {
        guard state == .registered else { throw .notNow(state) }
        let said = !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        if !accept || flagged, !said { throw .reasonRequired }
        return accept ? .accepted : .rejected
    }
}

/// What a statement has been invoiced, accepted and paid, and what is still owed.
public enum PaymentStatus {
    public enum Refusal: Error, Equatable, Sendable {
        case notPositive
        case notMoney
        /// Only an accepted invoice is paid.
        case invoiceNotAccepted
        /// More than is still outstanding on the invoice or the statement.
        case moreThanOutstanding(available: FixedDecimal)
        case tooLarge
    }

    public struct Totals: Equatable, Sendable {
        public let gross: FixedDecimal
        /// Gross of the invoices that count (registered or accepted).
        public let invoiced: FixedDecimal
        public let accepted: FixedDecimal
        public let paid: FixedDecimal
        /// The statement's gross less what was paid (never below zero).
        public let outstanding: FixedDecimal
    }

    public struct Invoice: Equatable, Sendable {
        public let gross: FixedDecimal
        public let state: InvoiceLifecycle.State
        public let paid: FixedDecimal
        public init(gross: FixedDecimal, state: InvoiceLifecycle.State, paid: FixedDecimal = .zero) { self.gross = gross; self.state = state; self.paid = paid }
    }

    public static func totals(statementGross: FixedDecimal, invoices: [Invoice]) throws(Refusal) -> Totals {
        do {
            var invoiced = FixedDecimal.zero, accepted = FixedDecimal.zero, paid = FixedDecimal.zero
            for i in invoices {
                if i.state != .rejected { invoiced = try invoiced.adding(i.gross) }
                if i.state == .accepted { accepted = try accepted.adding(i.gross) }
                paid = try paid.adding(i.paid)
            }
            let left = try statementGross.subtracting(paid)
            return Totals(gross: statementGross, invoiced: invoiced, accepted: accepted, paid: paid, outstanding: max(left, .zero))
        } catch {
            throw .tooLarge
        }
    }

    /// What may still be paid on an accepted invoice: what it still owes, at most what the
    /// statement still owes (an invoice accepted beyond its statement is not paid beyond it).
    public static func payable(invoice: Invoice, statementOutstanding: FixedDecimal) -> FixedDecimal {
        let onInvoice = (try? invoice.gross.subtracting(invoice.paid)) ?? .zero
        return max(min(onInvoice, statementOutstanding), .zero)
    }

    /// Checks a payment against its invoice and the statement: money in fen, more than zero, an
    /// accepted invoice, and no more than `payable`.
    public static func check(amount: FixedDecimal, invoice: Invoice, statementOutstanding: FixedDecimal) throws(Refusal) {
        guard InvoiceMatching.isMoney(amount) else { throw .notMoney }
        guard amount > .zero else { throw .notPositive }
        guard invoice.state == .accepted else { throw .invoiceNotAccepted }
        let available = payable(invoice: invoice, statementOutstanding: statementOutstanding)
        guard amount <= available else { throw .moreThanOutstanding(available: available) }
    }

    /// Aging of what is outstanding, counted in days from the day the statement was locked.
    public enum AgeBucket: String, Codable, Sendable, CaseIterable {
        case days0to30 = "0-30", days31to60 = "31-60", days61to90 = "61-90", over90 = "90+"

        /// The most days old a statement in this band is (nil: no limit).
        var maxAge: Int? {
            switch self {
            case .days0to30: 30
            case .days31to60: 60
            case .days61to90: 90
            case .over90: nil
            }
        }

        public static func of(lockedOn: Day, today: Day) -> AgeBucket {
            let age = today.ordinal - lockedOn.ordinal
            return allCases.first { $0.maxAge.map { age <= $0 } ?? true }!
        }

        /// The first lock day of each band but the oldest, youngest band first: a statement
        /// locked on or after `firstDays[i]` is in band i (for a grouped read in the database,
        /// which compares lock times instead of counting days per row).
        public static func firstDays(today: Day) -> [Day] {
            allCases.compactMap { $0.maxAge.map { today.adding(days: -$0) } }
        }
    }
}

/// The number and code printed on a VAT invoice: a fully digital invoice (全电发票) has a
/// 20-digit number and no code; a paper or older electronic one an 8-digit number and a 10- or
/// 12-digit code. A supplier's invoice numbers are unique: the same number twice is one invoice
/// registered twice.
public enum InvoiceNumber {
    public enum Problem: Error, Equatable, Sendable {
        case badNumber
        case badCode
        case duplicate
    }

    /// The number and code as stored: spaces removed; refused when not of a known shape.
    public static func normalize(number: String, code: String) throws(Problem) -> (number: String, code: String) {
        let n = number.filter { !$0.isWhitespace }, c = code.filter { !$0.isWhitespace }
        guard n.allSatisfy(\.isASCII), n.allSatisfy(\.isNumber) else { throw .badNumber }
        guard c.allSatisfy(\.isASCII), c.allSatisfy(\.isNumber) else { throw .badCode }
        switch n.count {
        case 20: guard c.isEmpty else { throw .badCode }
        case 8: guard c.count == 10 || c.count == 12 else { throw .badCode }
        default: throw .badNumber
        }
        return (n, c)
    }

    /// Refuses a number the supplier already registered (a rejected invoice keeps its number:
    /// the corrected one the tax system issues has a new one).
    public static func checkUnique(_ number: String, among existing: some Sequence<String>) throws(Problem) {
        if existing.contains(number) { throw .duplicate }
    }
}
