import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import SubconDomain
import Vapor

/// The to-do list (待我处理) read from the records themselves, not from notifications: a task
/// is there while the record waits for this person's side, and gone once it is done. Two
/// statements per page: the counts of every kind, and the first few of each.
enum TodoQueries {
    /// Where one kind of task lives. `supplier` is the column that scopes it to a supplier.
    struct Source {
        let kind: TodoKind
        let from: String
        let supplier: String
        let id: String
        let code: String
        let detail: String
        let created: String
        var deadline = "CAST(NULL AS TIMESTAMPTZ)"
        var day = "CAST(NULL AS TEXT)"
        /// How the first few are ordered (most urgent first).
        var order: String
        /// Where the counts come from, when that needs less than the first few do (no join
        /// for their names); `created` and `supplier` must be readable there too.
        var countFrom: String? = nil
        /// The count kept by the database (triggers) and the values of its keys that select
        /// this kind's rows (the supplier's is added for a supplier). The oldest, the nearest
        /// deadline and the earliest day are then each one `MIN` over `countFrom`, which an
        /// index answers by its first entry, instead of one pass over every waiting row on
        /// every view of a home page.
        var kept: (counts: KeptCounts, equal: [String: (any Encodable & Sendable)?])? = nil
    }

    static func sources(countPeriod: SettlementPeriod) -> [TodoKind: Source] {
        let unexplained = AddTodoPlanIndexes.unexplained("l.")
        let list: [Source] = [
            // A large supplier has thousands of revisions to answer (SUP-JG 10,000 on the large
            // data set: 1.2 ms a view to count them); the oldest is the first of its partial index.
            Source(kind: .answerRevision, from: "FROM order_revisions r JOIN outsourcing_orders o ON o.id = r.order_id WHERE r.status = 'pending'",
                   supplier: "r.supplier_id", id: "o.id", code: "o.code", detail: "CAST(r.number AS TEXT)", created: "r.released_at", order: "r.released_at",
                   countFrom: "FROM order_revisions r WHERE r.status = 'pending'", kept: (.pendingRevisions, [:])),
            // From the few unconfirmed lines (a partial index) to their documents; CROSS JOIN keeps
            // SQLite from walking every document ever done instead.
            Source(kind: .confirmMaterial, from: """
                FROM (SELECT DISTINCT x.document_id FROM material_document_lines x WHERE x.confirmed_at IS NULL) u
                CROSS JOIN material_documents d WHERE d.id = u.document_id AND d.kind IN ('issue', 'supplementary') AND d.status = 'done'
                """, supplier: "d.supplier_id", id: "d.id", code: "d.code", detail: "d.kind", created: "d.created_at", order: "d.created_at"),
            // From the late lines' partial index (its condition in the same words); a late line
            // has no age of its own, its due day says how urgent it is. Counted by the late
            // lines' list's kept counts; the earliest day is the first of `order_lines_unexplained_idx`.
            Source(kind: .explainDelay, from: """
                FROM order_lines l CROSS JOIN outsourcing_orders o
                WHERE o.id = l.order_id AND \(unexplained)
                """, supplier: "l.supplier_id", id: "o.id", code: "o.code", detail: "CAST(l.line_no AS TEXT)", created: "CAST(NULL AS TIMESTAMPTZ)",
                   day: "l.due_date", order: "l.days_late DESC, l.due_date", countFrom: "FROM order_lines l WHERE \(unexplained)",
                   kept: (.unexplainedLateLines, [:])),
            // CROSS JOIN: SQLite starts from the lines' partial index, not from a supplier's orders.
            // The line's own copies of its order's supplier and status (kept by triggers) let a
            // supplier's ready lines be counted, and the first found in due order, from
            // `order_lines_supplier_ship_ready_idx` alone: through the orders, SUP-JG's 2,003
            // ready lines took 3.2 ms to count and 2.7 ms to find the first three, every view.
            // A ready line has no time of its own to have waited since (the order's last change
            // was a stand-in that cost a join per line); its due day says how urgent it is.
            Source(kind: .shipReady, from: """
                FROM order_lines l CROSS JOIN outsourcing_orders o
                WHERE o.id = l.order_id AND \(ShipReadiness.readyCondition) AND l.order_status IN (\(MaterialService.workingStatusList))
                """, supplier: "l.supplier_id", id: "o.id", code: "o.code", detail: "CAST(l.line_no AS TEXT)", created: "CAST(NULL AS TIMESTAMPTZ)",
                   day: "l.due_date", order: "l.due_date",
                   countFrom: "FROM order_lines l WHERE \(ShipReadiness.readyCondition) AND l.order_status IN (\(MaterialService.workingStatusList))",
                   kept: (.readyLines, [:])),
            // SUP-JG has 5,106 exceptions to answer on the large data set (0.64 ms a view to count).
            // The status only as the expression the two partial indexes name: the first three and
            // the nearest deadline from `exceptions_to_answer_idx`, the oldest from
            // `exceptions_unanswered_idx`, each without reading the rows (the column itself
            // would have to be read from each row to be checked).
            Source(kind: .answerException, from: "FROM exceptions e WHERE \(AddSupplierTodoKeptCounts.unanswered("e."))",
                   supplier: "e.supplier_id", id: "e.id", code: "e.code", detail: "e.type", created: "e.created_at",
                   deadline: "e.response_by", order: "e.response_by, e.created_at",
                   kept: (.unansweredExceptions, [:])),
            Source(kind: .rework8D, from: """
                FROM exceptions e WHERE e.status = 'open' AND e.eight_d = TRUE AND e.responded_at IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM eight_d_steps x WHERE x.exception_id = e.id AND x.state = 'submitted')
                AND (SELECT COUNT(*) FROM eight_d_steps x WHERE x.exception_id = e.id AND x.state = 'approved') < \(EightD.Step.allCases.count)
                """, supplier: "e.supplier_id", id: "e.id", code: "e.code", detail: "e.type", created: "e.created_at",
                   // An expression, not the column, so that SQLite does not walk the supplier's
                   // exceptions in deadline order (`exceptions_supplier_page_idx`, open and closed
                   // alike) looking for three, but takes its open ones and sorts the few: SUP-JG's
                   // 6,866 exceptions made every view of its home page 12.7 ms longer (now 0.04 ms).
                   // The order is the same (a NULL stays a NULL).
                   deadline: "e.resolve_by", order: "COALESCE(e.resolve_by, e.resolve_by), e.created_at"),
            Source(kind: .confirmStatement, from: "FROM statements s WHERE s.status = 'sent'",
                   supplier: "s.supplier_id", id: "s.id", code: "s.code", detail: "s.period", created: "s.sent_at", order: "s.sent_at"),
            Source(kind: .countStock, from: """
                FROM organizations g WHERE g.kind = 'supplier'
                AND EXISTS (SELECT 1 FROM material_movements m WHERE m.supplier_id = g.id)
                AND NOT EXISTS (SELECT 1 FROM stock_counts c WHERE c.supplier_id = g.id AND c.period = '\(countPeriod.description)')
                """, supplier: "g.id", id: "g.id", code: "'\(countPeriod.description)'", detail: "g.name", created: "g.created_at", order: "g.code"),
            Source(kind: .decideCounter, from: "FROM outsourcing_orders o WHERE o.status = 'change_proposed'",
                   supplier: "o.supplier_id", id: "o.id", code: "o.code", detail: "CAST(o.revision AS TEXT)", created: "o.updated_at", order: "o.updated_at"),
            Source(kind: .confirmPlanChange, from: "FROM plan_change_proposals c JOIN outsourcing_orders o ON o.id = c.order_id WHERE c.status = 'pending'",
                   supplier: "o.supplier_id", id: "c.plan_id", code: "o.code", detail: "CAST(c.order_line_no AS TEXT)", created: "c.created_at", order: "c.created_at"),
            Source(kind: .approveSupplementary, from: "FROM material_documents d WHERE d.kind = 'supplementary' AND d.status = 'pending_approval'",
                   supplier: "d.supplier_id", id: "d.id", code: "d.code", detail: "d.reason", created: "d.created_at", order: "d.created_at"),
            // 30,000 notes to receive on the large data set: counting them and their oldest took
            // 3.5 ms of every view of a buyer's home page.
            Source(kind: .receiveDelivery, from: "FROM delivery_notes n WHERE \(AddWorkbenchFigures.toReceive("n.status"))",
                   supplier: "n.supplier_id", id: "n.id", code: "n.code", detail: "n.ship_date", created: "n.created_at", day: "n.ship_date", order: "n.ship_date, n.created_at",
                   kept: (.notesToReceive, [:])),
            // The line keeps its receipt's time, under the work list's index.
            Source(kind: .inspect, from: "FROM receipt_lines l JOIN goods_receipts g ON g.id = l.receipt_id WHERE l.status = 'awaiting_inspection'",
                   supplier: "l.supplier_id", id: "l.receipt_id", code: "g.code", detail: "CAST(l.no AS TEXT)", created: "l.received_at", order: "l.received_at",
                   countFrom: "FROM receipt_lines l WHERE l.status = 'awaiting_inspection'", kept: (.receiptLines, ["status": "awaiting_inspection"])),
            // From the few submitted steps to their exceptions, not from every open exception.
            Source(kind: .review8D, from: """
                FROM (SELECT DISTINCT x.exception_id FROM eight_d_steps x WHERE x.state = 'submitted') s
                CROSS JOIN exceptions e WHERE e.id = s.exception_id AND e.status = 'open'
                """, supplier: "e.supplier_id", id: "e.id", code: "e.code", detail: "e.type", created: "e.created_at",
                   deadline: "e.resolve_by", order: "e.resolve_by, e.created_at"),
            Source(kind: .answerDispute, from: "FROM statements s WHERE s.status = 'disputed'",
                   supplier: "s.supplier_id", id: "s.id", code: "s.code", detail: "s.period", created: "s.updated_at", order: "s.updated_at"),
            Source(kind: .lockStatement, from: "FROM statements s WHERE s.status = 'confirmed'",
                   supplier: "s.supplier_id", id: "s.id", code: "s.code", detail: "s.period", created: "s.confirmed_at", order: "s.confirmed_at"),
            // Action items agreed at a supplier review, each on its owner's side.
            Source(kind: .reviewActionSupplier, from: "FROM review_actions a WHERE a.status = 'open' AND a.owner_side = 'supplier'",
                   supplier: "a.supplier_id", id: "a.review_id", code: "a.title", detail: "a.due_on", created: "a.created_at", day: "a.due_on", order: "a.due_on"),
            Source(kind: .reviewAction, from: "FROM review_actions a WHERE a.status = 'open' AND a.owner_side = 'buyer'",
                   supplier: "a.supplier_id", id: "a.review_id", code: "a.title", detail: "a.due_on", created: "a.created_at", day: "a.due_on", order: "a.due_on"),
            // Given-up messages to the organization's own channels (the manufacturer's admin: its own).
            Source(kind: .retryDeliverySupplier, from: "FROM channel_deliveries d WHERE d.status = 'failed' AND d.event <> 'channel.test'",
                   supplier: "d.organization_id", id: "d.id", code: "d.event", detail: "d.kind", created: "d.created_at", order: "d.created_at"),
            // Current revisions a supplier sees and has not acknowledged (from the supplier's row: the
            // list is always one supplier's).
            Source(kind: .acknowledgeDocument, from: """
                FROM organizations org JOIN tech_documents d ON \(TechDocService.visibleSQL(supplier: "org.id"))
                WHERE org.kind = 'supplier' AND NOT \(TechDocService.ackedSQL(supplier: "org.id"))
                """, supplier: "org.id", id: "d.id", code: "d.title", detail: "d.current_label", created: "d.updated_at", order: "d.updated_at"),
            Source(kind: .retryDelivery, from: """
                FROM channel_deliveries d JOIN organizations g ON g.id = d.organization_id WHERE d.status = 'failed' AND d.event <> 'channel.test' AND g.kind = 'manufacturer'
                """, supplier: "d.organization_id", id: "d.id", code: "d.event", detail: "d.kind", created: "d.created_at", order: "d.created_at"),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.kind, $0) })
    }

    struct Item: Sendable {
        let kind: TodoKind
        let id: UUID
        let code: String
        let detail: String?
        let supplierName: String
        let created: Date?
        let deadline: Date?
        let day: String?
    }

    struct Result: Sendable {
        let groups: [TodoGroup]
        let items: [Item]
    }

    /// How the counts are read: `kept` where the database keeps them; `anew` counts every
    /// waiting record (what the kept counts must always agree with, for tests).
    enum Counting: Sendable { case kept, anew }

    /// The two statements of a person's to-do: every kind's count (with its oldest, nearest
    /// deadline and earliest day), and the first `perKind` of each. Nil when no kind is theirs.
    /// As written out for the person's set of kinds (`written`), their supplier bound.
    static func statements(_ p: Principal, settings: Settings, today: Day, perKind: Int = 3, counting: Counting = .kept,
                           on sql: any SQLDatabase) -> (counts: SQLQueryString, firsts: SQLQueryString)? {
        let kinds = TodoKind.kinds(for: p.roles, side: p.organizationKind)
        guard !kinds.isEmpty else { return nil }
        return written(kinds, supplier: p.scope.supplierID, countPeriod: settings.statementCalendar.period(of: today).previous,
                       perKind: perKind, counting: counting, on: sql)
    }

    private static func build(_ kinds: [TodoKind], supplier: UUID?, countPeriod: SettlementPeriod, perKind: Int, counting: Counting,
                                   on sql: any SQLDatabase) -> (counts: SQLQueryString, firsts: SQLQueryString) {
        let all = sources(countPeriod: countPeriod)
        func scoped(_ s: Source, counting: Bool = false) -> SQLQueryString {
            var q = SQLQueryString(counting ? s.countFrom ?? s.from : s.from)
            if let supplier { q = q + " AND \(unsafeRaw: s.supplier) = \(bind: supplier)" }
            return q
        }
        func count(_ s: Source) -> SQLQueryString {
            guard counting == .kept, let kept = s.kept else {
                return "COUNT(*) AS n, MIN(\(unsafeRaw: s.created)) AS oldest, MIN(\(unsafeRaw: s.deadline)) AS deadline, MIN(\(unsafeRaw: s.day)) AS day " + scoped(s, counting: true)
            }
            var equal = kept.equal
            if let supplier { equal[kept.counts.keys[0]] = supplier }
            // One MIN per statement: with more than one, neither database answers it from an index.
            func first(_ column: String, as name: String) -> SQLQueryString {
                column.hasPrefix("CAST(NULL") ? "\(unsafeRaw: column) AS \(unsafeRaw: name)"
                    : "(SELECT MIN(\(unsafeRaw: column)) " + scoped(s, counting: true) + ") AS \(unsafeRaw: name)"
            }
            return kept.counts.expression(equal, on: sql) + " AS n, " + first(s.created, as: "oldest") + ", " + first(s.deadline, as: "deadline") + ", " + first(s.day, as: "day")
        }
        var counts: SQLQueryString = ""
        var firsts: SQLQueryString = ""
        for (n, kind) in kinds.enumerated() {
            let s = all[kind]!
            if n > 0 { counts = counts + " UNION ALL "; firsts = firsts + " UNION ALL " }
            counts = counts + "SELECT \(literal: kind.rawValue) AS kind, " + count(s)
            firsts = firsts + "SELECT * FROM (SELECT \(literal: kind.rawValue) AS kind, \(unsafeRaw: s.id) AS id, \(unsafeRaw: s.code) AS code, CAST(\(unsafeRaw: s.detail) AS TEXT) AS detail, "
                + "(SELECT name FROM organizations WHERE id = \(unsafeRaw: s.supplier)) AS supplier_name, \(unsafeRaw: s.created) AS created, "
                + "\(unsafeRaw: s.deadline) AS deadline, \(unsafeRaw: s.day) AS day " + scoped(s) + " ORDER BY \(unsafeRaw: s.order) LIMIT \(literal: perKind)) t\(unsafeRaw: String(n))"
        }
        return (counts, firsts)
    }

    /// Bounded reads (kept counts, index seeks, the first few of each kind by an index), so they
    /// run on the read connections. Callers pass `keyedReads`: the text is the same for every view
    /// of one set of roles (a supplier's bound), and every kind is read from an index in its own
    /// order whoever it is for, so PostgreSQL's kept plan serves each supplier alike (checked with
    /// `EXPLAIN EXECUTE` for SUP-JG and an ordinary supplier on the large data set). Planned on
    /// every view, the two statements took 20 ms of planning for SUP-JG's home page.
    static func load(_ p: Principal, settings: Settings, today: Day, perKind: Int = 3, counting: Counting = .kept,
                     on sql: any SQLDatabase) async throws -> Result {
        guard let (counts, firsts) = statements(p, settings: settings, today: today, perKind: perKind, counting: counting, on: sql) else {
            return Result(groups: [], items: [])
        }
        struct CountRow: Decodable { let kind: String; let n: Int; let oldest: Date?; let deadline: Date?; let day: String? }
        struct ItemRow: Decodable {
            let kind: String; let id: UUID; let code: String; let detail: String?; let supplier_name: String?
            let created: Date?; let deadline: Date?; let day: String?
        }
        let countRows = try await sql.raw(counts).rows(decoding: CountRow.self)
        let itemRows = try await sql.raw(firsts).rows(decoding: ItemRow.self)
        let clock = settings.responseClock
        func deadline(_ kind: TodoKind, created: Date?, stored: Date?, day: String?) -> Date? {
            if kind == .answerRevision {
                return created.map { Date(timeIntervalSince1970: TimeInterval(clock.deadline(releasedAt: Int64($0.timeIntervalSince1970)))) }
            }
            // The due day orders the late lines; explaining them has no deadline of its own.
            // Receiving has the ship date to order by, not a deadline.
            if kind == .explainDelay || kind == .receiveDelivery { return nil }
            if let stored { return stored }
            // A due day ends at midnight where the installation is.
            if let day = day.flatMap(Day.init), let start = settings.calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day)) {
                return start.addingTimeInterval(24 * 3600)
            }
            return nil
        }
        let groups = countRows.compactMap { r -> TodoGroup? in
            guard let kind = TodoKind(rawValue: r.kind) else { return nil }
            return TodoGroup(kind: kind, count: r.n, oldest: r.oldest, deadline: deadline(kind, created: r.oldest, stored: r.deadline, day: r.day))
        }
        let items = itemRows.compactMap { r -> Item? in
            guard let kind = TodoKind(rawValue: r.kind) else { return nil }
            return Item(kind: kind, id: r.id, code: r.code, detail: r.detail, supplierName: r.supplier_name ?? "", created: r.created,
                        deadline: deadline(kind, created: r.created, stored: r.deadline, day: r.day), day: r.day)
        }
        return Result(groups: groups, items: items)
    }

    /// The two statements written out once for each set of kinds, side and dialect, the supplier's
    /// id bound anew on each run: building and writing out their text (22 kinds' sources, eleven
    /// subqueries a statement) was a fifth of the server's time for a supplier's home page.
    private static let writtenStatements = NIOLockedValueBox([String: (counts: WrittenStatement, firsts: WrittenStatement)]())

    private static func written(_ kinds: [TodoKind], supplier: UUID?, countPeriod: SettlementPeriod, perKind: Int, counting: Counting,
                                on sql: any SQLDatabase) -> (counts: SQLQueryString, firsts: SQLQueryString) {
        let key = "\(sql.dialect.name) \(kinds.map(\.rawValue)) \(supplier != nil) \(countPeriod) \(perKind) \(counting)"
        let kept = writtenStatements.withLockedValue { $0[key] } ?? {
            let slot = WrittenStatement.slot
            let (counts, firsts) = build(kinds, supplier: supplier.map { _ in slot }, countPeriod: countPeriod, perKind: perKind,
                                         counting: counting, on: sql)
            let made = (counts: WrittenStatement(counts, on: sql), firsts: WrittenStatement(firsts, on: sql))
            writtenStatements.withLockedValue { all in
                // A few sets of roles a month; a bound against anything else.
                if all.count >= 256 { all.removeAll() }
                all[key] = made
            }
            return made
        }()
        return (kept.counts.run(with: supplier), kept.firsts.run(with: supplier))
    }

    /// Where one tap on a task goes.
    static func link(_ i: Item) -> String {
        switch i.kind {
        case .answerRevision: "/orders/\(i.id)#answer"
        case .confirmMaterial, .approveSupplementary: "/material/documents/\(i.id)"
        case .explainDelay: "/orders/\(i.id)/report?line=\(i.detail ?? "1")"
        case .shipReady: "/deliveries/new?order=\(i.id)"
        case .answerException, .rework8D, .review8D: "/exceptions/\(i.id)"
        case .confirmStatement, .answerDispute, .lockStatement: "/statements/\(i.id)"
        case .countStock: "/stock-count?period=\(i.code)"
        case .decideCounter: "/orders/\(i.id)"
        case .confirmPlanChange: "/plans/\(i.id)"
        case .receiveDelivery: "/deliveries/\(i.id)"
        case .inspect: "/receipts/\(i.id)/lines/\(i.detail ?? "1")/inspect"
        case .reviewAction, .reviewActionSupplier: "/reviews/\(i.id)"
        case .retryDelivery, .retryDeliverySupplier: "/channel-deliveries?status=failed"
        case .acknowledgeDocument: "/technical-documents/\(i.id)"
        }
    }

    /// The list behind a kind, filtered to what waits.
    static func listLink(_ kind: TodoKind) -> String {
        switch kind {
        case .answerRevision: "/orders?awaiting=true"
        case .decideCounter: "/orders?status=change_proposed"
        case .explainDelay: "/late-lines?reason=none"
        case .shipReady: "/work"
        case .confirmMaterial, .approveSupplementary: "/material"
        case .answerException, .rework8D, .review8D: "/exceptions?status=open"
        case .confirmStatement, .answerDispute, .lockStatement: "/statements"
        case .countStock: "/stock-count"
        case .confirmPlanChange: "/plans"
        case .receiveDelivery: "/deliveries"
        case .inspect: "/inspections"
        case .reviewAction, .reviewActionSupplier: "/reviews"
        case .retryDelivery, .retryDeliverySupplier: "/channel-deliveries?status=failed"
        case .acknowledgeDocument: "/technical-documents?pending=true"
        }
    }
}
