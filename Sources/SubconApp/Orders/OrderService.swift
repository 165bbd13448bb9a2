import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

// MARK: - API shapes

struct OrderLineDTO: Content {
    let number: Int
    let itemId: UUID
    let itemCode: String
    let itemName: String
    /// The item's unit of measure, shown with every quantity.
    let unit: String
    let operation: String?
    let quantity: FixedDecimal
    let dueDate: String
    let unitPrice: FixedDecimal
    let amount: FixedDecimal
    let state: String
}

struct LineChangeDTO: Content {
    struct Field: Content { let field: String; let before: String; let after: String }
    let line: Int
    /// added, removed, cancelled, changed.
    let kind: String
    let item: String?
    let operation: String?
    let quantity: FixedDecimal?
    let dueDate: String?
    let fields: [Field]

    init(_ c: LineChange) {
        line = c.lineNumber
        switch c {
        case .added(let l), .removed(let l), .cancelled(let l):
            kind = switch c { case .added: "added"; case .removed: "removed"; default: "cancelled" }
            item = l.item; operation = l.operation; quantity = l.quantity; dueDate = l.dueDate.description; fields = []
        case .changed(_, let f):
            kind = "changed"; item = nil; operation = nil; quantity = nil; dueDate = nil
            fields = f.map { Field(field: $0.field.rawValue, before: $0.before, after: $0.after) }
        }
    }
}

struct AnswerDTO: Content {
    let round: Int
    let line: Int
    let answer: String
    let quantity: FixedDecimal?
    let dueDate: String?
    let reason: String
    let decision: String?
    let answeredAt: Date
}

struct RevisionDTO: Content {
    let number: Int
    let status: String
    let reason: String
    let releasedAt: Date
    let answerDeadline: Date
    let answeredAt: Date?
    let responseSeconds: Int?
    /// The same, in whole minutes (rounded up), as pages show it.
    let responseMinutes: Int?
    let overdue: Bool
    let changes: [LineChangeDTO]
    let answers: [AnswerDTO]
}

struct RequirementDTO: Content {
    let line: Int
    let componentCode: String
    let componentName: String
    let quantityPer: FixedDecimal
    let scrapPercent: FixedDecimal
    let supplyBy: String
    let grossQuantity: FixedDecimal
    /// The component's unit of measure, which the gross quantity is in.
    let unit: String
}

struct OrderDTO: Content {
    let id: UUID
    let code: String
    let supplierId: UUID
    let supplierCode: String
    let supplierName: String
    let planId: UUID?
    let status: String
    let currency: String
    let revision: Int
    let version: Int
    let note: String
    let createdAt: Date
    let total: FixedDecimal
    let awaitingAnswer: Bool
    let overdue: Bool
    let answerDeadline: Date?
    let lines: [OrderLineDTO]
    let requirements: [RequirementDTO]
    let revisions: [RevisionDTO]
}

struct OrderLineInput: Codable, Sendable {
    /// The line number of an existing line (revisions); nil for a new line.
    var line: Int?
    var itemCode: String
    var operation: String?
    var quantity: FixedDecimal
    var dueDate: Day
    /// Taken from the price agreement in force when left out.
    var unitPrice: FixedDecimal?
    var cancelled: Bool?
}

struct NewOrderInput: StrictInput {
    static let fields: Set<String> = ["supplierId", "note", "lines"]
    var supplierId: UUID
    var note: String?
    var lines: [OrderLineInput]
    func validate() -> [FieldProblem] { OrderInputs.check(note: note, lines: lines) }
}

struct DraftOrderPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "note", "lines"]
    var version: Int
    var note: String?
    var lines: [OrderLineInput]?
    func validate() -> [FieldProblem] { OrderInputs.check(note: note, lines: lines ?? []) }
}

struct ReviseInput: StrictInput {
    static let fields: Set<String> = ["version", "reason", "lines"]
    var version: Int
    var reason: String
    /// The whole new set of lines: existing ones by `line` number (leave one out to remove it,
    /// or mark it `cancelled`), new ones without a number.
    var lines: [OrderLineInput]
    func validate() -> [FieldProblem] {
        var p = OrderInputs.check(note: nil, lines: lines)
        Check.text(reason, "reason", max: 500, into: &p)
        return p
    }
}

struct VersionInput: StrictInput {
    static let fields: Set<String> = ["version"]
    var version: Int
}

struct CancelInput: StrictInput {
    static let fields: Set<String> = ["version", "reason"]
    var version: Int
    var reason: String
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", max: 500, into: &p)
        return p
    }
}

struct AnswerInput: StrictInput {
    struct Line: Codable, Sendable {
        var line: Int
        /// accept, counter, reject.
        var answer: String
        var quantity: FixedDecimal?
        var dueDate: Day?
        var reason: String?
    }
    static let fields: Set<String> = ["revision", "lines"]
    /// The revision being answered: an answer to a superseded one is refused (409).
    var revision: Int
    var lines: [Line]
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if lines.count > 500 { p.append(FieldProblem("lines", "tooMany", ["max": "500"])) }
        for (i, l) in lines.enumerated() where !["accept", "counter", "reject"].contains(l.answer) {
            p.append(FieldProblem("lines[\(i)].answer", "invalidValue"))
        }
        for (i, l) in lines.enumerated() { Check.text(l.reason, "lines[\(i)].reason", required: false, max: 500, into: &p) }
        return p
    }

    var domain: [Int: LineAnswer] {
        Dictionary(lines.map { l in
            let reason = l.reason ?? ""
            let a: LineAnswer = switch l.answer {
            case "counter": .counter(quantity: l.quantity, dueDate: l.dueDate, reason: reason)
            case "reject": .reject(reason: reason)
            default: .accept
            }
            return (l.line, a)
        }, uniquingKeysWith: { a, _ in a })
    }
}

struct DecisionInput: StrictInput {
    struct Line: Codable, Sendable { var line: Int; var decision: String }
    static let fields: Set<String> = ["version", "decisions"]
    var version: Int
    var decisions: [Line]
    func validate() -> [FieldProblem] {
        decisions.enumerated().compactMap { i, d in CounterDecision(rawValue: d.decision) == nil ? FieldProblem("decisions[\(i)].decision", "invalidValue") : nil }
    }
}

