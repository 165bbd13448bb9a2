import SubconDomain
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import SubconApp

/// The busiest lists read their rows by position (`ReadByPosition`) and write their items' JSON
/// themselves (`DirectJSON`). Both must give exactly what the general paths give: rows decoded
/// by name, items written through their `encode(to:)`.
@Suite struct DirectRowTests {
    static func written<T: Encodable>(_ value: T, direct: Bool) throws -> String {
        let writer = JSONStreamWriter(direct: direct)
        try writer.write(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Each value written both ways, with every optional field once set and once nil (a nil is
    /// left out, as `encodeIfPresent` leaves it).
    @Test func itemsWriteWhatTheirEncodingWrites() throws {
        let id = UUID(), now = Date(timeIntervalSince1970: 1_796_000_000.75)
        let orders = [
            OrderSummaryDTO(id: id, code: "PO-1 \"x\"", supplierId: id, supplierCode: "SUP", supplierName: "精密\n机加", status: "released", revision: 2,
                            version: 7, openLines: 3, nextDue: "2026-12-11", projectedLate: true, daysLate: 4, createdAt: now, awaitingAnswer: true,
                            answerDeadline: now, overdue: false),
            OrderSummaryDTO(id: id, code: "PO-2", supplierId: id, supplierCode: "SUP", supplierName: "A", status: "draft", revision: 0, version: 0,
                            openLines: 0, nextDue: nil, projectedLate: false, daysLate: 0, createdAt: now, awaitingAnswer: false, answerDeadline: nil,
                            overdue: false),
        ]
        let sampling = SamplingDTO(lotSize: 500, level: "II", aql: "1.0", state: "normal", severity: "normal", codeLetter: "H", tableLetter: "H",
                                   sampleSize: 50, acceptance: 1, rejection: 2, hundredPercent: false, exempt: true)
        let work = WorkItemDTO(receiptId: id, receiptCode: "GR-1", line: 1, version: 2, supplierCode: "SUP", supplierName: "B", orderId: id,
                               orderCode: "PO-1", itemCode: "I-1", itemName: "壳体", lot: "L1", quantity: FixedDecimal(units: 12_500), unit: "件", receivedAt: now,
                               sampling: sampling)
        let late = [
            LateLineDTO(orderId: id, orderCode: "PO-1", supplierId: id, supplierCode: "S", supplierName: "N", line: 2, itemCode: "I", itemName: "J",
                        unit: "pcs", operation: "CNC", quantity: FixedDecimal(units: 1), dueDate: "2026-12-01", eta: "2026-12-09",
                        promisedDate: "2026-12-08", daysLate: 8, risk: "late", delayReason: "material", delayNote: "\\ note"),
            LateLineDTO(orderId: id, orderCode: "PO-1", supplierId: id, supplierCode: "S", supplierName: "N", line: 3, itemCode: "I", itemName: "J",
                        unit: "pcs", operation: nil, quantity: FixedDecimal(units: 0), dueDate: "2026-12-01", eta: nil, promisedDate: nil,
                        daysLate: 0, risk: "at_risk", delayReason: nil, delayNote: ""),
        ]
        let exceptions = [
            ExceptionSummaryDTO(id: id, code: "EX-1", type: "quality", severity: "major", status: "open", title: "t", description: "d",
                                words: ExceptionWords(title: "k.t", description: "k.d", params: ["lot": "L1"]), createdAt: now, source: "inspection",
                                sourceId: "x", orderId: id, supplierId: id, responseBy: now, resolveBy: now, respondedAt: now, closedAt: now,
                                escalationLevel: 1, overdue: true),
            ExceptionSummaryDTO(id: id, code: "EX-2", type: "delivery", severity: "minor", status: "open", title: "t", description: "d", words: nil,
                                createdAt: now, source: "manual", sourceId: "", orderId: nil, supplierId: id, responseBy: nil, resolveBy: nil,
                                respondedAt: nil, closedAt: nil, escalationLevel: 0, overdue: false),
        ]
        #expect(try Self.written(SubconApp.Page(items: orders, page: 1, per: 50, total: 2), direct: true)
                == (try Self.written(SubconApp.Page(items: orders, page: 1, per: 50, total: 2), direct: false)))
        #expect(try Self.written([work], direct: true) == (try Self.written([work], direct: false)))
        #expect(try Self.written(late, direct: true) == (try Self.written(late, direct: false)))
        let statement = StatementSummaryDTO(id: id, code: "ST-1", supplierId: id, supplierCode: "S", supplierName: "N", period: "2026-11", status: "sent",
                                            revision: 1, version: 3, currency: "CNY", net: FixedDecimal(units: 1_234_500), tax: FixedDecimal(units: -1),
                                            gross: FixedDecimal(units: 0), changeSeq: 9_000_000_000, updatedAt: now)
        let stock = StockRowDTO(supplierId: id, supplierCode: "S", supplierName: "N", itemId: id, itemCode: "I", itemName: "钢板", unit: "kg", lot: "L",
                                inTransit: FixedDecimal(units: 5), held: FixedDecimal(units: -20_000))
        #expect(try Self.written([statement], direct: true) == (try Self.written([statement], direct: false)))
        #expect(try Self.written([stock], direct: true) == (try Self.written([stock], direct: false)))
        #expect(try Self.written(exceptions, direct: true) == (try Self.written(exceptions, direct: false)))
        var lesson = LessonDTO(id: id, code: "YC-1", title: "划伤 \"x\"", supplierCode: "S", supplierName: "N", itemCode: "I", itemName: "壳体", lot: "L",
                               defectCodes: "SCRATCH", rootCause: "夹具\n磨损", correctiveActions: "", prevention: "p", closedAt: now)
        lesson.effect = "effective"; lesson.recurrenceId = id
        lesson.before = .init(lots: 5, defective: 2); lesson.after = .init(lots: 7, defective: 0)
        let bare = LessonDTO(id: id, code: "YC-2", title: "t", supplierCode: "", supplierName: "", itemCode: nil, itemName: nil, lot: "",
                             defectCodes: "", rootCause: "", correctiveActions: "", prevention: "", closedAt: nil)
        #expect(try Self.written(ListResult(items: [lesson, bare]), direct: true) == (try Self.written(ListResult(items: [lesson, bare]), direct: false)))
        // And what the general path writes is JSON that Foundation reads back as the same value.
        let back = try JSONDecoder.iso.decode([ExceptionSummaryDTO].self, from: Data(try Self.written(exceptions, direct: true).utf8))
        #expect(back.map(\.code) == ["EX-1", "EX-2"] && back[0].words == exceptions[0].words && back[1].orderId == nil)
    }

    /// The hot lists, on the demo scenario and whichever database the run uses: rows read by
    /// position and items written directly equal rows decoded by name and items encoded.
    @Test func theListsReadAndWriteWhatTheGeneralPathsDo() async throws {
        try await TestApp.run(scenario: true) { t in
            let app = t.app
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let supplier = try await ReadConnectionsTests.principal(t, "supplier1")
            let quality = try await ReadConnectionsTests.principal(t, "quality")
            let now = t.clock.now()

            func same<T: Content>(_ what: String, nonEmpty: Bool = true, _ read: () async throws -> SubconApp.Page<T>) async throws {
                let direct = try await read()
                let general = try await RowDecoding.$byName.withValue(true) { try await read() }
                if nonEmpty { #expect(!direct.items.isEmpty, "the demo scenario has \(what)") }
                #expect(try Self.written(direct, direct: true) == (try Self.written(general, direct: false)), "\(what)")
            }
            var filters: [(String, OrderList.Filter)] = [("every order", .init())]
            var awaiting = OrderList.Filter(); awaiting.awaiting = true; filters.append(("waiting orders", awaiting))
            var late = OrderList.Filter(); late.late = true; filters.append(("late orders", late))
            var status = OrderList.Filter(); status.status = .inProduction; filters.append(("orders in production", status))
            for (what, f) in filters {
                try await same(what, nonEmpty: true) { try await OrderList.list(admin, f, page: PageRequest(page: 1, per: 50), app: app) }
            }
            // Every order's detail (lines, requirements, the supplier, revisions and their answers).
            let everyOrder = try await OrderList.list(admin, .init(), page: PageRequest(page: 1, per: 200), app: app).items
            #expect(everyOrder.count > 3)
            var revisions = 0
            for order in everyOrder {
                let direct = try await OrderService.detail(admin, order.id, app: app)
                let general = try await RowDecoding.$byName.withValue(true) { try await OrderService.detail(admin, order.id, app: app) }
                #expect(try Self.written(direct, direct: false) == (try Self.written(general, direct: false)), "order \(order.code)")
                revisions += direct.revisions.count
            }
            #expect(revisions > 0, "the demo scenario has revisions")
            try await same("people") { try await UserService.list(admin, filter: .init(), page: PageRequest(page: 1, per: 50), on: app.reads, counts: nil) }
            try await same("items") { try await ItemService.list(admin, filter: .init(), page: PageRequest(page: 1, per: 50), on: app.reads, counts: nil) }
            _ = try await Outbox.deliverPending(app: app, limit: 1000)
            struct Person: Decodable { let user_id: UUID }
            let notified = try #require(try await t.sql.raw("SELECT user_id FROM notifications GROUP BY user_id ORDER BY COUNT(*) DESC LIMIT 1")
                .first(decoding: Person.self)).user_id
            for unread in [false, true] {
                try await same("notices, unread only: \(unread)", nonEmpty: !unread) {
                    try await Inbox.list(userID: notified, page: PageRequest(page: 1, per: 50), unreadOnly: unread, locale: .zhHans,
                                         catalog: app.subcon.catalog, on: app.keyedReads)
                }
            }
            // The open lines a supplier's work list projects (read by position) and by name.
            let working = try await OrderList.list(supplier, .init(), page: PageRequest(page: 1, per: 200), app: app).items.map(\.id)
            let today = app.subcon.today(), threshold = app.subcon.settings.delayThresholdDays
            func projected() async throws -> [LineProgressDTO] {
                let lines = try await ProgressService.lines(orderIDs: working, today: today, threshold: threshold, on: app.reads)
                return working.flatMap { (lines[$0] ?? []).map(\.projected) }
            }
            let byPosition = try await projected()
            #expect(byPosition.count > 3, "the demo scenario has open lines")
            #expect(try Self.written(byPosition, direct: false) == (try Self.written(try await RowDecoding.$byName.withValue(true) { try await projected() }, direct: false)))
            // The work list's page, picked from its index and read by position.
            let supplierPrincipal = try await t.principal("supplier1")
            try await same("a supplier's work") {
                try await WorkList.items(supplierPrincipal, PageRequest(page: 1, per: 50), today: today, threshold: threshold, on: app.reads)
            }
            try await same("a second page of 3 orders") { try await OrderList.list(admin, .init(), page: PageRequest(page: 2, per: 3), app: app) }
            try await same("a supplier's orders") { try await OrderList.list(supplier, .init(), page: PageRequest(page: 1, per: 50), app: app) }
            // A lot waiting for inspection (the scenario has inspected all of its own).
            let q = try await QualityFlowTests.fixture(t)
            _ = try await q.receive(try await q.m.acknowledgedOrder(), lot: "A", "200")
            try await same("the inspection work list") { try await InspectionService.workList(quality, page: PageRequest(page: 1, per: 50), app: app) }
            try await same("late lines") { try await LateLines.list(admin, .init(), page: PageRequest(page: 1, per: 50), app: app) }
            try await same("a supplier's late lines") {
                try await LateLines.list(supplier, .init(), page: PageRequest(page: 1, per: 50), app: app)
            }
            let finance = try await ReadConnectionsTests.principal(t, "finance")
            try await same("statements") { try await StatementService.list(finance, filter: .init(), page: PageRequest(page: 1, per: 50), on: app.reads) }
            try await same("a supplier's statements") {
                try await StatementService.list(supplier, filter: .init(), page: PageRequest(page: 1, per: 50), on: app.reads)
            }
            try await same("the stock held") {
                try await MaterialReports.stock(admin, supplierID: nil, itemCode: nil, lot: nil, page: PageRequest(page: 1, per: 50), on: app.reads)
            }
            try await same("a supplier's stock") {
                try await MaterialReports.stock(supplier, supplierID: nil, itemCode: nil, lot: nil, page: PageRequest(page: 1, per: 50), on: app.reads)
            }
            // The material hub's lists (and the API's), the buyer's and the supplier's.
            func sameList<T: Content>(_ what: String, _ read: () async throws -> [T]) async throws {
                let direct = try await read()
                let general = try await RowDecoding.$byName.withValue(true) { try await read() }
                #expect(!direct.isEmpty, "the demo scenario has \(what)")
                #expect(try Self.written(ListResult(items: direct), direct: true) == (try Self.written(ListResult(items: general), direct: false)), "\(what)")
            }
            for (who, p) in [("buyer", admin), ("supplier", supplier)] {
                try await sameList("\(who)'s documents") { try await MaterialReports.documents(p, orderID: nil, kind: nil, status: nil, supplierID: nil, limit: 50, on: app.reads) }
                try await sameList("\(who)'s open notes") { try await MaterialReports.notes(p, orderID: nil, open: true, limit: 50, on: app.reads) }
                try await sameList("\(who)'s receipts to inspect") { try await MaterialReports.receipts(p, orderID: nil, awaiting: true, limit: 50, on: app.reads) }
                try await sameList("\(who)'s lines to arrive") { try await MaterialReports.dueToArrive(p, limit: 50, on: app.keyedReads) }
                try await sameList("\(who)'s components to issue") { try await MaterialReports.dueToIssue(p, limit: 50, on: app.keyedReads) }
            }
            for (who, p) in [("buyer", admin), ("supplier", supplier)] {
                let lessons = try await QualityReports.lessons(p, itemCode: nil, defect: nil, text: nil, on: app.reads)
                let lessonsByName = try await RowDecoding.$byName.withValue(true) {
                    try await QualityReports.lessons(p, itemCode: nil, defect: nil, text: nil, on: app.reads)
                }
                #expect(try Self.written(ListResult(items: lessons), direct: true) == (try Self.written(ListResult(items: lessonsByName), direct: false)),
                        "\(who)'s lessons")
                if who == "buyer" { #expect(lessons.contains { !$0.rootCause.isEmpty }, "the demo scenario has lessons") }
                for status in ["open", "closed", ""] {
                    let read = { try await ExceptionService.list(p, status: status, type: nil, supplier: nil, mine: false, now: now, limit: 50, offset: 0,
                                                                 on: app.reads, keyed: app.keyedReads) }
                    let direct = try await read()
                    let general = try await RowDecoding.$byName.withValue(true) { try await read() }
                    #expect(direct.items == general.items && direct.total == general.total, "\(who)'s exceptions, \(status)")
                    if status == "" { #expect(!direct.items.isEmpty, "the demo scenario has \(who)'s exceptions") }
                }
            }
        }
    }

    /// A delivery note's summary names the unit of its quantities when all its lines share one,
    /// and none when they do not (pages print it beside the sums).
    @Test func noteSummariesCarryTheirLinesUnit() async throws {
        try await TestApp.run(scenario: true) { t in
            let admin = try await ReadConnectionsTests.principal(t, "admin")
            let notes = try await MaterialReports.notes(admin, orderID: nil, open: false, limit: 300, on: t.app.reads)
            #expect(!notes.isEmpty, "the demo scenario has delivery notes")
            struct U: Decodable { let uom: String }
            for note in notes {
                let units = Set(try await t.sql.raw("""
                    SELECT i.uom FROM delivery_note_lines l JOIN items i ON i.id = l.item_id WHERE l.note_id = \(bind: note.id)
                    """).all(decoding: U.self).map(\.uom))
                #expect(note.unit == (units.count == 1 ? units.first : nil), "\(note.code): \(units)")
            }
            #expect(notes.contains { $0.unit != nil })
        }
    }
}

private extension JSONDecoder {
    static var iso: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
