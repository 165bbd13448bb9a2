import Testing
@testable import SubconDomain

private func d(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

@Suite struct InvoiceTests {
    private func f(_ net: String, _ rate: Int, _ tax: String, _ gross: String) -> InvoiceMatching.Figures {
        .init(net: d(net), taxPercent: FixedDecimal(rate), tax: d(tax), gross: d(gross))
    }

    /// 10,000.00 at 13 % is 1,300.00 tax and 11,300.00 gross; the tax may be off by up to five fen.
    @Test func anInvoiceIsCheckedOnItsOwn() throws {
        try InvoiceMatching.check(f("10000", 13, "1300", "11300"))
        try InvoiceMatching.check(f("10000", 13, "1300.05", "11300.05"))
        #expect(throws: InvoiceMatching.Problem.taxDoesNotFitRate(expected: d("1300"))) { try InvoiceMatching.check(f("10000", 13, "1300.06", "11300.06")) }
        #expect(throws: InvoiceMatching.Problem.grossIsNotNetPlusTax(expected: d("11300"))) { try InvoiceMatching.check(f("10000", 13, "1300", "11300.01")) }
        #expect(throws: InvoiceMatching.Problem.rateNotAllowed) { try InvoiceMatching.check(f("10000", 11, "1100", "11100")) }
        #expect(throws: InvoiceMatching.Problem.notPositive(field: "net")) { try InvoiceMatching.check(f("-10", 13, "0", "1")) }
        #expect(throws: InvoiceMatching.Problem.negative(field: "tax")) { try InvoiceMatching.check(f("10", 13, "-1.30", "8.70")) }
        #expect(throws: InvoiceMatching.Problem.notMoney(field: "net")) { try InvoiceMatching.check(f("10.001", 13, "1.30", "11.301")) }
        // A wider tolerance accepts what the default refuses.
        try InvoiceMatching.check(f("10000", 13, "1300.06", "11300.06"), tolerance: d("0.10"))
    }

    /// Statement: net 1,336.45, 13 % tax 173.7385 → 173.74. Invoiced in two: 1,000.00 (tax 130.00)
    /// and 336.45 (tax 43.7385 → 43.74): together exactly the statement.
    @Test func severalInvoicesMatchOneStatement() throws {
        let s = InvoiceMatching.StatementMoney(net: d("1336.45"), tax: d("173.74"), taxPercent: FixedDecimal(13))
        let a = f("1000", 13, "130", "1130"), b = f("336.45", 13, "43.74", "380.19")
        #expect(try InvoiceMatching.match(s, invoices: []).state == .waiting)
        let first = try InvoiceMatching.match(s, invoices: [a])
        #expect(first.state == .partial)
        #expect(first.differenceNet == d("336.45") && first.differenceTax == d("43.74"))
        let both = try InvoiceMatching.match(s, invoices: [a, b])
        #expect(both.state == .matched && both.differenceNet == .zero && both.differenceTax == .zero)
        #expect(try InvoiceMatching.flags(b, statement: s, earlier: [a]).isEmpty)
    }

    /// Three invoices of 0.50 each round their tax (0.065) to 0.07: 0.21 against the statement's
    /// 1.50 × 13 % = 0.195 → 0.20. One fen apart: within the tolerance, matched; with no
    /// tolerance at all, more tax than the statement holds.
    @Test func roundingPerInvoiceStaysWithinTheTolerance() throws {
        let s = InvoiceMatching.StatementMoney(net: d("1.5"), tax: d("0.2"), taxPercent: FixedDecimal(13))
        let each = f("0.5", 13, "0.07", "0.57")
        let m = try InvoiceMatching.match(s, invoices: [each, each, each])
        #expect(m.state == .matched && m.differenceTax == d("-0.01"))
        #expect(try InvoiceMatching.match(s, invoices: [each, each, each], tolerance: .zero).state == .over)
        #expect(try InvoiceMatching.flags(each, statement: s, earlier: [each, each], tolerance: .zero) == [.exceedsStatement])
    }

    /// An invoice beyond what is left, and one at another rate, are stored with their flags.
    @Test func aMismatchIsFlaggedPerInvoice() throws {
        let s = InvoiceMatching.StatementMoney(net: d("1336.45"), tax: d("173.74"), taxPercent: FixedDecimal(13))
        let a = f("1000", 13, "130", "1130")
        #expect(try InvoiceMatching.flags(f("346.45", 13, "45.04", "391.49"), statement: s, earlier: [a]) == [.exceedsStatement])
        #expect(try InvoiceMatching.flags(f("336.45", 9, "30.28", "366.73"), statement: s, earlier: [a]) == [.rateDiffers])
        #expect(try InvoiceMatching.match(s, invoices: [a, f("346.45", 13, "45.04", "391.49")]).state == .over)
    }

    @Test func numbersHaveAShapeAndAreUniquePerSupplier() throws {
        #expect(try InvoiceNumber.normalize(number: " 1234 5678 ", code: "3100 2612 30") == ("12345678", "3100261230"))
        #expect(try InvoiceNumber.normalize(number: "26312000000012345678", code: "") == ("26312000000012345678", ""))
        #expect(throws: InvoiceNumber.Problem.badNumber) { try InvoiceNumber.normalize(number: "1234567", code: "3100261230") }
        #expect(throws: InvoiceNumber.Problem.badNumber) { try InvoiceNumber.normalize(number: "1234567８", code: "3100261230") }
        #expect(throws: InvoiceNumber.Problem.badCode) { try InvoiceNumber.normalize(number: "12345678", code: "") }
        #expect(throws: InvoiceNumber.Problem.badCode) { try InvoiceNumber.normalize(number: "26312000000012345678", code: "3100261230") }
        try InvoiceNumber.checkUnique("12345678", among: ["87654321"])
        #expect(throws: InvoiceNumber.Problem.duplicate) { try InvoiceNumber.checkUnique("12345678", among: ["87654321", "12345678"]) }
    }

    @Test func financeDecidesWithAReason() throws {
        #expect(try InvoiceLifecycle.decide(.registered, accept: true, reason: "", flagged: false) == .accepted)
        #expect(throws: InvoiceLifecycle.Refusal.reasonRequired) { try InvoiceLifecycle.decide(.registered, accept: false, reason: "  ", flagged: false) }
        #expect(throws: InvoiceLifecycle.Refusal.reasonRequired) { try InvoiceLifecycle.decide(.registered, accept: true, reason: "", flagged: true) }
        #expect(try InvoiceLifecycle.decide(.registered, accept: true, reason: "税额按发票系统逐行计算", flagged: true) == .accepted)
        #expect(try InvoiceLifecycle.decide(.registered, accept: false, reason: "金额与对账单不符", flagged: false) == .rejected)
        #expect(throws: InvoiceLifecycle.Refusal.notNow(.accepted)) { try InvoiceLifecycle.decide(.accepted, accept: false, reason: "x", flagged: false) }
    }

    /// Statement gross 1,510.19; invoices 1,130.00 (accepted, 1,000.00 paid) and 380.19
    /// (registered); a rejected one of 99.00 does not count.
    @Test func paymentsLeaveWhatIsOutstanding() throws {
        let invoices: [PaymentStatus.Invoice] = [.init(gross: d("1130"), state: .accepted, paid: d("1000")),
                                                 .init(gross: d("380.19"), state: .registered),
                                                 .init(gross: d("99"), state: .rejected)]
        let t = try PaymentStatus.totals(statementGross: d("1510.19"), invoices: invoices)
        #expect(t.invoiced == d("1510.19") && t.accepted == d("1130") && t.paid == d("1000") && t.outstanding == d("510.19"))
        try PaymentStatus.check(amount: d("130"), invoice: invoices[0], statementOutstanding: t.outstanding)
        #expect(throws: PaymentStatus.Refusal.moreThanOutstanding(available: d("130"))) {
            try PaymentStatus.check(amount: d("130.01"), invoice: invoices[0], statementOutstanding: t.outstanding)
        }
        // The statement's outstanding caps an over-invoiced invoice too.
        #expect(throws: PaymentStatus.Refusal.moreThanOutstanding(available: d("20"))) {
            try PaymentStatus.check(amount: d("100"), invoice: invoices[0], statementOutstanding: d("20"))
        }
        #expect(throws: PaymentStatus.Refusal.invoiceNotAccepted) { try PaymentStatus.check(amount: d("1"), invoice: invoices[1], statementOutstanding: t.outstanding) }
        #expect(throws: PaymentStatus.Refusal.notPositive) { try PaymentStatus.check(amount: d("0"), invoice: invoices[0], statementOutstanding: t.outstanding) }
        #expect(throws: PaymentStatus.Refusal.notMoney) { try PaymentStatus.check(amount: d("0.001"), invoice: invoices[0], statementOutstanding: t.outstanding) }
        let paidUp = try PaymentStatus.totals(statementGross: d("1510.19"), invoices: [.init(gross: d("1510.19"), state: .accepted, paid: d("1510.19"))])
        #expect(paidUp.outstanding == .zero)
    }

    @Test func agingCountsDaysSinceTheStatementWasLocked() {
        let locked = Day("2026-10-01")!
        #expect(PaymentStatus.AgeBucket.of(lockedOn: locked, today: Day("2026-10-31")!) == .days0to30)
        #expect(PaymentStatus.AgeBucket.of(lockedOn: locked, today: Day("2026-11-01")!) == .days31to60)
        #expect(PaymentStatus.AgeBucket.of(lockedOn: locked, today: Day("2026-12-02")!) == .days61to90)
        #expect(PaymentStatus.AgeBucket.of(lockedOn: locked, today: Day("2026-12-31")!) == .over90)
        // The lock days the database compares with give the same bands, day by day.
        let today = Day("2026-12-02")!
        let firsts = PaymentStatus.AgeBucket.firstDays(today: today)
        #expect(firsts == [Day("2026-11-02")!, Day("2026-10-03")!, Day("2026-09-03")!])
        for age in 0...130 {
            let lockedOn = today.adding(days: -age)
            let band = firsts.firstIndex { lockedOn >= $0 } ?? firsts.count
            #expect(PaymentStatus.AgeBucket.allCases[band] == PaymentStatus.AgeBucket.of(lockedOn: lockedOn, today: today), "age \(age)")
        }
    }

    @Test func whatIsPayableIsCappedByTheStatement() {
        let invoice = PaymentStatus.Invoice(gross: d("1130"), state: .accepted, paid: d("1000"))
        #expect(PaymentStatus.payable(invoice: invoice, statementOutstanding: d("510.19")) == d("130"))
        #expect(PaymentStatus.payable(invoice: invoice, statementOutstanding: d("20")) == d("20"))
        #expect(PaymentStatus.payable(invoice: invoice, statementOutstanding: .zero) == .zero)
    }
}
