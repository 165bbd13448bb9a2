import PropertyBased
import Testing
@testable import SubconDomain

private func q(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

struct StockLedgerTests {
    let a = StockKey(supplier: "A", item: "RM", lot: "L1")

    @Test func balancesAreSumsOfMovements() throws {
        let ms = [Movement(key: a, kind: .issued, quantity: q("100")), Movement(key: a, kind: .receiptConfirmed, quantity: q("98.5")),
                  Movement(key: a, kind: .consumed, quantity: q("40")), Movement(key: a, kind: .returned, quantity: q("10")),
                  Movement(key: a, kind: .adjusted, quantity: q("-0.5"))]
        #expect(try StockLedger.balance(ms) == StockBalance(inTransit: q("1.5"), held: q("48")))
    }

    /// What the stock list offers to return or transfer is what `check` would let leave.
    @Test func onlyAPositiveBalanceCanMoveOut() {
        for held in ["-240", "0", "0.0001", "5"] {
            let b = StockBalance(held: q(held))
            let smallest = Movement(key: a, kind: .returned, quantity: q("0.0001"))
            #expect(b.canMoveOut == ((try? StockLedger.check(smallest, against: b)) != nil), "\(held)")
        }
        #expect(!StockBalance(held: q("-240")).canMoveOut && StockBalance(held: q("5")).canMoveOut)
    }

    @Test func whatLeavesByChoiceCannotExceedWhatIsHeld() throws {
        let b = StockBalance(inTransit: q("5"), held: q("10"))
        #expect(throws: StockLedger.Refusal.moreThanHeld(available: q("10"))) { try StockLedger.check(Movement(key: a, kind: .returned, quantity: q("10.0001")), against: b) }
        #expect(throws: StockLedger.Refusal.moreThanInTransit(available: q("5"))) { try StockLedger.check(Movement(key: a, kind: .receiptConfirmed, quantity: q("6")), against: b) }
        #expect(throws: StockLedger.Refusal.nonPositive) { try StockLedger.check(Movement(key: a, kind: .issued, quantity: .zero), against: b) }
        // Consumption from accepted goods is a fact, even beyond what is held: the write-off shows it.
        try StockLedger.check(Movement(key: a, kind: .consumed, quantity: q("50")), against: b)
        // Return before any goods have come back is allowed (ERPNext refuses it).
        try StockLedger.check(Movement(key: a, kind: .returned, quantity: q("10")), against: b)
        #expect(throws: StockLedger.Refusal.sameSupplier) { try StockLedger.transfer(q("1"), item: "RM", lot: "L1", from: "A", to: "A", held: b) }
        let pair = try StockLedger.transfer(q("4"), item: "RM", lot: "L1", from: "A", to: "B", held: b)
        #expect(pair.map(\.kind) == [.transferredOut, .transferredIn])
    }

    @Test func writeOffOnAHandComputedCase() throws {
        // 1,000 issued; 300 + 250 good parts accepted at 1.5 kg each with 2 % scrap allowed;
        // 20 kg returned; 150 kg still there.
        let w = try WriteOff.compute(issued: q("1000"), accepted: [q("300"), q("250")], quantityPer: q("1.5"), scrapPercent: q("2"),
                                     returned: q("20"), held: q("150"))
        #expect(w.consumed == q("825"))
        #expect(w.allowedLoss == q("16.5"))
        #expect(w.variance == q("-11.5"))
        #expect(try !w.exceeds(tolerancePercent: q("1")))
        let short = try WriteOff.compute(issued: q("1000"), accepted: [q("550")], quantityPer: q("1.5"), scrapPercent: q("2"),
                                         returned: q("20"), held: q("100"))
        #expect(short.variance == q("38.5"))
        #expect(try short.exceeds(tolerancePercent: q("3")))
        #expect(try !short.exceeds(tolerancePercent: q("3.85")))
    }

    @Test func periodWriteOffFromTheLedgerCountsTransfersAsIssueAndReturn() throws {
        let b = StockKey(supplier: "A", item: "RM", lot: "L2")
        let ms = [Movement(key: a, kind: .issued, quantity: q("500")), Movement(key: a, kind: .receiptConfirmed, quantity: q("480")),
                  Movement(key: b, kind: .transferredIn, quantity: q("40")),
                  Movement(key: a, kind: .consumed, quantity: q("300"), allowance: q("6")),
                  Movement(key: a, kind: .returned, quantity: q("50")), Movement(key: b, kind: .transferredOut, quantity: q("10")),
                  Movement(key: a, kind: .scrapped, quantity: q("4")), Movement(key: a, kind: .adjusted, quantity: q("-3"))]
        let w = try WriteOff.summarize(opening: StockBalance(inTransit: q("5"), held: q("95")), movements: ms)
        #expect(w.opening == q("100"))
        #expect(w.issued == q("540"))
        #expect(w.returned == q("60"))
        #expect(w.consumed == q("300"))
        #expect(w.held == q("273"))              // 100 + 540 − 300 − 60 − 4 − 3 (in transit included)
        #expect(w.variance == q("1"))            // scrap 4 + count loss 3 − allowance 6
        #expect(try w.allowedVariance(tolerancePercent: q("0.1")) == q("0.64"))  // 0.1 % of 100 + 540
        #expect(try w.exceeds(tolerancePercent: q("0.1")))
        #expect(try !w.exceeds(tolerancePercent: q("0.2")))
    }
}

struct ReceivingTests {
    @Test func overReceiptToleranceCountsWhatWasNotRejected() throws {
        // 1000 ordered, 5 % tolerance: 1050 at most.
        #expect(try Receiving.limit(ordered: q("1000"), tolerancePercent: q("5")) == q("1050"))
        try Receiving.check(incoming: q("260"), ordered: q("1000"), counted: q("790"), tolerancePercent: q("5"))
        #expect(throws: Receiving.Refusal.overReceipt(remaining: q("260"))) {
            try Receiving.check(incoming: q("260.0001"), ordered: q("1000"), counted: q("790"), tolerancePercent: q("5"))
        }
        #expect(throws: Receiving.Refusal.overReceipt(remaining: .zero)) {
            try Receiving.check(incoming: q("1"), ordered: q("10"), counted: q("11"), tolerancePercent: q("0"))
        }
        #expect(throws: Receiving.Refusal.nonPositive) { try Receiving.check(incoming: .zero, ordered: q("10"), counted: .zero, tolerancePercent: .zero) }
    }

    @Test func outcomeMustAddUpAndDecidesDelivery() throws {
        try Receiving.checkOutcome(received: q("100"), accepted: q("90"), rejected: q("10"))
        #expect(throws: Receiving.OutcomeProblem.doesNotAddUp(received: q("100"))) { try Receiving.checkOutcome(received: q("100"), accepted: q("90"), rejected: q("9")) }
        #expect(throws: Receiving.OutcomeProblem.negative) { try Receiving.checkOutcome(received: q("100"), accepted: q("110"), rejected: q("-10")) }
        #expect(Receiving.deliveryStatus([(q("10"), .zero), (q("5"), .zero)]) == nil)
        #expect(Receiving.deliveryStatus([(q("10"), q("10")), (q("5"), .zero)]) == .partiallyDelivered)
        #expect(Receiving.deliveryStatus([(q("10"), q("10.5")), (q("5"), q("5"))]) == .delivered)
    }

    @Test func supplementaryIsAnythingBeyondWhatRemains() {
        #expect(MaterialIssuing.remaining(gross: q("2030"), issued: q("2100")) == .zero)
        #expect(MaterialIssuing.remaining(gross: q("2030"), issued: q("1200")) == q("830"))
        #expect(!MaterialIssuing.isSupplementary(requested: [(q("830"), q("830"))]))
        #expect(MaterialIssuing.isSupplementary(requested: [(q("830"), q("830")), (.zero, q("0.0001"))]))
    }

    @Test func consumptionTakesTheOldestLotsFirstAndShowsShortfalls() throws {
        let lots = [(lot: "C", held: q("50")), (lot: "A", held: q("100")), (lot: "B", held: q("-5"))]
        #expect(Consumption.allocate(q("120"), held: lots, lastLot: "C").map { "\($0.lot) \($0.quantity)" } == ["A 100", "C 20"])
        // More than all lots hold: the rest goes on the last lot.
        #expect(Consumption.allocate(q("160"), held: lots, lastLot: "C").map { "\($0.lot) \($0.quantity)" } == ["A 100", "C 60"])
        // The last lot by name is used up (no longer held): the rest still goes on it.
        #expect(Consumption.allocate(q("160"), held: lots, lastLot: "Z").map { "\($0.lot) \($0.quantity)" } == ["A 100", "C 50", "Z 10"])
        #expect(Consumption.allocate(q("7"), held: [], lastLot: nil).map { "\($0.lot) \($0.quantity)" } == [" 7"])
        #expect(Consumption.allocate(.zero, held: lots, lastLot: "C").isEmpty)
        let (used, allowance) = try Consumption.of(accepted: q("90"), quantityPer: q("2"), scrapPercent: q("1.5"))
        #expect(used == q("180"))
        #expect(allowance == q("2.7"))
    }
}

