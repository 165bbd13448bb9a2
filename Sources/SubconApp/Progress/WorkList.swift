import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A supplier's work list: the open lines of its working orders, most urgent first (late, at
/// risk, not yet reported, on track; then the due day, the order and the line), a page at a time
/// from an index in that order, with the total the database keeps. (The manufacturer's admin
/// may open it too, and sees every supplier's, from an index of its own.)
///
/// It was the lines of the supplier's latest hundred working orders, projected and sorted on
/// every view. A supplier with more working orders than that (SUP-JG has 10,199 on the large data
/// set, 51,000 open lines) never saw the lines of its older orders, and those are the ones most
/// likely late. The order is the stored projection's (`LineLateness` writes it with every report,
/// promise and change, and the sweep as the calendar moves), as for the late lines.
enum WorkList {
    /// The lines a work list holds, written of a line's name, or of its bare columns (as the
    /// partial index says it).
    static func holds(_ row: String?) -> String {
        let c = row.map { "\($0)." } ?? ""
        return "\(c)state = 'open' AND \(c)risk <> '\(Projection.Risk.done.rawValue)' AND \(c)order_status IN (\(MaterialService.workingStatusList))"
    }

    /// A risk's place in the list (`Projection.Risk.urgency`; a risk not known last), as an
    /// expression of the column, spelled the same in the index and the read so that both
    /// databases see the index's order is the one asked for.
    static func rank(_ risk: String) -> String {
        "(CASE \(risk) " + Projection.Risk.allCases.sorted { $0.urgency < $1.urgency }.map { "WHEN '\($0.rawValue)' THEN \($0.urgency) " }.joined()
            + "ELSE \(Projection.Risk.unknownRiskUrgency) END)"
    }

    struct Line: ReadByPosition, Sendable {
        static let columnNames = ProgressService.LineFacts.columnNames + ["order_code", "supplier_name"]
        let facts: ProgressService.LineFacts
        let orderCode: String
        let supplierName: String
        init(_ r: inout ColumnReader) throws {
            facts = try ProgressService.LineFacts(&r); orderCode = try r.value(); supplierName = try r.optional() ?? ""
        }
        // By name (rows that do not read by position), from the same row.
        private enum Keys: String, CodingKey { case order_code, supplier_name }
        init(from decoder: any Decoder) throws {
            facts = try ProgressService.LineFacts(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            orderCode = try c.decode(String.self, forKey: .order_code)
            supplierName = try c.decodeIfPresent(String.self, forKey: .supplier_name) ?? ""
        }
    }

    /// One page of the work in the scope (a supplier's own; every supplier's for the
    /// manufacturer), and how many lines there are in all.
    static func page(_ scope: DataScope, _ page: PageRequest, on sql: any SQLDatabase) async throws -> (rows: [Line], total: Int) {
        try await KeptCounts.workLines.pageAndTotal(["supplier_id": scope.supplierID], decoding: Line.self, on: sql) { total in
            statement(scope, page, total: total)
        }
    }

    /// The page's statement, with `total` among its columns. The page's lines are picked from the
    /// index alone, then read: reading each line skipped on the way (its item joined) made page
    /// 100 of SUP-JG's list read 5,000 lines for 50.
    static func statement(_ scope: DataScope, _ page: PageRequest, total: SQLQueryString) -> SQLQueryString {
        func order(_ row: String) -> String { "\(rank("\(row).risk")), \(row).due_date, \(row).order_code, \(row).line_no" }
        return "SELECT " + ProgressService.LineFacts.select + ", l.order_code, (SELECT s.name FROM organizations s WHERE s.id = l.supplier_id) AS supplier_name, " + total + """
           FROM (SELECT w.order_id, w.line_no FROM order_lines w WHERE \(unsafeRaw: holds("w"))
        """ + scope.and("w.supplier_id") + """
         ORDER BY \(unsafeRaw: order("w")) LIMIT \(literal: page.per) OFFSET \(literal: page.offset)) p
          CROSS JOIN order_lines l LEFT JOIN items i ON i.id = l.item_id
          WHERE l.order_id = p.order_id AND l.line_no = p.line_no
          ORDER BY \(unsafeRaw: order("l"))
        """
    }
}

extension KeptCounts {
    /// The lines on each supplier's work list.
    static let workLines = KeptCounts(
        table: "order_lines", counts: "work_line_counts", keys: ["supplier_id"],
        only: { row in "\(row).supplier_id IS NOT NULL AND \(WorkList.holds(row))" }, reads: ["state", "risk", "order_status"], acrossFirstKey: true)
}

/// The work list in its order for each supplier and for all of them, and its totals kept.
struct AddWorkListIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await KeptCounts.workLines.create(on: db)
        // The order, then the line's key, so that a page's lines are picked from the index alone.
        let order = "\(WorkList.rank("risk")), due_date, order_code, line_no, order_id"
        try await sql.raw("CREATE INDEX order_lines_work_idx ON order_lines (supplier_id, \(unsafeRaw: order)) WHERE \(unsafeRaw: WorkList.holds(nil))").run()
        try await sql.raw("CREATE INDEX order_lines_all_work_idx ON order_lines (\(unsafeRaw: order)) WHERE \(unsafeRaw: WorkList.holds(nil))").run()
    }

    func revert(on db: any Database) async throws {
        let sql = db as! any SQLDatabase
        try await sql.drop(index: "order_lines_all_work_idx").run()
        try await sql.drop(index: "order_lines_work_idx").run()
        try await KeptCounts.workLines.drop(on: db)
    }
}

/// One card of the work list: the line as projected now, its order and the order's supplier.
struct WorkLineDTO: Content {
    let orderId: UUID
    let orderCode: String
    let supplierName: String
    let line: LineProgressDTO
}

extension WorkList {
    /// A page of the supplier's work, each line projected as the order page shows it.
    static func items(_ p: Principal, _ page: PageRequest, today: Day, threshold: Int, on sql: any SQLDatabase) async throws -> Page<WorkLineDTO> {
        try p.require(.fulfilOrders)
        let (lines, total) = try await Self.page(p.scope, page, on: sql)
        let items = lines.map { WorkLineDTO(orderId: $0.facts.order_id, orderCode: $0.orderCode, supplierName: $0.supplierName, line: $0.facts.projected(today: today, threshold: threshold).projected) }
        return Page(items: items, page: page.page, per: page.per, total: total)
    }
}

/// `GET /api/v1/work`: the supplier's work list for a program (its phone page is `/work`).
struct WorkListAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("work") { req async throws -> Page<WorkLineDTO> in
            try await WorkList.items(try req.requirePrincipal(), try PageRequest(req), today: req.subcon.today(),
                                     threshold: req.subcon.settings.delayThresholdDays, on: req.application.reads)
        }
    }
}
