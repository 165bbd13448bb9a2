import Foundation
import SQLKit
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting
import NIOCore
import PostgresNIO

/// Material issue, confirmation, returns, transfers, deliveries, receipts and write-off over
/// HTTP, on whichever database the run uses.
struct MaterialFixture {
    let f: OrderFixture
    let warehouse: String
    let quality: String
    let finance: String
    var t: TestApp { f.t }

    static func make(_ t: TestApp) async throws -> MaterialFixture {
        let f = try await OrderFixture.make(t)
        return MaterialFixture(f: f, warehouse: try await t.token("warehouse"), quality: try await t.token("quality"), finance: try await t.token("finance"))
    }

    /// An order to SUP-JG (line 1: 1000 SF-MH-001 needing SF-MH-001C ×1 +2 %; line 2: 50
    /// FG-RD-002 needing SF-RD-002 ×1 and RM-PAD-65 ×2 +1.5 %), acknowledged by the supplier.
    func acknowledgedOrder(lines: String? = nil) async throws -> String {
        let id = try await f.releasedOrder(lines: lines)
        let ack = try await t.request(.POST, "/api/v1/orders/\(id)/answers", token: f.supplier1,
                                      json: #"{"revision":1,"lines":[{"line":1,"answer":"accept"},{"line":2,"answer":"accept"}]}"#)
        #expect(ack.status == .ok, "\(ack.body.string)")
        return id
    }

    func post(_ path: String, _ token: String, _ json: String, _ status: HTTPStatus = .created,
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let r = try await t.request(.POST, path, token: token, json: json)
        #expect(r.status == status, "\(path): \(r.body.string)", sourceLocation: sourceLocation)
        return r.json
    }

    func get(_ path: String, _ token: String) async throws -> [String: Any] {
        try await t.request(.GET, path, token: token).json
    }

    func items(_ path: String, _ token: String) async throws -> [[String: Any]] {
        try await get(path, token)["items"] as? [[String: Any]] ?? []
    }

    /// Held and in transit of one supplier × item × lot, as the stock list shows them.
    func stock(_ token: String, supplier: String? = nil, item: String, lot: String) async throws -> (inTransit: String, held: String) {
        var path = "/api/v1/material/stock?itemCode=\(item)&lot=\(lot)"
        if let supplier { path += "&supplierId=\(try await f.supplierID(supplier))" }
        let rows = try await items(path, token)
        guard let row = rows.first else { return ("0", "0") }
        return (row["inTransit"] as? String ?? "", row["held"] as? String ?? "")
    }

    func requirement(_ order: String, line: Int, _ component: String) async throws -> [String: Any] {
        let m = try await get("/api/v1/orders/\(order)/material", warehouse)
        return (m["requirements"] as? [[String: Any]] ?? []).first { $0["line"] as? Int == line && $0["componentCode"] as? String == component } ?? [:]
    }
}

@Suite struct MaterialFlowTests {
    /// Consumption reads only the lots the supplier holds and the last lot it ever had of the
    /// material; what goes beyond its stock is still booked on that last lot by name, though it
    /// is exhausted (and so no longer among the lots held).
    @Test func consumptionBeyondStockGoesToTheLastLotEvenWhenExhausted() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let f = m.f
            // 1000 FG-RD-002, each needing 2 RM-PAD-65 (+ 1.5 % allowed, not consumed).
            let order = try await m.acknowledgedOrder(lines: #"[{"itemCode":"FG-RD-002","quantity":"1000","dueDate":"2026-10-20"},{"itemCode":"FG-RD-002","quantity":"50","dueDate":"2026-10-25"}]"#)
            func issue(_ lot: String, _ quantity: String) async throws {
                let doc = try await m.post("/api/v1/material/issues", m.warehouse, """
                    {"orderId":"\(order)","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"\(lot)","quantity":"\(quantity)"}]}
                    """)
                _ = try await m.post("/api/v1/material/documents/\(doc["id"] as? String ?? "")/confirm", f.supplier1,
                                     #"{"version":1,"lines":[{"no":1,"quantity":"\#(quantity)"}]}"#, .ok)
            }
            func accept(_ quantity: String, lot: String) async throws {
                let note = try await m.post("/api/v1/deliveries", f.supplier1, """
                    {"orderId":"\(order)","shipDate":"2026-09-22","lines":[{"line":1,"quantity":"\(quantity)","lot":"\(lot)"}]}
                    """)
                let r = try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(note["id"] as? String ?? "")","lines":[{"deliveryLine":1,"quantity":"\#(quantity)"}]}"#)
                _ = try await m.post("/api/v1/receipts/\(r["id"] as? String ?? "")/lines/1/inspection", m.quality,
                                     #"{"version":1,"accepted":"\#(quantity)","rejected":"0"}"#)
            }
            // Lot Z is used up first, then lot A comes (before Z by name) with less than the next receipt needs.
            try await issue("PAD-Z", "100")
            try await accept("50", lot: "P-1")
            #expect(try await m.stock(f.supplier1, item: "RM-PAD-65", lot: "PAD-Z") == ("0", "0"))
            try await issue("PAD-A", "60")
            try await accept("50", lot: "P-2")
            // 100 consumed: the 60 of lot A, and the 40 beyond the stock on lot Z, the last by name.
            #expect(try await m.stock(f.supplier1, item: "RM-PAD-65", lot: "PAD-A") == ("0", "0"))
            #expect(try await m.stock(f.supplier1, item: "RM-PAD-65", lot: "PAD-Z") == ("0", "-40"))
            let trace = try await m.get("/api/v1/material/trace?item=FG-RD-002&lot=P-2", m.quality)
            let used = ((trace["received"] as? [[String: Any]])?.first?["consumedComponents"] as? [[String: Any]] ?? [])
                .filter { $0["itemCode"] as? String == "RM-PAD-65" }.map { "\($0["lot"] as? String ?? "") \($0["quantity"] as? String ?? "")" }
            #expect(used.sorted() == ["PAD-A 60", "PAD-Z 40"])
        }
    }

    /// The case that broke Odoo: several partial deliveries and receipts of one line, each
    /// consuming exactly its share, with the write-off exact at the end.
    @Test func partialReceiptsAcrossSeveralDeliveriesStayExact() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let f = m.f
            // Line 1: 1000 FG-RD-002, each needing 2 RM-PAD-65 + 1.5 % (2030 in all).
            let order = try await m.acknowledgedOrder(lines: #"[{"itemCode":"FG-RD-002","quantity":"1000","dueDate":"2026-10-20"},{"itemCode":"FG-RD-002","quantity":"50","dueDate":"2026-10-25"}]"#)
            let issue1 = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"PAD-A","quantity":"1200"}]}
                """)
            #expect(issue1["kind"] as? String == "issue")
            #expect(issue1["status"] as? String == "done")
            #expect(issue1["awaitingConfirmation"] as? Bool == true)
            let issue2 = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"PAD-B","quantity":"830"}]}
                """)
            // Beyond the requirement without a reason: refused, naming what remains.
            let over = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"PAD-B","quantity":"10"}]}
                """, .unprocessableEntity)
            #expect("\(over)".contains("supplementaryNeedsReason"))
            // With a reason it waits for the purchaser; nothing moves until then.
            let extra = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","reason":"首件调机报废","lines":[{"line":1,"componentCode":"RM-PAD-65","lot":"PAD-B","quantity":"10"}]}
                """)
            #expect(extra["kind"] as? String == "supplementary")
            #expect(extra["status"] as? String == "pending_approval")
            #expect(try await m.stock(m.warehouse, item: "RM-PAD-65", lot: "PAD-B") == ("830", "0"))
            let extraID = extra["id"] as? String ?? ""
            _ = try await m.post("/api/v1/material/documents/\(extraID)/approve", m.warehouse, #"{"version":1}"#, .forbidden)
            let approved = try await m.post("/api/v1/material/documents/\(extraID)/approve", f.purchaser, #"{"version":1,"note":"同意"}"#, .ok)
            #expect(approved["status"] as? String == "done")
            #expect(try await m.stock(m.warehouse, item: "RM-PAD-65", lot: "PAD-B") == ("840", "0"))
            _ = try await m.post("/api/v1/material/documents/\(extraID)/approve", f.purchaser, #"{"version":2}"#, .conflict)

            // The document list says which issues wait for the supplier's confirmation.
            let orderCode = try await f.order(order)["code"] as? String ?? ""
            func documents() async throws -> [String] {
                try await m.items("/api/v1/material/documents?orderId=\(order)", f.supplier1).map {
                    "\($0["kind"] as? String ?? "") \($0["awaitingConfirmation"] as? Bool ?? false) \($0["orderCode"] as? String ?? "") \($0["supplierCode"] as? String ?? "")"
                }
            }
            #expect(try await documents().sorted() == ["issue true \(orderCode) SUP-JG", "issue true \(orderCode) SUP-JG", "supplementary true \(orderCode) SUP-JG"])
            #expect(try await m.items("/api/v1/material/documents", f.supplier2).isEmpty)

            // The supplier confirms: all of the first lot, 810 of 830 of the second (a
            // discrepancy is raised), and the supplementary 10.
            _ = try await m.post("/api/v1/material/documents/\(issue1["id"] as? String ?? "")/confirm", f.supplier1,
                                 #"{"version":1,"lines":[{"no":1,"quantity":"1201"}]}"#, .unprocessableEntity)
            _ = try await m.post("/api/v1/material/documents/\(issue1["id"] as? String ?? "")/confirm", f.supplier1,
                                 #"{"version":1,"lines":[{"no":1,"quantity":"1200"}]}"#, .ok)
            let short = try await m.post("/api/v1/material/documents/\(issue2["id"] as? String ?? "")/confirm", f.supplier1,
                                         #"{"version":1,"lines":[{"no":1,"quantity":"810"}],"note":"外箱破损,少 20 片"}"#, .ok)
            let exceptions = short["exceptions"] as? [[String: Any]] ?? []
            #expect(exceptions.count == 1)
            #expect(exceptions.first?["type"] as? String == "material_discrepancy")
            _ = try await m.post("/api/v1/material/documents/\(extraID)/confirm", f.supplier1, #"{"version":2,"lines":[{"no":1,"quantity":"10"}]}"#, .ok)
            #expect(try await m.stock(f.supplier1, item: "RM-PAD-65", lot: "PAD-A") == ("0", "1200"))
            #expect(try await m.stock(f.supplier1, item: "RM-PAD-65", lot: "PAD-B") == ("20", "820"))

            // Two delivery notes for line 1; the first received in two parts.
            let note1 = try await m.post("/api/v1/deliveries", f.supplier1, """
                {"orderId":"\(order)","shipDate":"2026-09-22","lines":[{"line":1,"quantity":"300","lot":"P-01"}]}
                """)
            let note2 = try await m.post("/api/v1/deliveries", f.supplier1, """
                {"orderId":"\(order)","shipDate":"2026-09-23","lines":[{"line":1,"quantity":"500","lot":"P-02"}]}
                """)
            let n1 = note1["id"] as? String ?? "", n2 = note2["id"] as? String ?? ""
            let r1 = try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(n1)","lines":[{"deliveryLine":1,"quantity":"200"}]}"#)
            #expect(try await m.get("/api/v1/deliveries/\(n1)", m.warehouse)["status"] as? String == "partially_received")
            #expect(try await documents().allSatisfy { $0.contains(" false ") })
            // The lists say what the documents say: a note's quantity and what is still to
            // receive (ship date first), a receipt's lines and those awaiting inspection.
            let notes = try await m.items("/api/v1/deliveries?orderId=\(order)", m.warehouse).map {
                "\($0["id"] as? String == n1 ? "n1" : "n2") \($0["quantity"] as? String ?? "") \($0["remaining"] as? String ?? "") \($0["orderCode"] as? String ?? "")"
            }
            #expect(notes == ["n1 300 100 \(orderCode)", "n2 500 500 \(orderCode)"])
            #expect(try await m.items("/api/v1/deliveries?open=true", f.supplier2).isEmpty)
            let receipts = try await m.items("/api/v1/receipts?orderId=\(order)", m.warehouse).map {
                "\($0["lines"] as? Int ?? -1)/\($0["awaiting"] as? Int ?? -1) \($0["orderCode"] as? String ?? "") \($0["supplierCode"] as? String ?? "")"
            }
            #expect(receipts == ["1/1 \(orderCode) SUP-JG"])
            #expect(try await m.items("/api/v1/receipts?awaiting=true", m.warehouse).map { $0["id"] as? String } == [r1["id"] as? String])
            // More than the note still has is refused.
            _ = try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(n1)","lines":[{"deliveryLine":1,"quantity":"101"}]}"#, .unprocessableEntity)
            let r2 = try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(n1)","lines":[{"deliveryLine":1,"quantity":"100"}]}"#)
            #expect(try await m.get("/api/v1/deliveries/\(n1)", m.warehouse)["status"] as? String == "received")
            let r3 = try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(n2)","lines":[{"deliveryLine":1,"quantity":"500"}]}"#)
            // Received is not delivered: nothing counts until the outcome is recorded.
            #expect(try await f.order(order)["status"] as? String == "acknowledged")
            func decide(_ r: [String: Any], _ accepted: String, _ rejected: String, _ status: HTTPStatus = .created) async throws {
                _ = try await m.post("/api/v1/receipts/\(r["id"] as? String ?? "")/lines/1/inspection", m.quality,
                                     #"{"version":1,"accepted":"\#(accepted)","rejected":"\#(rejected)"}"#, status)
            }
            try await decide(r1, "150", "40", .unprocessableEntity)   // does not add up to 200
            try await decide(r1, "200", "0")
            #expect(try await f.order(order)["status"] as? String == "partially_delivered")
            try await decide(r1, "200", "0", .conflict)              // stale version
            try await decide(r2, "90", "10")
            try await decide(r3, "500", "0")

            // Consumption = accepted × 2 = 400 + 180 + 1000; allowance 1.5 % per receipt line
            // = 6 + 2.7 + 15.
            let req = try await m.requirement(order, line: 1, "RM-PAD-65")
            #expect(req["issued"] as? String == "2040")
            #expect(req["confirmed"] as? String == "2020")
            #expect(req["consumed"] as? String == "1580")
            #expect(req["allowedLoss"] as? String == "23.7")
            #expect(req["held"] as? String == "460")
            #expect(req["variance"] as? String == "-23.7")
            // The oldest lot is used first: 400 + 180 + 620 of lot A, then 380 of lot B.
            #expect(try await m.stock(m.warehouse, item: "RM-PAD-65", lot: "PAD-A") == ("0", "0"))
            #expect(try await m.stock(m.warehouse, item: "RM-PAD-65", lot: "PAD-B") == ("20", "440"))
            let trace = try await m.get("/api/v1/material/trace?item=FG-RD-002&lot=P-02", m.quality)
            let received = trace["received"] as? [[String: Any]] ?? []
            #expect(received.count == 1)
            let used = (received.first?["consumedComponents"] as? [[String: Any]] ?? []).map {
                "\($0["itemCode"] as? String ?? "") \($0["lot"] as? String ?? "") \($0["quantity"] as? String ?? "")"
            }
            // SF-RD-002 was never issued: its use shows on no lot (a shortfall, not hidden).
            #expect(used.sorted() == ["RM-PAD-65 PAD-A 620", "RM-PAD-65 PAD-B 380", "SF-RD-002  500"])
            let issued = (received.first?["issuedComponents"] as? [[String: Any]] ?? []).compactMap { $0["lot"] as? String }
            #expect(Set(issued) == ["PAD-A", "PAD-B"])
            let forward = try await m.get("/api/v1/material/trace?item=RM-PAD-65&lot=PAD-B", m.quality)
            let into = (forward["uses"] as? [[String: Any]] ?? []).compactMap { $0["receivedLot"] as? String }
            #expect(into == ["P-02"])

            // Over-receipt: 1000 ordered + 5 % = 1050; 790 counted (the 10 rejected do not count).
            let refused = try await m.post("/api/v1/receipts", m.warehouse,
                                           #"{"orderId":"\#(order)","lines":[{"line":1,"lot":"P-03","quantity":"261"}]}"#, .unprocessableEntity)
            #expect("\(refused)".contains("overReceipt"))
            #expect("\(refused)".contains("260"))
            let before = try await t.sql.raw("SELECT COUNT(*) AS n FROM goods_receipts").first()!.decode(column: "n", as: Int.self)
            #expect(before == 3)
            let last = try await m.post("/api/v1/receipts", m.warehouse, #"{"orderId":"\#(order)","lines":[{"line":1,"lot":"P-03","quantity":"260"}]}"#)
            try await decide(last, "260", "0")
            let lines = try await m.get("/api/v1/orders/\(order)/material", m.warehouse)["lines"] as? [[String: Any]] ?? []
            #expect(lines.first?["accepted"] as? String == "1050")
            #expect(lines.first?["maxReceivable"] as? String == "1050")
            #expect(!(lines.first?["itemName"] as? String ?? "").isEmpty && !(lines.first?["unit"] as? String ?? "").isEmpty,
                    "the line's item is named and its unit given: \(lines.first ?? [:])")
            // Line 2 has nothing yet: still partially delivered.
            #expect(try await f.order(order)["status"] as? String == "partially_delivered")
        }
    }

    /// The cases ERPNext refused: taking material back before any receipt, and moving idle
    /// material from one supplier to another; the write-off stays exact through both.
    @Test func returnBeforeAnyReceiptAndTransferBetweenSuppliers() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let f = m.f
            let order = try await m.acknowledgedOrder()
            let jg = try await f.supplierID("SUP-JG"), bm = try await f.supplierID("SUP-BM")
            // The warehouse's lists: what is due to issue and due to arrive, per line.
            func due(_ path: String, _ token: String) async throws -> [String] {
                try await m.items(path, token).filter { $0["orderId"] as? String == order }.map {
                    "\($0["line"] as? Int ?? 0) \($0["componentCode"] as? String ?? $0["itemCode"] as? String ?? "") \($0["remaining"] as? String ?? $0["open"] as? String ?? "")"
                }
            }
            #expect(try await due("/api/v1/material/due-to-issue", m.warehouse).sorted() == ["1 SF-MH-001 1000", "2 RM-PAD-65 101.5", "2 SF-RD-002 50"])
            #expect(try await due("/api/v1/material/due-to-arrive", f.supplier1) == ["1 SF-MH-001 1000", "2 FG-RD-002 50"])
            // Beside the codes, the supplier's name and each quantity's unit, as the hub shows them.
            for (path, token, codeKey) in [("/api/v1/material/due-to-issue", m.warehouse, "componentCode"), ("/api/v1/material/due-to-arrive", f.supplier1, "itemCode")] {
                let rows = try await m.items(path, token).filter { $0["orderId"] as? String == order }
                #expect(!rows.isEmpty)
                for r in rows {
                    let uom = try await t.sql.raw("SELECT uom FROM items WHERE code = \(bind: r[codeKey] as? String ?? "")").first()?.decode(column: "uom", as: String.self)
                    #expect(uom?.isEmpty == false && r["uom"] as? String == uom, "\(path)")
                    #expect(r["supplierName"] as? String == "苏州精工机械有限公司", "\(path)")
                }
            }
            let issue = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":2,"componentCode":"RM-PAD-65","lot":"PAD-1","quantity":"101.5"}]}
                """)
            #expect(try await due("/api/v1/material/due-to-issue", m.warehouse).sorted() == ["1 SF-MH-001 1000", "2 SF-RD-002 50"])
            _ = try await m.post("/api/v1/material/documents/\(issue["id"] as? String ?? "")/confirm", f.supplier1,
                                 #"{"version":1,"lines":[{"no":1,"quantity":"101.5"}]}"#, .ok)
            // Before any goods came back: a return of good material.
            let ret = try await m.post("/api/v1/material/returns", m.warehouse, """
                {"supplierId":"\(jg)","orderId":"\(order)","condition":"good","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"20","line":2}]}
                """)
            #expect(ret["kind"] as? String == "return")
            #expect(try await m.stock(f.supplier1, item: "RM-PAD-65", lot: "PAD-1") == ("0", "81.5"))
            let tooMuch = try await m.post("/api/v1/material/returns", m.warehouse, """
                {"supplierId":"\(jg)","condition":"defective","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"100"}]}
                """, .unprocessableEntity)
            #expect("\(tooMuch)".contains("81.5"))
            _ = try await m.post("/api/v1/material/returns", m.warehouse, """
                {"supplierId":"\(jg)","condition":"broken","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"1"}]}
                """, .unprocessableEntity)

            // Idle material moves to the other supplier, in one transaction.
            let transfer = try await m.post("/api/v1/material/transfers", m.warehouse, """
                {"fromSupplierId":"\(jg)","toSupplierId":"\(bm)","reason":"订单调整,余料转 SUP-BM","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"30"}]}
                """)
            #expect(try await m.stock(m.warehouse, supplier: "SUP-JG", item: "RM-PAD-65", lot: "PAD-1") == ("0", "51.5"))
            #expect(try await m.stock(m.warehouse, supplier: "SUP-BM", item: "RM-PAD-65", lot: "PAD-1") == ("0", "30"))
            // Both suppliers see the transfer; each sees only its own stock.
            let tid = transfer["id"] as? String ?? ""
            #expect(try await t.request(.GET, "/api/v1/material/documents/\(tid)", token: f.supplier2).status == .ok)
            // In the lists too: the receiving supplier's and the sending one's.
            for token in [f.supplier1, f.supplier2] {
                #expect(try await m.items("/api/v1/material/documents?kind=transfer", token).contains { $0["id"] as? String == tid })
            }
            #expect(try await m.stock(f.supplier2, item: "RM-PAD-65", lot: "PAD-1") == ("0", "30"))
            let mine = try await m.items("/api/v1/material/stock?itemCode=RM-PAD-65", f.supplier1)
            #expect(mine.compactMap { $0["supplierCode"] as? String } == ["SUP-JG"])
            // Too much is refused and nothing is written.
            let movements = try await t.sql.raw("SELECT COUNT(*) AS n FROM material_movements").first()!.decode(column: "n", as: Int.self)
            _ = try await m.post("/api/v1/material/transfers", m.warehouse, """
                {"fromSupplierId":"\(jg)","toSupplierId":"\(bm)","reason":"x","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"50"},{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"2"}]}
                """, .unprocessableEntity)
            _ = try await m.post("/api/v1/material/transfers", m.warehouse, """
                {"fromSupplierId":"\(jg)","toSupplierId":"\(jg)","reason":"x","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"1"}]}
                """, .unprocessableEntity)
            #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM material_movements").first()!.decode(column: "n", as: Int.self) == movements)

            // The supplier reports scrap; the warehouse counts 0.5 less than the ledger says.
            _ = try await m.post("/api/v1/material/scrap", f.supplier1, #"{"reason":"冲裁损坏","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"1.5"}]}"#)
            _ = try await m.post("/api/v1/material/adjustments", m.warehouse, """
                {"supplierId":"\(jg)","reason":"月末盘点","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"-0.5"}]}
                """)
            // Write-off for the month: issued 101.5, returned 20 + 30 transferred, held 49.5,
            // variance = scrap + count loss = 2 (nothing consumed yet, so no allowance).
            let report = try await m.get("/api/v1/write-off?supplierId=\(jg)", m.finance)
            let row = (report["rows"] as? [[String: Any]] ?? []).first { $0["itemCode"] as? String == "RM-PAD-65" } ?? [:]
            #expect(row["issued"] as? String == "101.5")
            #expect(row["returned"] as? String == "50")
            #expect(row["held"] as? String == "49.5")
            #expect(row["variance"] as? String == "2")
            #expect(row["tolerance"] as? String == "1.015")
            #expect(row["beyondTolerance"] as? Bool == true)
            let bmRow = (try await m.get("/api/v1/write-off?supplierId=\(bm)", m.finance)["rows"] as? [[String: Any]] ?? []).first ?? [:]
            #expect(bmRow["issued"] as? String == "30")
            #expect(bmRow["variance"] as? String == "0")
            // The variance beyond tolerance becomes a deduction proposal, once, however often it runs.
            let period = report["period"] as? String ?? ""
            _ = try await m.post("/api/v1/write-off/proposals", f.supplier1, #"{"period":"\#(period)"}"#, .forbidden)
            _ = try await m.post("/api/v1/write-off/proposals", m.finance, #"{"period":"\#(period)"}"#, .ok)
            let proposals = try await m.post("/api/v1/write-off/proposals", m.finance, #"{"period":"\#(period)"}"#, .ok)["items"] as? [[String: Any]] ?? []
            #expect(proposals.count == 1)
            #expect(proposals.first?["quantity"] as? String == "2")
            // Named, on the API and on the page's list of proposals (a code alone told nobody whom).
            let jgName = try await t.organization(code: "SUP-JG").name
            #expect(proposals.first?["supplierName"] as? String == jgName)
            var finance = try await t.signIn("finance")
            let writeOffPage = try await t.page(.GET, "/write-off?period=\(period)", browser: &finance).body.string
            let proposalsPart = writeOffPage.components(separatedBy: "<h2>扣款建议</h2>").last ?? ""
            #expect(proposalsPart.contains("<td data-label=\"供应商\">\(jgName) <span class=\"muted nowrap\">SUP-JG</span></td>"))
            // The supplier's own page does not name it on every row.
            var jgUser = try await t.signIn("supplier1")
            let ownPart = try await t.page(.GET, "/write-off?period=\(period)", browser: &jgUser).body.string.components(separatedBy: "<h2>扣款建议</h2>").last ?? ""
            #expect(ownPart.contains("RM-PAD-65") && !ownPart.contains("data-label=\"供应商\""))
            #expect(try await m.items("/api/v1/deductions", f.supplier1).count == 1)
            #expect(try await m.items("/api/v1/deductions", f.supplier2).isEmpty)
            // The spreadsheet export carries the same numbers.
            let export = try await t.request(.GET, "/api/v1/write-off/export?period=\(period)", token: m.finance)
            #expect(export.status == .ok)
            let sheet = try XLSX.readAll(Data(buffer: export.body)).first?.table.rows ?? []
            #expect(sheet.contains { $0.contains("RM-PAD-65") && $0.contains("2") && $0.contains("101.5") })

            // Next month: what was held is the opening (running total less what moved since),
            // a new scrap is that month's variance, and the closed month still reads as it did
            // (movements after its end do not count).
            t.clock.advance(by: 40 * 86_400)
            let (supplierNow, financeNow) = (try await t.token("supplier1"), try await t.token("finance"))  // the old tokens expired
            _ = try await m.post("/api/v1/material/scrap", supplierNow, #"{"reason":"冲裁损坏","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-1","quantity":"0.5"}]}"#)
            func pad(_ query: String) async throws -> [String: Any] {
                (try await m.get("/api/v1/write-off?supplierId=\(jg)\(query)", financeNow)["rows"] as? [[String: Any]] ?? [])
                    .first { $0["itemCode"] as? String == "RM-PAD-65" } ?? [:]
            }
            let next = try await pad("")
            #expect(next["opening"] as? String == "49.5")
            #expect(next["issued"] as? String == "0")
            #expect(next["held"] as? String == "49")
            #expect(next["variance"] as? String == "0.5")
            let closed = try await pad("&period=\(period)")
            #expect(closed["opening"] as? String == "0")
            #expect(closed["held"] as? String == "49.5")
            #expect(closed["variance"] as? String == "2")
        }
    }

    /// A supplier sees and touches only its own material, deliveries and receipts; each side
    /// only does what its roles allow.
    @Test func supplierScopeOnEveryRoute() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let f = m.f
            let order = try await m.acknowledgedOrder()
            let jg = try await f.supplierID("SUP-JG")
            let issue = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":2,"componentCode":"SF-RD-002","lot":"RD-1","quantity":"50"}]}
                """)
            let doc = issue["id"] as? String ?? ""
            let note = try await m.post("/api/v1/deliveries", f.supplier1, """
                {"orderId":"\(order)","shipDate":"2026-09-22","lines":[{"line":2,"quantity":"20","lot":"RD-P1"}]}
                """)["id"] as? String ?? ""
            let receipt = try await m.post("/api/v1/receipts", m.warehouse, #"{"deliveryNoteId":"\#(note)","lines":[{"deliveryLine":1,"quantity":"20"}]}"#)["id"] as? String ?? ""
            let other = f.supplier2
            for path in ["/api/v1/material/documents/\(doc)", "/api/v1/deliveries/\(note)", "/api/v1/receipts/\(receipt)", "/api/v1/orders/\(order)/material"] {
                #expect(try await t.request(.GET, path, token: other).status == .notFound, "\(path)")
                #expect(try await t.request(.GET, path, token: f.supplier1).status == .ok, "\(path)")
            }
            for (path, body) in [
                ("/api/v1/material/documents/\(doc)/confirm", #"{"version":1,"lines":[{"no":1,"quantity":"50"}]}"#),
                ("/api/v1/material/documents/\(doc)/approve", #"{"version":1}"#),
                ("/api/v1/material/documents/\(doc)/refuse", #"{"version":1,"note":"x"}"#),
                ("/api/v1/deliveries/\(note)/cancel", #"{"version":1}"#),
                ("/api/v1/receipts/\(receipt)/lines/1/inspection", #"{"version":1,"accepted":"20","rejected":"0"}"#),
                ("/api/v1/deliveries", #"{"orderId":"\#(order)","shipDate":"2026-09-22","lines":[{"line":2,"quantity":"1","lot":"X"}]}"#),
            ] {
                #expect(try await t.request(.POST, path, token: other, json: body).status == .notFound, "\(path)")
            }
            let attach = try await t.app.testing().sendRequest(.POST, "/api/v1/deliveries/\(note)/attachments?filename=coa.pdf",
                                                               headers: ["Authorization": "Bearer \(other)"], body: ByteBuffer(string: "%PDF-1.4\n"))
            #expect(attach.status == .notFound)
            // Lists and reports hold nothing of the other supplier.
            for path in ["/api/v1/material/documents", "/api/v1/deliveries", "/api/v1/receipts", "/api/v1/material/stock", "/api/v1/material/due-to-arrive",
                         "/api/v1/material/due-to-issue", "/api/v1/deductions"] {
                #expect(try await m.items(path, other).isEmpty, "\(path)")
                #expect(try await t.request(.GET, path, token: other).status == .ok, "\(path)")
            }
            #expect(!(try await m.items("/api/v1/deliveries", f.supplier1)).isEmpty)
            // Asking for supplier1's stock by its id still answers the asker's own (none).
            #expect(!(try await m.items("/api/v1/material/stock?supplierId=\(try await f.supplierID("SUP-JG"))", m.warehouse)).isEmpty)
            #expect(try await m.items("/api/v1/material/stock?supplierId=\(try await f.supplierID("SUP-JG"))", other).isEmpty)
            #expect((try await m.get("/api/v1/write-off", other)["rows"] as? [[String: Any]] ?? []).isEmpty)
            let trace = try await m.get("/api/v1/material/trace?item=SF-RD-002&lot=RD-1", other)
            #expect((trace["uses"] as? [Any] ?? []).isEmpty)
            // Roles: suppliers do not issue, receive or decide; the warehouse does not confirm
            // for the supplier, the supplier reports only its own scrap.
            _ = try await m.post("/api/v1/material/issues", f.supplier1, #"{"orderId":"\#(order)","lines":[{"line":2,"componentCode":"SF-RD-002","lot":"RD-1","quantity":"1"}]}"#, .forbidden)
            _ = try await m.post("/api/v1/receipts", f.supplier1, #"{"orderId":"\#(order)","lines":[{"line":2,"lot":"X","quantity":"1"}]}"#, .forbidden)
            _ = try await m.post("/api/v1/receipts/\(receipt)/lines/1/inspection", f.supplier1, #"{"version":1,"accepted":"20","rejected":"0"}"#, .forbidden)
            _ = try await m.post("/api/v1/receipts/\(receipt)/lines/1/inspection", m.warehouse, #"{"version":1,"accepted":"20","rejected":"0"}"#, .forbidden)
            _ = try await m.post("/api/v1/material/documents/\(doc)/confirm", m.warehouse, #"{"version":1,"lines":[{"no":1,"quantity":"50"}]}"#, .forbidden)
            _ = try await m.post("/api/v1/material/returns", f.supplier1, #"{"supplierId":"\#(jg)","condition":"good","lines":[{"itemCode":"SF-RD-002","lot":"RD-1","quantity":"1"}]}"#, .forbidden)
            _ = try await m.post("/api/v1/material/scrap", f.supplier2, #"{"supplierId":"\#(jg)","reason":"x","lines":[{"itemCode":"SF-RD-002","lot":"RD-1","quantity":"1"}]}"#, .unprocessableEntity)
            _ = try await m.post("/api/v1/material/transfers", f.supplier1, #"{"fromSupplierId":"\#(jg)","toSupplierId":"\#(jg)","reason":"x","lines":[]}"#, .forbidden)
            _ = try await m.post("/api/v1/write-off/proposals", m.warehouse, #"{"period":"2026-09"}"#, .forbidden)
            _ = try await m.post("/api/v1/material/adjustments", f.supplier1, #"{"supplierId":"\#(jg)","reason":"x","lines":[{"itemCode":"SF-RD-002","lot":"RD-1","quantity":"-1"}]}"#, .forbidden)
            // The other supplier's spreadsheet holds none of this supplier's rows.
            _ = try await m.post("/api/v1/material/documents/\(doc)/confirm", f.supplier1, #"{"version":1,"lines":[{"no":1,"quantity":"50"}]}"#, .ok)
            let mine = try XLSX.readAll(Data(buffer: try await t.request(.GET, "/api/v1/write-off/export", token: f.supplier1).body)).first?.table.rows ?? []
            #expect(mine.contains { $0.contains("SUP-JG") })
            let theirs = try await t.request(.GET, "/api/v1/write-off/export", token: other)
            #expect(theirs.status == .ok)
            #expect(!((try XLSX.readAll(Data(buffer: theirs.body)).first?.table.rows ?? []).contains { $0.contains("SUP-JG") }))
        }
    }

    /// Two clerks returning from the same lot at once: the second sees the first's return, so
    /// the lot never goes below zero.
    /// The running totals the reads use are kept with every movement: after the demo's whole
    /// flow (issues, confirmations, consumption, returns, scrap, transfers, counts) they equal
    /// the movements summed, per lot and per material.
    @Test func ledgerTotalsEqualTheMovementsSummed() async throws {
        try await TestApp.run(scenario: true) { t in
            struct Row: Decodable, Hashable { let supplier_id: UUID; let item_id: UUID; let lot: String; let kind: String; let q: Int64; let a: Int64 }
            let kept = try await t.sql.raw("SELECT supplier_id, item_id, lot, kind, quantity AS q, allowance AS a FROM ledger_totals").all(decoding: Row.self)
            let summed = try await t.sql.raw("""
                SELECT supplier_id, item_id, lot, kind, CAST(SUM(quantity) AS BIGINT) AS q, CAST(SUM(allowance) AS BIGINT) AS a
                FROM material_movements GROUP BY supplier_id, item_id, lot, kind
                """).all(decoding: Row.self)
            #expect(summed.count > 10)
            #expect(Set(kept) == Set(summed))
            let byItem = try await t.sql.raw("SELECT supplier_id, item_id, '' AS lot, kind, quantity AS q, allowance AS a FROM ledger_item_totals")
                .all(decoding: Row.self)
            let itemSums = try await t.sql.raw("""
                SELECT supplier_id, item_id, '' AS lot, kind, CAST(SUM(quantity) AS BIGINT) AS q, CAST(SUM(allowance) AS BIGINT) AS a
                FROM material_movements GROUP BY supplier_id, item_id, kind
                """).all(decoding: Row.self)
            #expect(Set(byItem) == Set(itemSums))
        }
    }

    /// The stock list, summed in SQL a page at a time, shows exactly the non-zero balances the
    /// domain's rule gives for every movement, each once across its pages, the supplier only
    /// its own; bad page parameters are a 400.
    @Test func stockPagesShowTheLedgerRuleEachBalanceOnce() async throws {
        try await TestApp.run(scenario: true) { t in
            struct Row: Decodable { let supplier: String; let item: String; let lot: String; let kind: String; let q: Int64 }
            let movements = try await t.sql.raw("""
                SELECT s.code AS supplier, i.code AS item, m.lot, m.kind, m.quantity AS q
                FROM material_movements m JOIN organizations s ON s.id = m.supplier_id JOIN items i ON i.id = m.item_id
                """).all(decoding: Row.self)
            let balances = try StockLedger.balances(movements.map {
                Movement(key: StockKey(supplier: $0.supplier, item: $0.item, lot: $0.lot), kind: MovementKind(rawValue: $0.kind)!, quantity: FixedDecimal(units: $0.q))
            }).filter { $0.value != StockBalance() }
            func line(_ k: StockKey, _ b: StockBalance) -> String { "\(k.supplier)|\(k.item)|\(k.lot)|\(b.inTransit)|\(b.held)" }
            let warehouse = try await t.token("warehouse"), supplier = try await t.token("supplier1")
            for (token, only) in [(warehouse, nil as String?), (supplier, "SUP-JG")] {
                let want = Set(balances.filter { only == nil || $0.key.supplier == only }.map { line($0.key, $0.value) })
                #expect(want.count >= (only == nil ? 3 : 1))
                var seen: [String] = []
                var page = 1
                while true {
                    let r = try await t.request(.GET, "/api/v1/material/stock?per=1&page=\(page)", token: token).json
                    #expect(r["total"] as? Int == want.count)
                    let rows = r["items"] as? [[String: Any]] ?? []
                    if rows.isEmpty { break }
                    #expect(rows.count == 1)
                    seen += rows.map { "\($0["supplierCode"] as? String ?? "")|\($0["itemCode"] as? String ?? "")|\($0["lot"] as? String ?? "")|\($0["inTransit"] as? String ?? "")|\($0["held"] as? String ?? "")" }
                    page += 1
                }
                #expect(seen.count == want.count)
                #expect(Set(seen) == want)
                // Filtered by material, the total is counted over the filter.
                let pads = want.filter { $0.split(separator: "|")[1] == "RM-PAD-65" }
                #expect(!pads.isEmpty)
                #expect(try await t.request(.GET, "/api/v1/material/stock?itemCode=RM-PAD-65&per=1", token: token).json["total"] as? Int == pads.count)
            }
            // The kept lots hold no lot that came back to zero, and equal a rebuild from the totals.
            struct Kept: Decodable, Hashable { let supplier_id: UUID; let item_id: UUID; let lot: String; let in_transit: Int64; let held: Int64 }
            let keptSQL: SQLQueryString = "SELECT supplier_id, item_id, lot, in_transit, held FROM lot_balances"
            let kept = Set(try await t.sql.raw(keptSQL).all(decoding: Kept.self))
            #expect(kept.count == balances.count)
            #expect(!kept.contains { $0.in_transit == 0 && $0.held == 0 })
            try await LotBalances.rebuild(on: t.sql)
            #expect(Set(try await t.sql.raw(keptSQL).all(decoding: Kept.self)) == kept)
            for bad in ["per=0", "per=201", "page=0", "page=x"] {
                #expect(try await t.request(.GET, "/api/v1/material/stock?\(bad)", token: warehouse).status == .badRequest, "\(bad)")
            }
        }
    }

    /// What the to-do and the work list read from kept columns equals the records they are kept
    /// from, after every write path the demo's flow takes (and the migration's backfill).
    @Test func keptLineQuantitiesAndReceiptTimesEqualTheRecords() async throws {
        try await TestApp.run(scenario: true) { t in
            struct Kept: Decodable, Hashable {
                let order_id: UUID; let line_no: Int; let reported: Int64; let scrap: Int64; let first: String?; let last: String?; let shipped: Int64
            }
            let kept = try await t.sql.raw("""
                SELECT order_id, line_no, reported_quantity AS reported, reported_scrap AS scrap, first_report_day AS first, last_report_day AS last,
                       shipped_quantity AS shipped FROM order_lines
                """).all(decoding: Kept.self)
            let summed = try await t.sql.raw("""
                SELECT l.order_id, l.line_no,
                       CAST((SELECT COALESCE(SUM(p.good_quantity), 0) FROM progress_reports p WHERE p.order_id = l.order_id AND p.line_no = l.line_no) AS BIGINT) AS reported,
                       CAST((SELECT COALESCE(SUM(p.scrap_quantity), 0) FROM progress_reports p WHERE p.order_id = l.order_id AND p.line_no = l.line_no) AS BIGINT) AS scrap,
                       (SELECT MIN(p.report_day) FROM progress_reports p WHERE p.order_id = l.order_id AND p.line_no = l.line_no) AS first,
                       (SELECT MAX(p.report_day) FROM progress_reports p WHERE p.order_id = l.order_id AND p.line_no = l.line_no) AS last,
                       CAST((SELECT COALESCE(SUM(n.quantity), 0) FROM delivery_note_lines n JOIN delivery_notes d ON d.id = n.note_id
                              WHERE d.order_id = l.order_id AND n.order_line_no = l.line_no AND d.status <> 'cancelled') AS BIGINT) AS shipped
                  FROM order_lines l
                """).all(decoding: Kept.self)
            #expect(summed.contains { $0.reported > 0 } && summed.contains { $0.shipped > 0 } && summed.contains { $0.scrap > 0 })
            #expect(summed.contains { $0.first != nil && $0.first != $0.last }, "a line reported on two days")
            #expect(Set(kept) == Set(summed))
            struct Times: Decodable { let n: Int }
            let off = try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM receipt_lines l JOIN goods_receipts g ON g.id = l.receipt_id
                 WHERE l.received_at IS NULL OR l.received_at <> g.created_at
                """).first(decoding: Times.self)
            let lines = try await t.sql.raw("SELECT COUNT(*) AS n FROM receipt_lines").first(decoding: Times.self)
            #expect((lines?.n ?? 0) > 0)
            #expect(off?.n == 0)
        }
    }

    /// On PostgreSQL a report adds to its line's kept sums under its order's lock; recomputing
    /// them (a delivery note cancelled, an order changed) takes the same lock, so a report that
    /// commits meanwhile cannot be left out. SQLite has one writer at a time.
    @Test(.timeLimit(.minutes(10))) func recomputingALinesSumsTakesItsOrdersLock() async throws {
        try await TestApp.run(scenario: true) { t in
            guard t.app.subcon.isPostgres else { return }
            struct Row: Decodable { let order_id: UUID }
            let order = try #require(try await t.sql.raw("SELECT order_id FROM progress_reports LIMIT 1").first(decoding: Row.self)).order_id
            let held = WriteConnectionTests.Latch(), release = WriteConnectionTests.Latch()
            async let recomputed: Void = t.db.transaction { db in
                try await ShipReadiness.refresh(order, on: db as! any SQLDatabase)
                held.open()
                await release.wait()
            }
            await held.wait()
            // Another connection cannot take the order's lock while the sums are recomputed.
            var state: String?
            do {
                try await t.sql.raw("SELECT id FROM outsourcing_orders WHERE id = \(bind: order) FOR UPDATE NOWAIT").run()
            } catch let e as PSQLError {
                state = e.serverInfo?[.sqlState]
            }
            release.open()
            try await recomputed
            #expect(state == "55P03", "the order's lock was free while its lines' sums were recomputed")
        }
    }

    @Test func concurrentReturnsNeverOverdrawALot() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let order = try await m.acknowledgedOrder()
            let jg = try await m.f.supplierID("SUP-JG")
            let issue = try await m.post("/api/v1/material/issues", m.warehouse, """
                {"orderId":"\(order)","lines":[{"line":2,"componentCode":"RM-PAD-65","lot":"PAD-C","quantity":"101.5"}]}
                """)
            _ = try await m.post("/api/v1/material/documents/\(issue["id"] as? String ?? "")/confirm", m.f.supplier1,
                                 #"{"version":1,"lines":[{"no":1,"quantity":"101.5"}]}"#, .ok)
            let body = #"{"supplierId":"\#(jg)","condition":"good","lines":[{"itemCode":"RM-PAD-65","lot":"PAD-C","quantity":"60"}]}"#
            async let a = t.request(.POST, "/api/v1/material/returns", token: m.warehouse, json: body)
            async let b = t.request(.POST, "/api/v1/material/returns", token: m.warehouse, json: body)
            let statuses = [try await a.status, try await b.status].map(\.code).sorted()
            #expect(statuses == [201, 422])
            #expect(try await m.stock(m.warehouse, item: "RM-PAD-65", lot: "PAD-C") == ("0", "41.5"))
        }
    }

    @Test func badInputIsRefusedClearlyAndWritesNothing() async throws {
        try await TestApp.run { t in
            let m = try await MaterialFixture.make(t)
            let f = m.f
            let order = try await m.acknowledgedOrder()
            let draft = try await t.request(.POST, "/api/v1/orders", token: f.purchaser, json: """
                {"supplierId":"\(try await f.supplierID("SUP-JG"))","lines":[{"itemCode":"FG-RD-002","quantity":"5","dueDate":"2026-10-25"}]}
                """).json["id"] as? String ?? ""
            let cases: [(String, String, HTTPStatus)] = [
                ("/api/v1/material/issues", "{not json", .badRequest),
                ("/api/v1/material/issues", #"{"orderId":"\#(order)","lines":[{"line":"one","componentCode":"SF-RD-002","lot":"L","quantity":"1"}]}"#, .badRequest),
                ("/api/v1/material/issues", #"{"orderId":"\#(order)","lines":[{"line":2,"componentCode":"SF-RD-002","lot":"L","quantity":"-1"}]}"#, .unprocessableEntity),
                ("/api/v1/material/issues", #"{"orderId":"\#(order)","lines":[{"line":2,"componentCode":"SF-RD-002","lot":"L","quantity":"1e30"}]}"#, .badRequest),
                ("/api/v1/material/issues", #"{"orderId":"\#(order)","lines":[{"line":2,"componentCode":"SF-RD-002","lot":"","quantity":"1"}]}"#, .unprocessableEntity),
                ("/api/v1/material/issues", #"{"orderId":"\#(order)","lines":[{"line":2,"componentCode":"RM-ADC12","lot":"L","quantity":"1"}]}"#, .unprocessableEntity),
                ("/api/v1/material/issues", #"{"orderId":"\#(UUID())","lines":[{"line":2,"componentCode":"SF-RD-002","lot":"L","quantity":"1"}]}"#, .notFound),
                ("/api/v1/material/issues", #"{"orderId":"\#(draft)","lines":[{"line":1,"componentCode":"SF-RD-002","lot":"L","quantity":"1"}]}"#, .conflict),
                ("/api/v1/material/issues", #"{"orderId":"\#(order)","lines":[],"extra":1}"#, .badRequest),
                ("/api/v1/receipts", #"{"orderId":"\#(order)","lines":[{"line":9,"lot":"L","quantity":"1"}]}"#, .unprocessableEntity),
                ("/api/v1/receipts", #"{"lines":[{"line":1,"lot":"L","quantity":"1"}]}"#, .unprocessableEntity),
                ("/api/v1/receipts", #"{"deliveryNoteId":"\#(UUID())","lines":[{"deliveryLine":1,"quantity":"1"}]}"#, .unprocessableEntity),
            ]
            for (path, body, status) in cases {
                let token = path.contains("receipts") ? m.warehouse : m.warehouse
                let r = try await t.request(.POST, path, token: token, json: body)
                #expect(r.status == status, "\(body): \(r.body.string)")
                #expect(r.headers.contentType?.description.contains("problem+json") == true, "\(body)")
            }
            _ = try await m.post("/api/v1/deliveries", f.supplier1, #"{"orderId":"\#(draft)","shipDate":"2026-09-22","lines":[{"line":1,"quantity":"1","lot":"X"}]}"#, .conflict)
            _ = try await m.post("/api/v1/deliveries", f.supplier1, #"{"orderId":"\#(order)","shipDate":"2026-02-30","lines":[{"line":1,"quantity":"1","lot":"X"}]}"#, .badRequest)
            _ = try await m.post("/api/v1/deliveries", f.supplier1, #"{"orderId":"\#(order)","shipDate":"2026-09-22","lines":[{"line":1,"quantity":"1051","lot":"X"}]}"#, .unprocessableEntity)
            #expect(try await t.request(.GET, "/api/v1/material/trace?item=NOPE&lot=1", token: m.warehouse).status == .badRequest)
            #expect(try await t.request(.GET, "/api/v1/write-off?period=2026-13", token: m.warehouse).status == .badRequest)
            #expect(try await t.request(.GET, "/api/v1/material/documents?kind=gift", token: m.warehouse).status == .badRequest)
            for table in ["material_documents", "material_movements", "delivery_notes", "goods_receipts"] {
                #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self) == 0, "\(table)")
            }
            // A phone that sends the same delivery note twice gets one note.
            for _ in 0..<2 {
                let r = try await t.app.testing().sendRequest(.POST, "/api/v1/deliveries", headers: [
                    "Authorization": "Bearer \(f.supplier1)", "Content-Type": "application/json", "Idempotency-Key": "asn-retry-1"],
                    body: ByteBuffer(string: #"{"orderId":"\#(order)","shipDate":"2026-09-22","lines":[{"line":1,"quantity":"5","lot":"X"}]}"#))
                #expect(r.status == .created)
            }
            #expect(try await m.items("/api/v1/deliveries", f.supplier1).count == 1)
        }
    }

    /// The write-off's rows come in the order of the supplier's and the material's codes, each
    /// named, the same however many names are read at a time: the statement orders the figures,
    /// and the names are read afterwards for the rows wanted (the page's fifty, or all of them).
    @Test func writeOffRowsComeInTheOrderOfTheCodesNamedInBatches() async throws {
        try await TestApp.run(scenario: true) { t in
            let principal = try await t.principal("finance")
            let today = t.app.subcon.today()
            var severalSuppliers = 0
            for back in 0..<12 {
                let month = (today.year * 12 + today.month - 1) - back
                let period = String(format: "%04d-%02d", month / 12, month % 12 + 1)
                let figures = try await MaterialReports.writeOffFigures(principal, period: period, supplierID: nil, app: t.app)
                let whole = try await MaterialReports.named(figures.rows, on: t.app.db)
                let inPairs = try await MaterialReports.named(figures.rows, on: t.app.db, batch: 2)
                func text(_ rows: [WriteOffRowDTO]) -> [String] {
                    rows.map { "\($0.supplierCode) \($0.supplierName) \($0.itemCode) \($0.itemName) \($0.unit) \($0.variance) \($0.held)" }
                }
                #expect(text(whole) == text(inPairs), "\(period)")
                #expect(whole.allSatisfy { !$0.supplierName.isEmpty && !$0.itemName.isEmpty && !$0.unit.isEmpty }, "\(period)")
                #expect(zip(whole, whole.dropFirst()).allSatisfy { ($0.supplierCode, $0.itemCode) < ($1.supplierCode, $1.itemCode) }, "\(period)")
                let report = try await MaterialReports.writeOff(principal, period: period, supplierID: nil, app: t.app)
                #expect(text(report.rows) == text(whole), "\(period)")
                if Set(whole.map(\.supplierId)).count > 1 && whole.count > 2 { severalSuppliers += 1 }
            }
            #expect(severalSuppliers > 0)
        }
    }

    /// The write-off's rows go out in batches (here 2 rows): the answer is the same document as
    /// the report built whole, for the buyer over every supplier and for a supplier, month by
    /// month through the demo's history.
    @Test func streamedWriteOffEqualsTheWholeReport() async throws {
        try await TestApp.run(scenario: true, adjust: { $0.streamedBatch = 2 }) { t in
            var crossed = 0
            for login in ["finance", "supplier1"] {
                let token = try await t.token(login), principal = try await t.principal(login)
                let today = t.app.subcon.today()
                for back in 0..<12 {
                    let month = (today.year * 12 + today.month - 1) - back
                    let period = String(format: "%04d-%02d", month / 12, month % 12 + 1)
                    let whole = try await MaterialReports.writeOff(principal, period: period, supplierID: nil, app: t.app)
                    let expected = try JSONSerialization.jsonObject(with: JSONEncoder.custom(dates: .iso8601).encode(whole)) as! NSDictionary
                    let r = try await t.request(.GET, "/api/v1/write-off?period=\(period)", token: token)
                    #expect(r.status == .ok && r.headers.contentType == .json)
                    let streamed = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as! NSDictionary
                    #expect(streamed == expected, "\(login) \(period)")
                    if whole.rows.count > 2 { crossed += 1 }
                }
            }
            #expect(crossed > 0)
        }
    }
}
