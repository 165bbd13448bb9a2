import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// The read connections of their own on an SQLite file (`ReadConnections`): the hottest reads
/// take them, answer exactly what the driver answers, and see every change at once. These
/// tests use a file in WAL mode with the demo scenario, as production runs (the suite's other
/// tests read on them too, from the temporary file of the "in-memory" database); on PostgreSQL
/// there are no read connections and the tests have nothing to check.
@Suite struct ReadConnectionsTests {
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func principal(_ t: TestApp, _ login: String) async throws -> Principal {
        let user = try await t.user(login)
        let (u, org) = try #require(try await PrincipalLoader.load(userID: user.id!, on: t.db))
        return PrincipalLoader.principal(u, org, sessionID: nil, csrf: nil, tokenID: nil)
    }

    @Test func theHotReadsTakeTheReadConnectionsAndAnswerWhatTheDriverAnswers() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let app = t.app
            let reads = try #require(app.readConnections)
            let admin = try await Self.principal(t, "admin")
            let supplier = try await Self.principal(t, "supplier1")
            let order = try #require(try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == supplier.organizationID)
                .filter(\.$status != "draft").first())

            let before = reads.statementsRun.withLockedValue { $0 }
            let detail = try await OrderService.detail(admin, order.id!, app: app)
            let asSupplier = try await OrderService.detail(supplier, order.id!, app: app)
            let orders = try await OrderList.list(supplier, .init(), page: PageRequest(page: 1, per: 50), app: app)
            let open = try await ExceptionService.list(admin, status: "open", type: nil, supplier: nil, mine: false, now: t.clock.now(),
                                                       limit: 50, offset: 0, on: app.reads)
            let quality = try await Self.principal(t, "quality")
            let waiting = try await InspectionService.workList(quality, page: PageRequest(page: 1, per: 50), app: app)
            let stock = try await MaterialReports.stock(admin, supplierID: nil, itemCode: nil, lot: nil, page: PageRequest(page: 1, per: 50), on: app.reads)
            #expect(reads.statementsRun.withLockedValue { $0 } >= before + 6, "two details of one statement, four lists of at least one (their totals in the page's statement)")
            #expect(!detail.lines.isEmpty && !orders.items.isEmpty && !open.items.isEmpty && !stock.items.isEmpty, "the demo scenario has these")

            // The same reads through the driver's own connections.
            try await BackgroundWork.run(on: app) {
                #expect(!(app.reads is ReadConnections))
                #expect(try Self.json(try await OrderService.detail(admin, order.id!, app: app)) == Self.json(detail))
                #expect(try Self.json(try await OrderService.detail(supplier, order.id!, app: app)) == Self.json(asSupplier))
                #expect(try Self.json(try await OrderList.list(supplier, .init(), page: PageRequest(page: 1, per: 50), app: app)) == Self.json(orders))
                let driver = try await ExceptionService.list(admin, status: "open", type: nil, supplier: nil, mine: false, now: t.clock.now(),
                                                             limit: 50, offset: 0, on: app.database as! any SQLDatabase)
                #expect(try Self.json(driver.items.map { $0.summary(now: t.clock.now()) }) == Self.json(open.items.map { $0.summary(now: t.clock.now()) }))
                #expect(driver.total == open.total)
                #expect(try Self.json(try await InspectionService.workList(quality, page: PageRequest(page: 1, per: 50), app: app)) == Self.json(waiting))
                #expect(try Self.json(try await MaterialReports.stock(admin, supplierID: nil, itemCode: nil, lot: nil, page: PageRequest(page: 1, per: 50),
                                                                      on: app.reads)) == Self.json(stock))
            }

            // Another supplier's order is still not found.
            let other = try await Self.principal(t, "supplier2")
            await #expect(throws: Problem.self) { _ = try await OrderService.detail(other, order.id!, app: app) }
        }
    }

    /// A change's reads before it begins (the row it acts on, in the caller's scope) and its
    /// answer's reads after it commits take the read connections as Fluent model queries
    /// (`ModelReadDatabase`): every step of an order's way from release to inspection makes
    /// some, and answers what it answered through the driver. The database refuses to write.
    @Test func aChangesModelReadsTakeTheReadConnections() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let reads = try #require(t.app.readConnections)
            let m = try await MaterialFixture.make(t)
            let f = m.f
            func step<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
                let before = reads.modelReadsRun.withLockedValue { $0 }
                let result = try await body()
                #expect(reads.modelReadsRun.withLockedValue { $0 } > before, "\(name) read no model on the read connections")
                return result
            }
            let order = try await step("create, release and answer") { try await m.acknowledgedOrder() }
            let version = try await f.order(order)["version"] as? Int ?? 0
            let started = try await step("start") { try await m.post("/api/v1/orders/\(order)/start", f.supplier1, #"{"version":\#(version)}"#, .ok) }
            #expect(started["status"] as? String == "in_production")
            let issue = try await step("issue") {
                try await m.post("/api/v1/material/issues", m.warehouse, """
                    {"orderId":"\(order)","lines":[{"line":2,"componentCode":"RM-PAD-65","lot":"MR-1","quantity":"100"}]}
                    """)
            }
            let confirmed = try await step("confirm") {
                try await m.post("/api/v1/material/documents/\(issue["id"] as? String ?? "")/confirm", f.supplier1,
                                 #"{"version":\#(issue["version"] as? Int ?? 0),"lines":[{"no":1,"quantity":"100"}]}"#, .ok)
            }
            #expect(confirmed["awaitingConfirmation"] as? Bool == false)
            _ = try await step("progress") { try await m.post("/api/v1/orders/\(order)/progress", f.supplier1, #"{"line":2,"good":"10"}"#) }
            // A report with an idempotency key: the key is looked up on the read connections and
            // its answer stored on the write connection, so no other connection writes (SQLite
            // empties the write connection's page cache when one does; `data_version` tells).
            func dataVersion() async throws -> Int {
                try await t.app.subcon.writeGate.run {
                    try await t.app.transactionInGate { db in
                        try await (db as! any SQLDatabase).raw("PRAGMA data_version").first()!.decode(column: "data_version", as: Int.self)
                    }
                }
            }
            let version0 = try await dataVersion()
            let keyed = try await step("progress with a key") {
                try await t.request(.POST, "/api/v1/orders/\(order)/progress", token: f.supplier1, json: #"{"line":2,"good":"1"}"#,
                                    headers: [("Idempotency-Key", "one-writer")])
            }
            #expect(keyed.status == .created)
            #expect(try await dataVersion() == version0, "another connection wrote")
            let replayed = try await t.request(.POST, "/api/v1/orders/\(order)/progress", token: f.supplier1, json: #"{"line":2,"good":"1"}"#,
                                               headers: [("Idempotency-Key", "one-writer")])
            #expect(replayed.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(replayed.body.string == keyed.body.string)
            // Another supplier's order is not found through these reads either.
            _ = try await m.post("/api/v1/orders/\(order)/progress", f.supplier2, #"{"line":2,"good":"10"}"#, .notFound)
            let note = try await step("deliver") {
                try await m.post("/api/v1/deliveries", f.supplier1, """
                    {"orderId":"\(order)","shipDate":"2026-09-22","lines":[{"line":2,"quantity":"10","lot":"P-1"}]}
                    """)
            }
            let receipt = try await step("receive") {
                try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(note["id"] as? String ?? "")","lines":[{"deliveryLine":1,"quantity":"10"}]}"#)
            }
            let inspected = try await step("inspect") {
                try await m.post("/api/v1/receipts/\(receipt["id"] as? String ?? "")/lines/1/inspection", m.quality,
                                 #"{"version":1,"accepted":"10","rejected":"0"}"#)
            }
            #expect(inspected["acceptedQuantity"] as? String == "10", "\(inspected)")

            // What the answers read through these connections is what the driver reads.
            let db = t.app.modelReads
            #expect(db is ModelReadDatabase)
            let ins = try #require(try await Inspection.find(UUID(uuidString: inspected["id"] as? String ?? ""), on: t.db))
            #expect(try Self.json(try await InspectionService.dto(ins, on: db)) == Self.json(try await InspectionService.dto(ins, on: t.db)))
            let doc = try #require(try await MaterialDocument.find(UUID(uuidString: issue["id"] as? String ?? ""), on: db))
            #expect(try Self.json(try await MaterialService.dto(doc, on: db)) == Self.json(try await MaterialService.dto(doc, on: t.db)))

            // Only reads: a model write and a transaction are refused before they reach SQLite.
            let item = try #require(try await Item.query(on: db).first())
            item.name = "changed"
            await #expect(throws: ModelReadDatabase.ReadsOnly.self) { try await item.save(on: db) }
            await #expect(throws: ModelReadDatabase.ReadsOnly.self) { try await db.transaction { _ in } }
            #expect(try await Item.find(item.id, on: t.db)?.name != "changed")
        }
    }

    /// A statement's lines are streamed from the read connections: every line, field for field,
    /// as the driver reads them, disputed ones with their evidence.
    @Test func statementLinesFromTheReadConnectionsAreTheDriversLines() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let app = t.app
            let reads = try #require(app.readConnections)
            let finance = try await Self.principal(t, "finance")
            var compared = 0
            for s in try await Statement.query(on: t.db).all() {
                let head = try await StatementService.header(finance, s.id!, revision: nil, app: app)
                let before = reads.statementsRun.withLockedValue { $0 }
                let fast = try await StatementService.lines(of: head, after: 0, limit: nil, on: t.db, reads: app.reads)
                #expect(reads.statementsRun.withLockedValue { $0 } > before)
                let driver = try await StatementService.lines(of: head, after: 0, limit: nil, on: t.db)
                #expect(try Self.json(fast) == Self.json(driver), "\(s.code)")
                compared += driver.count
            }
            #expect(compared > 0, "the demo scenario has statements with lines")
        }
    }

    /// Signing in reads on the read connections: a revoked token, a deactivated user and an
    /// ended session are refused by the very next request.
    @Test func aRevokedTokenADeactivatedUserAndAnEndedSessionAreRefusedAtOnce() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let reads = try #require(t.app.readConnections)
            let first = reads.statementsRun.withLockedValue { $0 }
            let revoked = try await t.token("purchaser")
            #expect(try await t.request(.GET, "/api/v1/me", token: revoked).status == .ok)
            #expect(reads.statementsRun.withLockedValue { $0 } > first, "the sign-in read took the read connections")
            #expect(try await t.request(.POST, "/api/v1/me/logout", token: revoked).status == .noContent)
            #expect(try await t.request(.GET, "/api/v1/me", token: revoked).status == .unauthorized)

            let s2 = try await t.token("supplier2")
            var browser = try await t.signIn("supplier2")
            #expect(try await t.page(.GET, "/account", browser: &browser).status == .ok)
            let admin = try await t.token("admin")
            let user = try await t.user("supplier2")
            let r = try await t.request(.PATCH, "/api/v1/users/\(user.id!)", token: admin, json: #"{"version":\#(user.version),"active":false}"#)
            #expect(r.status == .ok, "\(r.body.string)")
            #expect(try await t.request(.GET, "/api/v1/me", token: s2).status == .unauthorized)
            #expect(try await t.page(.GET, "/account", browser: &browser).status == .seeOther)

            var ended = try await t.signIn("finance")
            #expect(try await t.page(.GET, "/account", browser: &ended).status == .ok)
            try await WebSession.query(on: t.db).filter(\.$user.$id == (try await t.user("finance")).id!).delete()
            #expect(try await t.page(.GET, "/account", browser: &ended).status == .seeOther)
        }
    }

    /// A read that fails says so and leaves its connection usable.
    @Test func aFailingReadThrowsAndTheConnectionGoesOn() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let reads = try #require(t.app.readConnections)
            #expect(throws: SQLiteHandleError.self) { _ = try reads.rowsNow(SQLRaw("SELECT * FROM no_such_table")) }
            await #expect(throws: SQLiteHandleError.self) { _ = try await reads.raw("SELECT nope FROM users").all() }
            // Reads only: the connections refuse to write.
            await #expect(throws: SQLiteHandleError.self) { try await reads.raw("DELETE FROM users").run() }
            #expect(try await t.user("admin").active)
            let n = try reads.rowsNow("SELECT COUNT(*) AS n FROM users WHERE login = \(bind: "admin")" as SQLQueryString)
            #expect(try n.first?.decode(column: "n", as: Int.self) == 1)
        }
    }

    /// The hot statements stay prepared: none is prepared again on each run, on the read
    /// connections or on the write connection (see `RepreparedStatements`). Clearing a statement's
    /// values after each run, or binding a constant that a partial index names, made SQLite
    /// prepare the sign-in, the polls and some changes anew every time.
    @Test func theHotStatementsAreNotPreparedAgainOnEachRun() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let reads = try #require(t.app.readConnections)
            let writes = try #require(t.app.writeConnection)
            let m = try await MaterialFixture.make(t)
            for n in 1...3 {
                let order = try await m.acknowledgedOrder()
                let r = try await t.request(.POST, "/api/v1/orders/\(order)/progress", token: m.f.supplier1,
                                            json: #"{"line":1,"good":"\#(n)","scrap":"0"}"#)
                #expect(r.status == .created, "\(r.body.string)")
            }
            let paths = ["/api/v1/me", "/api/v1/orders?per=50", "/api/v1/orders?per=50&page=2", "/api/v1/orders?status=in_production",
                         "/api/v1/orders?awaiting=true", "/api/v1/orders?late=true", "/api/v1/late-lines", "/api/v1/exceptions?status=open",
                         "/api/v1/inspections", "/api/v1/material/stock", "/api/v1/material/due-to-issue", "/api/v1/workbench/todo"]
            for login in ["admin", "supplier1", "supplier2", "quality", "purchaser"] {
                let token = try await t.token(login)
                for path in paths {
                    for _ in 0..<3 { _ = try await t.request(.GET, path, token: token) }
                }
            }
            #expect(reads.statementsRun.withLockedValue { $0 } > 100)
            #expect(reads.reprepared.repeated.isEmpty, "\(reads.reprepared.repeated)")
            #expect(writes.reprepared.repeated.isEmpty, "\(writes.reprepared.repeated)")
        }
    }

    /// A row from these connections decodes each column kind to what the driver's row does: the
    /// common ones by their own paths, the rest through the driver's decoder (an integer other
    /// than 0 or 1 is no boolean on either).
    @Test func columnsDecodeAsTheDriversDo() async throws {
        try await TestApp.runOnSQLiteFile { t in
            let reads = try #require(t.app.readConnections)
            let query: SQLQueryString = "SELECT 1.5 AS f, 1796415103 AS i, 0 AS b0, 1 AS b1, 2 AS b2, 'x' AS s, NULL AS n, 1796415103.25 AS d, 1 AS i, 'dup' AS s"
            let ours = try #require(try reads.rowsNow(query).first)
            let driver = try #require(try await (t.app.database as! any SQLDatabase).raw(query).first())
            func same<D: Decodable & Equatable>(_ column: String, _ type: D.Type) {
                let a = try? ours.decode(column: column, as: D.self), b = try? driver.decode(column: column, as: D.self)
                #expect(a == b, "\(column) as \(D.self): \(String(describing: a)) vs \(String(describing: b))")
            }
            for column in ["f", "i", "b0", "b1", "b2", "s", "n", "d", "missing"] {
                same(column, Date.self); same(column, Bool.self); same(column, Double.self); same(column, Int.self)
                same(column, Int64.self); same(column, String.self)
                #expect(ours.contains(column: column) == driver.contains(column: column))
                #expect((try? ours.decodeNil(column: column)) == (try? driver.decodeNil(column: column)), "\(column)")
            }
            #expect(try ours.decode(column: "i", as: Int.self) == 1796415103, "the first of two columns of one name")
        }
    }

    /// A row of every common column kind, for the two decoders' tests below.
    enum Kind: String, Decodable, Equatable { case open, closed }
    struct Row: Decodable, Equatable {
        let s: String; let i: Int; let l: Int64; let u: UUID; let d: Date; let b: Bool; let x: Double; let k: Kind
        let os: String?; let oi: Int?; let ou: UUID?; let od: Date?; let ob: Bool?; let ok: Kind?; let absent: String?
    }
    struct Strict: Decodable, Equatable { let s: String; let absent: String }

    /// Rows decoded into a type by `rows(decoding:)` (these connections' own decoder) equal what
    /// SQLKit's decoder makes of the driver's rows, values and nulls, and both refuse the same rows.
    @Test func rowsDecodeIntoTypesAsSQLKitDoes() async throws {
        struct Whole: Decodable, Equatable { let row: Row }
        try await TestApp.runOnSQLiteFile { t in
            let reads = try #require(t.app.readConnections)
            let driver = t.app.database as! any SQLDatabase
            let id = UUID()
            let rows: SQLQueryString = """
                SELECT 'a' AS s, 7 AS i, 9007199254740993 AS l, \(bind: id.uuidString) AS u, 1796415103.25 AS d, 1 AS b, 2.5 AS x, 'open' AS k,
                       'b' AS os, 3 AS oi, \(bind: id.uuidString) AS ou, 1796415103 AS od, 0 AS ob, 'closed' AS ok
                UNION ALL
                SELECT 'c', -1, 0, \(bind: id.uuidString), 0, 0, -0.5, 'closed', NULL, NULL, NULL, NULL, NULL, NULL
                """
            let ours = try await reads.raw(rows).rows(decoding: Row.self)
            #expect(ours.count == 2)
            #expect(ours == (try await driver.raw(rows).all(decoding: Row.self)))
            #expect(ours.last?.os == nil && ours.last?.ok == nil && ours.first?.ok == .closed && ours.first?.l == 9007199254740993)
            // A missing column, a null where a value must be, or a value of another kind: refused by both.
            for (query, what) in [("SELECT 'a' AS s", "missing"), ("SELECT 'a' AS s, NULL AS absent", "null")] as [(SQLQueryString, String)] {
                await #expect(throws: DecodingError.self, "\(what)") { try await reads.raw(query).rows(decoding: Strict.self) }
                await #expect(throws: DecodingError.self, "\(what)") { try await driver.raw(query).all(decoding: Strict.self) }
            }
            let wrongKind: SQLQueryString = "SELECT 'a' AS s, 7 AS i, 1 AS l, 'not an id' AS u, 0 AS d, 1 AS b, 1 AS x, 'half' AS k"
            await #expect(throws: (any Error).self) { try await reads.raw(wrongKind).rows(decoding: Row.self) }
            await #expect(throws: (any Error).self) { try await driver.raw(wrongKind).all(decoding: Row.self) }
            // A property of a row's own type names a column that is not there.
            await #expect(throws: DecodingError.self) { try await reads.raw(rows).rows(decoding: Whole.self) }
            await #expect(throws: DecodingError.self) { try await driver.raw(rows).all(decoding: Whole.self) }
        }
    }

    /// On PostgreSQL the prepared reads' rows are decoded by position as well: to what
    /// PostgresKit's decoder makes of the same rows through the driver, with the same refusals;
    /// of two columns with one name, the last is read, as PostgresNIO does.
    @Test func preparedRowsDecodeAsPostgresKitDoes() async throws {
        struct Named: Decodable, Equatable { let s: String }
        try await TestApp.run { t in
            guard t.sql.dialect.name == "postgresql" else { return }
            let keyed = t.app.keyedReads, driver = t.sql
            #expect(keyed is PreparedReads)
            let id = UUID()
            let rows: SQLQueryString = """
                SELECT 'a' AS s, 7 AS i, CAST(9007199254740993 AS BIGINT) AS l, \(bind: id) AS u, TIMESTAMPTZ '2026-12-05 01:02:03.25+00' AS d,
                       TRUE AS b, CAST(2.5 AS DOUBLE PRECISION) AS x, 'open' AS k, 'b' AS os, 3 AS oi, \(bind: id) AS ou,
                       TIMESTAMPTZ '2026-12-05 01:02:03+00' AS od, FALSE AS ob, 'closed' AS ok
                UNION ALL
                SELECT 'c', -1, 0, \(bind: id), TIMESTAMPTZ '1970-01-01 00:00:00+00', FALSE, -0.5, 'closed', NULL, NULL, NULL, NULL, NULL, NULL
                """
            // Twice: the second run is the prepared statement's.
            for _ in 1...2 {
                let ours = try await keyed.raw(rows).rows(decoding: Row.self)
                #expect(ours.count == 2)
                #expect(ours == (try await driver.raw(rows).all(decoding: Row.self)))
                #expect(ours.first?.u == id && ours.last?.os == nil && ours.first?.ok == .closed && ours.first?.l == 9007199254740993)
            }
            #expect(try await keyed.raw("SELECT 'first' AS s, 'last' AS s").rows(decoding: Named.self) == [Named(s: "last")])
            #expect(try await driver.raw("SELECT 'first' AS s, 'last' AS s").all(decoding: Named.self) == [Named(s: "last")])
            for (query, what) in [("SELECT 'a' AS s", "missing"), ("SELECT 'a' AS s, NULL AS absent", "null")] as [(SQLQueryString, String)] {
                await #expect(throws: (any Error).self, "\(what)") { try await keyed.raw(query).rows(decoding: Strict.self) }
                await #expect(throws: (any Error).self, "\(what)") { try await driver.raw(query).all(decoding: Strict.self) }
            }
            let wrongKind: SQLQueryString = "SELECT 'a' AS s, 7 AS i, 1 AS l, 'not an id' AS u, 0 AS d, TRUE AS b, 1 AS x, 'half' AS k"
            await #expect(throws: (any Error).self) { try await keyed.raw(wrongKind).rows(decoding: Row.self) }
            await #expect(throws: (any Error).self) { try await driver.raw(wrongKind).all(decoding: Row.self) }
        }
    }

    /// The tests' "in-memory" database is a temporary file (sqlite-kit's); it goes when its
    /// application shuts down, so that a run of the suite leaves nothing behind.
    @Test func theTemporaryDatabaseGoesWithItsApplication() async throws {
        var path: String?
        try await TestApp.run(demo: false) { t in
            guard !t.app.subcon.isPostgres else { return }
            path = try #require(t.app.readConnections).path
            #expect(FileManager.default.fileExists(atPath: path!))
        }
        if let path { #expect(!FileManager.default.fileExists(atPath: path)) }
    }
}
