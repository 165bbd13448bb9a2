import Testing
@testable import SubconDomain

private func d(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

/// The same 40 rejected pieces as 工废 and as 料废. A piece is paid 12.50 for its processing and
/// takes 0.35 kg of RM-ADC12 (cost 21.40/kg) and 2 pads RM-PAD-65 (cost 0.85). Worked by hand:
///   工废: no fee; material 40 × 0.35 = 14 kg × 21.40 = 299.60 and 80 pads × 0.85 = 68.00 charged:
///         the statement loses 367.60; the write-off counts 14 kg and 80 pads as charged.
///   料废: fee 40 × 12.50 = 500.00 paid; nothing charged; 14 kg and 80 pads are allowed losses.
/// The month's write-off of RM-ADC12: issued 400 kg, accepted pieces consumed 350, counted 34 left:
/// variance 16 kg, of which 14 are in the rejected pieces. Either decision leaves 2 kg unexplained;
/// undecided, all 16 stay.
@Suite struct RejectResponsibilityTests {
    let materials = [RejectResponsibility.Material(item: "RM-ADC12", quantityPer: d("0.35"), costPrice: d("21.4")),
                     RejectResponsibility.Material(item: "RM-PAD-65", quantityPer: d("2"), costPrice: d("0.85"))]

    @Test func theSameRejectsAsSupplierAndAsMaterialFault() throws {
        let spoiled = try RejectResponsibility.supplier.settle(quantity: d("40"), unitPrice: d("12.5"), materials: materials)
        #expect(spoiled.processingFee == .zero)
        #expect(spoiled.materials.map(\.charge) == [d("299.6"), d("68")])
        #expect(spoiled.materials.map(\.charged) == [d("14"), d("80")] && spoiled.materials.allSatisfy { $0.allowedLoss == .zero })
        #expect(spoiled.statementNet == d("-367.6"))

        let badMaterial = try RejectResponsibility.material.settle(quantity: d("40"), unitPrice: d("12.5"), materials: materials)
        #expect(badMaterial.processingFee == d("500"))
        #expect(badMaterial.materials.allSatisfy { $0.charge == .zero && $0.charged == .zero })
        #expect(badMaterial.materials.map(\.allowedLoss) == [d("14"), d("80")])
        #expect(badMaterial.statementNet == d("500"))

        let open = try RejectResponsibility.undetermined.settle(quantity: d("40"), unitPrice: d("12.5"), materials: materials)
        #expect(open.statementNet == .zero && open.materials.allSatisfy { $0.charged == .zero && $0.allowedLoss == .zero })

        let month = try WriteOff.compute(issued: d("400"), accepted: [d("1000")], quantityPer: d("0.35"), scrapPercent: .zero, returned: .zero, held: d("34"))
        #expect(month.variance == d("16"))
        let asSupplier = try month.accounting(materialRejects: .zero, supplierRejects: spoiled.materials[0].charged)
        #expect(asSupplier.variance == d("2") && asSupplier.supplierRejects == d("14"))
        let asMaterial = try month.accounting(materialRejects: badMaterial.materials[0].allowedLoss, supplierRejects: .zero)
        #expect(asMaterial.variance == d("2") && asMaterial.materialRejects == d("14"))
        #expect(try month.accounting(materialRejects: .zero, supplierRejects: .zero).variance == d("16"))
        // Beyond a 1 % tolerance (4 kg) undecided, within it once decided either way.
        #expect(try month.exceeds(tolerancePercent: d("1")) && !(try asSupplier.exceeds(tolerancePercent: d("1"))))
    }

    /// 12 pads at ¥0.85 short on arrival: 工废 charges them (¥10.20) but the write-off does not
    /// move (they are still counted in transit); scrapped at the supplier, the same 12 are also
    /// charged in the write-off. A material source earns no fee even when a price is passed.
    @Test func materialShortOnArrivalMovesOnlyTheStatement() throws {
        let pad = [RejectResponsibility.Material(item: "RM-PAD-65", quantityPer: FixedDecimal(1), costPrice: d("0.85"))]
        let short = try RejectResponsibility.supplier.settle(.discrepancy, quantity: d("12"), unitPrice: d("3"), materials: pad)
        #expect(short.processingFee == .zero && short.materials.first?.charge == d("10.2"))
        #expect(short.materials.first?.charged == .zero && short.materials.first?.allowedLoss == .zero)
        let scrapped = try RejectResponsibility.supplier.settle(.scrap, quantity: d("12"), unitPrice: d("3"), materials: pad)
        #expect(scrapped.processingFee == .zero && scrapped.materials.first?.charged == d("12"))
        let lost = try RejectResponsibility.material.settle(.discrepancy, quantity: d("12"), unitPrice: .zero, materials: pad)
        #expect(lost.statementNet == .zero && lost.materials.first?.allowedLoss == .zero)
        // Worked pieces keep their fee.
        #expect(try RejectResponsibility.material.settle(.process, quantity: d("4"), unitPrice: d("12.5"), materials: []).processingFee == d("50"))
    }

    @Test func scrappedMaterialIsItsOwnPiece() throws {
        let pad = [RejectResponsibility.Material(item: "RM-PAD-65", quantityPer: d("1"), costPrice: d("0.85"))]
        let e = try RejectResponsibility.supplier.settle(quantity: d("25"), unitPrice: .zero, materials: pad)
        #expect(e.processingFee == .zero && e.materials[0].charge == d("21.25"))
        #expect(try RejectResponsibility.material.settle(quantity: d("25"), unitPrice: .zero, materials: pad).statementNet == .zero)
    }

    @Test func aDecisionStatesItsReasonAndNothingIsNegative() {
        #expect(throws: RejectResponsibility.Problem.reasonRequired) { try RejectResponsibility.check(.supplier, reason: " ") }
        #expect(throws: Never.self) { try RejectResponsibility.check(.undetermined, reason: "") }
        #expect(throws: RejectResponsibility.Problem.negativeQuantity) { try RejectResponsibility.material.settle(quantity: d("-1"), unitPrice: d("1"), materials: []) }
        #expect(throws: RejectResponsibility.Problem.negativePrice) { try RejectResponsibility.material.settle(quantity: d("1"), unitPrice: d("-1"), materials: []) }
    }
}
