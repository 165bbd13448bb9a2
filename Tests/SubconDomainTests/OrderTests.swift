import Testing
@testable import SubconDomain

private func d(_ s: String) -> Day { Day(s)! }
private func q(_ s: String) -> FixedDecimal { try! FixedDecimal.parse(s) }

struct OrderStatusTests {
    /// Every pair of states, allowed or not, against the table the order flow is built on.
    @Test func everyTransitionIsAllowedOrRefusedAsDesigned() {
        let allowed: Set<String> = [
            "draft→released", "draft→cancelled",
            "released→acknowledged", "released→change_proposed", "released→rejected", "released→cancelled",
            "change_proposed→acknowledged", "change_proposed→released", "change_proposed→cancelled",
            "rejected→released", "rejected→cancelled",
            "acknowledged→in_production", "acknowledged→partially_delivered", "acknowledged→delivered", "acknowledged→released", "acknowledged→cancelled",
            "in_production→partially_delivered", "in_production→delivered", "in_production→released", "in_production→cancelled",
            "partially_delivered→delivered", "partially_delivered→released", "partially_delivered→closed",
            "delivered→closed",
        ]
        var seen = 0
        for from in OrderStatus.allCases {
            for to in OrderStatus.allCases {
                let key = "\(from.rawValue)→\(to.rawValue)"
                #expect(from.canMove(to: to) == allowed.contains(key), "\(key)")
                if allowed.contains(key) {
                    #expect((try? from.move(to: to)) == to)
                    seen += 1
                } else {
                    #expect(throws: OrderStatus.Refusal.notAllowed(from: from, to: to)) { try from.move(to: to) }
                }
            }
        }
        #expect(seen == allowed.count)
        #expect(OrderStatus.closed.next.isEmpty && OrderStatus.cancelled.next.isEmpty)
    }

    @Test func planStatus() {
        #expect(PlanStatus.draft.canMove(to: .released))
        #expect(PlanStatus.released.canMove(to: .closed))
        #expect(!PlanStatus.draft.canMove(to: .closed))
        #expect(!PlanStatus.closed.canMove(to: .released))
        #expect(!PlanStatus.released.canMove(to: .draft))
    }
}

struct RevisionDiffTests {
    let base = [
        OrderLine(number: 1, item: "SF-1", operation: "CNC", quantity: q("1000"), dueDate: d("2026-12-10"), unitPrice: q("12.5")),
        OrderLine(number: 2, item: "SF-2", quantity: q("200"), dueDate: d("2026-12-15"), unitPrice: q("3")),
        OrderLine(number: 3, item: "SF-3", quantity: q("50"), dueDate: d("2026-12-20"), unitPrice: q("8")),
    ]

    @Test func eachKindOfChange() {
        var new = base
        new[0].quantity = q("1200")                     // quantity
        new[0].dueDate = d("2026-12-12")                // and date on the same line
        new[1].unitPrice = q("2.95")                    // price
        new[2].state = .cancelled                       // cancelled
        new.append(OrderLine(number: 4, item: "SF-4", quantity: q("10"), dueDate: d("2027-01-05"), unitPrice: q("1")))  // added
        let diff = RevisionDiff.between(base, new)
        #expect(diff == [
            .changed(number: 1, fields: [.init(field: .quantity, before: "1000", after: "1200"),
                                         .init(field: .dueDate, before: "2026-12-10", after: "2026-12-12")]),
            .changed(number: 2, fields: [.init(field: .unitPrice, before: "3", after: "2.95")]),
            .cancelled(new[2]),
            .added(new[3]),
        ])
        let removed = RevisionDiff.between(base, Array(base.prefix(2)))
        #expect(removed == [.removed(base[2])])
        #expect(RevisionDiff.between(base, base).isEmpty)
    }

    @Test func linesRules() throws {
        var new = base
        new[0].quantity = .zero
        #expect(OrderLines.check(new, replacing: base).contains(.nonPositiveQuantity(line: 1)))
        #expect(OrderLines.check(base, replacing: base) == [.noChange])
        var moved = base
        moved[1].item = "OTHER"
        #expect(OrderLines.check(moved, replacing: base) == [.subjectChanged(line: 2)])
        var cancelled = base
        cancelled[2].state = .cancelled
        #expect(OrderLines.check(base, replacing: cancelled) == [.reopened(line: 3)])
        #expect(OrderLines.check(base.map { var l = $0; l.state = .cancelled; return l }).contains(.empty))
        var huge = base
        huge[0].quantity = FixedDecimal(100_000_000)
        #expect(OrderLines.check(huge).contains(.tooLarge(line: 1)))
        #expect(try base[0].amount() == q("12500"))
        #expect(try OrderLine(number: 9, item: "X", quantity: q("3.333"), dueDate: d("2026-01-01"), unitPrice: q("1.005")).amount() == q("3.35"))
    }
}