enum OrderInputs {
    static func check(note: String?, lines: [OrderLineInput]) -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(note, "note", required: false, max: 1000, into: &p)
        if lines.count > 200 { p.append(FieldProblem("lines", "tooMany", ["max": "200"])) }
        for (i, l) in lines.enumerated() {
            if l.itemCode.trimmingCharacters(in: .whitespaces).isEmpty { p.append(FieldProblem("lines[\(i)].itemCode", "required")) }
            if let op = l.operation, !op.isEmpty { Check.code(op, "lines[\(i)].operation", into: &p) }
            if l.quantity <= .zero { p.append(FieldProblem("lines[\(i)].quantity", "positiveDecimal")) }
            if l.quantity >= OrderLines.maxQuantity { p.append(FieldProblem("lines[\(i)].quantity", "tooLarge")) }
            if let price = l.unitPrice {
                if price < .zero { p.append(FieldProblem("lines[\(i)].unitPrice", "negative")) }
                if price >= OrderLines.maxUnitPrice { p.append(FieldProblem("lines[\(i)].unitPrice", "tooLarge")) }
            }
        }
        return p
    }
}

// MARK: - The service

/// Outsourcing orders: drafts, release with a requirement snapshot, revisions with a line diff,
/// the supplier's per-line answers, the buyer's decisions, cancellation. Every change is one
/// transaction with its audit rows and notifications, guarded by the order's version.
enum OrderService {
    static func find(_ p: Principal, _ id: UUID, on db: any Database) async throws -> OutsourcingOrder {
        try await p.scope.find(OutsourcingOrder.self, id, on: db)
    }

    // MARK: Reading

    static func lines(_ orderID: UUID, on db: any Database) async throws -> [OrderLine] {
        let rows = try await OrderLineRow.query(on: db).filter(\.$orderID == orderID).sort(\.$number).all()
        let codes = try await itemCodes(Set(rows.map(\.itemID)), on: db)
        return rows.map {
            OrderLine(number: $0.number, item: codes[$0.itemID]?.code ?? "?", operation: $0.operation, quantity: FixedDecimal(units: $0.quantity),
                      dueDate: Day($0.dueDate)!, unitPrice: FixedDecimal(units: $0.unitPrice), state: OrderLine.State(rawValue: $0.state) ?? .open)
        }
    }

    static func itemCodes(_ ids: Set<UUID>, on db: any Database) async throws -> [UUID: Item] {
        guard !ids.isEmpty else { return [:] }
        return Dictionary(uniqueKeysWithValues: try await Item.query(on: db).filter(\.$id ~~ ids).all().map { ($0.id!, $0) })
    }

    /// One row of the order detail's read: a line ("L"), a material requirement ("R"), the
    /// supplier ("S") or a revision with one of its answers ("V"), with the item's code, name and
    /// unit joined in; the supplier's row carries the order's own columns (`h_`).
    ///
    /// A revision's row reuses the columns of the kinds before it rather than widening every
    /// row: `no` is its number, `item_id` its id, `code` its status, `name` its reason, `uom` its
    /// changes, `unit_price` its response seconds and `h_created_at` its release; the answer's
    /// round and line are `quantity_per` and `scrap_percent`, its answer `operation`, quantity
    /// `quantity`, date `due_date`, reason `supply_by` and decision `state` (`revision` below).
    ///
    /// Read by position: decoded by name through `Decodable`, its rows were a twelfth of the
    /// server's time for an order detail on PostgreSQL.
    private struct DetailRow: ReadByPosition {
        let kind: String, no: Int, item_id: UUID?, code: String?, name: String?, uom: String?
        let operation: String?, quantity: Int64?, due_date: String?, unit_price: Int64?, state: String?
        let quantity_per: Int64?, scrap_percent: Int64?, supply_by: String?
        let h_code: String?, h_plan_id: UUID?, h_status: String?, h_currency: String?, h_revision: Int?, h_version: Int?
        let h_note: String?, h_created_at: Date?
        let v_answered_at: Date?, a_answered_at: Date?

        static let columnNames = ["kind", "no", "item_id", "code", "name", "uom", "operation", "quantity", "due_date", "unit_price", "state",
                                  "quantity_per", "scrap_percent", "supply_by", "h_code", "h_plan_id", "h_status", "h_currency", "h_revision",
                                  "h_version", "h_note", "h_created_at", "v_answered_at", "a_answered_at"]
        init(_ r: inout ColumnReader) throws {
            kind = try r.value(); no = try r.value(); item_id = try r.optional(); code = try r.optional(); name = try r.optional(); uom = try r.optional()
            operation = try r.optional(); quantity = try r.optional(); due_date = try r.optional(); unit_price = try r.optional(); state = try r.optional()
            quantity_per = try r.optional(); scrap_percent = try r.optional(); supply_by = try r.optional()
            h_code = try r.optional(); h_plan_id = try r.optional(); h_status = try r.optional(); h_currency = try r.optional()
            h_revision = try r.optional(); h_version = try r.optional(); h_note = try r.optional(); h_created_at = try r.optional()
            v_answered_at = try r.optional(); a_answered_at = try r.optional()
        }

        /// A revision's row as the revision and its answer.
        var revision: RevisionAnswerRow? {
            guard kind == "V", let id = item_id, let status = code, let releasedAt = h_created_at else { return nil }
            return RevisionAnswerRow(id: id, number: no, status: status, reason: name ?? "", changes: uom ?? "[]", released_at: releasedAt,
                                     answered_at: v_answered_at, response_seconds: unit_price.map(Int.init),
                                     a_round: quantity_per.map(Int.init), a_line: scrap_percent.map(Int.init), a_answer: operation,
                                     a_quantity: quantity, a_due_date: due_date, a_reason: supply_by, a_decision: state, a_answered_at: a_answered_at)
        }

        /// The order's own columns, on the supplier's row.
        func head(_ id: UUID) -> Head? {
            guard let supplier = item_id, let code = h_code, let status = h_status, let currency = h_currency, let revision = h_revision,
                  let version = h_version, let note = h_note, let createdAt = h_created_at else { return nil }
            return Head(id: id, code: code, supplier_id: supplier, plan_id: h_plan_id, status: status, currency: currency, revision: revision,
                        version: version, note: note, created_at: createdAt)
        }
    }

    /// A revision with one of its answers (none: the answer columns are null).
    private struct RevisionAnswerRow {
        let id: UUID, number: Int, status: String, reason: String, changes: String, released_at: Date, answered_at: Date?
        let response_seconds: Int?
        let a_round: Int?, a_line: Int?, a_answer: String?, a_quantity: Int64?, a_due_date: String?, a_reason: String?
        let a_decision: String?, a_answered_at: Date?
    }

    /// The order's own columns, as the detail shows them (from the model, or the supplier's row).
    struct Head {
        let id: UUID, code: String, supplier_id: UUID, plan_id: UUID?, status: String, currency: String
        let revision: Int, version: Int, note: String, created_at: Date

