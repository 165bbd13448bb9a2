import Fluent
import Foundation
import SubconDomain
import Vapor

/// Technical documents in the demo: the CR-65 assembly drawing of FG-RD-002 in revision B, which
/// JG has not acknowledged yet (revision A it had), and its work instruction, acknowledged.
enum DemoDocuments {
    static func seed(jg: UUID, app: Application) async throws {
        guard let item = try await Item.query(on: app.database).filter(\.$code == "FG-RD-002").first() else { return }
        let purchaser = try await DemoOrders.principal("purchaser", app), quality = try await DemoOrders.principal("quality", app)
        let jgUser = try await DemoOrders.principal("supplier1", app)
        func acknowledge(_ id: UUID) async throws {
            let d = try await TechDocService.detail(jgUser, id, on: app.database)
            try await TechDocService.acknowledge(jgUser, id, AcknowledgeInput(revisionId: d.document.currentRevisionId!), app: app)
        }
        let drawing = try await TechDocService.create(purchaser, TechDocumentInput(itemId: item.id!, kind: "drawing", title: "CR-65 散热器组件总图",
                                                                                  operation: nil, orderId: nil),
                                                      file: (pdf("CR-65 assembly drawing, revision A"), "CR-65-总图-A.pdf", "首版"), app: app)
        try await acknowledge(drawing)
        _ = try await TechDocService.addRevision(purchaser, drawing, data: pdf("CR-65 assembly drawing, revision B: pad 0.8 mm"), filename: "CR-65-总图-B.pdf",
                                                 note: "导热垫厚度由 0.5 mm 改为 0.8 mm", version: nil, app: app)
        let instruction = try await TechDocService.create(quality, TechDocumentInput(itemId: item.id!, kind: "process", title: "CR-65 装配作业指导书",
                                                                                     operation: nil, orderId: nil),
                                                          file: (pdf("CR-65 work instruction, revision A"), "CR-65-作业指导书.pdf", "首版"), app: app)
        try await acknowledge(instruction)
    }

    /// A one-page PDF with one line of text (the demo's stand-in for a drawing).
    static func pdf(_ text: String) -> Data {
        let safe = text.replacingOccurrences(of: "\\", with: "").replacingOccurrences(of: "(", with: "").replacingOccurrences(of: ")", with: "")
        let stream = "BT /F1 18 Tf 72 720 Td (\(safe)) Tj ET"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var out = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (i, o) in objects.enumerated() {
            offsets.append(out.utf8.count)
            out += "\(i + 1) 0 obj\n\(o)\nendobj\n"
        }
        let xref = out.utf8.count
        out += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n" + offsets.map { String(format: "%010d 00000 n \n", $0) }.joined()
        out += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(out.utf8)
    }
}