/// Random sequences of issue, confirm, partial consumption from accepted goods, return before
/// any receipt, transfer between suppliers, scrap and adjustment. After every step the ledger
/// must equal an independent running model, and the write-off variance must equal a
/// recomputation done in plain integers (the sizes here stay far inside 64 bits).
struct StockLedgerPropertyTests {
    enum Op { case issue, confirm, consume, scrap, giveBack, transfer, adjust }

    /// Running sums per supplier, kept apart from the ledger. (Written without `default:` and
    /// `??`: their autoclosures inside `#expect` inside this closure crash the 6.3 compiler.)
    struct Sums {
        var values: [String: Int64] = [:]
        subscript(_ s: String) -> Int64 {
            get { if let v = values[s] { return v }; return 0 }
            set { values[s] = newValue }
        }
    }

    struct Model {
        var issued = Sums(), inTransit = Sums(), held = Sums(), consumed = Sums(), returned = Sums()
        /// What the ledger itself says was lost: scrap, counted corrections, allowances.
        var scrapped = Sums(), adjusted = Sums(), allowance = Sums()
    }

    static let per = FixedDecimal(units: 12_500)      // 1.25 kg per part
    static let scrap = FixedDecimal(units: 30_000)    // 3 %

    /// Round-half-away-from-zero division, written out independently of FixedDecimal.
    static func div(_ n: Int64, _ d: Int64) -> Int64 {
        let q = n / d, r = n % d
        return (r.magnitude * 2 >= d.magnitude) ? (n < 0 ? q - 1 : q + 1) : q
    }