        init(id: UUID, code: String, supplier_id: UUID, plan_id: UUID?, status: String, currency: String, revision: Int, version: Int,
             note: String, created_at: Date) {
            self.id = id; self.code = code; self.supplier_id = supplier_id; self.plan_id = plan_id; self.status = status
            self.currency = currency; self.revision = revision; self.version = version; self.note = note; self.created_at = created_at
        }

        init(_ o: OutsourcingOrder) {
            id = o.id!; code = o.code; supplier_id = o.supplierID; plan_id = o.planID; status = o.status; currency = o.currency
            revision = o.revision; version = o.version; note = o.note; created_at = o.createdAt
        }
    }

    /// The order detail by id in the caller's scope (404 outside it): the order's row is read
    /// plainly rather than as a model, since this is the most-read record of all and decoding a
    /// model costs more than the read itself. It comes with everything else the detail shows
    /// (`rows`): on PostgreSQL each statement is a round trip, and a detail made four, then two.
    static func detail(_ p: Principal, _ id: UUID, app: Application) async throws -> OrderDTO {
        try await detail(p, id, app: app, on: app.keyedReads)
    }

    static func detail(_ p: Principal, _ id: UUID, app: Application, on sql: any SQLDatabase) async throws -> OrderDTO {
        let rows = try await rows(id, scope: p.scope.supplierID, on: sql)
        guard let h = rows.first(where: { $0.kind == "S" }), let head = h.head(id) else { throw Problem.notFound }
        return try dto(p, head, rows: rows, app: app)
    }

    static func dto(_ p: Principal, _ order: OutsourcingOrder, app: Application) async throws -> OrderDTO {
        try dto(p, Head(order), rows: try await rows(order.id!, scope: nil, on: app.keyedReads), app: app)
    }

    /// The order's lines, requirements, supplier and revisions with their answers in one
    /// statement; the supplier's row ('S') carries the order's own columns, and is missing when
    /// the order is not in `scope`.
    /// PostgreSQL types a union's columns pair by pair from the left, and two untyped NULLs make
    /// text, which the order's id and dates then do not match: the first branch casts its NULLs
    /// (SQLite takes any type name in a cast, and a NULL stays NULL).
    private static func rows(_ id: UUID, scope: UUID?, on sql: any SQLDatabase) async throws -> [DetailRow] {
        try await sql.raw("""
            SELECT 'L' AS kind, l.line_no AS no, l.item_id AS item_id, i.code AS code, i.name AS name, i.uom AS uom, l.operation AS operation,
                   l.quantity AS quantity, l.due_date AS due_date, l.unit_price AS unit_price, l.state AS state,
                   NULL AS quantity_per, NULL AS scrap_percent, NULL AS supply_by,
                   CAST(NULL AS text) AS h_code, CAST(NULL AS uuid) AS h_plan_id, CAST(NULL AS text) AS h_status, CAST(NULL AS text) AS h_currency,
                   CAST(NULL AS integer) AS h_revision, CAST(NULL AS integer) AS h_version, CAST(NULL AS text) AS h_note,
                   CAST(NULL AS timestamptz) AS h_created_at, CAST(NULL AS timestamptz) AS v_answered_at, CAST(NULL AS timestamptz) AS a_answered_at
              FROM order_lines l LEFT JOIN items i ON i.id = l.item_id WHERE l.order_id = \(bind: id)
            UNION ALL
            SELECT 'R', r.line_no, r.component_id, i.code, i.name, i.uom, NULL, r.gross_quantity, NULL, NULL, NULL,
                   r.quantity_per, r.scrap_percent, r.supply_by, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
              FROM order_requirements r LEFT JOIN items i ON i.id = r.component_id WHERE r.order_id = \(bind: id)
            UNION ALL
            SELECT 'S', 0, o.id, o.code, o.name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                   h.code, h.plan_id, h.status, h.currency, h.revision, h.version, h.note, h.created_at, NULL, NULL
              FROM outsourcing_orders h JOIN organizations o ON o.id = h.supplier_id WHERE h.id = \(bind: id)
            """ + (scope.map { " AND h.supplier_id = \(bind: $0)" } ?? "") + """

            UNION ALL
            SELECT 'V', v.number, v.id, v.status, v.reason, v.changes, a.answer, a.quantity, a.due_date, v.response_seconds, a.decision,
                   a.round, a.line_no, a.reason, NULL, NULL, NULL, NULL, NULL, NULL, NULL, v.released_at, v.answered_at, a.answered_at
              FROM order_revisions v LEFT JOIN order_answers a ON a.revision_id = v.id WHERE v.order_id = \(bind: id)
             ORDER BY 1, 2, 12, 13
            """).rows(decoding: DetailRow.self)
    }

