import Testing
@testable import SubconDomain

private func d(_ s: String) -> Day { Day(s)! }
private func q(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }
private func always(from: String = "2026-01-01", to: String? = nil) -> Validity { Validity(from: d(from), to: to.map(d))! }

struct BOMExplosionTests {
    // F (finished) ← 2 × S (5 % scrap) + 0.5 × C1
    // S (semi)     ← 1.25 × R (2 % scrap) + 4 × SCREW
    let boms = [
        BOMVersion(parent: "F", number: 1, validity: always(), lines: [
            BOMLine(component: "S", quantityPer: q("2"), scrapPercent: q("5")),
            BOMLine(component: "C1", quantityPer: q("0.5"), supplyBy: .supplier),
        ]),
        BOMVersion(parent: "S", number: 1, validity: always(), lines: [
            BOMLine(component: "R", quantityPer: q("1.25"), scrapPercent: q("2")),
            BOMLine(component: "SCREW", quantityPer: q("4")),
        ]),
    ]

    @Test func multiLevelWithScrapIsExact() throws {
        let r = try BOMExplosion.explode("F", quantity: q("10"), on: d("2026-03-01"), versions: boms)
        let byComponent = Dictionary(uniqueKeysWithValues: r.map { ($0.component, $0) })
        // S: 10 × 2 = 20, × 1.05 = 21
        #expect(byComponent["S"]?.netQuantity == q("20"))
        #expect(byComponent["S"]?.grossQuantity == q("21"))
        #expect(byComponent["S"]?.level == 1)
        // R: made from 21 S: 21 × 1.25 = 26.25, × 1.02 = 26.775
        #expect(byComponent["R"]?.netQuantity == q("26.25"))
        #expect(byComponent["R"]?.grossQuantity == q("26.775"))
        #expect(byComponent["R"]?.level == 2)
        #expect(byComponent["SCREW"]?.grossQuantity == q("84"))
        #expect(byComponent["C1"]?.grossQuantity == q("5"))
        #expect(byComponent["C1"]?.supplyBy == .supplier)
    }

    @Test func roundsOnceHalfAwayFromZero() throws {
        let bom = [BOMVersion(parent: "P", number: 1, validity: always(), lines: [
            BOMLine(component: "X", quantityPer: q("0.3333"), scrapPercent: q("2.5")),
        ])]
        // 3 × 0.3333 × 1.025 = 1.02489750 → 1.0249 (rounding each step would give 0.9999 × 1.025 = 1.0249 too,
        // but 7 × 0.0001 × 1.5 % shows the difference: exact 0.00071050 → 0.0007)
        #expect(try BOMExplosion.explode("P", quantity: q("3"), on: d("2026-01-02"), versions: bom)[0].grossQuantity == q("1.0249"))
        let tiny = [BOMVersion(parent: "P", number: 1, validity: always(), lines: [
            BOMLine(component: "X", quantityPer: q("0.0001"), scrapPercent: q("1.5")),
        ])]
        #expect(try BOMExplosion.explode("P", quantity: q("7"), on: d("2026-01-02"), versions: tiny)[0].grossQuantity == q("0.0007"))
    }

    @Test func picksTheVersionEffectiveOnTheDay() throws {
        let versions = [
            BOMVersion(parent: "P", number: 1, validity: always(from: "2026-01-01", to: "2026-06-30"),
                       lines: [BOMLine(component: "OLD", quantityPer: q("1"))]),
            BOMVersion(parent: "P", number: 2, validity: always(from: "2026-07-01"),
                       lines: [BOMLine(component: "NEW", quantityPer: q("1"))]),
        ]
        #expect(try BOMExplosion.explode("P", quantity: q("1"), on: d("2026-06-30"), versions: versions).map(\.component) == ["OLD"])
        #expect(try BOMExplosion.explode("P", quantity: q("1"), on: d("2026-07-01"), versions: versions).map(\.component) == ["NEW"])
        #expect(try BOMExplosion.explode("P", quantity: q("1"), on: d("2025-12-31"), versions: versions).isEmpty)
    }

