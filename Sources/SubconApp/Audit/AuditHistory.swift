import Fluent
import Foundation
import Vapor

/// Who may read which part of the audit trail. The manufacturer's people read it all; a
/// supplier reads only the history of records in its own scope.
enum AuditHistory {
    static func list(_ p: Principal, entity: String?, entityID: String?, page: PageRequest, on db: any Database) async throws -> Page<AuditEntry> {
        try p.require(.viewAudit)
        if p.isSupplier {
            guard let entity, let entityID, try await visible(p, entity: entity, entityID: entityID, on: db) else {
                throw Problem.notFound
            }
        }
        var q = AuditEntry.query(on: db)
        if let entity { q = q.filter(\.$entity == entity) }
        if let entityID { q = q.filter(\.$entityID == entityID) }
        let total = try await q.count()
        let rows = try await q.sort(\.$id, .descending).range(page.offset..<(page.offset + page.per)).all()
        return Page(items: rows, page: page.page, per: page.per, total: total)
    }

    /// Whether the record behind an audit entity is inside the caller's scope.
    static func visible(_ p: Principal, entity: String, entityID: String, on db: any Database) async throws -> Bool {
        guard let id = UUID(uuidString: entityID) else { return false }
        switch entity {
        case "user": return (try? await p.scope.find(User.self, id, on: db)) != nil
        case "organization": return (try? await p.scope.find(Organization.self, id, on: db)) != nil
        case "site": return (try? await p.scope.find(Site.self, id, on: db)) != nil
        case "api_token":
            guard let token = try await APIToken.find(id, on: db) else { return false }
            return (try? await p.scope.find(User.self, token.$user.id, on: db)) != nil
        case "item", "bom", "routing", "import": return p.can(.viewMasterData)
        case "supplier_profile": return (try? await p.scope.find(Organization.self, id, on: db)) != nil
        case "supplier_certificate": return (try? await p.scope.find(SupplierCertificate.self, id, on: db)) != nil
        case "price_agreement": return (try? await p.scope.find(PriceAgreementRow.self, id, on: db)) != nil
        case "exception": return (try? await p.scope.find(ExceptionCase.self, id, on: db)) != nil
        case "inspection": return (try? await p.scope.find(Inspection.self, id, on: db)) != nil
        case "order": return (try? await OrderService.find(p, id, on: db)) != nil
        case "material_document": return (try? await MaterialService.find(p, id, on: db)) != nil
        case "delivery_note": return (try? await p.scope.find(DeliveryNote.self, id, on: db)) != nil
        case "goods_receipt": return (try? await p.scope.find(GoodsReceipt.self, id, on: db)) != nil
        case "progress_report": return (try? await p.scope.find(ProgressReport.self, id, on: db)) != nil
        case "deduction_proposal": return (try? await p.scope.find(DeductionProposal.self, id, on: db)) != nil
        case "quality_state": return (try? await p.scope.find(QualityState.self, id, on: db)) != nil
        case "exception_comment":
            guard let c = try await ExceptionComment.find(id, on: db) else { return false }
            return (try? await p.scope.find(ExceptionCase.self, c.exceptionID, on: db)) != nil
        case "document": return (try? await p.scope.find(Document.self, id, on: db)) != nil
        case "tech_document": return (try? await TechDocService.load(p, id, on: db)) != nil
        case "handover": return (try? await HandoverService.load(p, id, on: db)) != nil
        default: return !p.isSupplier
        }
    }
}