    /// The order as its page and the API show it, from `rows`, whatever the order's size.
    private static func dto(_ p: Principal, _ order: Head, rows: [DetailRow], app: Application) throws -> OrderDTO {
        let id = order.id
        let supplier = rows.first { $0.kind == "S" }
        let lineDTOs = rows.filter { $0.kind == "L" }.map { r in
            let line = OrderLine(number: r.no, item: "", quantity: FixedDecimal(units: r.quantity ?? 0), dueDate: Day(r.due_date ?? "") ?? Day(year: 1970, month: 1, day: 1)!,
                                 unitPrice: FixedDecimal(units: r.unit_price ?? 0))
            return OrderLineDTO(number: r.no, itemId: r.item_id ?? UUID(), itemCode: r.code ?? "", itemName: r.name ?? "", unit: r.uom ?? "",
                                operation: r.operation, quantity: line.quantity, dueDate: r.due_date ?? "", unitPrice: line.unitPrice,
                                amount: (try? line.amount()) ?? .zero, state: r.state ?? "open")
        }
        var total = FixedDecimal.zero
        for l in lineDTOs where l.state == "open" { total = (try? total.adding(l.amount)) ?? total }
        let clock = app.subcon.settings.responseClock
        let now = app.subcon.clock.now()
        var revisions: [RevisionAnswerRow] = [], answers: [UUID: [AnswerDTO]] = [:]
        // Rows come by revision number; the detail shows the latest first.
        for row in rows.lazy.compactMap(\.revision) {
            if revisions.last?.id != row.id { revisions.append(row) }
            if let round = row.a_round, let line = row.a_line, let answer = row.a_answer, let at = row.a_answered_at {
                answers[row.id, default: []].append(AnswerDTO(round: round, line: line, answer: answer, quantity: row.a_quantity.map(FixedDecimal.init(units:)),
                                                              dueDate: row.a_due_date, reason: row.a_reason ?? "", decision: row.a_decision, answeredAt: at))
            }
        }
        func deadline(_ r: RevisionAnswerRow) -> Date {
            Date(timeIntervalSince1970: TimeInterval(clock.deadline(releasedAt: Int64(r.released_at.timeIntervalSince1970))))
        }
        let revisionDTOs = try revisions.reversed().map { r in
            let changes = try JSONDecoder().decode([StoredChange].self, from: Data(r.changes.utf8))
            return RevisionDTO(
                number: r.number, status: r.status, reason: r.reason, releasedAt: r.released_at, answerDeadline: deadline(r),
                answeredAt: r.answered_at, responseSeconds: r.response_seconds, responseMinutes: r.response_seconds.map { max(1, ($0 + 59) / 60) },
                overdue: r.status == "pending" && now > deadline(r),
                changes: changes.map(\.dto),
                answers: answers[r.id] ?? [])
        }
        let pending = revisions.last { $0.status == "pending" }.map(deadline)
        return OrderDTO(
            id: id, code: order.code, supplierId: order.supplier_id, supplierCode: supplier?.code ?? "", supplierName: supplier?.name ?? "",
            planId: order.plan_id, status: order.status, currency: order.currency, revision: order.revision, version: order.version,
            note: order.note, createdAt: order.created_at, total: total,
            awaitingAnswer: (OrderStatus(rawValue: order.status) ?? .draft).awaitsAcknowledgment,
            overdue: pending.map { now > $0 } ?? false, answerDeadline: pending, lines: lineDTOs,
            requirements: rows.filter { $0.kind == "R" }.map {
                RequirementDTO(line: $0.no, componentCode: $0.code ?? "", componentName: $0.name ?? "",
                               quantityPer: FixedDecimal(units: $0.quantity_per ?? 0), scrapPercent: FixedDecimal(units: $0.scrap_percent ?? 0),
                               supplyBy: $0.supply_by ?? "", grossQuantity: FixedDecimal(units: $0.quantity ?? 0), unit: $0.uom ?? "")
            },
            revisions: revisionDTOs)
    }

    // MARK: Lines from input

