import Foundation
import SQLKit
import SubconDomain

/// Sums the records behind the scorecards in the database: one grouped statement per measure,
/// for one supplier over many periods (the trend) or for every supplier over one (the ranking).
/// Only sums per supplier and period come back, never the records themselves.
struct ScorecardQueries {
    let sql: any SQLDatabase
    let postgres: Bool
    let calendar: Calendar
    let now: Date
    let today: Day
    let weights: ScoreWeights
    let answerHours: Int

    struct Key: Hashable { let supplier: UUID; let bucket: Int }

    func instant(_ d: Day) -> Date { calendar.date(from: DateComponents(year: d.year, month: d.month, day: d.day))! }

    /// The installation's offset from UTC (China has no summer time; one offset serves a period).
    private var offset: Int { calendar.timeZone.secondsFromGMT(for: now) }

    /// The local calendar day of a stored time, as `YYYY-MM-DD` (comparable with due dates).
    func localDay(_ column: String) -> String {
        postgres ? "to_char(\(column) AT TIME ZONE 'UTC' + interval '\(offset) seconds', 'YYYY-MM-DD')"
            : "date(\(column) + \(offset), 'unixepoch')"
    }

    /// Whole days from one `YYYY-MM-DD` text to another.
    func dayDiff(_ later: String, minus earlier: String) -> String { Self.dayDiff(later, minus: earlier, postgres: postgres) }

    static func dayDiff(_ later: String, minus earlier: String, postgres: Bool) -> String {
        postgres ? "(CAST(\(later) AS date) - CAST(\(earlier) AS date))" : "CAST(julianday(\(later)) - julianday(\(earlier)) AS INTEGER)"
    }

    private func only(_ column: String, _ supplier: UUID?) -> SQLQueryString {
        supplier.map { " AND \(unsafeRaw: column) = \(bind: $0)" } ?? ""
    }

    /// Only records of items of this kind (the ranking's category filter).
    private func ofKind(_ column: String, _ kind: String?) -> SQLQueryString {
        kind.map { " AND \(unsafeRaw: column) IN (SELECT id FROM items WHERE kind = \(bind: $0))" } ?? ""
    }

    /// Only records of orders made from a plan of this plant (the ranking's plant filter).
    private func ofPlant(_ orderColumn: String, _ plant: UUID?) -> SQLQueryString {
        plant.map {
            " AND \(unsafeRaw: orderColumn) IN (SELECT o2.id FROM outsourcing_orders o2 JOIN production_plans pp ON pp.id = o2.plan_id WHERE pp.plant_id = \(bind: $0))"
        } ?? ""
    }

    /// Every measure's sums for `periods` (contiguous, oldest first), per supplier and period index.
    /// With `itemKind`, only lines, lots and exceptions of items of that kind count, revisions and
    /// progress reports of orders with such lines. With `plant`, only records of orders made from
    /// that plant's plans. Either way cost is left out (statements are per supplier and month).
    func figures(_ periods: [ScorePeriod], supplier: UUID?, itemKind: String? = nil, plant: UUID? = nil) async throws -> [Key: Scorecard] {
        let days = periods.map(\.first) + [periods.last!.last.adding(days: 1)]
        let dayBounds: [any Encodable & Sendable] = days.map(\.description)
        let instants: [any Encodable & Sendable] = days.map(instant)
        var cards: [Key: Scorecard] = [:]

        // Delivery: lines due in the period (the date a counter-proposal agreed is the line's due
        // date by then), with what was accepted by the due date as the database keeps it on the
        // line (AddKeptDeliveries; the rule of OnTimeDelivery.line). The orders that do not count
        // are found by status alone, a short list (with the supplier too, SQLite walked all of
        // the largest supplier's 20,199 orders for it).
        struct D: Decodable { let sid: UUID; let b: Int; let lines: Int; let due_q: Int64?; let on_time_q: Int64?; let lines_on_time: Int?; let late_lines: Int?; let days_late: Int64? }
        let delivery = try await sql.raw(perPeriod(dayBounds) { lo, hi in
            let sums: SQLQueryString = """
                z.supplier_id AS sid, COUNT(*) AS lines, CAST(SUM(z.quantity) AS BIGINT) AS due_q, CAST(SUM(z.on_time) AS BIGINT) AS on_time_q,
                 SUM(CASE WHEN z.on_time >= z.quantity THEN 1 ELSE 0 END) AS lines_on_time,
                 SUM(CASE WHEN z.late > 0 THEN 1 ELSE 0 END) AS late_lines, CAST(SUM(CASE WHEN z.late > 0 THEN z.late ELSE 0 END) AS BIGINT) AS days_late
                FROM (SELECT l.supplier_id, l.quantity, l.due_date,
                        CASE WHEN l.accepted_on_time < l.quantity THEN l.accepted_on_time ELSE l.quantity END AS on_time,
                        CASE WHEN l.accepted_quantity >= l.quantity AND l.last_accepted_day IS NOT NULL THEN \(unsafeRaw: dayDiff("l.last_accepted_day", minus: "l.due_date"))
                             WHEN l.due_date < \(bind: today.description) THEN \(unsafeRaw: dayDiff("'\(today)'", minus: "l.due_date"))
                             ELSE 0 END AS late
                      FROM order_lines l
                      WHERE l.due_date >= \(bind: lo) AND l.due_date < \(bind: hi) AND l.state <> 'cancelled'
                        AND l.order_id NOT IN (SELECT o.id FROM outsourcing_orders o WHERE o.status IN ('draft', 'cancelled', 'rejected'))
                """
            return sums + only("l.supplier_id", supplier) + ofKind("l.item_id", itemKind) + ofPlant("l.order_id", plant) + ") z GROUP BY z.supplier_id"
        }).rows(decoding: D.self)
        for r in delivery {
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].delivery = DeliveryFigures(
                dueQuantity: r.due_q ?? 0, onTimeQuantity: r.on_time_q ?? 0, lines: r.lines, linesOnTime: r.lines_on_time ?? 0,
                lateLines: r.late_lines ?? 0, daysLate: Int(r.days_late ?? 0))
        }