struct AcknowledgmentTests {
    let lines = [
        OrderLine(number: 1, item: "SF-1", quantity: q("1000"), dueDate: d("2026-12-10"), unitPrice: q("12.5")),
        OrderLine(number: 2, item: "SF-2", quantity: q("200"), dueDate: d("2026-12-15"), unitPrice: q("3")),
        OrderLine(number: 3, item: "SF-3", quantity: q("5"), dueDate: d("2026-12-15"), unitPrice: q("3"), state: .cancelled),
    ]

    @Test func answersAreCompleteAndMeaningful() {
        #expect(Acknowledgment.check([1: .accept], lines: lines) == [.missingAnswer(line: 2)])
        #expect(Acknowledgment.check([1: .accept, 2: .accept, 3: .accept], lines: lines) == [.unknownLine(3)])
        #expect(Acknowledgment.check([1: .accept, 2: .reject(reason: " ")], lines: lines) == [.reasonRequired(line: 2)])
        #expect(Acknowledgment.check([1: .accept, 2: .counter(quantity: q("200"), dueDate: d("2026-12-15"), reason: "x")], lines: lines)
                == [.counterWithoutChange(line: 2)])
        #expect(Acknowledgment.check([1: .accept, 2: .counter(quantity: .zero, dueDate: nil, reason: "x")], lines: lines)
                .contains(.nonPositiveQuantity(line: 2)))
        #expect(Acknowledgment.check([1: .accept, 2: .counter(quantity: nil, dueDate: d("2026-12-20"), reason: "模具维修")], lines: lines).isEmpty)
        // A proposal too large for exact amounts is refused before it can become a revision.
        #expect(Acknowledgment.check([1: .accept, 2: .counter(quantity: FixedDecimal(100_000_000), dueDate: nil, reason: "x")], lines: lines)
                == [.tooLarge(line: 2)])
    }

    @Test func outcomes() {
        #expect(Acknowledgment.outcome([1: .accept, 2: .accept]) == .acknowledged)
        #expect(Acknowledgment.outcome([1: .accept, 2: .counter(quantity: nil, dueDate: d("2026-12-20"), reason: "r")]) == .changeProposed)
        #expect(Acknowledgment.outcome([1: .reject(reason: "r"), 2: .reject(reason: "r")]) == .rejected)
        #expect(Acknowledgment.outcome([1: .accept, 2: .reject(reason: "r")]) == .changeProposed)
    }

    @Test func acceptingACounterProposalMakesTheRevisionTheSupplierProposed() throws {
        let answers: [Int: LineAnswer] = [1: .counter(quantity: q("900"), dueDate: d("2026-12-18"), reason: "产能不足"), 2: .accept]
        let r = try Negotiation.resolve(lines: lines, answers: answers, decisions: [1: .accept])
        #expect(r.status == .acknowledged)
        #expect(r.lines?[0].quantity == q("900") && r.lines?[0].dueDate == d("2026-12-18"))
        #expect(r.lines?[1] == lines[1])
        let declined = try Negotiation.resolve(lines: lines, answers: answers, decisions: [1: .decline])
        #expect(declined == Negotiation.Resolution(lines: nil, status: .released))
        #expect(throws: Negotiation.Problem.missingDecision(line: 1)) { try Negotiation.resolve(lines: lines, answers: answers, decisions: [:]) }
        #expect(throws: Negotiation.Problem.nothingToDecide(line: 2)) {
            try Negotiation.resolve(lines: lines, answers: answers, decisions: [1: .accept, 2: .accept])
        }
    }

    @Test func acceptingARejectionCancelsTheLineAndRejectingEverythingCancelsTheOrder() throws {
        let partly = try Negotiation.resolve(lines: lines, answers: [1: .accept, 2: .reject(reason: "不做")], decisions: [2: .accept])
        #expect(partly.status == .acknowledged)
        #expect(partly.lines?[1].state == .cancelled)
        let all = try Negotiation.resolve(lines: lines, answers: [1: .reject(reason: "r"), 2: .reject(reason: "r")], decisions: [1: .accept, 2: .accept])
        #expect(all.status == .cancelled)
    }
}