    /// Resolves item codes and fills missing prices from the agreement in force today, reporting
    /// every problem at once.
    static func resolve(_ input: [OrderLineInput], supplierID: UUID, existing: [OrderLine] = [], today: Day,
                        on db: any Database) async throws -> [(line: OrderLine, itemID: UUID)] {
        let codes = Set(input.map { $0.itemCode.trimmingCharacters(in: .whitespaces) })
        let items = try await Item.query(on: db).filter(\.$code ~~ codes).all()
        let byCode = Dictionary(uniqueKeysWithValues: items.map { ($0.code, $0) })
        let agreements = try await PriceAgreementRow.query(on: db).filter(\.$supplier.$id == supplierID)
            .filter(\.$item.$id ~~ items.map { $0.id! }).all()
        let before = Dictionary(uniqueKeysWithValues: existing.map { ($0.number, $0) })
        var next = (existing.map(\.number).max() ?? 0) + 1
        var problems: [FieldProblem] = []
        var out: [(OrderLine, UUID)] = []
        for (i, l) in input.enumerated() {
            let code = l.itemCode.trimmingCharacters(in: .whitespaces)
            guard let item = byCode[code], item.active else {
                problems.append(FieldProblem("lines[\(i)].itemCode", "unknownItem", ["code": code])); continue
            }
            let operation = (l.operation ?? "").isEmpty ? nil : l.operation
            var number: Int
            if let n = l.line {
                guard before[n] != nil else { problems.append(FieldProblem("lines[\(i)].line", "unknownLine", ["line": String(n)])); continue }
                number = n
            } else {
                number = next; next += 1
            }
            var price = l.unitPrice ?? before[number]?.unitPrice
            if price == nil {
                let quote = PriceBook.priceInForce(supplier: supplierID.uuidString, item: item.code, operation: operation, on: today,
                                                   quantity: l.quantity, agreements: agreements.filter { $0.$item.id == item.id }.map { $0.domain(itemCode: item.code) })
                price = quote?.unitPrice
                if price == nil { problems.append(FieldProblem("lines[\(i)].unitPrice", "noPriceAgreement", ["item": item.code])); continue }
            }
            out.append((OrderLine(number: number, item: item.code, operation: operation, quantity: l.quantity, dueDate: l.dueDate,
                                  unitPrice: price!, state: l.cancelled == true ? .cancelled : .open), item.id!))
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        return out
    }

    static func linesProblem(_ problems: [OrderLines.Problem]) -> Problem {
        .validation(problems.map {
            switch $0 {
            case .empty: FieldProblem("lines", "orderEmpty")
            case .nonPositiveQuantity(let n): FieldProblem("lines", "lineQuantity", ["line": String(n)])
            case .negativePrice(let n): FieldProblem("lines", "linePrice", ["line": String(n)])
            case .duplicateNumber(let n): FieldProblem("lines", "lineDuplicate", ["line": String(n)])
            case .reopened(let n): FieldProblem("lines", "lineReopened", ["line": String(n)])
            case .subjectChanged(let n): FieldProblem("lines", "lineSubjectChanged", ["line": String(n)])
            case .noChange: FieldProblem("lines", "noChange")
            case .tooLarge(let n): FieldProblem("lines", "lineTooLarge", ["line": String(n)])
            }
        })
    }

    private static func writeLines(_ orderID: UUID, _ lines: [(line: OrderLine, itemID: UUID)], planLines: [Int: UUID] = [:],
                                   in change: Change) async throws {
        let db = change.db
        let keep = try await OrderLineRow.query(on: db).filter(\.$orderID == orderID).all()
        let planLinks = Dictionary(uniqueKeysWithValues: keep.map { ($0.number, $0.planLineID) })
        // The supplier's reasons for lateness stay with their lines across revisions.
        struct Reason: Decodable { let line_no: Int; let delay_reason: String?; let delay_note: String }
        let reasons = try await (db as! any SQLDatabase).raw("""
            SELECT line_no, delay_reason, delay_note FROM order_lines WHERE order_id = \(bind: orderID) AND delay_reason IS NOT NULL
            """).rows(decoding: Reason.self)
        try await OrderLineRow.query(on: db).filter(\.$orderID == orderID).delete()
        for (l, itemID) in lines {
            let r = OrderLineRow()
            r.orderID = orderID; r.number = l.number; r.itemID = itemID; r.operation = l.operation; r.quantity = l.quantity.units
            r.dueDate = l.dueDate.description; r.unitPrice = l.unitPrice.units; r.state = l.state.rawValue
            r.planLineID = planLines[l.number] ?? (planLinks[l.number] ?? nil)
            try await r.create(on: db)
        }
        for r in reasons { try await LineLateness.explain(orderID, line: r.line_no, reason: r.delay_reason!, note: r.delay_note, in: change) }
        try await LineLateness.store(orderID, in: change)
        try await ShipReadiness.refresh(orderID, on: db as! any SQLDatabase)
    }

    static func snapshot(_ o: OutsourcingOrder, _ lines: [OrderLine]) -> [String: String?] {
        ["code": o.code, "status": o.status, "revision": String(o.revision), "note": o.note,
         "lines": lines.map { "\($0.number) \($0.item)\($0.operation.map { "/" + $0 } ?? "") \($0.quantity) @\($0.unitPrice) \($0.dueDate)\($0.state == .cancelled ? " cancelled" : "")" }
            .joined(separator: "; ")]
    }

    // MARK: Writing

    /// A draft order; `planLines` links lines proposed from a plan.
    static func createDraft(_ p: Principal, supplierID: UUID, note: String, lines: [(line: OrderLine, itemID: UUID)], currency: String,
                            planID: UUID?, planLines: [Int: UUID] = [:], in change: Change) async throws -> OutsourcingOrder {
        if let problem = Optional(OrderLines.check(lines.map(\.line))).flatMap({ $0.isEmpty ? nil : $0 }) { throw linesProblem(problem) }
        let o = OutsourcingOrder()
        o.id = UUID()
        let month = change.now.formatted(.iso8601.year().month().dateSeparator(.omitted))
        o.code = "WX\(month)-\(String(format: "%04d", try await Sequences.next("order-\(month)", on: change.db)))"
        o.supplierID = supplierID; o.planID = planID; o.status = OrderStatus.draft.rawValue; o.currency = currency; o.revision = 0
        o.note = note; o.version = 1; o.createdBy = p.userID; o.createdAt = change.now; o.updatedAt = change.now
        try await o.create(on: change.db)
        try await writeLines(o.id!, lines, planLines: planLines, in: change)
        try await change.audit("order", o.id, "create", after: snapshot(o, lines.map(\.line)))
        return o
    }

    static func supplier(_ id: UUID, on db: any Database) async throws -> Organization {
        guard let s = try await Organization.find(id, on: db), s.organizationKind == .supplier, s.active else {
            throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")])
        }
        let status = try await SupplierProfile.query(on: db).filter(\.$organization.$id == id).first()?.supplierStatus ?? .prospect
        guard SupplierStatus.mayReceiveOrders.contains(status) else {
            throw Problem.validation([FieldProblem("supplierId", "supplierNotQualified", ["status": status.rawValue])])
        }
        return s
    }

    static func create(_ p: Principal, _ input: NewOrderInput, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        _ = try await supplier(input.supplierId, on: app.modelReads)
        let lines = try await resolve(input.lines, supplierID: input.supplierId, today: app.subcon.today(), on: app.modelReads)
        return try await app.write(as: p.auditActor) { change in
            try await createDraft(p, supplierID: input.supplierId, note: input.note ?? "", lines: lines, currency: "CNY", planID: nil, in: change)
        }
    }

    static func updateDraft(_ p: Principal, _ id: UUID, _ input: DraftOrderPatchInput, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        let o = try await find(p, id, on: app.modelReads)
        guard o.version == input.version else { throw Problem.staleVersion(current: o.version) }
        guard o.orderStatus == .draft else { throw Problem.conflict("problem.order.notDraft") }
        let old = try await lines(id, on: app.modelReads)
        var resolved: [(line: OrderLine, itemID: UUID)]?
        if let lines = input.lines {
            let r = try await resolve(lines, supplierID: o.supplierID, today: app.subcon.today(), on: app.modelReads)
            if case let problems = OrderLines.check(r.map(\.line)), !problems.isEmpty { throw linesProblem(problems) }
            resolved = r
        }
        let new = resolved
        return try await app.write(as: p.auditActor) { change in
            let before = snapshot(o, old)
            if let note = input.note { o.note = note }
            try await change.updateVersioned(OutsourcingOrder.schema, id: id, expected: input.version, sets: ["note": o.note, "updated_at": change.now])
            o.version += 1
            if let new { try await writeLines(id, new, in: change) }
            try await change.audit("order", id, "update", before: before, after: snapshot(o, new.map { $0.map(\.line) } ?? old))
            return o
        }
    }

    /// Draft → released: revision 1, the requirement snapshot, the answer clock, the supplier told.
    static func release(_ p: Principal, _ id: UUID, version: Int, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        let o = try await find(p, id, on: app.modelReads)
        guard o.version == version else { throw Problem.staleVersion(current: o.version) }
        try move(o, to: .released)
        _ = try await supplier(o.supplierID, on: app.modelReads)
        let current = try await lines(id, on: app.modelReads)
        let today = app.subcon.today()
        return try await app.write(as: p.auditActor) { change in
            try await releaseInChange(p, o, lines: current, reason: "", today: today, in: change)
        }
    }

    /// Revision 1 of a draft, inside the caller's transaction (a handover releases B's order with the rest of it).
    static func releaseInChange(_ p: Principal, _ o: OutsourcingOrder, lines current: [OrderLine], reason: String, today: Day,
                                in change: Change) async throws -> OutsourcingOrder {
        let before = snapshot(o, current)
        try await change.updateVersioned(OutsourcingOrder.schema, id: o.id!, expected: o.version,
                                         sets: ["status": OrderStatus.released.rawValue, "revision": 1, "updated_at": change.now])
        o.status = OrderStatus.released.rawValue; o.revision = 1; o.version += 1
        try await addRevision(o, number: 1, lines: current, changes: current.map { .added($0) }, reason: reason, by: p, in: change)
        try await snapshotRequirements(o, lines: current, today: today, in: change)
        try await change.audit("order", o.id, "release", before: before, after: snapshot(o, current))
        try await notifySupplier(o, "order.released", "notice.orderReleased", in: change)
        return o
    }

    static func move(_ o: OutsourcingOrder, to target: OrderStatus) throws {
        guard o.orderStatus.canMove(to: target) else {
            throw Problem.conflict("problem.order.transition", ["from": o.status, "to": target.rawValue])
        }
    }

    /// The order's revision waiting for an answer, if any, will get none. "pending" is in the
    /// text: bound, it made SQLite prepare the update again each time (the pending revisions'
    /// partial index names it).
    private static func supersedePendingRevisions(of orderID: UUID, in change: Change) async throws {
        try await (change.db as! any SQLDatabase).update(OrderRevisionRow.schema).set("status", to: "superseded")
            .where("order_id", .equal, orderID).where(SQLIdentifier("status"), .equal, SQLLiteral.string("pending")).run()
    }

    private static func addRevision(_ o: OutsourcingOrder, number: Int, lines: [OrderLine], changes: [LineChange], reason: String,
                                    status: String = "pending", by p: Principal, in change: Change) async throws {
        // Whatever was waiting for an answer is superseded by the new revision.
        try await supersedePendingRevisions(of: o.id!, in: change)
        let r = OrderRevisionRow()
        r.orderID = o.id!; r.supplierID = o.supplierID; r.number = number; r.reason = reason; r.status = status; r.createdBy = p.userID
        r.releasedAt = change.now; r.escalation = 0; r.round = 1
        r.linesJSON = String(decoding: try JSONEncoder().encode(lines), as: UTF8.self)
        r.changesJSON = String(decoding: try JSONEncoder().encode(changes.map(StoredChange.init)), as: UTF8.self)
        if status == "acknowledged" { r.answeredAt = change.now; r.responseSeconds = 0 }
        try await r.create(on: change.db)
    }

    /// One level of the BOM in force today for whole-item lines; the part itself for operation lines.
    private static func snapshotRequirements(_ o: OutsourcingOrder, lines: [OrderLine], today: Day, in change: Change) async throws {
        let versions = try await BOMService.versionsInForce(items: Set(lines.filter { $0.operation == nil }.map(\.item)), on: today, db: change.db)
        var reqs: [OrderRequirement] = []
        for l in lines where l.state == .open {
            do { reqs += try OrderRequirement.forLine(l, bom: versions[l.item]) } catch { throw Problem.validation([FieldProblem("lines", "tooLarge")]) }
        }
        try await storeRequirements(o.id!, reqs, in: change)
    }

    private static func storeRequirements(_ orderID: UUID, _ reqs: [OrderRequirement], in change: Change) async throws {
        let ids = try await ImportService.items(Array(Set(reqs.map(\.component))), on: change.db).mapValues { $0.id! }
        for q in reqs {
            let r = OrderRequirementRow()
            r.orderID = orderID; r.lineNumber = q.lineNumber; r.componentID = ids[q.component]!; r.quantityPer = q.quantityPer.units
            r.scrapPercent = q.scrapPercent.units; r.supplyBy = q.supplyBy.rawValue; r.grossQuantity = q.grossQuantity.units
            r.issuedQuantity = 0
            try await r.create(on: change.db)
        }
    }

    /// Any change to a released order is a new numbered revision with a line diff; the supplier
    /// must answer it again. Requirements of changed lines scale from their stored figures;
    /// added lines take the BOM in force today; nothing follows later BOM edits.
    static func revise(_ p: Principal, _ id: UUID, _ input: ReviseInput, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        let o = try await find(p, id, on: app.modelReads)
        guard o.version == input.version else { throw Problem.staleVersion(current: o.version) }
        guard o.orderStatus.acceptsRevision else { throw Problem.conflict("problem.order.transition", ["from": o.status, "to": "revised"]) }
        let old = try await lines(id, on: app.modelReads)
        let resolved = try await resolve(input.lines, supplierID: o.supplierID, existing: old, today: app.subcon.today(), on: app.modelReads)
        // Lines left out of the input are removed; cancelled ones stay cancelled.
        let new = resolved
        if case let problems = OrderLines.check(new.map(\.line), replacing: old), !problems.isEmpty { throw linesProblem(problems) }
        return try await applyRevision(p, o, old: old, new: new, reason: input.reason, status: .released, app: app)
    }

    static func applyRevision(_ p: Principal, _ o: OutsourcingOrder, old: [OrderLine], new: [(line: OrderLine, itemID: UUID)], reason: String,
                              status: OrderStatus, app: Application) async throws -> OutsourcingOrder {
        let today = app.subcon.today()
        return try await app.write(as: p.auditActor) { change in
            try await applyRevision(p, o, old: old, new: new, reason: reason, status: status, today: today, in: change)
        }
    }

    /// The revision itself, inside the caller's transaction (decisions and plan changes commit
    /// together with the revision they make).
    /// `imposed`: the buyer's change the supplier does not answer (a handover): recorded as
    /// acknowledged, the supplier not asked.
    static func applyRevision(_ p: Principal, _ o: OutsourcingOrder, old: [OrderLine], new: [(line: OrderLine, itemID: UUID)], reason: String,
                              status: OrderStatus, today: Day, imposed: Bool = false, in change: Change) async throws -> OutsourcingOrder {
        let diff = RevisionDiff.between(old, new.map(\.line))
        let before = snapshot(o, old)
        let number = o.revision + 1
        try await change.updateVersioned(OutsourcingOrder.schema, id: o.id!, expected: o.version,
                                         sets: ["status": status.rawValue, "revision": number, "updated_at": change.now])
        o.status = status.rawValue; o.revision = number; o.version += 1
        try await writeLines(o.id!, new, in: change)
        try await addRevision(o, number: number, lines: new.map(\.line), changes: diff, reason: reason,
                              status: status == .acknowledged || imposed ? "acknowledged" : "pending", by: p, in: change)
        try await updateRequirements(o.id!, diff: diff, today: today, in: change)
        try await change.audit("order", o.id, "revise", before: before, after: snapshot(o, new.map(\.line)))
        if status == .released && !imposed { try await notifySupplier(o, "order.revised", "notice.orderRevised", in: change, params: ["revision": String(number)]) }
        return o
    }

    private static func updateRequirements(_ orderID: UUID, diff: [LineChange], today: Day, in change: Change) async throws {
        var added: [OrderLine] = []
        for c in diff {
            switch c {
            case .added(let l): added.append(l)
            case .removed(let l), .cancelled(let l):
                try await OrderRequirementRow.query(on: change.db).filter(\.$orderID == orderID).filter(\.$lineNumber == l.number).delete()
            case .changed(let n, let fields):
                guard let q = fields.first(where: { $0.field == .quantity }), let quantity = try? FixedDecimal.parse(q.after) else { continue }
                for r in try await OrderRequirementRow.query(on: change.db).filter(\.$orderID == orderID).filter(\.$lineNumber == n).all() {
                    let stored = OrderRequirement(lineNumber: n, component: "", quantityPer: FixedDecimal(units: r.quantityPer),
                                                  scrapPercent: FixedDecimal(units: r.scrapPercent), supplyBy: SupplyBy(rawValue: r.supplyBy) ?? .manufacturer,
                                                  grossQuantity: FixedDecimal(units: r.grossQuantity))
                    guard let scaled = try? stored.scaled(to: quantity) else { throw Problem.validation([FieldProblem("lines", "tooLarge")]) }
                    r.grossQuantity = scaled.grossQuantity.units
                    try await r.save(on: change.db)
                }
            }
        }
        guard !added.isEmpty else { return }
        let versions = try await BOMService.versionsInForce(items: Set(added.filter { $0.operation == nil }.map(\.item)), on: today, db: change.db)
        var reqs: [OrderRequirement] = []
        for l in added { do { reqs += try OrderRequirement.forLine(l, bom: versions[l.item]) } catch { throw Problem.validation([FieldProblem("lines", "tooLarge")]) } }
        try await storeRequirements(orderID, reqs, in: change)
    }

    /// The supplier answers the current revision, line by line.
    static func answer(_ p: Principal, _ id: UUID, _ input: AnswerInput, app: Application) async throws -> OutsourcingOrder {
        let o = try await find(p, id, on: app.modelReads)
        try p.require(.answerOrders)
        guard p.isSupplier, p.organizationID == o.supplierID else { throw Problem.forbidden }
        guard o.orderStatus == .released else { throw Problem.conflict("problem.order.notAwaitingAnswer") }
        guard input.revision == o.revision, let rev = try await OrderRevisionRow.query(on: app.modelReads).filter(\.$orderID == id)
            .filter(\.$number == o.revision).first(), rev.status == "pending" else {
            throw Problem.conflict("problem.order.revisionSuperseded", ["current": String(o.revision)])
        }
        let current = try await lines(id, on: app.modelReads)
        let answers = input.domain
        let problems = Acknowledgment.check(answers, lines: current)
        if !problems.isEmpty {
            throw Problem.validation(problems.map {
                switch $0 {
                case .missingAnswer(let n): FieldProblem("lines", "answerMissing", ["line": String(n)])
                case .unknownLine(let n): FieldProblem("lines", "unknownLine", ["line": String(n)])
                case .reasonRequired(let n): FieldProblem("lines", "answerReason", ["line": String(n)])
                case .counterWithoutChange(let n): FieldProblem("lines", "counterWithoutChange", ["line": String(n)])
                case .nonPositiveQuantity(let n): FieldProblem("lines", "lineQuantity", ["line": String(n)])
                case .tooLarge(let n): FieldProblem("lines", "lineTooLarge", ["line": String(n)])
                }
            })
        }
        let outcome = Acknowledgment.outcome(answers)
        let expected = o.version
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(OutsourcingOrder.schema, id: id, expected: expected, sets: ["status": outcome.rawValue, "updated_at": change.now])
            o.status = outcome.rawValue; o.version += 1
            let first = rev.answeredAt == nil
            rev.status = outcome.rawValue; rev.answeredBy = p.userID
            if first {
                rev.answeredAt = change.now
                rev.responseSeconds = Int(change.now.timeIntervalSince(rev.releasedAt).rounded())
            }
            try await rev.save(on: change.db)
            for l in input.lines {
                let a = OrderAnswerRow()
                a.revisionID = rev.id!; a.round = rev.round; a.lineNumber = l.line; a.answer = l.answer
                a.quantity = l.answer == "counter" ? l.quantity?.units : nil; a.dueDate = l.answer == "counter" ? l.dueDate?.description : nil
                a.reason = l.reason ?? ""; a.answeredBy = p.userID; a.answeredAt = change.now
                try await a.create(on: change.db)
            }
            try await change.audit("order", id, "answer", before: ["status": OrderStatus.released.rawValue],
                                   after: ["status": outcome.rawValue, "revision": String(rev.number),
                                           "answers": input.lines.map { "\($0.line) \($0.answer)" }.joined(separator: "; ")])
            try await change.settleNotices(["order.released", "order.revised", "order.decided"], link: "/orders/\(id)", forUsersOf: o.supplierID)
            try await change.notify("order.answered", recipients: try await buyers(o, on: change.db), messageKey: "notice.orderAnswered.\(outcome.rawValue)",
                                    params: ["code": o.code], link: "/orders/\(id)")
            return o
        }
    }