        // Quality: every lot inspected in the period; "first pass" is a lot accepted as it was.
        struct Q: Decodable { let sid: UUID; let b: Int; let lots: Int; let first_pass: Int?; let concessions: Int?; let inspected: Int64?; let rejected: Int64? }
        let quality = try await sql.raw(perPeriod(instants) { lo, hi in
            let sums: SQLQueryString = """
                supplier_id AS sid, COUNT(*) AS lots, SUM(CASE WHEN decision = 'accept' THEN 1 ELSE 0 END) AS first_pass,
                 SUM(CASE WHEN decision = 'concession' THEN 1 ELSE 0 END) AS concessions,
                 CAST(SUM(lot_quantity) AS BIGINT) AS inspected, CAST(SUM(rejected_quantity) AS BIGINT) AS rejected
                FROM inspections WHERE created_at >= \(bind: lo) AND created_at < \(bind: hi)
                """
            return sums + only("supplier_id", supplier) + ofKind("item_id", itemKind) + ofPlant("order_id", plant) + " GROUP BY supplier_id"
        }).rows(decoding: Q.self)
        for r in quality {
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].quality = QualityFigures(
                lots: r.lots, firstPassLots: r.first_pass ?? 0, concessionLots: r.concessions ?? 0,
                inspectedQuantity: r.inspected ?? 0, rejectedQuantity: r.rejected ?? 0)
        }

        // Exceptions opened in the period: deadlines come (met, or passed unmet), and the
        // median and 90th percentile of response and closure times.
        func exceptionsOpened(_ lo: any Encodable & Sendable, _ hi: any Encodable & Sendable) -> SQLQueryString {
            "FROM exceptions WHERE created_at >= \(bind: lo) AND created_at < \(bind: hi)" + only("supplier_id", supplier)
                + ofKind("item_id", itemKind) + ofPlant("order_id", plant)
        }
        struct E: Decodable { let sid: UUID; let b: Int; let opened: Int; let due: Int?; let met: Int? }
        let exceptions = try await sql.raw(perPeriod(instants) { lo, hi in
            let sums: SQLQueryString = """
                supplier_id AS sid, COUNT(*) AS opened,
                 SUM(CASE WHEN response_by IS NOT NULL AND (responded_at IS NOT NULL OR response_by < \(bind: now)) THEN 1 ELSE 0 END)
                   + SUM(CASE WHEN resolve_by IS NOT NULL AND (closed_at IS NOT NULL OR resolve_by < \(bind: now)) THEN 1 ELSE 0 END) AS due,
                 SUM(CASE WHEN responded_at IS NOT NULL AND responded_at <= response_by THEN 1 ELSE 0 END)
                   + SUM(CASE WHEN closed_at IS NOT NULL AND closed_at <= resolve_by THEN 1 ELSE 0 END) AS met
                """
            return sums + " " + exceptionsOpened(lo, hi) + " GROUP BY supplier_id"
        }).rows(decoding: E.self)
        for r in exceptions {
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].exceptions.opened = r.opened
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].exceptions.deadlinesDue = r.due ?? 0
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].exceptions.deadlinesMet = r.met ?? 0
        }
        for (k, v) in try await percentiles(instants, { lo, hi in "supplier_id AS sid, response_minutes AS m " + exceptionsOpened(lo, hi) + " AND response_minutes IS NOT NULL" }) {
            cards[k, default: Scorecard()].exceptions.responseMedianMinutes = v.p50
            cards[k, default: Scorecard()].exceptions.responseP90Minutes = v.p90
        }
        for (k, v) in try await percentiles(instants, { lo, hi in "supplier_id AS sid, closure_minutes AS m " + exceptionsOpened(lo, hi) + " AND closure_minutes IS NOT NULL" }) {
            cards[k, default: Scorecard()].exceptions.closureMedianMinutes = v.p50
            cards[k, default: Scorecard()].exceptions.closureP90Minutes = v.p90
        }

        // Communication: revisions released in the period whose answer deadline has come, those
        // answered in time, the median answer time; progress reports within the silent-days limit
        // of the latest day reported on the line before (the first report on a line is on time).
        struct R: Decodable { let sid: UUID; let b: Int; let due: Int?; let in_time: Int? }
        let limit = answerHours * 3600
        func revisionsReleased(_ lo: any Encodable & Sendable, _ hi: any Encodable & Sendable) -> SQLQueryString {
            " FROM order_revisions r WHERE r.released_at >= \(bind: lo) AND r.released_at < \(bind: hi)" + only("r.supplier_id", supplier)
                + (itemKind.map { " AND EXISTS (SELECT 1 FROM order_lines x JOIN items i ON i.id = x.item_id WHERE x.order_id = r.order_id AND i.kind = \(bind: $0))" } ?? "")
                + ofPlant("r.order_id", plant)
        }
        let revisions = try await sql.raw(perPeriod(instants) { lo, hi in
            let sums: SQLQueryString = """
                r.supplier_id AS sid, SUM(CASE WHEN r.answered_at IS NOT NULL OR r.released_at < \(bind: now.addingTimeInterval(-Double(limit))) THEN 1 ELSE 0 END) AS due,
                 SUM(CASE WHEN r.response_seconds IS NOT NULL AND r.response_seconds <= \(bind: limit) THEN 1 ELSE 0 END) AS in_time
                """
            return sums + revisionsReleased(lo, hi) + " GROUP BY r.supplier_id"
        }).rows(decoding: R.self)
        for r in revisions {
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].communication.revisionsDue = r.due ?? 0
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].communication.answeredInTime = r.in_time ?? 0
        }
        for (k, v) in try await percentiles(instants, { lo, hi in "r.supplier_id AS sid, r.response_seconds AS m" + revisionsReleased(lo, hi) + " AND r.response_seconds IS NOT NULL" }) {
            cards[k, default: Scorecard()].communication.answerMedianMinutes = v.p50 / 60
        }
        // A report's gap to the line's report before it is kept on it (`ReportGaps`); on time as
        // `ReportTimeliness.onTime` says.
        struct P: Decodable { let sid: UUID; let b: Int; let reports: Int; let on_time: Int? }
        let reports = try await sql.raw(perPeriod(instants) { lo, hi in
            let sums: SQLQueryString = """
                p.supplier_id AS sid, COUNT(*) AS reports,
                 SUM(CASE WHEN p.days_since_previous IS NULL OR p.days_since_previous <= \(bind: weights.silentDays) THEN 1 ELSE 0 END) AS on_time
                FROM progress_reports p WHERE p.created_at >= \(bind: lo) AND p.created_at < \(bind: hi)
                """
            return sums + only("p.supplier_id", supplier) + (itemKind.map {
                " AND EXISTS (SELECT 1 FROM order_lines x JOIN items i ON i.id = x.item_id WHERE x.order_id = p.order_id AND x.line_no = p.line_no AND i.kind = \(bind: $0))"
            } ?? "") + ofPlant("p.order_id", plant) + " GROUP BY p.supplier_id"
        }).rows(decoding: P.self)
        for r in reports {
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].communication.reports = r.reports
            cards[Key(supplier: r.sid, bucket: r.b), default: Scorecard()].communication.reportsOnTime = r.on_time ?? 0
        }

        // Cost: the months' statements; a month without one yet counts its accepted receipts ×
        // the line's price as turnover, with nothing deducted so far.
        guard itemKind == nil, plant == nil else { return cards }
        let months = Array(Set(periods.flatMap(\.months))).sorted()
        struct S: Decodable { let sid: UUID; let period: String; let goods: Int64?; let deductions: Int64? }
        let statements = try await sql.raw("SELECT supplier_id AS sid, period, CAST(SUM(goods) AS BIGINT) AS goods, CAST(SUM(deductions) AS BIGINT) AS deductions FROM statements WHERE period IN (\(binds: months))"
            + only("supplier_id", supplier) + " GROUP BY 1, 2").rows(decoding: S.self)
        struct T: Decodable { let sid: UUID; let month: String; let turnover: Int64? }
        let monthStart = instant(Day(year: days.first!.year, month: days.first!.month, day: 1)!)
        let lastMonth = ScorePeriod.month(of: days.last!.adding(days: -1))
        // One supplier's receipts are read only for the months its statements do not cover (a
        // year's receipts of the largest supplier took 250 ms to be thrown away); the ranking's
        // suppliers differ in that, so it reads the whole range.
        var ranges: [(Date, Date)] = [(monthStart, instant(lastMonth.next.first))]
        if supplier != nil {
            let covered = Set(statements.map(\.period))
            ranges = []
            for month in months where !covered.contains(month) {
                guard let first = Day(month + "-01") else { continue }
                let from = instant(first), to = instant(ScorePeriod.month(of: first).next.first)
                if let last = ranges.last, last.1 == from { ranges[ranges.count - 1].1 = to } else { ranges.append((from, to)) }
            }
        }
        let receivedDay = localDay("r.received_at")
        var within: SQLQueryString = "1 = 0"
        for (from, to) in ranges { within = within + " OR (r.received_at >= \(bind: from) AND r.received_at < \(bind: to))" }
        let received = ranges.isEmpty ? [] : try await sql.raw("""
            SELECT r.supplier_id AS sid, substr(\(unsafeRaw: receivedDay), 1, 7) AS month,
                   CAST(SUM(r.accepted_quantity * l.unit_price / 10000) AS BIGINT) AS turnover
            FROM receipt_lines r JOIN order_lines l ON l.order_id = r.order_id AND l.line_no = r.order_line_no
            WHERE (
            """ + within + ")" + only("r.supplier_id", supplier) + " GROUP BY 1, 2").rows(decoding: T.self)
        var perMonth: [String: [UUID: CostFigures]] = [:]
        for r in received { perMonth[r.month, default: [:]][r.sid] = CostFigures(turnover: r.turnover ?? 0, deductions: 0, fromStatements: false) }
        for s in statements { perMonth[s.period, default: [:]][s.sid] = CostFigures(turnover: s.goods ?? 0, deductions: s.deductions ?? 0) }
        for (b, p) in periods.enumerated() {
            for month in p.months {
                for (sid, c) in perMonth[month] ?? [:] {
                    var card = cards[Key(supplier: sid, bucket: b), default: Scorecard()]
                    card.cost.turnover += c.turnover; card.cost.deductions += c.deductions
                    card.cost.fromStatements = card.cost.fromStatements && c.fromStatements
                    cards[Key(supplier: sid, bucket: b)] = card
                }
            }
        }
        return cards
    }

    /// One SELECT per period, joined by UNION ALL, each reading only its period's range of an
    /// index and naming the period by a constant. (Putting each row in its period with a CASE over
    /// the boundaries and grouping by that sorted every row in a temporary B-tree: for the largest
    /// supplier's 12-year trend, three to four times slower.) `arm` writes the rest of one SELECT
    /// for the period [lo, hi).
    private func perPeriod(_ bounds: [any Encodable & Sendable],
                           _ arm: (_ lo: any Encodable & Sendable, _ hi: any Encodable & Sendable) -> SQLQueryString) -> SQLQueryString {
        (0..<(bounds.count - 1)).map { i in "SELECT \(unsafeRaw: String(i)) AS b, " + arm(bounds[i], bounds[i + 1]) }.joined(separator: " UNION ALL ")
    }

    /// Nearest-rank median and 90th percentile of `m` per supplier and period, picked by the
    /// database with a window over each supplier's rows of a period (the rule of
    /// `Percentile.rank`). `inner` selects `sid, m FROM …` for the period [lo, hi).
    private func percentiles(_ bounds: [any Encodable & Sendable],
                             _ inner: (_ lo: any Encodable & Sendable, _ hi: any Encodable & Sendable) -> SQLQueryString) async throws -> [Key: (p50: Int64, p90: Int64)] {
        struct Row: Decodable { let sid: UUID; let b: Int; let m: Int64; let rn: Int; let n: Int }
        let rows = try await sql.raw(perPeriod(bounds) { lo, hi in
            "sid, m, rn, n FROM (SELECT sid, m, ROW_NUMBER() OVER (PARTITION BY sid ORDER BY m) AS rn, COUNT(*) OVER (PARTITION BY sid) AS n FROM (SELECT "
                + inner(lo, hi) + ") t) u WHERE rn = (n * 50 + 99) / 100 OR rn = (n * 90 + 99) / 100"
        }).rows(decoding: Row.self)
        var out: [Key: (p50: Int64, p90: Int64)] = [:]
        for r in rows {
            let k = Key(supplier: r.sid, bucket: r.b)
            var v = out[k] ?? (0, 0)
            if r.rn == Percentile.rank(count: r.n, percent: 50) { v.p50 = r.m }
            if r.rn == Percentile.rank(count: r.n, percent: 90) { v.p90 = r.m }
            out[k] = v
        }
        return out
    }
}
