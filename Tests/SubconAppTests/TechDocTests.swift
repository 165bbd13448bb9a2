import Fluent
import Foundation
import SQLKit
@testable import SubconApp
import SubconDomain
import Testing
import Vapor
import VaporTesting

/// Technical documents over HTTP on whichever database the run uses: revisions and
/// supersession, sharing that follows the orders (and grants by hand), the download log, read
/// receipts and the delivery note refused until the current revision is acknowledged.
@Suite struct TechDocTests {
    static func pdf(_ text: String) -> ByteBuffer { ByteBuffer(string: "%PDF-1.4\n\(text)\n%%EOF\n") }

    struct W {
        let t: TestApp
        let purchaser: String, supplier: String, other: String
        let jg: UUID, hd: UUID
        /// An open order of JG that it can ship against, and the item of its line.
        let order: UUID, line: Int, item: UUID

        static func make(_ t: TestApp) async throws -> W {
            let jg = try await t.organization(code: "SUP-JG").id!
            let other = try await User.query(on: t.db).filter(\.$login == "supplier2").first()!
            struct L: Decodable { let order_id: UUID; let line_no: Int; let item_id: UUID }
            // A line JG may still ship against, of an item the other supplier has no open order for.
            let line = try await t.sql.raw("""
                SELECT l.order_id, l.line_no, l.item_id FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id
                WHERE o.supplier_id = \(bind: jg) AND o.status IN ('acknowledged', 'in_production', 'partially_delivered') AND l.state = 'open'
                  AND NOT EXISTS (SELECT 1 FROM order_lines x JOIN outsourcing_orders y ON y.id = x.order_id
                                  WHERE x.item_id = l.item_id AND y.supplier_id = \(bind: other.$organization.id) AND y.status NOT IN ('closed', 'cancelled', 'delivered', 'draft'))
                ORDER BY l.quantity DESC LIMIT 1
                """).first(decoding: L.self)
            let l = try #require(line)
            // The demo's own drawings of the item would stand in the way of what is counted here.
            for table in ["tech_document_acks", "tech_document_downloads"] {
                try await t.sql.raw("DELETE FROM \(ident: table) WHERE revision_id IN (SELECT r.id FROM tech_document_revisions r JOIN tech_documents d ON d.id = r.document_id WHERE d.item_id = \(bind: l.item_id))").run()
            }
            try await t.sql.raw("DELETE FROM tech_document_revisions WHERE document_id IN (SELECT id FROM tech_documents WHERE item_id = \(bind: l.item_id))").run()
            try await t.sql.raw("DELETE FROM tech_documents WHERE item_id = \(bind: l.item_id)").run()
            return W(t: t, purchaser: try await t.token("purchaser"), supplier: try await t.token("supplier1"), other: try await t.token("supplier2"),
                     jg: jg, hd: other.$organization.id, order: l.order_id, line: l.line_no, item: l.item_id)
        }