struct ResponseClockTests {
    let clock = ResponseClock(answerHours: 24, escalateAfterHours: 24)
    let released: Int64 = 1_000_000

    @Test func overdueAndEscalationSteps() {
        let h: Int64 = 3600
        #expect(clock.deadline(releasedAt: released) == released + 24 * h)
        #expect(!clock.isOverdue(releasedAt: released, answeredAt: nil, now: released + 24 * h))
        #expect(clock.isOverdue(releasedAt: released, answeredAt: nil, now: released + 24 * h + 1))
        #expect(!clock.isOverdue(releasedAt: released, answeredAt: released + 30 * h, now: released + 40 * h))
        #expect(clock.escalations(releasedAt: released, answeredAt: nil, alreadySent: .none, now: released + 23 * h).isEmpty)
        #expect(clock.escalations(releasedAt: released, answeredAt: nil, alreadySent: .none, now: released + 25 * h) == [.purchaser])
        #expect(clock.escalations(releasedAt: released, answeredAt: nil, alreadySent: .purchaser, now: released + 30 * h).isEmpty)
        #expect(clock.escalations(releasedAt: released, answeredAt: nil, alreadySent: .purchaser, now: released + 49 * h) == [.admins])
        // A check that was not run for two days sends both, in order, once.
        #expect(clock.escalations(releasedAt: released, answeredAt: nil, alreadySent: .none, now: released + 72 * h) == [.purchaser, .admins])
        #expect(clock.escalations(releasedAt: released, answeredAt: released + 72 * h, alreadySent: .none, now: released + 80 * h).isEmpty)
    }
}

struct OrderProposalTests {
    let day = d("2026-12-01")
    func agreement(_ id: String, _ supplier: String, _ item: String, _ op: String?, _ price: String, tiers: [PriceAgreement.Tier] = [],
                   from: String = "2026-01-01", to: String? = nil) -> PriceAgreement {
        PriceAgreement(id: id, supplier: supplier, item: item, operation: op, validity: Validity(from: d(from), to: to.map(d))!,
                       unitPrice: q(price), tiers: tiers)
    }

