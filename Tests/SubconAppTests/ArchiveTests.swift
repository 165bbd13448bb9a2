import Crypto
import Fluent
import Foundation
import SQLKit
@testable import SubconApp
import Testing
import Vapor
import VaporTesting
import ZIPFoundation

/// A supplier's archive on whichever database the run uses: the manifest lists every entry with
/// its SHA-256 and they match; the records are all of the supplier's and none of another's.
@Suite struct ArchiveTests {
    static func entries(_ zip: Data) throws -> [String: Data] {
        let archive = try Archive(data: zip, accessMode: .read)
        var out: [String: Data] = [:]
        for e in archive {
            var data = Data()
            _ = try archive.extract(e) { data.append($0) }
            out[e.path] = data
        }
        return out
    }

    @Test func theManifestMatchesTheContentsAndNothingOfAnotherSupplierIsInIt() async throws {
        try await TestApp.run(scenario: true) { t in
            let jg = try await t.organization(code: "SUP-JG"), bm = try await t.organization(code: "SUP-BM")
            let purchaser = try await t.token("purchaser")
            // A certificate with a shipment of JG's, and a photo with one of BM's that must stay out.
            for (org, login) in [(jg.id!, "supplier1"), (bm.id!, "supplier2")] {
                guard let note = try await DeliveryNote.query(on: t.db).filter(\.$supplierID == org).first() else { continue }
                let up = try await t.app.testing().sendRequest(.POST, "/api/v1/deliveries/\(note.id!)/attachments?filename=coa-\(login).pdf",
                                                               headers: ["Authorization": "Bearer \(try await t.token(login))", "Content-Type": "application/pdf"],
                                                               body: ByteBuffer(string: "%PDF-1.4\n\(login)\n%%EOF\n"))
                #expect(up.status == .created, "\(up.body.string)")
            }
            let bmUser = try await t.user("supplier2").id!
            _ = try await t.app.write(as: .system) { change in
                try await DocumentService.store(Data("%PDF-1.4\nbm\n%%EOF\n".utf8), filename: "bm-cert.pdf", allowed: [.pdf], owner: bm.id!,
                                                entity: "supplier_certificate", entityID: UUID().uuidString, by: bmUser, in: change)
            }
            let r = try await t.request(.GET, "/api/v1/organizations/\(jg.id!)/archive", token: purchaser)
            #expect(r.status == .ok)
            #expect(r.headers.contentType?.subType == "zip")
            #expect(r.headers.first(name: .contentDisposition)?.contains("subcon-SUP-JG-") == true)
            let files = try Self.entries(Data(r.body.readableBytesView))
            let manifestData = try #require(files["manifest.json"])
            let manifest = try JSONDecoder.manifest.decode(SupplierArchive.Manifest.self, from: manifestData)
            #expect(manifest.supplierCode == "SUP-JG")
            // Every entry is listed with its digest, and nothing else is in the archive.
            #expect(Set(manifest.entries.map(\.path)) == Set(files.keys).subtracting(["manifest.json"]))
            for e in manifest.entries {
                let data = try #require(files[e.path])
                #expect(data.count == e.size, "\(e.path)")
                #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == e.sha256, "\(e.path)")
            }
            // The records are the supplier's: as many orders as it has, each of it.
            let orders = try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == jg.id!).count()
            #expect(orders > 0 && manifest.records["orders"] == orders)
            let json = try #require(files["records/orders.json"])
            let rows = try #require(try JSONSerialization.jsonObject(with: json) as? [[String: Any]])
            #expect(rows.count == orders)
            #expect(rows.allSatisfy { ($0["supplier_id"] as? String)?.uppercased() == jg.id!.uuidString })
            let csv = String(decoding: try #require(files["records/orders.csv"]), as: UTF8.self)
            #expect(csv.split(separator: "\r\n").count == orders + 1)
            #expect((manifest.records["exceptions"] ?? 0) > 0 && (manifest.records["statements"] ?? 0) > 0 && (manifest.records["material_movements"] ?? 0) > 0)
            // Its attached files, byte for byte; none of another supplier's.
            let docs = try await Document.query(on: t.db).filter(\.$organizationID == jg.id!).all()
            #expect(!docs.isEmpty && files.keys.filter { $0.hasPrefix("files/") }.count == docs.count)
            let bmOrders = try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == bm.id!).all()
            let bmDocs = try await Document.query(on: t.db).filter(\.$organizationID == bm.id!).all()
            #expect(!bmDocs.isEmpty)
            let text = files.filter { $0.key.hasPrefix("records/") }.values.map { String(decoding: $0, as: UTF8.self) }.joined()
            for o in bmOrders { #expect(!text.contains(o.code) && !text.contains(o.id!.uuidString) && !text.contains(o.id!.uuidString.lowercased()), "\(o.code)") }
            for d in bmDocs { #expect(!files.keys.contains { $0.contains(d.id!.uuidString.lowercased()) }) }
            // BM is named only where JG's own record says where it sent material (a transfer's destination).
            for (path, data) in files where path.hasPrefix("records/") && path.hasSuffix(".json") {
                let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
                for row in rows {
                    for (column, value) in row where (value as? String)?.uppercased() == bm.id!.uuidString {
                        #expect(path == "records/material_documents.json" && column == "to_supplier_id", "\(path) \(column)")
                    }
                }
            }

            // The supplier about its own data; another supplier gets nothing; each export is audited.
            #expect(try await t.request(.GET, "/api/v1/organizations/\(jg.id!)/archive", token: try await t.token("supplier1")).status == .ok)
            #expect(try await t.request(.GET, "/api/v1/organizations/\(jg.id!)/archive", token: try await t.token("supplier2")).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/organizations/\(jg.id!)/archive", token: try await t.token("finance")).status == .forbidden)
            let manufacturer = try await t.organization(code: "HDJM")
            #expect(try await t.request(.GET, "/api/v1/organizations/\(manufacturer.id!)/archive", token: purchaser).status == .notFound)
            let audited = try await t.sql.raw("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'archive_export'").first()!.decode(column: "n", as: Int.self)
            #expect(audited == 2)
            // The same file from the supplier's page.
            var b = try await t.signIn("purchaser")
            let page = try await t.page(.GET, "/admin/organizations/\(jg.id!)", browser: &b).body.string
            #expect(page.contains("/admin/organizations/\(jg.id!)/archive"))
            let download = try await t.page(.GET, "/admin/organizations/\(jg.id!)/archive", browser: &b)
            #expect(download.status == .ok && download.headers.contentType?.subType == "zip")
        }
    }
}