    /// The buyer decides on the supplier's counter-proposals and rejections.
    static func decide(_ p: Principal, _ id: UUID, _ input: DecisionInput, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        let o = try await find(p, id, on: app.modelReads)
        guard o.version == input.version else { throw Problem.staleVersion(current: o.version) }
        guard o.orderStatus == .changeProposed else { throw Problem.conflict("problem.order.noProposal") }
        guard let rev = try await OrderRevisionRow.query(on: app.modelReads).filter(\.$orderID == id).filter(\.$number == o.revision).first() else {
            throw Problem.notFound
        }
        let rows = try await OrderAnswerRow.query(on: app.modelReads).filter(\.$revisionID == rev.id!).filter(\.$round == rev.round).all()
        let answers = Dictionary(uniqueKeysWithValues: rows.map { ($0.lineNumber, $0.domain) })
        let decisions = Dictionary(input.decisions.map { ($0.line, CounterDecision(rawValue: $0.decision)!) }, uniquingKeysWith: { a, _ in a })
        let old = try await lines(id, on: app.modelReads)
        let resolution: Negotiation.Resolution
        do { resolution = try Negotiation.resolve(lines: old, answers: answers, decisions: decisions) } catch {
            switch error {
            case .missingDecision(let n): throw Problem.validation([FieldProblem("decisions", "decisionMissing", ["line": String(n)])])
            case .nothingToDecide(let n): throw Problem.validation([FieldProblem("decisions", "nothingToDecide", ["line": String(n)])])
            }
        }
        let today = app.subcon.today()
        var itemIDs: [String: UUID] = [:]
        if let newLines = resolution.lines { itemIDs = try await ImportService.items(newLines.map(\.item), on: app.modelReads).mapValues { $0.id! } }
        let ids = itemIDs
        if let newLines = resolution.lines, resolution.status != .cancelled {
            return try await app.write(as: p.auditActor) { change in
                try await record(decisions, rows, by: p, in: change)
                try await change.settleNotices(["order.answered"], link: "/orders/\(id)")
                let updated = try await applyRevision(p, o, old: old, new: newLines.map { ($0, ids[$0.item]!) },
                                                      reason: "counter-proposal decided", status: resolution.status, today: today, in: change)
                if resolution.status == .acknowledged {
                    try await notifySupplier(updated, "order.decided", "notice.orderDecided.accepted", in: change)
                }
                return updated
            }
        }
        let expected = o.version
        return try await app.write(as: p.auditActor) { change in
            try await record(decisions, rows, by: p, in: change)
                try await change.settleNotices(["order.answered"], link: "/orders/\(id)")
            try await change.updateVersioned(OutsourcingOrder.schema, id: id, expected: expected, sets: ["status": resolution.status.rawValue, "updated_at": change.now])
            o.status = resolution.status.rawValue; o.version += 1
            if resolution.status == .cancelled, let newLines = resolution.lines {
                // Every line was turned down and the buyer agreed: the lines say so too, and
                // nothing is required any more.
                try await writeLines(id, newLines.map { ($0, ids[$0.item]!) }, in: change)
                try await OrderRequirementRow.query(on: change.db).filter(\.$orderID == id).delete()
            }
            if resolution.status == .released {
                // Declined: the same revision goes back to the supplier for a new round of answers.
                rev.status = "pending"; rev.round += 1; rev.releasedAt = change.now; rev.escalation = 0
                try await rev.save(on: change.db)
            } else {
                rev.status = resolution.status.rawValue
                try await rev.save(on: change.db)
            }
            try await change.audit("order", id, "decide", before: ["status": OrderStatus.changeProposed.rawValue],
                                   after: ["status": resolution.status.rawValue,
                                           "decisions": input.decisions.map { "\($0.line) \($0.decision)" }.joined(separator: "; ")])
            try await notifySupplier(o, "order.decided", resolution.status == .cancelled ? "notice.orderDecided.cancelled" : "notice.orderDecided.declined",
                                     in: change)
            return o
        }
    }

