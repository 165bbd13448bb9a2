import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import SubconApp
import SubconDomain

@Suite struct QualificationTests {
    static let pdf = Data("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n".utf8)
    static let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])

    static func upload(_ t: TestApp, orgID: String, check: String, token: String, _ data: Data, filename: String = "证据.pdf") async throws -> TestingHTTPResponse {
        var headers = HTTPHeaders()
        headers.bearerAuthorization = .init(token: token)
        headers.replaceOrAdd(name: .contentType, value: "application/octet-stream")
        let name = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "f"
        return try await t.app.testing().sendRequest(.POST, "/api/v1/organizations/\(orgID)/qualification/\(check)/evidence?filename=\(name)",
                                                     headers: headers, body: ByteBuffer(data: data))
    }

    /// Passes every check with a PDF as evidence, except the NDA, which does not apply.
    static func completeChecklist(_ t: TestApp, orgID: String, token: String) async throws {
        for check in QualificationCheck.allCases {
            if check == .confidentiality {
                let r = try await t.request(.PUT, "/api/v1/organizations/\(orgID)/qualification/\(check.rawValue)", token: token,
                                            json: #"{"result":"not_applicable","note":"不提供图纸","version":0}"#)
                #expect(r.status == .ok, "\(r.body.string)")
                continue
            }
            #expect(try await upload(t, orgID: orgID, check: check.rawValue, token: token, pdf).status == .created)
            let r = try await t.request(.PUT, "/api/v1/organizations/\(orgID)/qualification/\(check.rawValue)", token: token,
                                        json: #"{"result":"passed","version":1}"#)
            #expect(r.status == .ok, "\(r.body.string)")
        }
    }

    @Test func checksNeedEvidenceOrAReasonAndAreVersioned() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let id = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code":"SUP-NEW","name":"常州新协力"}"#).json["id"] as? String ?? ""
            let quality = try await t.token("quality")
            let q = try await t.request(.GET, "/api/v1/organizations/\(id)/qualification", token: quality)
            #expect((q.json["gaps"] as? [Any])?.count == QualificationCheck.allCases.count)
            #expect(q.json["ready"] as? Bool == false)
            // Passed without evidence, or not applicable without a reason, are refused.
            let noEvidence = try await t.request(.PUT, "/api/v1/organizations/\(id)/qualification/business_license", token: quality,
                                                 json: #"{"result":"passed","version":0}"#)
            #expect(noEvidence.status == .unprocessableEntity && noEvidence.body.string.contains("evidenceRequired"))
            let noReason = try await t.request(.PUT, "/api/v1/organizations/\(id)/qualification/confidentiality", token: quality,
                                               json: #"{"result":"not_applicable","note":"  ","version":0}"#)
            #expect(noReason.status == .unprocessableEntity)
            #expect(try await QualificationCheckRow.query(on: t.db).count() == 0)
            // Only real PDFs, pictures and Office files, whatever the name says.
            let fake = try await Self.upload(t, orgID: id, check: "business_license", token: quality, Data("MZ\u{90}\u{0}".utf8), filename: "licence.pdf")
            #expect(fake.status == .unprocessableEntity && fake.body.string.contains("fileTypeNotAllowed"))
            let big = try await Self.upload(t, orgID: id, check: "business_license", token: quality, Self.pdf + Data(count: 10 * 1024 * 1024))
            // The server's body limit answers 413; past it, the document rule answers 422. Either way, nothing is stored.
            #expect(big.status == .payloadTooLarge || (big.status == .unprocessableEntity && big.body.string.contains("fileTooLarge")))
            #expect(try await Document.query(on: t.db).count() == 0)
            let up = try await Self.upload(t, orgID: id, check: "business_license", token: quality, Self.pdf, filename: "营业执照 2026.pdf")
            #expect(up.status == .created)
            #expect(up.json["mediaType"] as? String == "application/pdf")
            let passed = try await t.request(.PUT, "/api/v1/organizations/\(id)/qualification/business_license", token: quality,
                                             json: #"{"result":"passed","note":"统一社会信用代码已核验","version":1}"#)
            #expect(passed.status == .ok, "\(passed.body.string)")
            let entry = (passed.json["entries"] as? [[String: Any]])?.first { $0["check"] as? String == "business_license" }
            #expect(entry?["result"] as? String == "passed")
            #expect(entry?["reviewedBy"] as? String == "质量工程师 陈刚")
            // A second reviewer with the old version is told, not obeyed.
            let stale = try await t.request(.PUT, "/api/v1/organizations/\(id)/qualification/business_license", token: quality,
                                            json: #"{"result":"failed","version":1}"#)
            #expect(stale.status == .conflict)
            // The file comes back as stored, declared by what it is.
            let docID = up.json["id"] as? String ?? ""
            let file = try await t.request(.GET, "/api/v1/documents/\(docID)", token: quality)
            #expect(file.status == .ok)
            #expect(file.headers.first(name: .contentType) == "application/pdf")
            #expect(file.headers.first(name: "X-Content-Type-Options") == "nosniff")
            #expect(Data(file.body.readableBytesView) == Self.pdf)
            #expect(try await t.request(.PUT, "/api/v1/organizations/\(id)/qualification/nonsense", token: quality,
                                        json: #"{"result":"passed","version":0}"#).status == .notFound)
            #expect(try await t.request(.PUT, "/api/v1/organizations/\(id)/qualification/sample_approval", token: try await t.token("planner"),
                                        json: #"{"result":"failed","version":0}"#).status == .forbidden)
            #expect(try await AuditVerification.run(app: t.app).ok)
        }
    }

    @Test func aSupplierUploadsItsOwnEvidenceButCannotReviewNorSeeOthers() async throws {
        try await TestApp.run { t in
            let jg = try await t.organization(code: "SUP-JG").id!.uuidString
            let bm = try await t.organization(code: "SUP-BM").id!.uuidString
            let s1 = try await t.token("supplier1")
            let up = try await Self.upload(t, orgID: jg, check: "quality_system", token: s1, Self.png, filename: "iso9001.png")
            #expect(up.status == .created, "\(up.body.string)")
            #expect(try await t.request(.PUT, "/api/v1/organizations/\(jg)/qualification/quality_system", token: s1,
                                        json: #"{"result":"passed","version":1}"#).status == .forbidden)
            #expect(try await Self.upload(t, orgID: bm, check: "quality_system", token: s1, Self.png).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/organizations/\(bm)/qualification", token: s1).status == .notFound)
            let s2 = try await t.token("supplier2")
            #expect(try await t.request(.GET, "/api/v1/documents/\(up.json["id"] as? String ?? "")", token: s2).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/documents/\(up.json["id"] as? String ?? "")", token: s1).status == .ok)
        }
    }

    @Test func theBuyerWorksTheChecklistFromTheSupplierPage() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let id = try await t.request(.POST, "/api/v1/organizations", token: admin, json: #"{"code":"SUP-NEW","name":"常州新协力"}"#).json["id"] as? String ?? ""
            var b = try await t.signIn("purchaser")
            let csrf = try await t.csrf(&b)
            let page = try await t.page(.GET, "/admin/organizations/\(id)", browser: &b)
            #expect(page.body.string.contains("准入审核清单") && page.body.string.contains("样品承认"))
            let refused = try await t.page(.POST, "/admin/organizations/\(id)/qualification/on_site_audit", browser: &b,
                                           form: ["_csrf": csrf, "result": "passed", "note": "", "version": "0"])
            #expect(refused.status == .unprocessableEntity)
            #expect(refused.body.string.contains("标记为通过前请先上传证据文件"))
            // A multipart upload, as the browser sends it.
            let boundary = "----subcon"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(csrf)\r\n".utf8)
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audit.pdf\"\r\nContent-Type: application/pdf\r\n\r\n".utf8)
            body += Self.pdf + Data("\r\n--\(boundary)--\r\n".utf8)
            var headers = HTTPHeaders()
            headers.replaceOrAdd(name: .cookie, value: b.cookieHeader)
            headers.replaceOrAdd(name: .contentType, value: "multipart/form-data; boundary=\(boundary)")
            let uploaded = try await t.app.testing().sendRequest(.POST, "/admin/organizations/\(id)/qualification/on_site_audit/evidence",
                                                                 headers: headers, body: ByteBuffer(data: body))
            #expect(uploaded.status == .seeOther, "\(uploaded.body.string)")
            let saved = try await t.page(.POST, "/admin/organizations/\(id)/qualification/on_site_audit", browser: &b,
                                         form: ["_csrf": csrf, "result": "passed", "note": "2026-11 现场审核 86 分", "version": "1"])
            #expect(saved.status == .seeOther)
            let after = try await t.page(.GET, "/admin/organizations/\(id)", browser: &b).body.string
            #expect(after.contains("audit.pdf") && after.contains("2026-11 现场审核 86 分"))
            // Qualifying from the page names what is still missing.
            let status = try await t.page(.POST, "/admin/organizations/\(id)/status", browser: &b,
                                          form: ["_csrf": csrf, "status": "qualified", "reason": "审核通过"])
            #expect(status.status == .unprocessableEntity)
            #expect(status.body.string.contains("准入审核清单未完成") && status.body.string.contains("营业执照"))
            #expect(!status.body.string.contains("现场审核、"))
        }
    }
}