    @Test func groupsBySupplierAndChoosesQualifiedSuppliersOnly() {
        let routings: [String: [RoutingOperation]] = [
            "SF-1": [RoutingOperation(sequence: 10, code: "CNC", name: "CNC", mode: .outsourced, defaultSupplier: "JG"),
                     RoutingOperation(sequence: 20, code: "WASH", name: "清洗", mode: .inHouse),
                     RoutingOperation(sequence: 30, code: "ANOD", name: "阳极氧化", mode: .outsourced, defaultSupplier: "BAD")],
            "FG-9": [],
        ]
        let agreements = [
            agreement("a1", "JG", "SF-1", "CNC", "12"),
            agreement("a2", "CHEAP", "SF-1", "CNC", "9"),       // cheaper, but the routing names JG
            agreement("a3", "BAD", "SF-1", "ANOD", "1"),        // suspended: never
            agreement("a4", "BM", "SF-1", "ANOD", "6.8", tiers: [.init(minimumQuantity: q("1000"), unitPrice: q("6.2"))]),
            agreement("a5", "ZZ", "SF-1", "ANOD", "6.5"),       // dearer than BM's tier price at 1000
            agreement("a6", "JG", "FG-9", nil, "96"),           // whole item
            agreement("a7", "BM", "FG-9", nil, "90", to: "2026-11-30"), // expired on the release day
            agreement("a8", "PRO", "FG-9", nil, "50"),          // a prospect: never
        ]
        let status: [String: SupplierStatus] = ["JG": .qualified, "CHEAP": .qualified, "BAD": .suspended, "BM": .qualified,
                                                "ZZ": .qualified, "PRO": .prospect]
        let plan = [PlanLine(number: 1, item: "SF-1", quantity: q("1000"), dueDate: d("2026-12-20")),
                    PlanLine(number: 2, item: "FG-9", quantity: q("10"), dueDate: d("2026-12-22")),
                    PlanLine(number: 3, item: "MADE-HERE", quantity: q("5"), dueDate: d("2026-12-22"))]
        let (orders, unassigned) = OrderProposal.make(plan, routings: routings, agreements: agreements, supplierStatus: status, on: day)
        #expect(unassigned.isEmpty)
        #expect(orders.map(\.supplier) == ["BM", "JG"])
        #expect(orders[0].lines.map { "\($0.item)/\($0.operation ?? "-")@\($0.unitPrice)" } == ["SF-1/ANOD@6.2"])
        #expect(orders[1].lines.map { "\($0.item)/\($0.operation ?? "-")@\($0.unitPrice)" } == ["SF-1/CNC@12", "FG-9/-@96"])
        #expect(orders[1].lines.map(\.planLine) == [1, 2])
    }

    @Test func anOutsourcedOperationWithNoUsableSupplierIsReported() {
        let routings = ["SF-1": [RoutingOperation(sequence: 10, code: "HT", name: "热处理", mode: .outsourced, defaultSupplier: "RC")]]
        let agreements = [agreement("a1", "RC", "SF-1", "HT", "3")]
        let (orders, unassigned) = OrderProposal.make([PlanLine(number: 1, item: "SF-1", quantity: q("10"), dueDate: d("2026-12-20"))],
                                                      routings: routings, agreements: agreements, supplierStatus: ["RC": .suspended], on: day)
        #expect(orders.isEmpty)
        #expect(unassigned == [.init(planLine: 1, item: "SF-1", operation: "HT")])
    }

    @Test func requirementsComeFromTheBOMAndScaleFromTheirOwnFigures() throws {
        let bom = BOMVersion(parent: "FG", number: 1, validity: Validity(from: d("2026-01-01"), to: nil)!, lines: [
            BOMLine(component: "RM", quantityPer: q("2.35"), scrapPercent: q("3")),
            BOMLine(component: "BOLT", quantityPer: q("6"), supplyBy: .supplier),
        ])
        let line = OrderLine(number: 1, item: "FG", quantity: q("100"), dueDate: d("2026-12-20"), unitPrice: q("1"))
        let reqs = try OrderRequirement.forLine(line, bom: bom)
        #expect(reqs.map(\.grossQuantity) == [q("242.05"), q("600")])
        #expect(reqs[1].supplyBy == .supplier)
        #expect(try reqs[0].scaled(to: q("150")).grossQuantity == q("363.075"))
        var op = line
        op.operation = "CNC"
        #expect(try OrderRequirement.forLine(op, bom: bom) == [OrderRequirement(lineNumber: 1, component: "FG", quantityPer: q("1"),
                                                                                 scrapPercent: .zero, supplyBy: .manufacturer, grossQuantity: q("100"))])
    }
}
