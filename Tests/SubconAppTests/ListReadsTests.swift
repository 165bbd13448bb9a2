import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import Testing
@testable import SubconApp
import SubconDomain

/// How the lists read: a page and its total in one statement, and (PostgreSQL) tables whose
/// pages stay readable from their indexes alone.
@Suite struct ListReadsTests {
    /// Passes statements on to a database, counts them, and keeps the last one (to be explained).
    struct CountingDatabase: SQLDatabase {
        let base: any SQLDatabase
        let statements = NIOLockedValueBox(0)
        let last = NIOLockedValueBox<(any SQLExpression)?>(nil)
        var logger: Logger { base.logger }
        var eventLoop: any EventLoop { base.eventLoop }
        var version: (any SQLDatabaseReportedVersion)? { base.version }
        var dialect: any SQLDialect { base.dialect }
        var queryLogLevel: Logger.Level? { base.queryLogLevel }
        func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
            statements.withLockedValue { $0 += 1 }
            last.withLockedValue { $0 = query }
            return base.execute(sql: query, onRow)
        }
        func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
            statements.withLockedValue { $0 += 1 }
            last.withLockedValue { $0 = query }
            try await base.execute(sql: query, onRow)
        }
    }

    @Test func peopleAndItemsComeWithTheirTotalInOneStatement() async throws {
        try await TestApp.run(scenario: true) { t in
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let supplier = try await ReadConnectionsTests.principal(t, "supplier1")
            let supplierOrg = try await t.organization(code: "SUP-JG").id!
            struct Login: Decodable { let login: String }
            func logins(_ condition: SQLQueryString) async throws -> [String] {
                try await t.sql.raw("SELECT login FROM users WHERE " + condition + " ORDER BY login").all(decoding: Login.self).map(\.login)
            }
            let everyone = try await logins("1 = 1")
            let active = try await logins("active = \(bind: true)")
            let ofSupplier = try await logins("organization_id = \(bind: supplierOrg)")
            #expect(everyone.count > 3 && !ofSupplier.isEmpty && ofSupplier.count < everyone.count)

            let cases: [(Principal, UserService.ListFilter, [String])] = [
                (admin, .init(), everyone),
                (admin, .init(active: true), active),
                (admin, .init(organizationID: supplierOrg), ofSupplier),
                (supplier, .init(), ofSupplier),
            ]
            for (who, filter, expected) in cases {
                let db = CountingDatabase(base: t.app.reads)
                let first = try await UserService.list(who, filter: filter, page: PageRequest(page: 1, per: 2), on: db, counts: nil)
                #expect(first.total == expected.count, "\(filter)")
                #expect(first.items.map(\.login) == Array(expected.prefix(2)), "\(filter)")
                #expect(db.statements.withLockedValue { $0 } == 1, "a page and its total are one statement")
                // Every page in its order, and none twice.
                var paged: [String] = []
                for n in 1...((expected.count + 1) / 2) {
                    paged += try await UserService.list(who, filter: filter, page: PageRequest(page: n, per: 2), on: db, counts: nil).items.map(\.login)
                }
                #expect(paged == expected, "\(filter)")
                // Past the last page there is no row to carry the total: it is counted apart.
                let past = try await UserService.list(who, filter: filter, page: PageRequest(page: expected.count + 1, per: 1), on: db, counts: nil)
                #expect(past.items.isEmpty && past.total == expected.count, "\(filter)")
            }

            struct Code: Decodable { let code: String }
            let items = try await t.sql.raw("SELECT code FROM items ORDER BY code").all(decoding: Code.self).map(\.code)
            let db = CountingDatabase(base: t.app.reads)
            let page = try await ItemService.list(admin, filter: .init(), page: PageRequest(page: 2, per: 1), on: db, counts: nil)
            #expect(items.count > 2 && page.total == items.count && page.items.map(\.code) == [items[1]])
            #expect(db.statements.withLockedValue { $0 } == 1)
        }
    }

    /// PostgreSQL vacuums the orders once a fiftieth has changed, so that the lists' index-only
    /// scans stay index-only after the daily lateness sweep; undone, the table has the server's
    /// defaults again. SQLite has no visibility map, and nothing to set.
    @Test func postgresVacuumsTheOrdersOnceAFiftiethHasChanged() async throws {
        try await TestApp.run(demo: false) { t in
            guard t.sql.dialect.name == "postgresql" else { return }
            func options() async throws -> [String] {
                struct R: Decodable { let option: String }
                return try await t.sql.raw("SELECT unnest(reloptions) AS option FROM pg_class WHERE oid = 'outsourcing_orders'::regclass")
                    .all(decoding: R.self).map(\.option).sorted()
            }
            #expect(try await options() == ["autovacuum_vacuum_insert_scale_factor=0.02", "autovacuum_vacuum_scale_factor=0.02"])
            try await VacuumOrdersSooner().revert(on: t.db)
            #expect(try await options() == [])
        }
    }

    struct ExplainQueryPlan: SQLExpression {
        let query: any SQLExpression
        func serialize(to serializer: inout SQLSerializer) {
            serializer.write("EXPLAIN QUERY PLAN ")
            query.serialize(to: &serializer)
        }

        /// SQLite's plan for the statement, one step a line (only the statement's own, not its
        /// subqueries', when `topLevel`).
        static func steps(of statement: any SQLExpression, on db: any SQLDatabase, topLevel: Bool = false) async throws -> [String] {
            let steps = NIOLockedValueBox<[String]>([])
            try await db.execute(sql: ExplainQueryPlan(query: statement)) { row in
                guard let detail = try? row.decode(column: "detail", as: String.self) else { return }
                if topLevel, (try? row.decode(column: "parent", as: Int.self)) != 0 { return }
                steps.withLockedValue { $0.append(detail) }
            }
            return steps.withLockedValue { $0 }
        }
    }

    /// The open delivery notes (the material hub, `deliveries?open=true`) are read in their order
    /// from a partial index, for the buyer and for one supplier, instead of every open note read
    /// and sorted. SQLite only: PostgreSQL chooses its plan from the table's statistics.
    @Test func openDeliveryNotesComeInOrderFromTheirIndex() async throws {
        try await TestApp.run(scenario: true) { t in
            for (login, index) in [("admin", "delivery_notes_open_page_idx"), ("supplier1", "delivery_notes_supplier_open_page_idx")] {
                let who = try await ReadConnectionsTests.principal(t, login)
                let db = CountingDatabase(base: t.app.reads)
                let notes = try await MaterialReports.notes(who, orderID: nil, open: true, limit: 50, on: db)
                #expect(!notes.isEmpty, "\(login) has open notes in the scenario")
                #expect(notes.allSatisfy { ["shipped", "partially_received"].contains($0.status) })
                #expect(notes.map(\.shipDate) == notes.map(\.shipDate).sorted())
                guard t.sql.dialect.name == "sqlite", let statement = db.last.withLockedValue({ $0 }) else { continue }
                let plan = try await ExplainQueryPlan.steps(of: statement, on: t.app.reads)
                #expect(plan.contains { $0.contains("USING INDEX \(index)") }, "\(login): \(plan)")
            }
        }
    }

    /// PostgreSQL has statistics of the open notes' condition (an expression of the status):
    /// without them it guessed a hundredth of the real number on the large data set and read the
    /// hub's page by the to-do's index of creation times, sorting every open note (27 ms against
    /// 0.04; measured there, as a few notes tell the planner nothing). The statistics go with the
    /// migration's revert and come back with it.
    @Test func postgresKnowsHowManyNotesAreOpen() async throws {
        try await TestApp.run(scenario: true) { t in
            let sql = t.sql
            guard sql.dialect.name == "postgresql" else { return }
            func objects() async throws -> [String] {
                try await sql.raw("SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'delivery_notes'::regclass").all().map { try $0.decode(column: "stxname", as: String.self) }
            }
            #expect(try await objects() == ["delivery_notes_open_stats"])
            let db = t.db
            try await AddOpenNoteStatistics().revert(on: db)
            #expect(try await objects().isEmpty)
            try await AddOpenNoteStatistics().prepare(on: db)
            #expect(try await objects() == ["delivery_notes_open_stats"])
        }
    }

    /// A supplier's material documents, its own and those transferred to it, are the newest of
    /// two index walks: with the two sides as one OR condition both databases walked every
    /// document by time (a small supplier's first fifty: 18 ms on the large data set).
    @Test func aSuppliersDocumentsAreTheNewestOfItsTwoIndexes() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder(lines: #"[{"itemCode":"FG-RD-002","quantity":"1000","dueDate":"2026-10-20"},{"itemCode":"FG-RD-002","quantity":"50","dueDate":"2026-10-25"}]"#)
            for lot in ["PAD-A", "PAD-B", "PAD-C"] {
                let doc = try await m.post("/api/v1/material/issues", m.warehouse, """
                    {"orderId":"\(order)","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"\(lot)","quantity":"10"}]}
                    """)
                _ = try await m.post("/api/v1/material/documents/\(doc["id"] as? String ?? "")/confirm", m.f.supplier1,
                                     #"{"version":1,"lines":[{"no":1,"quantity":"10"}]}"#, .ok)
            }
            let jg = try await t.organization(code: "SUP-JG").id!, bm = try await t.organization(code: "SUP-BM").id!
            for lot in ["PAD-A", "PAD-C"] {
                _ = try await m.post("/api/v1/material/transfers", m.warehouse, """
                    {"fromSupplierId":"\(jg)","toSupplierId":"\(bm)","reason":"余料转 SUP-BM","lines":[{"itemCode":"RM-PAD-65","lot":"\(lot)","quantity":"2"}]}
                    """)
            }
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let supplier1 = try await ReadConnectionsTests.principal(t, "supplier1"), supplier2 = try await ReadConnectionsTests.principal(t, "supplier2")
            func expected(_ supplier: UUID, kind: String?) async throws -> [String] {
                let only: SQLQueryString = kind.map { " AND kind = \(bind: $0)" } ?? ""
                return try await t.sql.raw("SELECT code FROM material_documents WHERE (supplier_id = \(bind: supplier) OR to_supplier_id = \(bind: supplier))"
                                           + only + " ORDER BY created_at DESC, code DESC").all().map { try $0.decode(column: "code", as: String.self) }
            }
            func lists(on reads: (any SQLDatabase)? = nil) async throws -> [[String]] {
                var out: [[String]] = []
                for (p, filter) in [(supplier1, nil), (supplier2, nil), (admin, jg), (admin, bm), (supplier1, bm)] as [(Principal, UUID?)] {
                    for kind in [nil, "transfer"] as [String?] {
                        for limit in [1, 2, 100] {
                            out.append(try await MaterialReports.documents(p, orderID: nil, kind: kind, status: nil, supplierID: filter, limit: limit,
                                                                           on: reads ?? t.app.reads).map(\.code))
                        }
                    }
                }
                return out
            }
            let before = try await lists()
            var n = 0
            for (supplier, filter) in [(jg, nil), (bm, nil), (jg, jg), (bm, bm), (jg, bm)] as [(UUID, UUID?)] {
                for kind in [nil, "transfer"] as [String?] {
                    // Supplier 1 asking for supplier 2's documents sees the transfers between them.
                    var all = try await expected(supplier, kind: kind)
                    if let filter, filter != supplier {
                        let theirs = Set(try await expected(filter, kind: kind))
                        all = all.filter { theirs.contains($0) }
                    }
                    for limit in [1, 2, 100] {
                        #expect(before[n] == Array(all.prefix(limit)), "\(supplier) \(String(describing: filter)) \(kind ?? "") \(limit)")
                        n += 1
                    }
                }
            }
            #expect(before[1].count == 2 && before[11].count == 2 && before[17].count == 2, "\(before)")
            // The same as kept statements (on PostgreSQL prepared once, with one plan for every supplier).
            #expect(try await lists(on: t.app.keyedReads) == before)
            // Each side names its supplier alone: the scope's OR written again made PostgreSQL's kept
            // plan expect one row a side and gather all of a large supplier's documents to sort.
            // A filter naming another supplier than the scope stays.
            func text(_ p: Principal, _ filter: UUID?) throws -> String {
                var serializer = SQLSerializer(database: t.sql)
                try MaterialReports.documentPage(p, orderID: nil, kind: nil, status: nil, supplierID: filter, limit: 30).serialize(to: &serializer)
                return serializer.sql
            }
            #expect(try !text(supplier1, nil).contains(" OR ") && !text(admin, jg).contains(" OR ") && !text(supplier1, jg).contains(" OR "))
            #expect(try text(supplier1, bm).contains(" OR "))
            let db = t.db
            try await AddSupplierDocumentIndexes().revert(on: db)
            try await AddSupplierDocumentIndexes().prepare(on: db)
            #expect(try await lists() == before)

            // Each side walked in its index in the list's order: neither every document by time
            // nor all the supplier's documents gathered (an OR of both indexes) and sorted.
            guard t.sql.dialect.name == "sqlite" else { return }
            let plan = try await ExplainQueryPlan.steps(of: try MaterialReports.documentPage(supplier2, orderID: nil, kind: nil, status: nil, supplierID: nil, limit: 50),
                                                        on: t.app.reads)
            #expect(plan.contains { $0.contains("USING INDEX material_documents_supplier_page_idx (supplier_id=?)") }
                    && plan.contains { $0.contains("USING INDEX material_documents_to_supplier_page_idx (to_supplier_id=?)") }
                    && !plan.contains { $0.contains("material_documents_created_idx") || $0.contains("MULTI-INDEX OR") }, "\(plan)")
        }
    }

    /// The supplier's material hub lists the issues it has still to confirm from the index of
    /// unconfirmed lines (it took the latest 200 done documents and kept those, so an older one
    /// still waiting was never shown), and its open discrepancies from their own index.
    @Test func theSuppliersHubFindsWhatWaitsForItFromIndexes() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder(lines: #"[{"itemCode":"FG-RD-002","quantity":"1000","dueDate":"2026-10-20"},{"itemCode":"FG-RD-002","quantity":"50","dueDate":"2026-10-25"}]"#)
            var codes: [String] = []
            for _ in 0..<3 {
                let doc = try await m.post("/api/v1/material/issues", m.warehouse, """
                    {"orderId":"\(order)","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"PAD-A","quantity":"10"}]}
                    """)
                codes.append(doc["code"] as? String ?? "")
                if codes.count == 2 {
                    _ = try await m.post("/api/v1/material/documents/\(doc["id"] as? String ?? "")/confirm", m.f.supplier1,
                                         #"{"version":1,"lines":[{"no":1,"quantity":"10"}]}"#, .ok)
                }
            }
            let supplier = try await ReadConnectionsTests.principal(t, "supplier1")
            let done = try await MaterialReports.documents(supplier, orderID: nil, kind: nil, status: "done", supplierID: nil, limit: 100, on: t.app.reads)
            let waiting = try await MaterialReports.documents(supplier, orderID: nil, kind: nil, status: "done", supplierID: nil, unconfirmed: true,
                                                              limit: 100, on: t.app.reads)
            #expect(waiting.map(\.code) == [codes[2], codes[0]], "newest first, the confirmed one left out")
            #expect(waiting.map(\.id) == done.filter(\.awaitingConfirmation).map(\.id))
            #expect(try await MaterialReports.documents(supplier, orderID: nil, kind: nil, status: "done", supplierID: nil, unconfirmed: true,
                                                        limit: 1, on: t.app.reads).map(\.code) == [codes[2]])
            let other = try await ReadConnectionsTests.principal(t, "supplier2")
            #expect(try await MaterialReports.documents(other, orderID: nil, kind: nil, status: "done", supplierID: nil, unconfirmed: true,
                                                        limit: 100, on: t.app.reads).isEmpty)
            var b = try await t.signIn("supplier1")
            let hub = try await t.page(.GET, "/material", browser: &b).body.string
            #expect(hub.contains(codes[0]) && hub.contains(codes[2]))

            guard t.sql.dialect.name == "sqlite" else { return }
            let statement: SQLQueryString = """
                SELECT id FROM exceptions WHERE supplier_id = \(bind: supplier.organizationID) AND type = 'material_discrepancy' AND status = 'open'
                 ORDER BY created_at DESC LIMIT 100
                """
            let plan = try await ExplainQueryPlan.steps(of: statement, on: t.app.reads)
            #expect(plan.contains { $0.contains("USING INDEX exceptions_supplier_type_idx") }, "\(plan)")
        }
    }

    /// A supplier's first few exceptions to rework are found among its open exceptions, not by
    /// walking all of them (open and closed) in deadline order until three turn up.
    @Test func aSuppliersReworkToDoStartsFromItsOpenExceptions() async throws {
        try await TestApp.run { t in
            guard t.sql.dialect.name == "sqlite" else { return }
            let period = try #require(SettlementPeriod(year: 2026, month: 11))
            let s = try #require(TodoQueries.sources(countPeriod: period)[.rework8D])
            let statement: SQLQueryString = "SELECT \(unsafeRaw: s.id) " + SQLQueryString(s.from)
                + " AND \(unsafeRaw: s.supplier) = \(bind: UUID()) ORDER BY \(unsafeRaw: s.order) LIMIT 3"
            let plan = try await ExplainQueryPlan.steps(of: statement, on: t.app.reads)
            #expect(plan.first?.contains("status=?") == true, "\(plan)")
            #expect(!plan.contains { $0.contains("exceptions_supplier_page_idx") }, "\(plan)")
        }
    }

    /// The home page's to-do does not count every waiting record on each view: the notes to
    /// receive, the lots to inspect and a supplier's revisions to answer come from the counts the
    /// database keeps, each kind's oldest from the first entry of an index, and a supplier's lines
    /// ready to ship from their own index, without visiting their orders.
    @Test func theToDoCountsFromKeptCountsAndTheFirstEntriesOfIndexes() async throws {
        try await TestApp.run { t in
            guard t.sql.dialect.name == "sqlite" else { return }
            func plan(_ login: String, firsts: Bool = false) async throws -> [String] {
                let p = try await t.principal(login)
                let statements = try #require(TodoQueries.statements(p, settings: t.settings, today: t.app.subcon.today(), on: t.app.reads))
                return try await ExplainQueryPlan.steps(of: firsts ? statements.firsts : statements.counts, on: t.app.reads)
            }
            let buyer = try await plan("admin")
            #expect(buyer.contains { $0.contains("notes_to_receive_counts") } && buyer.contains { $0.contains("receipt_line_counts") }, "\(buyer)")
            #expect(buyer.contains { $0.contains("delivery_notes_to_receive_created_idx") }, "\(buyer)")
            #expect(!buyer.contains { $0.hasPrefix("SCAN n") || $0.hasPrefix("SCAN l") }, "\(buyer)")
            let supplier = try await plan("supplier1")
            #expect(supplier.contains { $0.contains("pending_revision_counts") } && supplier.contains { $0.contains("ready_line_counts") }
                    && supplier.contains { $0.contains("unanswered_exception_counts") } && supplier.contains { $0.contains("exceptions_unanswered_idx") }, "\(supplier)")
            #expect(supplier.contains { $0.contains("COVERING INDEX order_lines_supplier_ship_ready_idx") }, "\(supplier)")
            #expect(!supplier.contains { $0.hasPrefix("SCAN r") || $0.hasPrefix("SCAN l") || $0.hasPrefix("SCAN e") }, "\(supplier)")
            // The exceptions to answer and the lines late without a reason: counted by the
            // database, their nearest deadline and earliest day the first entries of indexes in
            // that order (what PostgreSQL's kept plan needs too, see `AddTodoPlanIndexes`).
            #expect(supplier.contains { $0.contains("unexplained_late_line_counts") }, "\(supplier)")
            #expect(supplier.contains { $0.contains("USING INDEX exceptions_to_answer_idx (supplier_id=?)") }, "\(supplier)")
            #expect(supplier.contains { $0.contains("USING INDEX order_lines_unexplained_idx (supplier_id=?)") }, "\(supplier)")
            // The first ready lines too, not by walking all the supplier's open lines in due order,
            // and the first exceptions to answer in deadline order, without a sort.
            let firsts = try await plan("supplier1", firsts: true)
            #expect(firsts.contains { $0.contains("COVERING INDEX order_lines_supplier_ship_ready_idx") }, "\(firsts)")
            #expect(firsts.contains { $0.contains("INDEX exceptions_to_answer_idx") }, "\(firsts)")
        }
    }

    /// A page of a supplier's work list (the admin's: every supplier's) is picked in its order
    /// from the work list's index alone, not sorted from all the open lines on every view, and
    /// not by reading every line before it.
    @Test func aSuppliersWorkListIsReadInOrderFromItsIndex() async throws {
        try await TestApp.run { t in
            guard t.sql.dialect.name == "sqlite" else { return }
            // The page's lines are picked from the index alone, in its order (no sort), and only
            // they are read; the page's fifty are put in order again.
            for (supplier, index) in [(UUID(), "SEARCH w USING INDEX order_lines_work_idx"), (nil, "SCAN w USING INDEX order_lines_all_work_idx")] {
                let statement = WorkList.statement(DataScope(supplierID: supplier), PageRequest(page: 3, per: 50), total: "0")
                let plan = try await ExplainQueryPlan.steps(of: statement, on: t.app.reads)
                #expect(plan.contains { $0.contains(index) }, "\(plan)")
                #expect(plan.filter { $0.contains("TEMP B-TREE") }.count == 2, "\(plan)")
                #expect(plan.contains { $0.contains("SEARCH l USING INDEX sqlite_autoindex_order_lines_2 (order_id=? AND line_no=?)") }, "\(plan)")
            }
        }
    }

    /// The material hub's lines to arrive come in due order from an index of working orders'
    /// open lines, for the buyer and for one supplier, with nothing passed over and nothing
    /// sorted; a supplier's receipts to inspect from its index by status. The lists are what a
    /// plain statement over the tables finds, before and after the indexes are dropped and made
    /// again.
    @Test func theLinesToArriveAndTheReceiptsToInspectComeFromTheirIndexes() async throws {
        try await TestApp.run(scenario: true) { t in
            let admin = try await ReadConnectionsTests.principal(t, "admin"), supplier = try await ReadConnectionsTests.principal(t, "supplier1")
            let working = MaterialService.workingStatusList
            // A line of an order not yet accepted comes earliest, so the list has to pass over it.
            let released = try await t.sql.raw("""
                SELECT l.id FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id
                 WHERE o.status = 'released' AND o.supplier_id = \(bind: supplier.organizationID) AND l.state = 'open'
                """).all().map { try $0.decode(column: "id", as: UUID.self) }
            #expect(!released.isEmpty, "the scenario has an order the supplier has not accepted")
            for id in released { try await t.sql.raw("UPDATE order_lines SET due_date = '2000-01-01' WHERE id = \(bind: id)").run() }
            // A lot of each supplier's to inspect: the first line each has to arrive, one piece.
            let warehouse = try await t.token("warehouse"), other = try await ReadConnectionsTests.principal(t, "supplier2")
            for p in [supplier, other] {
                let line = try #require(try await MaterialReports.dueToArrive(p, limit: 1, on: t.app.reads).first)
                let r = try await t.request(.POST, "/api/v1/receipts", token: warehouse,
                                            json: #"{"orderId":"\#(line.orderId)","lines":[{"line":\#(line.line),"lot":"T-1","quantity":"1"}]}"#)
                #expect(r.status == .created, "\(r.body.string)")
            }
            func expected(_ supplierID: UUID?) async throws -> [String] {
                let only: SQLQueryString = supplierID.map { " AND o.supplier_id = \(bind: $0)" } ?? ""
                return try await t.sql.raw("""
                    SELECT o.code, l.line_no FROM outsourcing_orders o JOIN order_lines l ON l.order_id = o.id
                     WHERE o.status IN (\(unsafeRaw: working)) AND l.state = 'open'
                       AND l.quantity > (SELECT COALESCE(SUM(r.quantity - r.rejected_quantity), 0) FROM receipt_lines r
                                          WHERE r.order_id = l.order_id AND r.order_line_no = l.line_no)
                    """ + only + " ORDER BY l.due_date, l.order_id, l.line_no").all().map {
                    "\(try $0.decode(column: "code", as: String.self))/\(try $0.decode(column: "line_no", as: Int.self))"
                }
            }
            func lists() async throws -> [[String]] {
                var out: [[String]] = []
                for p in [admin, supplier] {
                    out.append(try await MaterialReports.dueToArrive(p, limit: 500, on: t.app.reads).map { "\($0.orderCode)/\($0.line)" })
                    out.append(try await MaterialReports.receipts(p, orderID: nil, awaiting: true, limit: 500, on: t.app.reads).map(\.code))
                }
                return out
            }
            let before = try await lists()
            let everyone = try await expected(nil), supplier1 = try await expected(supplier.organizationID)
            #expect(before[0] == everyone && before[2] == supplier1)
            #expect(!before[2].isEmpty && before[2].count < before[0].count, "\(before)")
            #expect(!before[3].isEmpty && before[3].count < before[1].count && Set(before[3]).isSubset(of: before[1]), "\(before)")
            // One connection for both: another SQLite connection may still hold the schema from
            // before the drop, and refuse to create what it believes is there.
            let db = t.db
            try await AddAwaitingReceiptIndex().revert(on: db)
            try await AddMaterialHubIndexes().revert(on: db)
            try await AddMaterialHubIndexes().prepare(on: db)
            try await AddAwaitingReceiptIndex().prepare(on: db)
            let after = try await lists()
            #expect(after == before)
            // The warehouse's hub names each receipt's supplier beside its code.
            var w = try await t.signIn("warehouse")
            let hub = try await t.page(.GET, "/material", browser: &w).body.string
            #expect(hub.contains("行待检") && hub.contains("苏州精工机械有限公司 SUP-JG · ") && hub.contains("昆山华表表面处理有限公司 SUP-BM · "), "\(hub)")

            guard t.sql.dialect.name == "sqlite" else { return }
            for (p, index) in [(admin, "SCAN l USING INDEX order_lines_arrive_idx"), (supplier, "SEARCH l USING INDEX order_lines_supplier_arrive_idx (supplier_id=?)")] {
                let plan = try await ExplainQueryPlan.steps(of: try MaterialReports.dueToArriveStatement(p, limit: 50), on: t.app.reads)
                let sorted = plan.contains { $0.contains("TEMP B-TREE") }
                #expect(plan.contains(index) && !sorted, "\(plan)")
            }
            // The receipts to inspect from an index alone, in its order: nothing sorted to tell them apart.
            for (p, index) in [(admin, "USING COVERING INDEX receipt_lines_status_received_receipt_idx (status=?)"),
                               (supplier, "USING COVERING INDEX receipt_lines_supplier_status_idx (supplier_id=? AND status=?)")] {
                let plan = try await ExplainQueryPlan.steps(of: try MaterialReports.awaitingStatement(p, orderID: nil, limit: 50), on: t.app.reads)
                #expect(plan.contains { $0.contains(index) } && !plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
            }
        }
    }

    /// With the large data set's statistics (what `ANALYZE` wrote there, before the indexes of
    /// the lines to arrive were made) the work list still reads its own index. SQLite takes an
    /// index without statistics for a narrow one: the supplier's lines to arrive, whose condition
    /// the work list's implied when it was spelled plainly, took the work list's place and
    /// sorted SUP-JG's 51,000 lines for each page (17 pages a second). SQLite only.
    @Test func theWorkListKeepsItsIndexUnderTheLargeSetsStatistics() async throws {
        try await TestApp.run { t in
            let sql = t.sql  // one connection for the statistics and the schema change
            guard sql.dialect.name == "sqlite" else { return }
            let stats = [
                ("order_lines_work_idx", "750000 749 375 18 1 1 1"), ("order_lines_all_work_idx", "750000 375000 6757 1 1 1"),
                ("order_lines_due_idx", "1000705 16679"), ("order_lines_due_order_idx", "1000705 16679 1 1"),
                ("order_lines_item_supplier_idx", "1000705 23 2 1"), ("order_lines_late_idx", "23857 23857 24 16 16 4 4"),
                ("order_lines_late_page_idx", "23857 46 43 1 1 1 1"), ("order_lines_open_due_idx", "1000705 16679 5529 23"),
                ("order_lines_plan_line_idx", "1000705 1000705"), ("order_lines_risk_idx", "1000705 333569 1882"),
                ("order_lines_ship_ready_idx", "2003 5"), ("order_lines_supplier_due_kept_idx", "1000705 999 23 23 23 23 23 2 1"),
                ("order_lines_supplier_late_page_idx", "23857 24 4 4 1 1 1"), ("order_lines_supplier_open_due_idx", "1000705 999 23 23"),
                ("order_lines_supplier_ship_ready_idx", "2003 2003 78 78 78 5 5 1 1"), ("sqlite_autoindex_order_lines_1", "1000705 1"),
                ("sqlite_autoindex_order_lines_2", "1000705 5 1"),
            ]
            try await sql.raw("ANALYZE order_lines").run()
            try await sql.raw("DELETE FROM sqlite_stat1").run()
            // Samples of the test's few rows, where SQLite keeps them, would outweigh the numbers.
            if try await !sql.raw("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat4'").all().isEmpty {
                try await sql.raw("DELETE FROM sqlite_stat4").run()
            }
            for (index, stat) in stats {
                try await sql.raw("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('order_lines', \(bind: index), \(bind: stat))").run()
            }
            // A change of the schema makes every connection load it again, statistics and all.
            try await sql.raw("CREATE TABLE plan_reload (x INTEGER)").run()
            try await sql.raw("DROP TABLE plan_reload").run()
            for (supplier, index) in [(UUID(), "SEARCH w USING INDEX order_lines_work_idx"), (nil, "SCAN w USING INDEX order_lines_all_work_idx")] {
                let statement = WorkList.statement(DataScope(supplierID: supplier), PageRequest(page: 1, per: 50), total: "0")
                let plan = try await ExplainQueryPlan.steps(of: statement, on: t.app.reads)
                #expect(plan.contains { $0.contains(index) }, "\(plan)")
                #expect(plan.filter { $0.contains("TEMP B-TREE") }.count == 2, "\(plan)")
            }
        }
    }

    /// The to-do's and the work list's kept counts and indexes undo and redo cleanly, and redone
    /// they count what is there.
    @Test func theToDoAndWorkListMigrationsUndoAndRedo() async throws {
        try await TestApp.run(scenario: true) { t in
            let supplier = try await t.principal("supplier1"), warehouse = try await t.principal("warehouse")
            func state() async throws -> [String] {
                var out: [String] = []
                for p in [supplier, warehouse] {
                    let groups = try await TodoQueries.load(p, settings: t.settings, today: t.app.subcon.today(), on: t.sql).groups
                    out += groups.map { "\($0.kind.rawValue) \($0.count)" }
                }
                let work = try await WorkList.page(supplier.scope, PageRequest(page: 1, per: 200), on: t.sql)
                return out + ["work \(work.total) \(work.rows.map { "\($0.orderCode)/\($0.facts.line_no)" })"]
            }
            let before = try await state()
            #expect(before.contains { $0.hasPrefix("receive_delivery ") } && !before.contains("work 0 []"), "\(before)")
            let db = t.db  // one connection, as in `theLinesToArriveAndTheReceiptsToInspectComeFromTheirIndexes`
            try await AddTodoPlanIndexes().revert(on: db)
            #expect(try await state() == before)
            try await AddSupplierTodoKeptCounts().revert(on: db)
            try await AddWorkListIndex().revert(on: db)
            try await AddTodoKeptCounts().revert(on: db)
            try await AddTodoKeptCounts().prepare(on: db)
            try await AddWorkListIndex().prepare(on: db)
            try await AddSupplierTodoKeptCounts().prepare(on: db)
            try await AddTodoPlanIndexes().prepare(on: db)
            #expect(try await state() == before)
        }
    }

    /// One supplier's write-off reads the month's movements from the supplier's index by time,
    /// not every movement it ever had; everyone's from the index by time alone. The migration's
    /// revert leaves the report as it was.
    @Test func aSuppliersWriteOffReadsItsMonthFromTheIndexByTime() async throws {
        try await TestApp.run(scenario: true) { t in
            guard t.sql.dialect.name == "sqlite" else { return }
            let jg = try await t.organization(code: "SUP-JG").id!
            let today = t.app.subcon.today()
            let (start, end) = try MaterialReports.month(String(format: "%04d-%02d", today.year, today.month), timeZone: t.settings.timeZone)
            let one = try await ExplainQueryPlan.steps(of: MaterialReports.writeOffStatement(supplierID: jg, start: start, end: end), on: t.sql)
            #expect(one.contains { $0.contains("material_movements USING INDEX material_movements_supplier_created_idx (supplier_id=? AND created_at>?)") }, "\(one)")
            let everyone = try await ExplainQueryPlan.steps(of: MaterialReports.writeOffStatement(supplierID: nil, start: start, end: end), on: t.sql)
            #expect(everyone.contains { $0.contains("material_movements USING INDEX material_movements_created_idx") }, "\(everyone)")
            let finance = try await t.principal("finance")
            func report() async throws -> [String] {
                try await MaterialReports.writeOff(finance, start: start, end: end, label: "", supplierID: jg, app: t.app).rows
                    .map { "\($0.itemCode) \($0.opening) \($0.issued) \($0.consumed) \($0.held) \($0.variance)" }
            }
            let before = try await report()
            #expect(!before.isEmpty)
            // One connection for both: another may still hold the schema from before the drop,
            // and refuse to create what it believes is there.
            let db = t.db
            try await AddSupplierMovementTimeIndex().revert(on: db)
            #expect(try await report() == before)
            try await AddSupplierMovementTimeIndex().prepare(on: db)
        }
    }
}
