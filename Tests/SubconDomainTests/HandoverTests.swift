import SubconDomain
import Testing

/// What A keeps and what B is ordered when lines change suppliers.
@Suite struct HandoverTests {
    let line = Handover.LineState(ordered: FixedDecimal(400), received: FixedDecimal(150), inTransit: FixedDecimal(100), open: true)

    @Test func aKeepsWhatItDeliveredAndWhatIsOnItsWay() throws {
        #expect(line.remaining == FixedDecimal(150))
        #expect(try Handover.split(line, order: .inProduction, quantity: nil) == .init(moved: FixedDecimal(150), kept: FixedDecimal(250)))
        #expect(try Handover.split(line, order: .partiallyDelivered, quantity: FixedDecimal(50)) == .init(moved: FixedDecimal(50), kept: FixedDecimal(350)))
    }

    @Test func handingOverMoreThanRemainsOrNothingIsRefused() {
        #expect(throws: Handover.Refusal.moreThanRemains(FixedDecimal(150))) { try Handover.split(line, order: .inProduction, quantity: FixedDecimal(151)) }
        #expect(throws: Handover.Refusal.nothingToMove) { try Handover.split(line, order: .inProduction, quantity: .zero) }
        let done = Handover.LineState(ordered: FixedDecimal(10), received: FixedDecimal(8), inTransit: FixedDecimal(3), open: true)
        #expect(done.remaining == .zero)
        #expect(throws: Handover.Refusal.nothingToMove) { try Handover.split(done, order: .inProduction, quantity: nil) }
        #expect(throws: Handover.Refusal.orderNotOpen(.delivered)) { try Handover.split(line, order: .delivered, quantity: nil) }
        #expect(throws: Handover.Refusal.orderNotOpen(.draft)) { try Handover.split(line, order: .draft, quantity: nil) }
        let cancelled = Handover.LineState(ordered: FixedDecimal(10), received: .zero, inTransit: .zero, open: false)
        #expect(throws: Handover.Refusal.lineNotOpen) { try Handover.split(cancelled, order: .inProduction, quantity: nil) }
    }

    @Test func onlyAnotherQualifiedSupplierTakesOver() {
        #expect(throws: Handover.Refusal.sameSupplier) { try Handover.checkTarget(sameAsSource: true, status: .qualified) }
        #expect(throws: Handover.Refusal.targetNotQualified(.prospect)) { try Handover.checkTarget(sameAsSource: false, status: .prospect) }
        #expect(throws: Handover.Refusal.targetNotQualified(.suspended)) { try Handover.checkTarget(sameAsSource: false, status: .suspended) }
        #expect(throws: Never.self) { try Handover.checkTarget(sameAsSource: false, status: .probation) }
    }
}
