import Fluent
import Foundation
import SQLKit

/// Checks that nothing in the database is half-written: run after a crash (the crash test
/// kills the server mid-stream and then runs this) or at any time by an operator. Each check is
/// one aggregate query; a non-empty answer names what is wrong.
public enum DataIntegrity {
    public struct Finding: Sendable, CustomStringConvertible {
        public let check: String
        public let count: Int
        public var description: String { "\(check): \(count)" }
    }

    /// Query returning one number: how many rows break the rule.
    static let checks: [(String, SQLQueryString)] = [
        ("material documents without lines", """
            SELECT COUNT(*) AS n FROM material_documents d
            WHERE NOT EXISTS (SELECT 1 FROM material_document_lines l WHERE l.document_id = d.id)
            """),
        ("goods receipts without lines", """
            SELECT COUNT(*) AS n FROM goods_receipts r WHERE NOT EXISTS (SELECT 1 FROM receipt_lines l WHERE l.receipt_id = r.id)
            """),
        ("delivery notes without lines", """
            SELECT COUNT(*) AS n FROM delivery_notes d WHERE NOT EXISTS (SELECT 1 FROM delivery_note_lines l WHERE l.note_id = d.id)
            """),
        ("orders without lines", """
            SELECT COUNT(*) AS n FROM outsourcing_orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)
            """),
        ("movements of a document that does not exist", """
            SELECT COUNT(*) AS n FROM material_movements m
            WHERE m.document_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM material_documents d WHERE d.id = m.document_id)
            """),
        ("consumption of a receipt line that does not exist", """
            SELECT COUNT(*) AS n FROM material_movements m
            WHERE m.receipt_line_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM receipt_lines l WHERE l.id = m.receipt_line_id)
            """),
        // An issue that is done moved exactly what its lines say; one waiting or refused moved nothing.
        ("issues whose movements differ from their lines", """
            SELECT COUNT(*) AS n FROM material_documents d
            WHERE d.kind IN ('issue', 'supplementary')
              AND COALESCE((SELECT SUM(m.quantity) FROM material_movements m WHERE m.document_id = d.id AND m.kind = 'issued'), 0)
                  <> CASE WHEN d.status = 'done' THEN COALESCE((SELECT SUM(l.quantity) FROM material_document_lines l WHERE l.document_id = d.id), 0) ELSE 0 END
            """),
        ("transfers whose two sides differ", """
            SELECT COUNT(*) AS n FROM material_documents d
            WHERE d.kind = 'transfer'
              AND COALESCE((SELECT SUM(m.quantity) FROM material_movements m WHERE m.document_id = d.id AND m.kind = 'transferred_out'), 0)
                  <> COALESCE((SELECT SUM(m.quantity) FROM material_movements m WHERE m.document_id = d.id AND m.kind = 'transferred_in'), 0)
            """),
        ("progress reports of an order line that does not exist", """
            SELECT COUNT(*) AS n FROM progress_reports p
            WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = p.order_id AND l.line_no = p.line_no)
            """),
    ]

    public static var checkCount: Int { checks.count }

    public static func run(on db: any Database) async throws -> [Finding] {
        let sql = db as! any SQLDatabase
        var findings: [Finding] = []
        for (name, query) in checks {
            struct Row: Decodable { let n: Int64 }
            let n = try await sql.raw(query).firstRow(decoding: Row.self)?.n ?? 0
            if n != 0 { findings.append(Finding(check: name, count: Int(n))) }
        }
        return findings
    }
}