    private static func record(_ decisions: [Int: CounterDecision], _ rows: [OrderAnswerRow], by p: Principal, in change: Change) async throws {
        for r in rows where decisions[r.lineNumber] != nil {
            r.decision = decisions[r.lineNumber]!.rawValue; r.decidedBy = p.userID; r.decidedAt = change.now
            try await r.save(on: change.db)
        }
    }

    static func cancel(_ p: Principal, _ id: UUID, _ input: CancelInput, app: Application) async throws -> OutsourcingOrder {
        try p.require(.manageOrders)
        let o = try await find(p, id, on: app.modelReads)
        guard o.version == input.version else { throw Problem.staleVersion(current: o.version) }
        try move(o, to: .cancelled)
        return try await app.write(as: p.auditActor) { change in
            let before = o.status
            try await change.updateVersioned(OutsourcingOrder.schema, id: id, expected: input.version,
                                             sets: ["status": OrderStatus.cancelled.rawValue, "updated_at": change.now])
            o.status = OrderStatus.cancelled.rawValue; o.version += 1
            try await supersedePendingRevisions(of: id, in: change)
            try await change.audit("order", id, "cancel", before: ["status": before], after: ["status": o.status, "reason": input.reason])
            if before != OrderStatus.draft.rawValue {
                try await notifySupplier(o, "order.cancelled", "notice.orderCancelled", in: change, params: ["reason": input.reason])
            }
            return o
        }
    }

