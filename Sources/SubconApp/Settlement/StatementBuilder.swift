import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Turns a supplier's records of a period into statement lines: accepted receipt lines at the
/// price of the order revision in force when received, late-delivery penalties, penalties set on
/// exceptions (graded by occurrence), and write-off variances at the material's cost price.
/// Each source not yet taken by another statement is taken; a source of an earlier period is
/// marked late. Reads are a handful of aggregate statements, whatever the number of lines.
enum StatementBuilder {
    struct Bounds {
        let period: SettlementPeriod
        let first: Day
        let last: Day
        let start: Date
        let end: Date
    }

    static func bounds(_ period: SettlementPeriod, settings: Settings) -> Bounds {
        let (first, last) = settings.statementCalendar.days(of: period)
        let cal = settings.calendar
        func instant(_ d: Day) -> Date { cal.date(from: DateComponents(year: d.year, month: d.month, day: d.day))! }
        return Bounds(period: period, first: first, last: last, start: instant(first), end: instant(last.adding(days: 1)))
    }

    static func day(_ date: Date, settings: Settings) -> Day {
        let c = settings.calendar.dateComponents([.year, .month, .day], from: date)
        return Day(year: c.year!, month: c.month!, day: c.day!)!
    }

    /// The lines of a new statement (or a refreshed draft), numbered from 1, not yet saved.
    static func lines(supplierID: UUID, bounds: Bounds, statementID: UUID, app: Application, on db: any Database) async throws
        -> (lines: [StatementLineValues], waivedExceptions: [(code: String, id: UUID)]) {
        do {
            return try await collect(supplierID: supplierID, bounds: bounds, statementID: statementID, app: app, on: db)
        } catch is StatementAmounts.Problem {
            // A penalty rule or a price that multiplies beyond what money can hold: the person fixes the source.
            throw Problem(.unprocessableEntity, "validation", detailKey: "problem.statement.tooLarge")
        }
    }

