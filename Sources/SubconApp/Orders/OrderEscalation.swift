import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Unanswered orders and revisions past the answer deadline: the purchasers are told, then,
/// after the second interval, the admins too. Each step happens once per revision (the stage is
/// stored with it). Run by the background worker, oldest first and a batch at a time so a
/// backlog never stalls the server; tests call it with a hand-set clock.
enum OrderEscalation {
    @discardableResult
    static func run(app: Application, batch: Int = 100) async throws -> Int {
        let clock = app.subcon.settings.responseClock
        let now = app.subcon.clock.now()
        let cutoff = now.addingTimeInterval(-TimeInterval(clock.answerHours) * 3600)
        let adminsCutoff = cutoff.addingTimeInterval(-TimeInterval(clock.escalateAfterHours) * 3600)
        // Only revisions with a step due now: the purchaser told but the admins not yet due would
        // otherwise fill every batch ahead of newer revisions whose first step is due.
        let waiting = try await OrderRevisionRow.query(on: app.database).filter(\.$status == "pending").filter(\.$releasedAt < cutoff)
            .group(.or) { g in
                g.filter(\.$escalation == ResponseClock.Stage.none.rawValue)
                 .group(.and) { $0.filter(\.$escalation == ResponseClock.Stage.purchaser.rawValue).filter(\.$releasedAt < adminsCutoff) }
            }
            .sort(\.$releasedAt).limit(batch).all()
        var sent = 0
        for rev in waiting {
            let steps = clock.escalations(releasedAt: Int64(rev.releasedAt.timeIntervalSince1970), answeredAt: nil,
                                          alreadySent: ResponseClock.Stage(rawValue: rev.escalation) ?? .none,
                                          now: Int64(now.timeIntervalSince1970))
            guard let last = steps.last, let order = try await OutsourcingOrder.find(rev.orderID, on: app.database) else { continue }
            let supplier = try await Organization.find(order.supplierID, on: app.database)
            sent += try await app.write(as: .system) { change -> Int in
                // Claimed with the stage it was read at, so two workers never send the same step twice.
                let claimed = try await (change.db as! any SQLDatabase).update(OrderRevisionRow.schema).set("escalation", to: last.rawValue)
                    .where("id", .equal, rev.id!).where("escalation", .equal, rev.escalation).where("status", .equal, "pending")
                    .returning("id").all()
                guard claimed.count == 1 else { return 0 }
                var count = 0
                let params = ["code": order.code, "supplier": supplier?.name ?? "", "revision": String(rev.number)]
                for step in steps {
                    switch step {
                    case .purchaser:
                        try await change.notify("order.overdue", recipients: try await OrderService.buyers(order, on: change.db),
                                                messageKey: "notice.orderOverdue", params: params, link: "/orders/\(order.id!)")
                    case .admins:
                        let admins = try await OrderService.manufacturerPeople(with: .admin, on: change.db)
                        try await change.notify("order.overdue.escalated", recipients: admins, messageKey: "notice.orderOverdueEscalated",
                                                params: params, link: "/orders/\(order.id!)")
                    case .none: break
                    }
                    count += 1
                }
                try await change.audit("order", order.id, "escalate", before: ["escalation": String(rev.escalation)], after: ["escalation": String(last.rawValue)])
                return count
            }
        }
        return sent
    }
}