    /// The supplier starts work on an acknowledged order.
    static func startProduction(_ p: Principal, _ id: UUID, version: Int, app: Application) async throws -> OutsourcingOrder {
        let o = try await find(p, id, on: app.modelReads)
        try p.require(.answerOrders)
        guard o.version == version else { throw Problem.staleVersion(current: o.version) }
        try move(o, to: .inProduction)
        return try await app.write(as: p.auditActor) { change in
            try await change.updateVersioned(OutsourcingOrder.schema, id: id, expected: version,
                                             sets: ["status": OrderStatus.inProduction.rawValue, "updated_at": change.now])
            o.status = OrderStatus.inProduction.rawValue; o.version += 1
            try await change.audit("order", id, "start", before: ["status": OrderStatus.acknowledged.rawValue], after: ["status": o.status])
            return o
        }
    }

    // MARK: Who hears of it

    static func supplierUsers(_ supplierID: UUID, on db: any Database) async throws -> [UUID] {
        try await User.query(on: db).filter(\.$organization.$id == supplierID).filter(\.$active == true).all(\.$id)
    }

    /// The supplier's active people allowed `action` (who hears about its statements, invoices, rejects).
    static func supplierUsers(_ supplierID: UUID, allowed action: Action, on db: any Database) async throws -> [UUID] {
        try await User.query(on: db).filter(\.$organization.$id == supplierID).filter(\.$active == true).all()
            .filter { Policy.allows($0.roles, action) }.map { $0.id! }
    }

    /// The person who created the order and every purchaser.
    static func buyers(_ o: OutsourcingOrder, on db: any Database) async throws -> [UUID] {
        Array(Set(try await manufacturerPeople(with: .purchaser, on: db) + [o.createdBy]))
    }

    /// Active people of the manufacturer with a role (a supplier's people never have buyer roles,
    /// and there may be tens of thousands of them).
    static func manufacturerPeople(with role: Role, on db: any Database) async throws -> [UUID] {
        guard let maker = try await Organization.query(on: db).filter(\.$kind == OrganizationKind.manufacturer.rawValue).first() else { return [] }
        return try await User.query(on: db).filter(\.$organization.$id == maker.id!).filter(\.$active == true).all()
            .filter { $0.roles.contains(role) }.map { $0.id! }
    }

    static func notifySupplier(_ o: OutsourcingOrder, _ event: String, _ key: String, in change: Change, params: [String: String] = [:]) async throws {
        try await change.notify(event, recipients: try await supplierUsers(o.supplierID, on: change.db), messageKey: key,
                                params: params.merging(["code": o.code]) { a, _ in a }, link: "/orders/\(o.id!)")
    }
}

/// A line change as stored in a revision (JSON), decoded back into what pages and the API show.
struct StoredChange: Codable {
    let line: Int
    let kind: String
    let item: String?
    let operation: String?
    let quantity: String?
    let dueDate: String?
    let fields: [[String]]

    init(_ c: LineChange) {
        let dto = LineChangeDTO(c)
        line = dto.line; kind = dto.kind; item = dto.item; operation = dto.operation; quantity = dto.quantity?.description
        dueDate = dto.dueDate; fields = dto.fields.map { [$0.field, $0.before, $0.after] }
    }

    var dto: LineChangeDTO {
        LineChangeDTO(line: line, kind: kind, item: item, operation: operation, quantity: quantity.flatMap { try? FixedDecimal.parse($0) },
                      dueDate: dueDate, fields: fields.compactMap { $0.count == 3 ? .init(field: $0[0], before: $0[1], after: $0[2]) : nil })
    }
}

extension LineChangeDTO {
    init(line: Int, kind: String, item: String?, operation: String?, quantity: FixedDecimal?, dueDate: String?, fields: [Field]) {
        self.line = line; self.kind = kind; self.item = item; self.operation = operation; self.quantity = quantity
        self.dueDate = dueDate; self.fields = fields
    }
}
