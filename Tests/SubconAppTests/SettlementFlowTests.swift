import Fluent
import Foundation
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting
import PropertyBased

/// Month-end counts and statements over HTTP, on whichever database the run uses.
@Suite struct SettlementFlowTests {
    struct S {
        let m: MaterialFixture
        var t: TestApp { m.t }
        var f: OrderFixture { m.f }

        func receiveAccepted(_ order: String, line: Int = 1, lot: String, _ quantity: String, rejected: String = "0") async throws -> String {
            let r = try await m.post("/api/v1/receipts", m.warehouse, #"{"orderId":"\#(order)","lines":[{"line":\#(line),"lot":"\#(lot)","quantity":"\#(quantity)"}]}"#)
            let id = r["id"] as? String ?? ""
            let accepted = try FixedDecimal.parse(quantity).subtracting(try FixedDecimal.parse(rejected))
            _ = try await m.post("/api/v1/receipts/\(id)/lines/1/inspection", m.quality, #"{"version":1,"accepted":"\#(accepted)","rejected":"\#(rejected)"}"#)
            return id
        }

        func raise(_ order: String, item: String = "SF-MH-001", lot: String) async throws -> [String: Any] {
            try await m.post("/api/v1/exceptions", m.quality, """
                {"type":"quality","severity":"major","supplierId":"\(try await f.supplierID("SUP-JG"))","orderId":"\(order)","itemCode":"\(item)","lot":"\(lot)","title":"尺寸超差"}
                """)
        }

        func statement(_ id: String, _ token: String) async throws -> [String: Any] { try await m.get("/api/v1/statements/\(id)", token) }

        func act(_ id: String, _ action: String, _ token: String, _ body: String, _ status: HTTPStatus = .ok,
                 sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
            try await m.post("/api/v1/statements/\(id)/\(action)", token, body, status, sourceLocation: sourceLocation)
        }
    }

    static func period(_ t: TestApp) -> String { t.app.subcon.settings.statementCalendar.period(of: t.app.subcon.today()).description }

    /// Receipt lines and exceptions marked claimed that no claim names, or claimed but unmarked
    /// (`AddClaimedMarks`): statements find their sources by the mark.
    static func marksOffTheClaims(_ t: TestApp) async throws -> Int {
        struct N: Decodable { let n: Int }
        var off = 0
        for (type, table) in [("receipt_line", "receipt_lines"), ("exception", "exceptions")] {
            off += try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM \(unsafeRaw: table) x
                WHERE (CASE WHEN x.claimed THEN 1 ELSE 0 END)
                   <> (CASE WHEN EXISTS (SELECT 1 FROM statement_claims c WHERE c.source_type = \(bind: type) AND c.source_id = x.id) THEN 1 ELSE 0 END)
                """).first(decoding: N.self)?.n ?? 0
        }
        return off
    }

    @Test func wholeLifecycleWithADisputeAndASecondVersion() async throws {
        try await TestApp.run { t in
            let s = S(m: try await MaterialFixture.make(t))
            let order = try await s.m.acknowledgedOrder()
            let jg = try await s.f.supplierID("SUP-JG")
            let purchaser = s.f.purchaser, finance = s.m.finance, supplier = s.f.supplier1

            // 100 pieces at the price first acknowledged, then a revision to 30.00, acknowledged, then 50 more.
            let first = try await s.f.order(order)
            let oldPrice = ((first["lines"] as? [[String: Any]])?.first { $0["number"] as? Int == 1 }?["unitPrice"] as? String) ?? ""
            _ = try await s.receiveAccepted(order, lot: "A", "100")
            t.clock.advance(by: 3600)
            let current = try await s.f.order(order)
            let revised = try await t.request(.POST, "/api/v1/orders/\(order)/revisions", token: purchaser, json: """
                {"version":\(current["version"] as? Int ?? 0),"reason":"调价","lines":[
                  {"line":1,"itemCode":"SF-MH-001","operation":"CNC-R","quantity":"1000","dueDate":"2026-10-20","unitPrice":"30"},
                  {"line":2,"itemCode":"FG-RD-002","quantity":"50","dueDate":"2026-10-25"}]}
                """)
            #expect(revised.status == .created, "\(revised.body.string)")
            let ack = try await t.request(.POST, "/api/v1/orders/\(order)/answers", token: supplier,
                                          json: #"{"revision":2,"lines":[{"line":1,"answer":"accept"},{"line":2,"answer":"accept"}]}"#)
            #expect(ack.status == .ok, "\(ack.body.string)")
            t.clock.advance(by: 3600)
            _ = try await s.receiveAccepted(order, lot: "B", "50")

            // 8 of lot C rejected opens a quality exception: 2.50 per rejected piece, but as the
            // first of its kind for this item it is waived (graded); the second, raised by hand
            // a minute later, carries its 200.
            _ = try await s.receiveAccepted(order, lot: "C", "40", rejected: "8")
            let opened = try await ExceptionCase.query(on: t.db).filter(\.$lot == "C").filter(\.$type == "quality").first()
            let e1: [String: Any] = ["id": opened?.id?.uuidString ?? "", "version": opened?.version ?? 0]
            t.clock.advance(by: 60)
            let e2 = try await s.raise(order, lot: "C")
            for (e, rule) in [(e1, #""kind":"per_piece","value":"2.5""#), (e2, #""kind":"fixed","value":"200""#)] {
                let r = try await t.request(.PUT, "/api/v1/exceptions/\(e["id"] as? String ?? "")/penalty", token: s.m.quality,
                                            json: #"{"version":\#(e["version"] as? Int ?? 0),\#(rule)}"#)
                #expect(r.status == .ok, "\(r.body.string)")
            }
            // Not a percentage above 100, not a negative amount, and only quality or purchasing set it.
            let e2v = try await s.m.get("/api/v1/exceptions/\(e2["id"] as? String ?? "")", s.m.quality)["version"] as? Int ?? 0
            #expect(try await t.request(.PUT, "/api/v1/exceptions/\(e2["id"] as? String ?? "")/penalty", token: s.m.quality,
                                        json: #"{"version":\#(e2v),"kind":"percent","value":"120"}"#).status == .unprocessableEntity)
            #expect(try await t.request(.PUT, "/api/v1/exceptions/\(e2["id"] as? String ?? "")/penalty", token: s.m.quality,
                                        json: #"{"version":\#(e2v),"kind":"fixed","value":"-1"}"#).status == .unprocessableEntity)
            #expect(try await t.request(.PUT, "/api/v1/exceptions/\(e2["id"] as? String ?? "")/penalty", token: supplier,
                                        json: #"{"version":\#(e2v),"kind":"fixed","value":"0"}"#).status == .forbidden)

            // Generate: the supplier cannot, finance can; a second one for the same period is refused.
            let period = Self.period(t)
            let body = #"{"supplierId":"\#(jg)","period":"\#(period)"}"#
            #expect(try await t.request(.POST, "/api/v1/statements", token: supplier, json: body).status == .forbidden)
            let created = try await t.request(.POST, "/api/v1/statements", token: purchaser, json: body)
            #expect(created.status == .created, "\(created.body.string)")
            #expect(try await t.request(.POST, "/api/v1/statements", token: finance, json: body).status == .conflict)
            let id = created.json["id"] as? String ?? ""
            var st = created.json
            let lines = st["lines"] as? [[String: Any]] ?? []
            let goods = lines.filter { $0["kind"] as? String == "goods" }
            #expect(goods.map { $0["unitPrice"] as? String } == [oldPrice, "30", "30"])
            let oldAmount = try FixedDecimal.parse(oldPrice).multiplied(by: FixedDecimal(100), roundedToScale: 2)
            #expect(goods.map { $0["amount"] as? String } == [oldAmount.description, "1500", "960"])
            let penalties = lines.filter { $0["sourceType"] as? String == "exception" }
            #expect(penalties.map { $0["occurrence"] as? Int } == [1, 2])
            #expect(penalties.map { $0["waived"] as? Bool } == [true, false])
            #expect(penalties.map { $0["amount"] as? String } == ["0", "200"])
            #expect(penalties.map { $0["quantity"] as? String } == ["8", "0"])
            let goodsTotal = try oldAmount.adding(FixedDecimal(2460))
            let net = try goodsTotal.subtracting(FixedDecimal(200))
            #expect(st["net"] as? String == net.description)
            #expect(st["tax"] as? String == (try net.percent(FixedDecimal(13), roundedToScale: 2)).description)
            #expect(try await OutboxMessage.query(on: t.db).filter(\.$event == "statement.improvementNotice").count() == 1)
            // The exception shows which statement took it; its penalty can no longer change.
            let taken = try await s.m.get("/api/v1/exceptions/\(e2["id"] as? String ?? "")", purchaser)
            #expect((taken["statements"] as? [[String: Any]])?.first?["code"] as? String == st["code"] as? String)
            #expect(try await t.request(.PUT, "/api/v1/exceptions/\(e2["id"] as? String ?? "")/penalty", token: s.m.quality,
                                        json: #"{"version":\#(taken["version"] as? Int ?? 0),"kind":"none"}"#).status == .conflict)

            // A draft is the buyer's working paper: the supplier neither sees nor confirms it.
            _ = try await s.act(id, "confirm", supplier, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .notFound)
            #expect(try await t.request(.GET, "/api/v1/statements/\(id)", token: supplier).status == .notFound)
            #expect(try await s.m.items("/api/v1/statements", supplier).isEmpty)
            // A manual adjustment needs a reason and is exact to the fen.
            _ = try await s.act(id, "adjustments", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"amount":"-50","reason":" "}"#, .unprocessableEntity)
            _ = try await s.act(id, "adjustments", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"amount":"0.001","reason":"x"}"#, .unprocessableEntity)
            _ = try await s.act(id, "adjustments", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"amount":"99999999999","reason":"x"}"#, .unprocessableEntity)
            st = try await s.act(id, "adjustments", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"amount":"-50","reason":"包装费分摊"}"#)
            #expect(st["adjustments"] as? String == "-50")
            // Stale versions are refused and write nothing.
            _ = try await s.act(id, "send", purchaser, #"{"version":1}"#, .conflict)
            st = try await s.act(id, "send", purchaser, #"{"version":\#(st["version"] as? Int ?? 0)}"#)
            #expect(st["status"] as? String == "sent")

            // The supplier disputes one line, giving its own figure; a second supplier sees nothing.
            #expect(try await t.request(.GET, "/api/v1/statements/\(id)", token: s.f.supplier2).status == .notFound)
            #expect(try await s.m.items("/api/v1/statements", s.f.supplier2).isEmpty)
            let disputedLine = goods[1]["id"] as? String ?? ""
            let penaltyLine = penalties[1]["id"] as? String ?? ""
            _ = try await s.act(id, "dispute", supplier, #"{"version":\#(st["version"] as? Int ?? 0),"lines":[{"lineId":"\#(UUID())","comment":"?"}]}"#, .unprocessableEntity)
            _ = try await s.act(id, "dispute", supplier, #"{"version":\#(st["version"] as? Int ?? 0),"lines":[]}"#, .unprocessableEntity)
            st = try await s.act(id, "dispute", supplier, """
                {"version":\(st["version"] as? Int ?? 0),"lines":[{"lineId":"\(disputedLine)","comment":"实收51件","supplierFigure":"1530"},
                 {"lineId":"\(penaltyLine)","comment":"已整改，请免罚"}]}
                """)
            #expect(st["status"] as? String == "disputed")
            // A picture for the disputed line.
            let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 32))
            let attached = try await t.app.testing().sendRequest(.POST, "/api/v1/statements/\(id)/lines/\(disputedLine)/attachments?filename=count.png",
                                                                 headers: ["Authorization": "Bearer \(supplier)", "Content-Type": "image/png"],
                                                                 body: ByteBuffer(bytes: png))
            #expect(attached.status == .created, "\(attached.body.string)")
            // Another supplier reaches neither the lines, nor the file, nor the other views.
            let document = (try? attached.content.get(String.self, at: "id")) ?? ""
            #expect(try await t.request(.GET, "/api/v1/documents/\(document)", token: s.f.supplier2).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/documents/\(document)", token: purchaser).status == .ok)
            let foreign = try await t.app.testing().sendRequest(.POST, "/api/v1/statements/\(id)/lines/\(disputedLine)/attachments?filename=x.png",
                                                                headers: ["Authorization": "Bearer \(s.f.supplier2)", "Content-Type": "image/png"],
                                                                body: ByteBuffer(bytes: png))
            #expect(foreign.status == .notFound)
            for path in ["diff", "export?format=csv"] {
                #expect(try await t.request(.GET, "/api/v1/statements/\(id)/\(path)", token: s.f.supplier2).status == .notFound)
            }
            #expect(try await t.request(.POST, "/api/v1/statements/\(id)/lines/\(disputedLine)/answer", token: s.f.supplier2,
                                        json: #"{"version":1,"answer":"keep","reason":"x"}"#).status == .notFound)

            // Revising waits for every answer; the buyer accepts one figure and keeps the other with a reason.
            _ = try await s.act(id, "revise", purchaser, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .conflict)
            _ = try await s.act(id, "lines/\(penaltyLine)/answer", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"answer":"keep"}"#, .unprocessableEntity)
            st = try await s.act(id, "lines/\(disputedLine)/answer", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"answer":"accept"}"#)
            st = try await s.act(id, "lines/\(penaltyLine)/answer", purchaser, #"{"version":\#(st["version"] as? Int ?? 0),"answer":"keep","reason":"第二次同类问题"}"#)
            st = try await s.act(id, "revise", purchaser, #"{"version":\#(st["version"] as? Int ?? 0)}"#)
            #expect(st["status"] as? String == "revised" && st["revision"] as? Int == 2)
            let diff = try await s.m.get("/api/v1/statements/\(id)/diff?from=1&to=2", purchaser)
            #expect((diff["rows"] as? [[String: Any]])?.map { "\($0["change"]!) \($0["before"]!)→\($0["after"]!)" } == ["changed 1500→1530"])
            // Version 1 stays readable as it was.
            let v1 = try await s.m.get("/api/v1/statements/\(id)?revision=1", supplier)
            #expect((v1["lines"] as? [[String: Any]])?.first { $0["id"] as? String == disputedLine }?["amount"] as? String == "1500")
            st = try await s.act(id, "send", finance, #"{"version":\#(st["version"] as? Int ?? 0)}"#)
            st = try await s.act(id, "confirm", supplier, #"{"version":\#(st["version"] as? Int ?? 0)}"#)
            #expect(st["status"] as? String == "confirmed")
            // Only finance locks.
            _ = try await s.act(id, "lock", purchaser, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .forbidden)
            st = try await s.act(id, "lock", finance, #"{"version":\#(st["version"] as? Int ?? 0)}"#)
            #expect(st["status"] as? String == "locked")
            #expect((st["signatures"] as? [[String: Any]])?.map { $0["action"] as? String } == ["send", "confirm", "lock"])
            // Both sides heard of each step: sent twice (the second as a revision), disputed, confirmed, locked.
            let events = try await OutboxMessage.query(on: t.db).filter(\.$event ~~ ["statement.send", "statement.dispute", "statement.confirm", "statement.lock"])
                .all().map(\.event).sorted()
            #expect(events == ["statement.confirm", "statement.dispute", "statement.lock", "statement.send", "statement.send"])

            // Locked: every change is refused and nothing is written.
            let auditBefore = try await AuditEntry.query(on: t.db).count()
            let v = st["version"] as? Int ?? 0
            for (action, token, json) in [("send", finance, #"{"version":\#(v)}"#), ("confirm", supplier, #"{"version":\#(v)}"#),
                                          ("revise", finance, #"{"version":\#(v)}"#), ("lock", finance, #"{"version":\#(v)}"#),
                                          ("refresh", finance, #"{"version":\#(v)}"#),
                                          ("adjustments", finance, #"{"version":\#(v),"amount":"1","reason":"x"}"#),
                                          ("dispute", supplier, #"{"version":\#(v),"lines":[{"lineId":"\#(disputedLine)","comment":"x"}]}"#),
                                          ("lines/\(disputedLine)/answer", finance, #"{"version":\#(v),"answer":"accept"}"#)] {
                let r = try await t.request(.POST, "/api/v1/statements/\(id)/\(action)", token: token, json: json)
                #expect([.conflict, .unprocessableEntity].contains(r.status), "\(action): \(r.status) \(r.body.string)")
            }
            #expect(try await AuditEntry.query(on: t.db).count() == auditBefore)
            #expect(try await s.statement(id, finance)["gross"] as? String == st["gross"] as? String)

            // The ERP's cursor sees each change once, in order.
            let feed = try await s.m.get("/api/v1/statements/changes?after=0", finance)
            #expect((feed["items"] as? [[String: Any]])?.count == 1)
            let cursor = feed["cursor"] as? Int ?? 0
            #expect((try await s.m.get("/api/v1/statements/changes?after=\(cursor)", finance)["items"] as? [[String: Any]])?.isEmpty == true)
            #expect(try await t.request(.GET, "/api/v1/statements/changes?after=-1", token: finance).status == .badRequest)

            // Exports.
            let xlsx = try await t.request(.GET, "/api/v1/statements/\(id)/export?format=xlsx", token: supplier)
            #expect(xlsx.status == .ok && xlsx.headers.contentType?.subType.contains("spreadsheet") == true)
            let csv = try await t.request(.GET, "/api/v1/statements/\(id)/export?format=csv", token: finance)
            #expect(csv.status == .ok && csv.body.string.contains(st["code"] as? String ?? "-"))
            // Each penalty's note says which occurrence it is, in the reader's language.
            #expect(csv.body.string.contains("第 1 次") && csv.body.string.contains("第 2 次"), "\(csv.body.string)")

            // A correction after locking goes into the next period and points back at the locked line.
            t.clock.advance(by: 40 * 86_400)
            let finance2 = try await t.token("finance")
            let next = Self.period(t)
            let later = try await t.request(.POST, "/api/v1/statements", token: finance2, json: #"{"supplierId":"\#(jg)","period":"\#(next)"}"#)
            #expect(later.status == .created, "\(later.body.string)")
            let laterID = later.json["id"] as? String ?? ""
            let corrected = try await s.act(laterID, "adjustments", finance2, """
                {"version":\(later.json["version"] as? Int ?? 0),"amount":"-30","reason":"上期多计1件","refersToLineId":"\(disputedLine)"}
                """, .unprocessableEntity)
            _ = corrected   // the disputed line's revision-1 row is not the locked figure; the revision-2 one is
            let lockedLine = ((try await s.statement(id, finance2))["lines"] as? [[String: Any]])?.first { $0["sourceId"] as? String == goods[1]["sourceId"] as? String }
            let adjusted = try await s.act(laterID, "adjustments", finance2, """
                {"version":\(later.json["version"] as? Int ?? 0),"amount":"-30","reason":"上期多计1件","refersToLineId":"\(lockedLine?["id"] as? String ?? "")"}
                """)
            let adjustment = (adjusted["lines"] as? [[String: Any]])?.first { $0["kind"] as? String == "adjustment" }
            #expect(adjustment?["refersTo"] as? String == lockedLine?["id"] as? String && adjustment?["late"] as? Bool == true)
        }
    }

    @Test func aLateReceiptLandsInTheNextOpenStatementMarkedLate() async throws {
        try await TestApp.run { t in
            let s = S(m: try await MaterialFixture.make(t))
            let order = try await s.m.acknowledgedOrder()
            let jg = try await s.f.supplierID("SUP-JG")
            let first = Self.period(t)
            _ = try await s.receiveAccepted(order, lot: "A", "10")
            // Received in this period, inspected only after this period's statement was made.
            let late = try await s.m.post("/api/v1/receipts", s.m.warehouse, #"{"orderId":"\#(order)","lines":[{"line":1,"lot":"L","quantity":"5"}]}"#)
            let st1 = try await s.m.post("/api/v1/statements", s.m.finance, #"{"supplierId":"\#(jg)","period":"\#(first)"}"#)
            #expect((st1["lines"] as? [[String: Any]])?.filter { $0["kind"] as? String == "goods" }.count == 1)
            _ = try await s.m.post("/api/v1/receipts/\(late["id"] as? String ?? "")/lines/1/inspection", s.m.quality, #"{"version":1,"accepted":"5","rejected":"0"}"#)
            t.clock.advance(by: 35 * 86_400)
            // Sessions have ended by then.
            let finance = try await t.token("finance")
            let second = Self.period(t)
            #expect(second != first)
            let st2 = try await s.m.post("/api/v1/statements", finance, #"{"supplierId":"\#(jg)","period":"\#(second)"}"#)
            let goods = (st2["lines"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "goods" }
            #expect(goods.count == 1 && goods.first?["late"] as? Bool == true && goods.first?["originPeriod"] as? String == first)
            #expect(goods.first?["uom"] as? String == "件", "the quantity's unit")
            // A refreshed draft takes nothing another statement has.
            let refreshed = try await s.act(st1["id"] as? String ?? "", "refresh", finance, #"{"version":\#(st1["version"] as? Int ?? 0)}"#)
            #expect((refreshed["lines"] as? [[String: Any]])?.filter { $0["kind"] as? String == "goods" }.count == 1)
            #expect(try await Self.marksOffTheClaims(t) == 0)
            // A period that has not begun cannot be stated; a malformed one is a field error.
            let future = SettlementPeriod(second)!.next.next.description
            _ = try await s.m.post("/api/v1/statements", finance, #"{"supplierId":"\#(jg)","period":"\#(future)"}"#, .unprocessableEntity)
            _ = try await s.m.post("/api/v1/statements", finance, #"{"supplierId":"\#(jg)","period":"2026-13"}"#, .unprocessableEntity)
            _ = try await s.m.post("/api/v1/statements", finance, #"{"supplierId":"\#(UUID())","period":"\#(first)"}"#, .unprocessableEntity)
        }
    }

    /// A cut-off on the 25th; a receipt three days late against an agreement with a late-delivery
    /// penalty (capped), and a write-off variance valued at the item's cost price — both set over the API.
    @Test func lateDeliveryAndWriteOffDeductionsWithACutOffDay() async throws {
        try await TestApp.run(adjust: { $0.statementCalendar = SettlementCalendar(cutOffDay: 25)! }) { t in
            let s = S(m: try await MaterialFixture.make(t))
            let order = try await s.m.acknowledgedOrder()
            let jg = try await s.f.supplierID("SUP-JG")
            let item = try await Item.query(on: t.db).filter(\.$code == "SF-MH-001").first()!
            // Terms: 50 a day late, at most 120; the material costs 12.5.
            // The order's line 1 is the CNC-R operation of SF-MH-001: its agreement, not another operation's.
            let agreement = try await PriceAgreementRow.query(on: t.db).filter(\.$supplier.$id == jg).filter(\.$item.$id == item.id!)
                .filter(\.$operation == "CNC-R").sort(\.$validFrom, .descending).first()!   // the one in force from July
            let terms = try await t.request(.PATCH, "/api/v1/price-agreements/\(agreement.id!)", token: s.f.purchaser,
                                            json: #"{"version":\#(agreement.version),"latePenaltyPerDay":"50","latePenaltyCap":"120"}"#)
            #expect(terms.status == .ok && terms.json["latePenaltyCap"] as? String == "120", "\(terms.body.string)")
            #expect(try await t.request(.PATCH, "/api/v1/price-agreements/\(agreement.id!)", token: s.f.purchaser,
                                        json: #"{"version":\#(agreement.version + 1),"latePenaltyPerDay":"-5"}"#).status == .unprocessableEntity)
            let admin = try await t.token("admin")
            let priced = try await t.request(.PATCH, "/api/v1/items/\(item.id!)", token: admin, json: #"{"version":\#(item.version),"costPrice":"12.5"}"#)
            #expect(priced.status == .ok && priced.json["costPrice"] as? String == "12.5", "\(priced.body.string)")

            // 100 issued and confirmed; the supplier counts 90: 10 beyond the 1 % tolerance.
            let doc = try await s.m.post("/api/v1/material/issues", s.m.warehouse, #"{"orderId":"\#(order)","lines":[{"line":1,"componentCode":"SF-MH-001","lot":"K1","quantity":"100"}]}"#)
            _ = try await s.m.post("/api/v1/material/documents/\(doc["id"] as? String ?? "")/confirm", s.f.supplier1, #"{"version":1,"lines":[{"no":1,"quantity":"100"}]}"#, .ok)
            _ = try await s.m.post("/api/v1/stock-counts", s.f.supplier1, #"{"period":"\#(Self.period(t))","lines":[{"itemId":"\#(item.id!)","lot":"K1","counted":"99999999999"}]}"#, .unprocessableEntity)
            _ = try await s.m.post("/api/v1/stock-counts", s.f.supplier1, #"{"period":"\#(Self.period(t))","lines":[{"itemId":"\#(item.id!)","lot":"K1","counted":"90"}]}"#)
            let month = String(DemoData.daysFromNow(0, t.clock.now()).description.prefix(7))
            let proposals = try await s.m.post("/api/v1/write-off/proposals", s.m.finance, #"{"period":"\#(month)","supplierId":"\#(jg)"}"#, .ok)
            _ = proposals
            let proposal = try await DeductionProposal.query(on: t.db).filter(\.$supplierID == jg).first()
            #expect(proposal != nil)
            let variance = FixedDecimal(units: proposal?.quantity ?? 0)

            // Received on 23 October against a due date of 20 October: three days late.
            t.clock.advance(by: 32 * 86_400)
            let receivedOn = DemoData.daysFromNow(0, t.clock.now())
            #expect(receivedOn.description == "2026-10-23")
            // (Sessions have ended by then: fresh tokens.)
            let warehouse = try await t.token("warehouse"), quality = try await t.token("quality")
            let receipt = try await s.m.post("/api/v1/receipts", warehouse, #"{"orderId":"\#(order)","lines":[{"line":1,"lot":"A","quantity":"100"}]}"#)
            _ = try await s.m.post("/api/v1/receipts/\(receipt["id"] as? String ?? "")/lines/1/inspection", quality, #"{"version":1,"accepted":"100","rejected":"0"}"#)
            let st = try await s.m.post("/api/v1/statements", try await t.token("finance"), #"{"supplierId":"\#(jg)","period":"2026-10"}"#)
            #expect(st["from"] as? String == "2026-09-26" && st["to"] as? String == "2026-10-25")
            let lines = st["lines"] as? [[String: Any]] ?? []
            let late = lines.first { $0["sourceType"] as? String == "late_delivery" }
            #expect(late?["quantity"] as? String == "3" && late?["amount"] as? String == "120", "\(lines.map { "\($0["sourceType"]!) \($0["reference"]!) \($0["amount"]!)" })")
            let writeOff = lines.first { $0["sourceType"] as? String == "write_off" }
            #expect(writeOff?["unitPrice"] as? String == "12.5")
            #expect(writeOff?["amount"] as? String == (try variance.multiplied(by: FixedDecimal.parse("12.5"), roundedToScale: 2)).description)
            #expect(variance > FixedDecimal(8))
        }
    }

    @Test func monthEndCountCorrectsTheLedgerAndTheWriteOff() async throws {
        try await TestApp.run { t in
            let s = S(m: try await MaterialFixture.make(t))
            let order = try await s.m.acknowledgedOrder()
            let jg = try await s.f.supplierID("SUP-JG")
            let period = Self.period(t)
            // Issue 100 of the blank to the supplier, which confirms it.
            let doc = try await s.m.post("/api/v1/material/issues", s.m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":1,"componentCode":"SF-MH-001","lot":"K1","quantity":"100"}]}
                """)
            _ = try await s.m.post("/api/v1/material/documents/\(doc["id"] as? String ?? "")/confirm", s.f.supplier1,
                                   #"{"version":1,"lines":[{"no":1,"quantity":"100"}]}"#, .ok)
            func variance() async throws -> String {
                let w = try await s.m.get("/api/v1/write-off?period=\(period)&supplierId=\(jg)", s.m.finance)
                return (w["rows"] as? [[String: Any]])?.first { $0["itemCode"] as? String == "SF-MH-001" }?["variance"] as? String ?? "?"
            }
            let before = try await variance()
            // The buyer sees who has not counted.
            let list = try await t.request(.GET, "/api/v1/stock-counts?period=\(period)", token: s.m.warehouse)
            #expect(String(decoding: list.body.readableBytesView, as: UTF8.self).contains(#""status":"missing""#))
            // The sheet is prefilled from the ledger; the supplier counts 96 instead of 100.
            let sheet = try await s.m.get("/api/v1/stock-counts/sheet?period=\(period)", s.f.supplier1)
            let line = (sheet["lines"] as? [[String: Any]])?.first { $0["lot"] as? String == "K1" }
            #expect(line?["ledger"] as? String == "100")
            let item = line?["itemId"] as? String ?? ""
            _ = try await s.m.post("/api/v1/stock-counts", s.f.supplier1, #"{"period":"\#(period)","lines":[{"itemId":"\#(item)","lot":"K1","counted":"-1"}]}"#, .unprocessableEntity)
            _ = try await s.m.post("/api/v1/stock-counts", s.m.warehouse, #"{"period":"\#(period)","lines":[]}"#, .forbidden)
            let counted = try await s.m.post("/api/v1/stock-counts", s.f.supplier1, #"{"period":"\#(period)","lines":[{"itemId":"\#(item)","lot":"K1","counted":"96"}]}"#)
            #expect(counted["status"] as? String == "counted")
            #expect(try await s.m.stock(s.f.supplier1, item: "SF-MH-001", lot: "K1").held == "96")
            // The write-off now measures the count: 4 more unexplained.
            #expect(try await variance() == (try FixedDecimal.parse(before).adding(FixedDecimal(4))).description)
            // Counted once; the other supplier's count is closed by the buyer with a reason.
            _ = try await s.m.post("/api/v1/stock-counts", s.f.supplier1, #"{"period":"\#(period)","lines":[]}"#, .conflict)
            let bm = try await s.f.supplierID("SUP-BM")
            _ = try await s.m.post("/api/v1/stock-counts/close", s.m.warehouse, #"{"supplierId":"\#(bm)","period":"\#(period)","reason":" "}"#, .unprocessableEntity)
            let closed = try await s.m.post("/api/v1/stock-counts/close", s.m.warehouse, #"{"supplierId":"\#(bm)","period":"\#(period)","reason":"供应商停产，无在库"}"#)
            #expect(closed["status"] as? String == "closed")
            _ = try await s.m.post("/api/v1/stock-counts/close", s.f.supplier1, #"{"supplierId":"\#(bm)","period":"\#(period)","reason":"x"}"#, .forbidden)
        }
    }
}

/// Point 4 of settlement, over HTTP: a year of random receipts (some inspected only after their
/// month's statement was locked), penalties and post-lock corrections; every month's statement is
/// generated, sent, confirmed and locked. Over all locked statements the goods, deductions and
/// adjustments equal the sums of their sources, and no source is on two statements.
@Suite struct SettlementSweepTests {
    /// The list's pages, put together, are every statement the caller may see in the list's
    /// order (newest period first, then code), unfiltered and filtered, the buyer's and a
    /// supplier's; a page past the end is empty with the total.
    @Test func statementPagesTogetherAreTheWholeListInOrder() async throws {
        try await TestApp.run(scenario: true, adjust: { $0.demoHistory = true }) { t in
            struct S: Decodable { let id: UUID; let period: String; let code: String }
            let jg = try await t.organization(code: "SUP-JG").id!
            for (login, query, condition) in [("finance", "", "1 = 1"), ("finance", "status=locked&", "status = 'locked'"),
                                              ("finance", "supplierId=\(jg)&", "supplier_id = '\(UUIDText.text(jg))'"),
                                              ("supplier1", "", "supplier_id = '\(UUIDText.text(jg))' AND status <> 'draft'")] {
                var want = try await t.sql.raw("SELECT id, period, code FROM statements WHERE \(unsafeRaw: condition)").all(decoding: S.self)
                want.sort { ($1.period, $0.code) < ($0.period, $1.code) }
                #expect(want.count > 7, "\(login) \(query)")
                let token = try await t.token(login)
                var seen: [UUID] = []
                for page in 1... {
                    let r = try await t.request(.GET, "/api/v1/statements?\(query)per=7&page=\(page)", token: token).json
                    #expect(r["total"] as? Int == want.count, "\(login) \(query)")
                    let ids = (r["items"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? String).flatMap(UUID.init(uuidString:)) }
                    if ids.isEmpty { break }
                    seen += ids
                }
                #expect(seen == want.map(\.id), "\(login) \(query)")
            }
        }
    }

    /// A statement's lines go out in batches; the answer is the same document as the statement
    /// built whole, for every statement of the demo, current and earlier revisions, whatever
    /// the batch size (here 2 lines, so most statements cross several batches).
    @Test func streamedStatementsEqualTheWholeStatement() async throws {
        try await TestApp.run(scenario: true, adjust: { $0.streamedBatch = 2 }) { t in
            let finance = try await t.token("finance")
            let principal = try await t.principal("finance")
            let list = try await t.request(.GET, "/api/v1/statements?per=200", token: finance).json["items"] as? [[String: Any]] ?? []
            var crossed = 0
            for summary in list {
                let id = try #require((summary["id"] as? String).flatMap(UUID.init(uuidString:)))
                let current = try await StatementService.detail(principal, id, revision: nil, app: t.app)
                for revision in 1...current.currentRevision {
                    let whole = try await StatementService.detail(principal, id, revision: revision, app: t.app)
                    let expected = try JSONSerialization.jsonObject(with: JSONEncoder.custom(dates: .iso8601).encode(whole)) as! NSDictionary
                    let r = try await t.request(.GET, "/api/v1/statements/\(id)?revision=\(revision)", token: finance)
                    #expect(r.status == .ok)
                    #expect(r.headers.contentType == .json)
                    let streamed = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as! NSDictionary
                    #expect(streamed == expected, "\(whole.code) r\(revision)")
                    if whole.lines.count > 2 { crossed += 1 }
                }
            }
            #expect(crossed > 0)
            // An action answers with the same streamed statement, and a retry with the same key
            // gets that whole answer again without a second adjustment.
            let draft = try #require(list.first { $0["status"] as? String == "draft" })
            let draftID = try #require((draft["id"] as? String).flatMap(UUID.init(uuidString:)))
            let purchaser = try await t.token("purchaser")
            // One adjustment without a key first, so the answer below crosses a batch.
            let start = try await t.request(.GET, "/api/v1/statements/\(draftID)", token: finance).json["version"] as? Int ?? 0
            let first = try await t.request(.POST, "/api/v1/statements/\(draftID)/adjustments", token: purchaser,
                                            json: #"{"version":\#(start),"amount":"30","reason":"运费补贴"}"#)
            let version = first.json["version"] as? Int ?? 0
            var answers: [NSDictionary] = []
            for _ in 0..<2 {
                let r = try await t.request(.POST, "/api/v1/statements/\(draftID)/adjustments", token: purchaser,
                                            json: #"{"version":\#(version),"amount":"-12.5","reason":"包装费分摊"}"#, headers: [("Idempotency-Key", "adj-stream-1")])
                #expect(r.status == .ok, "\(r.body.string)")
                answers.append(try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as! NSDictionary)
            }
            let after = try await StatementService.detail(principal, draftID, revision: nil, app: t.app)
            #expect(after.lines.count > 2 && after.lines.filter { $0.sourceType == "manual" }.count == 2)
            let expected = try JSONSerialization.jsonObject(with: JSONEncoder.custom(dates: .iso8601).encode(after)) as! NSDictionary
            #expect(answers[0] == expected && answers[1] == expected)
            // Unknown statements and revisions are still problems, not a stream.
            #expect(try await t.request(.GET, "/api/v1/statements/\(UUID())", token: finance).status == .notFound)
            if let first = list.first?["id"] as? String {
                #expect(try await t.request(.GET, "/api/v1/statements/\(first)?revision=99", token: finance).status == .notFound)
            }
        }
    }

    @Test func aYearOfRandomSourcesSettlesEachOnceAndExactly() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let f = m.f
            let order = try await f.releasedOrder(lines: #"[{"itemCode":"SF-MH-001","operation":"CNC-R","quantity":"100000","dueDate":"2027-12-20"},{"itemCode":"FG-RD-002","quantity":"100000","dueDate":"2027-12-25"}]"#)
            let ack = try await t.request(.POST, "/api/v1/orders/\(order)/answers", token: f.supplier1,
                                          json: #"{"revision":1,"lines":[{"line":1,"answer":"accept"},{"line":2,"answer":"accept"}]}"#)
            #expect(ack.status == .ok)
            let prices = Dictionary(uniqueKeysWithValues: (try await f.order(order)["lines"] as? [[String: Any]] ?? []).map {
                ($0["number"] as? Int ?? 0, try! FixedDecimal.parse($0["unitPrice"] as? String ?? "0"))
            })
            let jg = try await f.supplierID("SUP-JG")
            var rng = Xoshiro(seed: (2026, 12, 1, 15))
            var expectedGoods = FixedDecimal.zero, expectedDeductions = FixedDecimal.zero, expectedAdjustments = FixedDecimal.zero
            var lockedLines: [String] = []      // goods lines of locked statements, to correct later
            var acceptedLines = 0

            func tokens() async throws -> (warehouse: String, quality: String, finance: String, supplier: String) {
                (try await t.token("warehouse"), try await t.token("quality"), try await t.token("finance"), try await t.token("supplier1"))
            }
            func inspect(_ receipt: String, quantity: FixedDecimal, line: Int, _ quality: String) async throws {
                // All accepted: rejections would switch the item to tightened and then suspended inspection.
                let rejected = FixedDecimal.zero, accepted = quantity
                let r = try await t.request(.POST, "/api/v1/receipts/\(receipt)/lines/1/inspection", token: quality,
                                            json: #"{"version":1,"accepted":"\#(accepted)","rejected":"\#(rejected)"}"#)
                #expect(r.status == .created, "\(r.body.string)")
                expectedGoods = try expectedGoods.adding(try StatementAmounts.fen(accepted, times: prices[line]!))
                acceptedLines += 1
            }

            var pending: [(receipt: String, quantity: FixedDecimal, line: Int)] = []
            for month in 0..<12 {
                let tk = try await tokens()
                // Receipts of this month; one in four waits for inspection until after the statement.
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let line = Int.random(in: 1...2, using: &rng)
                    let quantity = FixedDecimal(Int.random(in: 5...40, using: &rng))
                    let r = try await t.request(.POST, "/api/v1/receipts", token: tk.warehouse,
                                                json: #"{"orderId":"\#(order)","lines":[{"line":\#(line),"lot":"M\#(month)","quantity":"\#(quantity)"}]}"#)
                    #expect(r.status == .created, "\(r.body.string)")
                    let id = r.json["id"] as? String ?? ""
                    if Int.random(in: 0...3, using: &rng) == 0 { pending.append((id, quantity, line)) } else { try await inspect(id, quantity: quantity, line: line, tk.quality) }
                }
                // A penalty now and then (not graded: type "other").
                if Int.random(in: 0...1, using: &rng) == 0 {
                    let e = try await m.post("/api/v1/exceptions", tk.quality, #"{"type":"other","severity":"minor","supplierId":"\#(jg)","title":"包装不符"}"#)
                    let amount = FixedDecimal(units: Int64.random(in: 1...50_000, using: &rng) * 100)
                    let r = try await t.request(.PUT, "/api/v1/exceptions/\(e["id"] as? String ?? "")/penalty", token: tk.quality,
                                                json: #"{"version":\#(e["version"] as? Int ?? 0),"kind":"fixed","value":"\#(amount)"}"#)
                    #expect(r.status == .ok, "\(r.body.string)")
                    expectedDeductions = try expectedDeductions.adding(amount)
                }
                // The month's statement: a correction of an earlier locked line now and then, then the whole lifecycle.
                let period = SettlementFlowTests.period(t)
                var st = try await m.post("/api/v1/statements", tk.finance, #"{"supplierId":"\#(jg)","period":"\#(period)"}"#)
                if let target = lockedLines.randomElement(using: &rng), Int.random(in: 0...2, using: &rng) == 0 {
                    let amount = FixedDecimal(units: Int64.random(in: -20_000...20_000, using: &rng) * 100)
                    if amount != .zero {
                        st = try await m.post("/api/v1/statements/\(st["id"] as? String ?? "")/adjustments", tk.finance,
                                              #"{"version":\#(st["version"] as? Int ?? 0),"amount":"\#(amount)","reason":"更正","refersToLineId":"\#(target)"}"#, .ok)
                        expectedAdjustments = try expectedAdjustments.adding(amount)
                    }
                }
                let id = st["id"] as? String ?? ""
                st = try await m.post("/api/v1/statements/\(id)/send", tk.finance, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .ok)
                st = try await m.post("/api/v1/statements/\(id)/confirm", tk.supplier, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .ok)
                st = try await m.post("/api/v1/statements/\(id)/lock", tk.finance, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .ok)
                lockedLines += (st["lines"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "goods" }.compactMap { $0["id"] as? String }
                // What waited is inspected after the lock: it belongs to the next statement, marked late.
                for p in pending { try await inspect(p.receipt, quantity: p.quantity, line: p.line, tk.quality) }
                pending = []
                t.clock.advance(by: 31 * 86_400)
            }
            // The last lates go into one more statement.
            let tk = try await tokens()
            let last = try await m.post("/api/v1/statements", tk.finance, #"{"supplierId":"\#(jg)","period":"\#(SettlementFlowTests.period(t))"}"#)
            var st = try await m.post("/api/v1/statements/\(last["id"] as? String ?? "")/send", tk.finance, #"{"version":\#(last["version"] as? Int ?? 0)}"#, .ok)
            st = try await m.post("/api/v1/statements/\(last["id"] as? String ?? "")/confirm", tk.supplier, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .ok)
            _ = try await m.post("/api/v1/statements/\(last["id"] as? String ?? "")/lock", tk.finance, #"{"version":\#(st["version"] as? Int ?? 0)}"#, .ok)

            let all = try await Statement.query(on: t.db).filter(\.$supplierID == jg).all()
            #expect(all.count == 13 && all.allSatisfy { $0.status == "locked" })
            func sum(_ k: KeyPath<Statement, Int64>) throws -> FixedDecimal {
                try all.reduce(FixedDecimal.zero) { try $0.adding(FixedDecimal(units: $1[keyPath: k])) }
            }
            #expect(try sum(\.goods) == expectedGoods)
            #expect(try sum(\.deductions) == expectedDeductions)
            #expect(try sum(\.adjustments) == expectedAdjustments)
            #expect(try await StatementClaim.query(on: t.db).filter(\.$sourceType == "receipt_line").count() == acceptedLines)
            let late = try await StatementLine.query(on: t.db).filter(\.$late == true).filter(\.$kind == "goods").count()
            #expect(late > 0, "some receipts were settled late")
            #expect(try await SettlementFlowTests.marksOffTheClaims(t) == 0)
        }
    }
}