    @Test func totalsAddTheSameComponentAcrossLevels() throws {
        let versions = boms + [BOMVersion(parent: "C1", number: 1, validity: always(), lines: [
            BOMLine(component: "SCREW", quantityPer: q("2")),
        ])]
        let totals = BOMExplosion.totals(try BOMExplosion.explode("F", quantity: q("10"), on: d("2026-03-01"), versions: versions))
        // 84 via S, plus 5 × 2 = 10 via C1
        #expect(totals.first { $0.component == "SCREW" }?.gross == q("94"))
    }

    @Test func cyclesAreRefusedAndNamed() {
        let versions = [
            BOMVersion(parent: "A", number: 1, validity: always(), lines: [BOMLine(component: "B", quantityPer: q("1"))]),
            BOMVersion(parent: "B", number: 1, validity: always(), lines: [BOMLine(component: "C", quantityPer: q("1"))]),
            BOMVersion(parent: "C", number: 1, validity: always(), lines: [BOMLine(component: "A", quantityPer: q("1"))]),
        ]
        #expect(BOMRules.findCycle(versions) == ["A", "B", "C", "A"])
        #expect(BOMRules.check(versions).contains(.cycle(["A", "B", "C", "A"])))
        #expect(BOMRules.Problem.cycle(["A", "B", "A"]).description == "BOM cycle: A → B → A")
        #expect(throws: BOMExplosion.Failure.cycle(["A", "B", "C", "A"])) {
            try BOMExplosion.explode("A", quantity: q("1"), on: d("2026-01-02"), versions: versions)
        }
        #expect(BOMRules.findCycle(boms) == nil)
    }

    @Test func lineAndVersionRules() {
        let bad = [
            BOMVersion(parent: "P", number: 1, validity: always(from: "2026-01-01", to: "2026-12-31"),
                       lines: [BOMLine(component: "X", quantityPer: q("0")), BOMLine(component: "Y", quantityPer: q("1"), scrapPercent: q("-1"))]),
            BOMVersion(parent: "P", number: 2, validity: always(from: "2026-06-01"), lines: [BOMLine(component: "X", quantityPer: q("1"))]),
        ]
        let problems = BOMRules.check(bad)
        #expect(problems.contains(.nonPositiveQuantity(parent: "P", component: "X")))
        #expect(problems.contains(.negativeScrap(parent: "P", component: "Y")))
        #expect(problems.contains(.overlappingVersions(parent: "P", first: 1, second: 2)))
    }
}

struct PriceBookTests {
    let agreements = [
        PriceAgreement(id: "a1", supplier: "S1", item: "X", validity: always(from: "2026-01-01", to: "2026-06-30"), unitPrice: q("1.20")),
        PriceAgreement(id: "a2", supplier: "S1", item: "X", validity: always(from: "2026-07-01"), unitPrice: q("1.10"),
                       tiers: [.init(minimumQuantity: q("1000"), unitPrice: q("1.05")), .init(minimumQuantity: q("5000"), unitPrice: q("0.98"))]),
        PriceAgreement(id: "a3", supplier: "S1", item: "X", operation: "plating", validity: always(), unitPrice: q("0.35")),
        PriceAgreement(id: "a4", supplier: "S2", item: "X", validity: always(), unitPrice: q("1.00")),
    ]

    @Test func priceInForceByDayQuantityAndOperation() {
        func price(_ day: String, _ qty: String, op: String? = nil, supplier: String = "S1") -> FixedDecimal? {
            PriceBook.priceInForce(supplier: supplier, item: "X", operation: op, on: d(day), quantity: q(qty), agreements: agreements)?.unitPrice
        }
        #expect(price("2026-06-30", "100") == q("1.20"))
        #expect(price("2026-07-01", "100") == q("1.10"))
        #expect(price("2026-07-01", "1000") == q("1.05"))
        #expect(price("2026-07-01", "9999") == q("0.98"))
        #expect(price("2026-03-01", "1", op: "plating") == q("0.35"))
        #expect(price("2026-03-01", "1", supplier: "S2") == q("1.00"))
        #expect(price("2025-12-31", "1") == nil)
        #expect(price("2026-03-01", "1", supplier: "S3") == nil)
    }