        @discardableResult
        func call(_ method: HTTPMethod, _ path: String, _ token: String, _ json: String? = nil, _ status: HTTPStatus,
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestingHTTPResponse {
            let r = try await t.request(method, path, token: token, json: json)
            #expect(r.status == status, "\(method) \(path): \(r.body.string)", sourceLocation: sourceLocation)
            return r
        }

        func upload(_ doc: String, _ body: ByteBuffer, filename: String = "drawing.pdf", note: String = "", version: Int? = nil,
                    as token: String? = nil) async throws -> TestingHTTPResponse {
            var q = "filename=\(filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&note=\(note.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            if let version { q += "&version=\(version)" }
            return try await t.app.testing().sendRequest(.POST, "/api/v1/technical-documents/\(doc)/revisions?\(q)",
                                                         headers: ["Authorization": "Bearer \(token ?? purchaser)", "Content-Type": "application/pdf"], body: body)
        }

        func create(title: String = "外壳图纸") async throws -> String {
            let r = try await call(.POST, "/api/v1/technical-documents", purchaser, #"{"itemId":"\#(item)","kind":"drawing","title":"\#(title)"}"#, .created)
            return try #require(r.json["document"] as? [String: Any])["id"] as! String
        }

        func detail(_ doc: String, _ token: String) async throws -> [String: Any] {
            try await call(.GET, "/api/v1/technical-documents/\(doc)", token, nil, .ok).json
        }
    }

    @Test func revisionsSupersedeAndSharingFollowsTheOrders() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            let doc = try await w.create()
            // Nothing to share before a file is uploaded.
            try await w.call(.GET, "/api/v1/technical-documents/\(doc)", w.supplier, nil, .notFound)

            let a = try await w.upload(doc, TechDocTests.pdf("rev A"), note: "首版")
            #expect(a.status == .created, "\(a.body.string)")
            let b = try await w.upload(doc, TechDocTests.pdf("rev B"), filename: "../../etc/drawing-b.pdf", note: "孔径公差改为 ±0.05", version: 2)
            #expect(b.status == .created, "\(b.body.string)")
            // A second upload against the version already used is a conflict, not a third revision.
            let stale = try await w.upload(doc, TechDocTests.pdf("rev B again"), version: 2)
            #expect(stale.status == .conflict, "\(stale.body.string)")

            let detail = try await w.detail(doc, w.purchaser)
            let revisions = try #require(detail["revisions"] as? [[String: Any]])
            #expect(revisions.map { $0["label"] as? String } == ["B", "A"])
            #expect(revisions[0]["current"] as? Bool == true && revisions[0]["supersededAt"] == nil)
            #expect(revisions[1]["current"] as? Bool == false && revisions[1]["supersededAt"] != nil)
            // The path in the uploaded name is gone; the older revision is still readable.
            #expect(revisions[0]["filename"] as? String == "drawing-b.pdf")
            let revA = revisions[1]["id"] as! String, revB = revisions[0]["id"] as! String
            let oldFile = try await w.call(.GET, "/api/v1/technical-documents/\(doc)/revisions/\(revA)/file", w.supplier, nil, .ok)
            #expect(oldFile.body.string.contains("rev A"))
            #expect(oldFile.headers.first(name: "X-Revision") == "A")

            // Shared with JG through its open order; not with the other supplier, in any way.
            let list = try await w.call(.GET, "/api/v1/technical-documents", w.supplier, nil, .ok).json
            let mine = (list["items"] as? [[String: Any]] ?? []).first { $0["id"] as? String == doc }
            #expect(mine?["sharedBy"] as? String == "open_order")
            #expect(mine?["acknowledged"] as? Bool == false)
            #expect(mine?["currentRevision"] as? String == "B")
            let theirs = try await w.call(.GET, "/api/v1/technical-documents", w.other, nil, .ok).json
            #expect((theirs["items"] as? [[String: Any]] ?? []).allSatisfy { $0["id"] as? String != doc })
            try await w.call(.GET, "/api/v1/technical-documents/\(doc)", w.other, nil, .notFound)
            try await w.call(.GET, "/api/v1/technical-documents/\(doc)/revisions/\(revB)/file", w.other, nil, .notFound)
            try await w.call(.POST, "/api/v1/technical-documents/\(doc)/acknowledge", w.other, #"{"revisionId":"\#(revB)"}"#, .notFound)
            // A supplier sees neither who else reads it nor the download log.
            let supplierView = try await w.detail(doc, w.supplier)
            #expect(supplierView["receipts"] == nil && supplierView["downloads"] == nil)

            // Each download is logged for the buyer: who, which revision.
            let downloads = try #require(try await w.detail(doc, w.purchaser)["downloads"] as? [[String: Any]])
            #expect(downloads.count == 1 && downloads.first?["revision"] as? String == "A")
            #expect(downloads.first?["organizationName"] as? String == (try await t.organization(code: "SUP-JG")).name)

            // JG's people were told to read the new revision.
            let told = try await t.sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE event = 'document.revised' AND payload LIKE \(bind: "%" + doc + "%")")
                .first()!.decode(column: "n", as: Int.self)
            #expect(told == 2)

            // The same bytes again are stored once.
            func blobs() async throws -> Int { try await t.sql.raw("SELECT COUNT(*) AS n FROM file_blobs").first()!.decode(column: "n", as: Int.self) }
            let before = try await blobs()
            let c = try await w.upload(doc, TechDocTests.pdf("rev A"), note: "恢复 A 版内容")
            #expect(c.status == .created)
            #expect(try await blobs() == before)

            // Withheld by hand: gone although the order is open; back to the orders' rule; closed order: gone.
            try await w.call(.POST, "/api/v1/document-grants", w.purchaser, #"{"itemId":"\#(w.item)","supplierId":"\#(w.jg)","state":"withheld","reason":"图纸争议"}"#, .ok)
            try await w.call(.GET, "/api/v1/technical-documents/\(doc)", w.supplier, nil, .notFound)
            try await w.call(.POST, "/api/v1/document-grants", w.purchaser, #"{"itemId":"\#(w.item)","supplierId":"\#(w.jg)","state":"none"}"#, .ok)
            try await w.call(.GET, "/api/v1/technical-documents/\(doc)", w.supplier, nil, .ok)
            // A standing grant shares with a supplier that has no order for the item.
            let granted = try await w.call(.POST, "/api/v1/document-grants", w.purchaser,
                                           #"{"itemId":"\#(w.item)","supplierId":"\#(w.hd)","state":"granted","reason":"报价"}"#, .ok).body.string
            #expect(granted.contains("\"granted\""))
            let viaGrant = try await w.detail(doc, w.other)
            #expect((viaGrant["document"] as? [String: Any])?["sharedBy"] as? String == "grant")
            // Every order of JG for the item finished: JG no longer sees the document.
            try await t.sql.raw("""
                UPDATE outsourcing_orders SET status = 'closed' WHERE supplier_id = \(bind: w.jg)
                  AND id IN (SELECT order_id FROM order_lines WHERE item_id = \(bind: w.item))
                """).run()
            try await w.call(.GET, "/api/v1/technical-documents/\(doc)", w.supplier, nil, .notFound)
            let receipts = try #require(try await w.detail(doc, w.purchaser)["receipts"] as? [[String: Any]])
            #expect(receipts.map { $0["supplierId"] as? String } == [w.hd.uuidString])
        }
    }

    @Test func readReceiptsAndTheDeliveryNoteWaitingForThem() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            let doc = try await w.create()
            _ = try await w.upload(doc, TechDocTests.pdf("rev A"))
            let ship = #"{"orderId":"\#(w.order)","shipDate":"2026-09-22","lines":[{"line":\#(w.line),"quantity":"1","lot":"L-1"}]}"#
            // Without the item's setting, shipping does not wait for the read receipt.
            try await w.call(.POST, "/api/v1/deliveries", w.supplier, ship, .created)
            try await w.call(.POST, "/api/v1/items/\(w.item)/document-settings", w.purchaser, #"{"requireAcknowledgment":true}"#, .noContent)
            let refused = try await w.call(.POST, "/api/v1/deliveries", w.supplier, ship, .conflict).body.string
            #expect(refused.contains("外壳图纸 (A)"), "\(refused)")
            // Revision B replaces A before JG reads it: acknowledging A is refused, B accepted once.
            _ = try await w.upload(doc, TechDocTests.pdf("rev B"))
            let revisions = try #require(try await w.detail(doc, w.purchaser)["revisions"] as? [[String: Any]])
            let revA = revisions[1]["id"] as! String, revB = revisions[0]["id"] as! String
            try await w.call(.POST, "/api/v1/technical-documents/\(doc)/acknowledge", w.supplier, #"{"revisionId":"\#(revA)"}"#, .conflict)
            try await w.call(.POST, "/api/v1/technical-documents/\(doc)/acknowledge", w.purchaser, #"{"revisionId":"\#(revB)"}"#, .forbidden)
            let acked = try await w.call(.POST, "/api/v1/technical-documents/\(doc)/acknowledge", w.supplier, #"{"revisionId":"\#(revB)"}"#, .ok).json
            #expect((acked["document"] as? [String: Any])?["acknowledged"] as? Bool == true)
            try await w.call(.POST, "/api/v1/technical-documents/\(doc)/acknowledge", w.supplier, #"{"revisionId":"\#(revB)"}"#, .ok)
            let acks = try await t.sql.raw("SELECT COUNT(*) AS n FROM tech_document_acks WHERE revision_id IN (\(bind: UUID(uuidString: revA)!), \(bind: UUID(uuidString: revB)!))")
                .first()!.decode(column: "n", as: Int.self)
            #expect(acks == 1)
            let receipts = try #require(try await w.detail(doc, w.purchaser)["receipts"] as? [[String: Any]])
            let jg = receipts.first { $0["supplierId"] as? String == w.jg.uuidString }
            #expect(jg?["acknowledgedAt"] != nil && jg?["acknowledgedBy"] as? String != nil)
            // The reminder is read once it is done.
            _ = try await Outbox.deliverPending(app: t.app)
            let supplierUser = try await t.user("supplier1")
            let unread = try await t.sql.raw("""
                SELECT COUNT(*) AS n FROM notifications WHERE user_id = \(bind: supplierUser.id!) AND event = 'document.revised' AND read_at IS NULL
                """).first()!.decode(column: "n", as: Int.self)
            #expect(unread == 0)
            try await w.call(.POST, "/api/v1/deliveries", w.supplier, ship, .created)
            // The audit names the read receipt.
            let history = try await w.call(.GET, "/api/v1/audit?entity=tech_document&entityId=\(doc)", w.purchaser, nil, .ok).body.string
            #expect(history.contains("acknowledge") && history.contains("revise"))
        }
    }

    @Test func badInputIsAClearRefusal() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            try await w.call(.POST, "/api/v1/technical-documents", w.purchaser, #"{"itemId":"\#(UUID())","kind":"drawing","title":"x"}"#, .unprocessableEntity)
            try await w.call(.POST, "/api/v1/technical-documents", w.purchaser, #"{"itemId":"\#(w.item)","kind":"poster","title":""}"#, .unprocessableEntity)
            try await w.call(.POST, "/api/v1/technical-documents", w.purchaser, #"{"itemId":"\#(w.item)","kind":"drawing","title":"x","extra":1}"#, .badRequest)
            try await w.call(.POST, "/api/v1/technical-documents", w.supplier, #"{"itemId":"\#(w.item)","kind":"drawing","title":"x"}"#, .forbidden)
            try await w.call(.GET, "/api/v1/technical-documents?kind=poster", w.purchaser, nil, .badRequest)
            let doc = try await w.create()
            let blobsBefore = try await t.sql.raw("SELECT COUNT(*) AS n FROM file_blobs").first()!.decode(column: "n", as: Int.self)
            let script = try await w.upload(doc, ByteBuffer(string: "#!/bin/sh\nrm -rf /\n"), filename: "drawing.pdf")
            #expect(script.status == .unprocessableEntity, "\(script.body.string)")
            var big = ByteBuffer(string: "%PDF-1.4\n")
            big.writeRepeatingByte(0x20, count: TechDocService.maxBytes)
            let tooBig = try await w.upload(doc, big)
            #expect(tooBig.status == .unprocessableEntity, "\(tooBig.body.string)")
            var huge = ByteBuffer(string: "%PDF-1.4\n")
            huge.writeRepeatingByte(0x20, count: 22 * 1024 * 1024)
            let overLimit = try await w.upload(doc, huge)
            // Past the route's body limit (413 from the server; the test client delivers it whole, and the size check refuses it).
            #expect([.payloadTooLarge, .unprocessableEntity].contains(overLimit.status))
            let asSupplier = try await w.upload(doc, TechDocTests.pdf("x"), as: w.supplier)
            #expect(asSupplier.status == .notFound)
            // The supplier's grant target must be a supplier.
            let hdjm = try await t.organization(code: "HDJM").id!
            try await w.call(.POST, "/api/v1/document-grants", w.purchaser, #"{"itemId":"\#(w.item)","supplierId":"\#(hdjm)","state":"granted"}"#, .unprocessableEntity)
            try await w.call(.POST, "/api/v1/document-grants", w.purchaser, #"{"itemId":"\#(w.item)","supplierId":"\#(w.jg)","state":"maybe"}"#, .unprocessableEntity)
            // Nothing of the refused uploads was kept.
            let revisions = try await t.sql.raw("SELECT COUNT(*) AS n FROM tech_document_revisions WHERE document_id = \(bind: UUID(uuidString: doc)!)")
                .first()!.decode(column: "n", as: Int.self)
            let blobs = try await t.sql.raw("SELECT COUNT(*) AS n FROM file_blobs").first()!.decode(column: "n", as: Int.self)
            #expect(revisions == 0 && blobs == blobsBefore)
        }
    }

    @Test func onPagesTheBuyerUploadsAndTheSupplierAcknowledges() async throws {
        try await TestApp.run(scenario: true) { t in
            let w = try await W.make(t)
            let itemCode = try await Item.find(w.item, on: t.db)!.code
            var buyer = try await t.signIn("purchaser")
            let csrf = try await t.csrf(&buyer)
            func multipart(_ fields: [String: String], file: String?) -> (String, ByteBuffer) {
                let boundary = "----subcon-doc"
                var body = ""
                for (k, v) in fields { body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n" }
                if let file {
                    body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"壳体.pdf\"\r\nContent-Type: application/pdf\r\n\r\n\(file)\r\n"
                }
                body += "--\(boundary)--\r\n"
                return ("multipart/form-data; boundary=\(boundary)", ByteBuffer(string: body))
            }
            // A wrong item code is shown at its field; nothing is created.
            var (type, body) = multipart(["_csrf": csrf, "itemCode": "NO-SUCH", "kind": "drawing", "title": "壳体图纸"], file: "%PDF-1.4\nA\n%%EOF")
            let wrong = try await t.app.testing().sendRequest(.POST, "/technical-documents/new", headers: ["Cookie": buyer.cookieHeader, "Content-Type": type], body: body)
            #expect(wrong.status == .unprocessableEntity)
            #expect(wrong.body.string.contains("data-field=\"itemCode\"") || wrong.body.string.contains("class=\"err\""))
            (type, body) = multipart(["_csrf": csrf, "itemCode": itemCode, "kind": "drawing", "title": "壳体图纸", "note": "首版"], file: "%PDF-1.4\nA\n%%EOF")
            let made = try await t.app.testing().sendRequest(.POST, "/technical-documents/new", headers: ["Cookie": buyer.cookieHeader, "Content-Type": type], body: body)
            #expect(made.status == .seeOther, "\(made.body.string)")
            let path = made.headers.first(name: .location)?.split(separator: "?").first.map(String.init) ?? ""
            let buyerPage = try await t.page(.GET, path, browser: &buyer).body.string
            #expect(buyerPage.contains("壳体图纸") && buyerPage.contains("供应商确认情况") && buyerPage.contains("未确认"))

            var s = try await t.signIn("supplier1")
            let scsrf = try await t.csrf(&s)
            let pending = try await t.page(.GET, "/technical-documents?pending=true", browser: &s).body.string
            #expect(pending.contains("壳体图纸") && pending.contains("待确认"))
            // On the supplier's to-do list, one tap from the document.
            let home = try await t.page(.GET, "/", browser: &s).body.string
            #expect(home.contains("技术文件新版本待确认") && home.contains("href=\"\(path)\""))
            let page = try await t.page(.GET, path, browser: &s).body.string
            #expect(page.contains("已阅读 A 版，确认"))
            let rev = try #require(page.range(of: #"name="revisionId" value=""#)).upperBound
            let revID = String(page[rev...].prefix { $0 != "\"" })
            let ack = try await t.page(.POST, path + "/acknowledge", browser: &s, form: ["_csrf": scsrf, "revisionId": revID])
            #expect(ack.status == .seeOther)
            let after = try await t.page(.GET, path, browser: &s).body.string
            #expect(!after.contains("已阅读 A 版，确认") && after.contains("已确认"))
            let none = try await t.page(.GET, "/technical-documents?pending=true", browser: &s).body.string
            #expect(!none.contains("壳体图纸"))
            #expect(!(try await t.page(.GET, "/", browser: &s).body.string.contains("href=\"\(path)\"")))
            // The buyer sees the read receipt and the grant form works from the page.
            let receipts = try await t.page(.GET, path, browser: &buyer).body.string
            #expect(receipts.contains("已确认"))
            let withheld = try await t.page(.POST, path + "/grants", browser: &buyer, form: ["_csrf": csrf, "supplierCode": "SUP-JG", "state": "withheld", "reason": "更换供应商"])
            #expect(withheld.status == .seeOther)
            #expect(try await t.page(.GET, path, browser: &s).status == .notFound)
            let unknown = try await t.page(.POST, path + "/grants", browser: &buyer, form: ["_csrf": csrf, "supplierCode": "NOPE", "state": "granted"])
            #expect(unknown.status == .unprocessableEntity)
        }
    }
}
