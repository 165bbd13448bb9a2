import Fluent
import Foundation
import Testing
import VaporTesting
@testable import SubconApp

/// Whatever people type is shown as text, never run: every field a person enters, rendered on
/// the pages that show it, comes out escaped.
@Suite struct EscapingTests {
    static let payload = #"<script>alert(1)</script>"><img src=x onerror=alert(2)>"#

    @Test func userEnteredFieldsAreEscapedOnEveryPageThatShowsThem() async throws {
        try await TestApp.run(scenario: true) { t in
            let x = Self.payload
            func json(_ s: String) -> String {
                String(data: try! JSONSerialization.data(withJSONObject: [s], options: []), encoding: .utf8)!.dropFirst().dropLast().description
            }
            let admin = try await t.token("admin"), purchaser = try await t.token("purchaser"), supplier = try await t.token("supplier1")
            let jg = try await t.organization(code: "SUP-JG").id!
            var pages: [String: String] = [:]  // page → what was entered there

            let item = try await t.request(.POST, "/api/v1/items", token: admin, json: #"{"code":"XSS-1","name":\#(json(x)),"specification":\#(json(x)),"uom":"PCS","kind":"finished"}"#)
            #expect(item.status == .created, "\(item.body.string)")
            pages["/items"] = "item name"
            pages["/items/\(item.json["id"] as? String ?? "")"] = "item name and specification"

            let org = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code":"XSS-ORG","name":\#(json(x))}"#)
            #expect(org.status == .created, "\(org.body.string)")
            pages["/admin/organizations"] = "organization name"

            let user = try await t.request(.POST, "/api/v1/users", token: admin, json: """
                {"organizationId":"\(jg)","login":"xss-user","displayName":\(json(x)),"password":"long-enough-1","roles":["supplier_user"]}
                """)
            #expect(user.status == .created, "\(user.body.string)")
            pages["/admin/users"] = "display name"

            let raised = try await t.request(.POST, "/api/v1/exceptions", token: purchaser, json: """
                {"type":"other","severity":"minor","supplierId":"\(jg)","title":\(json(x)),"description":\(json(x))}
                """)
            #expect(raised.status == .created, "\(raised.body.string)")
            let exceptionID = raised.json["id"] as? String ?? ""
            let comment = try await t.request(.POST, "/api/v1/exceptions/\(exceptionID)/comments", token: supplier, json: #"{"body":\#(json(x))}"#)
            #expect(comment.status == .created, "\(comment.body.string)")
            pages["/exceptions/\(exceptionID)"] = "exception title, description and comment"
            pages["/exceptions"] = "exception title"

            let note = try await DeliveryNote.query(on: t.db).filter(\.$supplierID == jg).first()!
            let fileName = (x + ".pdf").addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let attached = try await t.app.testing().sendRequest(.POST, "/api/v1/deliveries/\(note.id!)/attachments?filename=\(fileName)",
                headers: ["Authorization": "Bearer \(supplier)", "Content-Type": "application/pdf"],
                body: ByteBuffer(string: "%PDF-1.4\n%%EOF\n"))
            #expect(attached.status == .created, "\(attached.body.string)")
            // File names are cleaned when stored (no markup characters survive); still, none may run.
            pages["/deliveries/\(note.id!)"] = "attachment file name (cleaned)"

            let csv = "物料编码,物料名称,单位,类型\nXSS-2,\"\(x.replacingOccurrences(of: "\"", with: "\"\""))\",PCS,finished\n"
            let preview = try await t.app.testing().sendRequest(.POST, "/api/v1/imports/items?filename=\(fileName)",
                headers: ["Authorization": "Bearer \(admin)", "Content-Type": "text/csv"], body: ByteBuffer(string: csv))
            #expect(preview.status == .created, "\(preview.body.string)")
            pages["/imports/\(preview.json["id"] as? String ?? "")"] = "import cells and file name"

            let order = try await t.request(.POST, "/api/v1/orders", token: purchaser, json: """
                {"supplierId":"\(jg)","note":\(json(x)),"lines":[{"itemCode":"XSS-1","quantity":"5","dueDate":"2027-01-20","unitPrice":"1"}]}
                """)
            #expect(order.status == .created, "\(order.body.string)")
            pages["/orders/\(order.json["id"] as? String ?? "")"] = "order note"
            // The order list writes its rows in Swift (`HTML`), not through Leaf: a supplier's name
            // there (set as it is stored, as a qualified supplier's name could be).
            let bm = try await t.organization(code: "SUP-BM")
            bm.name = x
            try await bm.save(on: t.db)
            pages["/orders?supplierId=\(bm.id!)"] = "supplier name in the order list"

            var browser = try await t.signIn("admin")
            for (path, what) in pages.sorted(by: { $0.key < $1.key }) {
                let page = try await t.page(.GET, path, browser: &browser)
                #expect(page.status == .ok, "\(path): \(page.status)")
                let html = page.body.string
                #expect(!html.contains("<script>alert(1)"), "\(path): \(what) rendered as markup")
                #expect(!html.contains("<img src=x"), "\(path): \(what) rendered as markup")
                if !what.hasSuffix("(cleaned)") {
                    #expect(html.contains("&lt;script&gt;alert(1)"), "\(path): \(what) not shown at all")
                }
            }
        }
    }
}