    @Test func overlappingAgreementsAreRefused() {
        let overlapping = PriceAgreement(id: "new", supplier: "S1", item: "X", validity: always(from: "2026-06-01", to: "2026-07-15"), unitPrice: q("1"))
        #expect(PriceBook.check(overlapping, against: agreements) == [.overlaps(existingID: "a1"), .overlaps(existingID: "a2")])
        let otherOperation = PriceAgreement(id: "n2", supplier: "S1", item: "X", operation: "heat", validity: always(), unitPrice: q("1"))
        #expect(PriceBook.check(otherOperation, against: agreements).isEmpty)
        let bad = PriceAgreement(id: "n3", supplier: "S9", item: "X", currency: "rmb", validity: always(), unitPrice: q("-1"),
                                 tiers: [.init(minimumQuantity: q("10"), unitPrice: q("1")), .init(minimumQuantity: q("10"), unitPrice: q("2"))])
        #expect(PriceBook.check(bad, against: []) == [.negativePrice, .duplicateTier(q("10")), .badCurrency])
    }
}

struct SupplierStatusTests {
    @Test func everyTransitionIsEitherAllowedOrRefused() throws {
        let allowed: Set<String> = ["prospect>qualified", "prospect>terminated", "qualified>probation", "qualified>suspended",
                                    "qualified>terminated", "probation>qualified", "probation>suspended", "probation>terminated",
                                    "suspended>probation", "suspended>qualified", "suspended>terminated"]
        for from in SupplierStatus.allCases {
            for to in SupplierStatus.allCases {
                let ok = (try? from.change(to: to, reason: "年度审核")) != nil
                #expect(ok == allowed.contains("\(from.rawValue)>\(to.rawValue)"), "\(from) → \(to)")
            }
        }
        #expect(throws: SupplierStatus.Refusal.reasonRequired) { try SupplierStatus.prospect.change(to: .qualified, reason: "  ") }
    }

    @Test func daysAndValidity() {
        #expect(Day("2026-02-29") == nil)
        #expect(Day("2028-02-29") != nil)
        #expect(Day("2026-1-01") == nil)
        #expect(Validity(from: d("2026-02-01"), to: d("2026-01-01")) == nil)
        #expect(always(from: "2026-01-01", to: "2026-01-31").overlaps(always(from: "2026-01-31")))
        #expect(!always(from: "2026-01-01", to: "2026-01-30").overlaps(always(from: "2026-01-31")))
    }
}

struct DayArithmeticTests {
    @Test func ordinalsRoundTripAcrossLeapYears() {
        #expect(Day("1970-01-01")!.ordinal == 0)
        #expect(Day("2026-11-25")!.adding(days: 36) == Day("2026-12-31"))
        #expect(Day("2028-02-28")!.adding(days: 1) == Day("2028-02-29"))
        #expect(Day("2100-02-28")!.adding(days: 1) == Day("2100-03-01"))
        #expect(Day("2026-03-01")!.adding(days: -1) == Day("2026-02-28"))
        for n in stride(from: -1000, to: 30000, by: 37) { #expect(Day(ordinal: n).ordinal == n) }
    }
}

struct RoutingRulesTests {
    @Test func outsourcedOperationsNeedASupplierAndCodesAreUnique() {
        let ops = [
            RoutingOperation(sequence: 10, code: "CNC", name: "数控加工", mode: .inHouse),
            RoutingOperation(sequence: 20, code: "ANOD", name: "阳极氧化", mode: .outsourced, defaultSupplier: "SUP-BM"),
            RoutingOperation(sequence: 30, code: "HT", name: "热处理", mode: .outsourced),
            RoutingOperation(sequence: 20, code: "CNC", name: "重复", mode: .inHouse, defaultSupplier: "SUP-JG"),
        ]
        #expect(RoutingRules.check(ops) == [.outsourcedWithoutSupplier("HT"), .duplicateSequence(20), .duplicateCode("CNC"), .inHouseWithSupplier("CNC")])
        #expect(RoutingRules.check(Array(ops.prefix(2))).isEmpty)
        #expect(RoutingRules.ordered([ops[1], ops[0]]).map(\.code) == ["CNC", "ANOD"])
    }
}

struct CertificateExpiryTests {
    @Test func windowEdges() {
        let today = Day("2026-11-25")!
        #expect(CertificateExpiry.state(validTo: Day("2026-11-24")!, today: today) == .expired)
        #expect(CertificateExpiry.state(validTo: today, today: today) == .expiringSoon)
        #expect(CertificateExpiry.state(validTo: Day("2026-12-25")!, today: today) == .expiringSoon)
        #expect(CertificateExpiry.state(validTo: Day("2026-12-26")!, today: today) == .valid)
    }
}