    @Test func ledgerAndWriteOffStayExactThroughRandomSequences() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...Int(Int32.max)).array(of: 1...80)) { seeds in
            var movements: [Movement] = []
            var model = Model()
            var accepted: [String: [FixedDecimal]] = ["A": [], "B": []]
            for x in seeds {
                let op: Op = [.issue, .confirm, .consume, .scrap, .giveBack, .transfer, .adjust][x % 7]
                let supplier = ["A", "B"][(x / 7) % 2]
                let key = StockKey(supplier: supplier, item: "RM", lot: "L1")
                let units = Int64((x / 14) % 2_000_000 + 1)     // up to 200 kg, 4 decimals
                let quantity = FixedDecimal(units: units)
                let before = try! StockLedger.balance(movements.filter { $0.key == key })
                switch op {
                case .issue:
                    movements.append(Movement(key: key, kind: .issued, quantity: quantity))
                    model.issued[supplier] += Int64(units); model.inTransit[supplier] += Int64(units)
                case .confirm:
                    let m = Movement(key: key, kind: .receiptConfirmed, quantity: quantity)
                    let ok = (try? StockLedger.check(m, against: before)) != nil
                    let inTransit = model.inTransit[supplier]
                    #expect(ok == (Int64(units) <= inTransit))
                    if ok {
                        movements.append(m)
                        model.inTransit[supplier] -= Int64(units); model.held[supplier] += Int64(units)
                    }
                case .consume:
                    // A partial receipt of good parts: consumption = parts × quantity per.
                    let parts = FixedDecimal(units: (units % 500 + 1) * 10_000)
                    let use = try! parts.multiplied(by: Self.per)
                    let independent = Self.div(Int64(parts.units) * Int64(Self.per.units), 10_000)
                    let allowed = Self.div(independent * Int64(Self.scrap.units), 1_000_000)
                    movements.append(Movement(key: key, kind: .consumed, quantity: use, allowance: FixedDecimal(units: allowed)))
                    accepted[supplier]!.append(parts)
                    model.allowance[supplier] += allowed
                    #expect(Int64(use.units) == independent)
                    model.held[supplier] -= independent; model.consumed[supplier] += independent
                case .scrap, .giveBack:
                    let m = Movement(key: key, kind: op == .scrap ? .scrapped : .returned, quantity: quantity)
                    let ok = (try? StockLedger.check(m, against: before)) != nil
                    let held = model.held[supplier]
                    #expect(ok == (Int64(units) <= held))
                    if ok {
                        movements.append(m)
                        model.held[supplier] -= Int64(units)
                        if op == .giveBack { model.returned[supplier] += Int64(units) } else { model.scrapped[supplier] += Int64(units) }
                    }
                case .transfer:
                    let other = supplier == "A" ? "B" : "A"
                    let held = model.held[supplier]
                    if let pair = try? StockLedger.transfer(quantity, item: "RM", lot: "L1", from: supplier, to: other, held: before) {
                        #expect(Int64(units) <= held)
                        movements += pair
                        model.held[supplier] -= Int64(units); model.held[other] += Int64(units)
                    } else {
                        #expect(Int64(units) > held)
                    }
                case .adjust:
                    let signed = x % 2 == 0 ? units : -units
                    movements.append(Movement(key: key, kind: .adjusted, quantity: FixedDecimal(units: signed)))
                    model.held[supplier] += Int64(signed)
                    model.adjusted[supplier] += Int64(signed)
                }
                // After every step: the ledger equals the model, key by key.
                let balances = try! StockLedger.balances(movements)
                for s in ["A", "B"] {
                    let b = balances[StockKey(supplier: s, item: "RM", lot: "L1")] ?? StockBalance()
                    let (inTransit, held) = (model.inTransit[s], model.held[s])
                    #expect(Int64(b.inTransit.units) == inTransit)
                    #expect(Int64(b.held.units) == held)
                    // And the write-off variance equals the independent recomputation.
                    let w = try! WriteOff.compute(issued: FixedDecimal(units: Int64(model.issued[s])), accepted: accepted[s]!,
                                                  quantityPer: Self.per, scrapPercent: Self.scrap,
                                                  returned: FixedDecimal(units: Int64(model.returned[s])),
                                                  held: FixedDecimal(units: Int64(model.held[s] + model.inTransit[s])))
                    let consumed = model.consumed[s]
                    let allowed = Self.div(consumed * Int64(Self.scrap.units), 1_000_000)
                    let variance = model.issued[s] - consumed - allowed - model.returned[s]
                        - (model.held[s] + model.inTransit[s])
                    #expect(Int64(w.consumed.units) == consumed)
                    #expect(Int64(w.allowedLoss.units) == allowed)
                    #expect(Int64(w.variance.units) == variance)
                    // The ledger's own write-off (transfers counted as issue and return): what is
                    // unaccounted for is exactly what the ledger says was lost beyond the allowance.
                    let ledger = try! WriteOff.summarize(movements: movements.filter { $0.key.supplier == s })
                    #expect(Int64(ledger.held.units) == model.held[s] + model.inTransit[s])
                    #expect(Int64(ledger.variance.units) == model.scrapped[s] - model.adjusted[s] - model.allowance[s])
                }
            }
        }
    }
}