    private static func collect(supplierID: UUID, bounds: Bounds, statementID: UUID, app: Application, on db: any Database) async throws
        -> (lines: [StatementLineValues], waivedExceptions: [(code: String, id: UUID)]) {
        let settings = app.subcon.settings
        let sql = db as! any SQLDatabase
        var out: [StatementLineValues] = []
        func line(_ kind: String, _ sourceType: String, _ sourceID: UUID, item: UUID?, reference: String, quantity: FixedDecimal,
                  unitPrice: FixedDecimal, amount: FixedDecimal, origin: SettlementPeriod) -> StatementLineValues {
            StatementLineValues(statementID: statementID, supplierID: supplierID, revision: 1, number: out.count + 1, kind: kind,
                                sourceType: sourceType, sourceID: UUIDText.text(sourceID), itemID: item, reference: reference,
                                quantity: quantity.units, unitPrice: unitPrice.units, amount: amount.units,
                                late: origin < bounds.period, originPeriod: origin.description)
        }
        func unclaimed(_ type: String, _ column: String) -> SQLQueryString {
            "NOT EXISTS (SELECT 1 FROM statement_claims c WHERE c.source_type = \(bind: type) AND c.source_id = \(unsafeRaw: column))"
        }

        // 1. Goods: accepted receipt lines received before the period's end, not yet in a statement
        // (found from the index of unclaimed ones, `AddClaimedMarks`; SQLite is told to use it).
        let sqlite = sql.dialect.name == "sqlite"
        struct Goods {
            let id: UUID; let order_id: UUID; let order_line_no: Int; let item_id: UUID; let lot: String; let accepted_quantity: Int64
            let received_at: Date; let receipt_code: String; let order_code: String; let due_date: String; let unit_price: Int64; let item_code: String
            let operation: String?
        }
        // Ids read as text and parsed here: the SQLite driver parses each UUID with sscanf.
        struct Row: Decodable {
            let id: String; let order_id: String; let order_line_no: Int; let item_id: String; let lot: String; let accepted_quantity: Int64
            let received_at: Date; let receipt_code: String; let order_code: String; let due_date: String; let unit_price: Int64; let item_code: String
            let operation: String?
            func goods() throws -> Goods {
                guard let id = UUIDText.parse(id), let order = UUIDText.parse(order_id), let item = UUIDText.parse(item_id) else {
                    throw Abort(.internalServerError, reason: "a receipt line's ids are not UUIDs")
                }
                return Goods(id: id, order_id: order, order_line_no: order_line_no, item_id: item, lot: lot, accepted_quantity: accepted_quantity,
                             received_at: received_at, receipt_code: receipt_code, order_code: order_code, due_date: due_date,
                             unit_price: unit_price, item_code: item_code, operation: operation)
            }
        }
        let goods = try await sql.raw("""
            SELECT rl.id, rl.order_id, rl.order_line_no, rl.item_id, rl.lot, rl.accepted_quantity, r.created_at AS received_at,
                   r.code AS receipt_code, o.code AS order_code, l.due_date, l.unit_price, i.code AS item_code, l.operation
            FROM receipt_lines rl \(unsafeRaw: sqlite ? "INDEXED BY receipt_lines_unclaimed_idx" : "")
            JOIN goods_receipts r ON r.id = rl.receipt_id
            JOIN outsourcing_orders o ON o.id = rl.order_id
            JOIN order_lines l ON l.order_id = rl.order_id AND l.line_no = rl.order_line_no
            JOIN items i ON i.id = rl.item_id
            WHERE rl.supplier_id = \(bind: supplierID) AND \(unsafeRaw: AddClaimedMarks.unclaimedGoods("rl"))
              AND r.created_at < \(bind: bounds.end) AND
            """ + " " + unclaimed("receipt_line", "rl.id") + " ORDER BY r.created_at, r.code, rl.no").rows(decoding: Row.self).map { try $0.goods() }

        // The price in force: the latest revision the supplier had acknowledged when the goods
        // arrived (the order line's price when there is none, e.g. an order entered as agreed).
        struct Rev: Decodable { let order_id: UUID; let number: Int; let lines: String; let answered_at: Date? }
        let orderIDs = Array(Set(goods.map(\.order_id)))
        // Only orders with more than one revision need their snapshots read: with one, the order
        // line's price is that revision's.
        let revisions = orderIDs.isEmpty ? [] : try await sql.raw("""
            SELECT order_id, number, lines, answered_at FROM order_revisions
            WHERE order_id IN (\(binds: orderIDs)) AND status = 'acknowledged' AND answered_at IS NOT NULL
              AND order_id IN (SELECT order_id FROM order_revisions WHERE order_id IN (\(binds: orderIDs)) GROUP BY order_id HAVING COUNT(*) > 1)
            """).rows(decoding: Rev.self)
        var revisionsByOrder: [UUID: [(at: Date, number: Int, prices: [Int: FixedDecimal])]] = [:]
        for r in revisions {
            let lines = (try? JSONDecoder().decode([OrderLine].self, from: Data(r.lines.utf8))) ?? []
            revisionsByOrder[r.order_id, default: []].append((r.answered_at!, r.number, Dictionary(lines.map { ($0.number, $0.unitPrice) }) { a, _ in a }))
        }
        func price(_ g: Goods) -> (FixedDecimal, Int?) {
            let inForce = (revisionsByOrder[g.order_id] ?? []).filter { $0.at <= g.received_at }.max { $0.number < $1.number }
            if let inForce, let p = inForce.prices[g.order_line_no] { return (p, inForce.number) }
            return (FixedDecimal(units: g.unit_price), nil)
        }

        // Late-delivery penalties come from the agreement valid on the day of receipt.
        struct Penalty: Decodable {
            let item_id: UUID; let operation: String?; let valid_from: String; let valid_to: String?; let late_penalty_per_day: Int64; let late_penalty_cap: Int64?
        }
        let penalties = try await sql.raw("""
            SELECT item_id, operation, valid_from, valid_to, late_penalty_per_day, late_penalty_cap FROM price_agreements
            WHERE supplier_id = \(bind: supplierID) AND late_penalty_per_day IS NOT NULL AND late_penalty_per_day > 0
            """).rows(decoding: Penalty.self)
        // The agreement's validity and terms, in domain terms.
        let terms: [(item: UUID, operation: String?, validity: Validity, terms: LateDeliveryTerms)] = penalties.compactMap { a in
            guard let from = Day(a.valid_from), let validity = Validity(from: from, to: a.valid_to.flatMap(Day.init)) else { return nil }
            return (a.item_id, a.operation, validity,
                    LateDeliveryTerms(perDay: FixedDecimal(units: a.late_penalty_per_day), cap: a.late_penalty_cap.map(FixedDecimal.init(units:))))
        }
        var lateLines: [(goods: Goods, due: Day, received: Day, terms: LateDeliveryTerms)] = []
        for g in goods {
            let (unitPrice, revision) = price(g)
            let accepted = FixedDecimal(units: g.accepted_quantity)
            let receivedOn = day(g.received_at, settings: settings)
            let reference = "\(g.receipt_code) · \(g.order_code)/\(g.order_line_no)\(revision.map { " R\($0)" } ?? "") · \(g.item_code)\(g.lot.isEmpty ? "" : " · " + g.lot)"
            let amount = try StatementAmounts.fen(accepted, times: unitPrice)
            out.append(line("goods", "receipt_line", g.id, item: g.item_id, reference: reference, quantity: accepted, unitPrice: unitPrice,
                            amount: amount, origin: settings.statementCalendar.period(of: receivedOn)))
            // The agreement of the line's item and operation in force that day (the latest started, as prices are chosen).
            if let due = Day(g.due_date),
               let t = terms.filter({ $0.item == g.item_id && $0.operation == g.operation && $0.validity.contains(receivedOn) })
                   .max(by: { $0.validity.from < $1.validity.from }) {
                lateLines.append((g, due, receivedOn, t.terms))
            }
        }
        for late in lateLines {
            let amount = try late.terms.deduction(due: late.due, received: late.received).amount()
            guard amount > .zero else { continue }
            let g = late.goods
            out.append(line("deduction", "late_delivery", g.id, item: g.item_id, reference: "\(g.order_code)/\(g.order_line_no) · \(g.receipt_code)",
                            quantity: FixedDecimal(LateDeliveryTerms.daysLate(due: late.due, received: late.received)), unitPrice: late.terms.perDay,
                            amount: amount, origin: settings.statementCalendar.period(of: late.received)))
        }

        // 2. Penalties set on exceptions raised before the period's end.
        struct Exc: Decodable {
            let id: UUID; let code: String; let type: String; let item_id: UUID?; let created_at: Date; let penalty_kind: String; let penalty_value: Int64
            let rejected_quantity: Int64?; let unit_price: Int64?
        }
        let exceptions = try await sql.raw("""
            SELECT e.id, e.code, e.type, e.item_id, e.created_at, e.penalty_kind, COALESCE(e.penalty_value, 0) AS penalty_value, rl.rejected_quantity, l.unit_price
            FROM exceptions e \(unsafeRaw: sqlite ? "INDEXED BY exceptions_unclaimed_idx" : "")
            LEFT JOIN receipt_lines rl ON rl.id = e.receipt_line_id
            LEFT JOIN order_lines l ON l.order_id = rl.order_id AND l.line_no = rl.order_line_no
            WHERE e.supplier_id = \(bind: supplierID) AND \(unsafeRaw: AddClaimedMarks.unclaimedPenalties("e")) AND e.created_at < \(bind: bounds.end) AND
            """ + " " + unclaimed("exception", "e.id") + " ORDER BY e.created_at, e.code").rows(decoding: Exc.self)
        var waived: [(code: String, id: UUID)] = []
        if !exceptions.isEmpty {
            // Earlier exceptions of the same kind for the same item, within the window before the earliest.
            let graded = settings.gradedPenalty
            let from = exceptions.map(\.created_at).min()!.addingTimeInterval(-Double(graded.windowDays + 1) * 86_400)
            struct Earlier: Decodable { let id: UUID; let type: String; let item_id: UUID?; let created_at: Date }
            let history = try await sql.raw("""
                SELECT id, type, item_id, created_at FROM exceptions
                WHERE supplier_id = \(bind: supplierID) AND created_at >= \(bind: from) AND created_at < \(bind: bounds.end)
                """).rows(decoding: Earlier.self)
            // Each exception's earlier ones of its kind and item, in the order they were raised (equal
            // times by id). Grouped once: comparing every exception with the whole history, writing
            // ids out as text on each comparison, took 44 ms for a busy supplier's month.
            struct Kind: Hashable { let type: String; let item: UUID }
            struct Prior { let at: Date; let id: String; let day: Day }
            var priors: [Kind: [Prior]] = [:]
            for h in history {
                guard let item = h.item_id else { continue }
                priors[Kind(type: h.type, item: item), default: []].append(Prior(at: h.created_at, id: UUIDText.text(h.id), day: day(h.created_at, settings: settings)))
            }
            for e in exceptions {
                guard let kind = PenaltyRule.Kind(rawValue: e.penalty_kind),
                      let rule = try? PenaltyRule(kind: kind, value: FixedDecimal(units: e.penalty_value)) else { continue }
                let on = day(e.created_at, settings: settings)
                let id = UUIDText.text(e.id)
                let earlier = (e.item_id.flatMap { priors[Kind(type: e.type, item: $0)] } ?? []).filter { ($0.at, $0.id) < (e.created_at, id) }.map(\.day)
                let occurrence = e.item_id == nil ? 1 : graded.occurrence(on: on, earlier: earlier)
                let isWaived = graded.waives(occurrence: occurrence, exceptionType: e.type)
                let rejected = FixedDecimal(units: e.rejected_quantity ?? 0)
                let basis = try rule.basis(rejected: rejected, unitPrice: FixedDecimal(units: e.unit_price ?? 0))
                let amount = isWaived ? FixedDecimal.zero : try basis.amount()
                var l = line("deduction", "exception", e.id, item: e.item_id, reference: e.code,
                             quantity: kind == .perPiece || kind == .percent ? rejected : .zero, unitPrice: rule.value, amount: amount,
                             origin: settings.statementCalendar.period(of: on))
                l.reason = kind.rawValue
                l.occurrence = occurrence; l.waived = isWaived
                if isWaived { waived.append((e.code, e.id)) }
                out.append(l)
            }
        }

        // 3. Write-off variances beyond tolerance, at the material's cost price.
        struct Var: Decodable { let id: UUID; let item_id: UUID; let period: String; let quantity: Int64; let cost_price: Int64; let item_code: String }
        let variances = try await sql.raw("""
            SELECT d.id, d.item_id, d.period, d.quantity, COALESCE(i.cost_price, 0) AS cost_price, i.code AS item_code
            FROM deduction_proposals d JOIN items i ON i.id = d.item_id
            WHERE d.supplier_id = \(bind: supplierID) AND d.period <= \(bind: bounds.period.description) AND d.quantity > 0 AND
            """ + " " + unclaimed("write_off", "d.id") + " ORDER BY d.period, i.code").rows(decoding: Var.self)
        for v in variances {
            let q = FixedDecimal(units: v.quantity), cost = FixedDecimal(units: v.cost_price)
            let amount = try StatementAmounts.DeductionBasis.materialVariance(quantity: q, costPrice: cost).amount()
            out.append(line("deduction", "write_off", v.id, item: v.item_id, reference: "\(v.period) · \(v.item_code)", quantity: q,
                            unitPrice: cost, amount: amount, origin: SettlementPeriod(v.period) ?? bounds.period))
        }

        // 4. Rejects with a decided responsibility (RejectResponsibility.settle, kept with the
        // decision): 料废 pays the processing fee for the pieces worked, 工废 charges the material
        // in them at cost. Undetermined ones wait.
        struct Rej: Decodable {
            let id: UUID; let source_type: String; let item_id: UUID; let quantity: Int64; let unit_price: Int64; let responsibility: String
            let fee: Int64; let charge: Int64; let occurred_at: Date; let reference: String?; let item_code: String
        }
        // The reject's own reference (inspection, document, order and line), as the rejects list names it.
        let named = RejectService.rejects(where: " AND r.supplier_id = \(bind: supplierID)")
        let rejects = try await sql.raw("""
            SELECT d.id, d.source_type, d.item_id, d.quantity, d.unit_price, d.responsibility, d.fee, d.charge, d.occurred_at,
                   r.reference, it.code AS item_code
            FROM reject_decisions d JOIN items it ON it.id = d.item_id
            LEFT JOIN (
            """ + named + """
            ) r ON r.source_type = d.source_type AND r.source_id = d.source_id
            WHERE d.supplier_id = \(bind: supplierID) AND d.responsibility <> 'undetermined' AND d.occurred_at < \(bind: bounds.end) AND
            """ + " " + unclaimed("reject", "d.id") + " ORDER BY d.occurred_at, d.id").rows(decoding: Rej.self)
        for r in rejects {
            let origin = settings.statementCalendar.period(of: day(r.occurred_at, settings: settings))
            let reference = "\(r.reference ?? "") · \(r.item_code)"
            if r.responsibility == RejectResponsibility.material.rawValue, r.fee > 0 {
                var l = line("goods", "reject", r.id, item: r.item_id, reference: reference, quantity: FixedDecimal(units: r.quantity),
                             unitPrice: FixedDecimal(units: r.unit_price), amount: FixedDecimal(units: r.fee), origin: origin)
                l.reason = r.responsibility
                out.append(l)
            } else if r.responsibility == RejectResponsibility.supplier.rawValue, r.charge > 0 {
                var l = line("deduction", "reject", r.id, item: r.item_id, reference: reference, quantity: FixedDecimal(units: r.quantity),
                             unitPrice: .zero, amount: FixedDecimal(units: r.charge), origin: origin)
                l.reason = r.responsibility
                out.append(l)
            }
        }
        for (i, id) in OrderedIDs.make(out.count, at: app.subcon.clock.now()).enumerated() { out[i].id = id }
        return (out, waived)
    }
}

