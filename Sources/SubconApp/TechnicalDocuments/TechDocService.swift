import Crypto
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Technical documents: the buyer uploads revisions, sharing follows the orders (or a grant set by
/// hand), every download is logged, and suppliers acknowledge each new revision.
enum TechDocService {
    static let maxBytes = 20 * 1024 * 1024
    static let allowedTypes: Set<FileType> = [.pdf, .png, .jpeg, .webp, .officeZip]

    // MARK: Who sees what

    // The rules below are SQL text over columns (the supplier is always a column: an
    // organization joined by id when it is the caller), so that the to-do list can use them too.

    /// Whether the supplier has an open order for the item (both columns).
    static func openOrderSQL(item: String, supplier: String) -> String {
        let statuses = DocumentSharing.sharingStatuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return """
            EXISTS (SELECT 1 FROM order_lines l JOIN outsourcing_orders o ON o.id = l.order_id
                    WHERE l.item_id = \(item) AND l.supplier_id = \(supplier) AND o.status IN (\(statuses)))
            """
    }

    /// The rule of `DocumentSharing.access` over documents aliased `d`: a grant shares, a
    /// withheld grant hides, otherwise an open order shares. A document for one order only is for
    /// that order's supplier; a document without a revision is nothing to share yet.
    static func visibleSQL(supplier: String) -> String {
        """
        (d.current_revision_id IS NOT NULL
         AND (d.order_id IS NULL OR EXISTS (SELECT 1 FROM outsourcing_orders od WHERE od.id = d.order_id AND od.supplier_id = \(supplier)))
         AND (EXISTS (SELECT 1 FROM tech_document_grants g WHERE g.item_id = d.item_id AND g.supplier_id = \(supplier) AND g.state = 'granted')
              OR (NOT EXISTS (SELECT 1 FROM tech_document_grants g WHERE g.item_id = d.item_id AND g.supplier_id = \(supplier))
                  AND \(openOrderSQL(item: "d.item_id", supplier: supplier)))))
        """
    }

    static func sharedBySQL(supplier: String) -> String {
        "CASE WHEN EXISTS (SELECT 1 FROM tech_document_grants g WHERE g.item_id = d.item_id AND g.supplier_id = \(supplier) AND g.state = 'granted') THEN 'grant' ELSE 'open_order' END"
    }

    static func ackedSQL(supplier: String) -> String {
        "EXISTS (SELECT 1 FROM tech_document_acks a WHERE a.revision_id = d.current_revision_id AND a.organization_id = \(supplier))"
    }

    // MARK: Reading

    struct Filter {
        var itemID: UUID?
        var kind: String?
        /// A supplier's documents whose current revision it has not acknowledged.
        var pending = false
        var search: String?
    }

    struct Row: Decodable {
        let id: UUID; let item_id: UUID; let item_code: String; let item_name: String; let kind: String; let title: String
        let operation: String; let order_id: UUID?; let current_label: String?; let current_revision_id: UUID?; let version: Int
        let updated_at: Date; let require_document_ack: Bool; let acknowledged: Int?; let shared_by: String?
    }

    private static func columns(_ p: Principal) -> SQLQueryString {
        let base: SQLQueryString = """
            d.id, d.item_id, i.code AS item_code, i.name AS item_name, d.kind, d.title, d.operation, d.order_id, d.current_label,
            d.current_revision_id, d.version, d.updated_at, i.require_document_ack
            """
        guard p.isSupplier else { return base + ", NULL AS acknowledged, NULL AS shared_by" }
        return base + ", CASE WHEN \(unsafeRaw: ackedSQL(supplier: "me.id")) THEN 1 ELSE 0 END AS acknowledged, \(unsafeRaw: sharedBySQL(supplier: "me.id")) AS shared_by"
    }

    /// The documents with their items, and for a supplier its own organization as `me`.
    private static func source(_ p: Principal) -> SQLQueryString {
        p.isSupplier ? "FROM tech_documents d JOIN items i ON i.id = d.item_id JOIN organizations me ON me.id = \(bind: p.organizationID)"
            : "FROM tech_documents d JOIN items i ON i.id = d.item_id"
    }

    static func dto(_ r: Row) -> TechDocumentDTO {
        TechDocumentDTO(id: r.id, itemId: r.item_id, itemCode: r.item_code, itemName: r.item_name, kind: r.kind, title: r.title,
                        operation: r.operation, orderId: r.order_id, currentRevision: r.current_label, currentRevisionId: r.current_revision_id,
                        version: r.version, updatedAt: r.updated_at, acknowledged: r.acknowledged.map { $0 == 1 }, sharedBy: r.shared_by,
                        requiresAcknowledgment: r.require_document_ack)
    }

    static func list(_ p: Principal, filter: Filter, page: PageRequest, on db: any Database) async throws -> Page<TechDocumentDTO> {
        try p.require(.viewTechnicalDocuments)
        let sql = db as! any SQLDatabase
        var conditions: [SQLQueryString] = ["1 = 1"]
        if p.isSupplier {
            conditions.append("\(unsafeRaw: visibleSQL(supplier: "me.id"))")
            if filter.pending { conditions.append("NOT \(unsafeRaw: ackedSQL(supplier: "me.id"))") }
        }
        if let item = filter.itemID { conditions.append("d.item_id = \(bind: item)") }
        if let kind = filter.kind { conditions.append("d.kind = \(bind: kind)") }
        if let q = filter.search?.trimmingCharacters(in: .whitespaces), !q.isEmpty {
            let like = "%" + q.lowercased().replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
            conditions.append("(LOWER(d.title) LIKE \(bind: like) OR LOWER(i.code) LIKE \(bind: like) OR LOWER(i.name) LIKE \(bind: like))")
        }
        let from: SQLQueryString = source(p) + " WHERE " + conditions.joined(separator: " AND ")
        let total = try await sql.raw("SELECT COUNT(*) AS n " + from).first()?.decode(column: "n", as: Int.self) ?? 0
        let rows = try await sql.raw("SELECT " + columns(p) + " " + from
            + " ORDER BY i.code, d.kind, d.title, d.id LIMIT \(literal: page.per) OFFSET \(literal: page.offset)").rows(decoding: Row.self)
        return Page(items: rows.map(dto), page: page.page, per: page.per, total: total)
    }

    /// One document as the caller may see it, or 404 (a supplier without access, an unknown id).
    static func load(_ p: Principal, _ id: UUID, on db: any Database) async throws -> Row {
        try p.require(.viewTechnicalDocuments)
        let visible: SQLQueryString = p.isSupplier ? " AND \(unsafeRaw: visibleSQL(supplier: "me.id"))" : ""
        guard let row = try await (db as! any SQLDatabase).raw("SELECT " + columns(p) + " " + source(p) + " WHERE d.id = \(bind: id)" + visible)
            .firstRow(decoding: Row.self) else { throw Problem.notFound }
        return row
    }

    struct RevisionRow: Decodable {
        let id: UUID; let label: String; let filename: String; let media_type: String; let size: Int; let sha256: String; let note: String
        let uploader: String?; let created_at: Date; let superseded_at: Date?
    }

    static func detail(_ p: Principal, _ id: UUID, on db: any Database) async throws -> TechDocumentDetailDTO {
        let doc = try await load(p, id, on: db)
        let sql = db as! any SQLDatabase
        let revisions = try await sql.raw("""
            SELECT r.id, r.label, r.filename, r.media_type, r.size, r.sha256, r.note, u.display_name AS uploader, r.created_at, r.superseded_at
            FROM tech_document_revisions r LEFT JOIN users u ON u.id = r.uploaded_by
            WHERE r.document_id = \(bind: id) ORDER BY LENGTH(r.label) DESC, r.label DESC
            """).rows(decoding: RevisionRow.self).map { r in
            TechDocumentRevisionDTO(id: r.id, label: r.label, filename: r.filename, mediaType: r.media_type, size: r.size, sha256: r.sha256,
                                    note: r.note, uploadedBy: r.uploader ?? "", createdAt: r.created_at, supersededAt: r.superseded_at,
                                    current: r.id == doc.current_revision_id,
                                    url: "/api/v1/technical-documents/\(id)/revisions/\(r.id)/file")
        }
        guard !p.isSupplier else { return TechDocumentDetailDTO(document: dto(doc), revisions: revisions, receipts: nil, downloads: nil) }
        return TechDocumentDetailDTO(document: dto(doc), revisions: revisions,
                                     receipts: try await receipts(doc, on: db), downloads: try await downloads(id, on: db))
    }

    struct ReceiptRow: Decodable {
        let id: UUID; let code: String; let name: String; let shared_by: String; let at: Date?; let user_name: String?
    }

    /// Every supplier the document is shared with now, and whether it has acknowledged the current revision.
    static func receipts(_ doc: Row, on db: any Database) async throws -> [ReadReceiptDTO] {
        guard let current = doc.current_revision_id else { return [] }
        let sql = db as! any SQLDatabase
        return try await sql.raw("""
            SELECT org.id, org.code, org.name, \(unsafeRaw: sharedBySQL(supplier: "org.id")) AS shared_by, a.at, u.display_name AS user_name
            FROM tech_documents d JOIN organizations org ON org.kind = 'supplier'
            LEFT JOIN tech_document_acks a ON a.revision_id = \(bind: current) AND a.organization_id = org.id
            LEFT JOIN users u ON u.id = a.user_id
            WHERE d.id = \(bind: doc.id) AND \(unsafeRaw: visibleSQL(supplier: "org.id"))
            ORDER BY org.code
            """).rows(decoding: ReceiptRow.self).map {
            ReadReceiptDTO(supplierId: $0.id, supplierCode: $0.code, supplierName: $0.name, sharedBy: $0.shared_by, acknowledgedAt: $0.at, acknowledgedBy: $0.user_name)
        }
    }

    struct DownloadRow: Decodable { let label: String; let user_name: String?; let org_name: String?; let at: Date }

    /// The latest 100 downloads of any revision: who, when, which revision.
    static func downloads(_ id: UUID, on db: any Database) async throws -> [DownloadDTO] {
        try await (db as! any SQLDatabase).raw("""
            SELECT r.label, u.display_name AS user_name, o.name AS org_name, x.at
            FROM tech_document_downloads x JOIN tech_document_revisions r ON r.id = x.revision_id
            LEFT JOIN users u ON u.id = x.user_id LEFT JOIN organizations o ON o.id = x.organization_id
            WHERE x.document_id = \(bind: id) ORDER BY x.at DESC LIMIT 100
            """).rows(decoding: DownloadRow.self).map { DownloadDTO(revision: $0.label, userName: $0.user_name ?? "", organizationName: $0.org_name ?? "", at: $0.at) }
    }

    // MARK: Writing

    /// A new document, with its first revision when a file comes with it (the page's form), in one transaction.
    static func create(_ p: Principal, _ input: TechDocumentInput, file: (data: Data, filename: String, note: String)?, app: Application) async throws -> UUID {
        try p.require(.manageTechnicalDocuments)
        let problems = input.validate()
        if !problems.isEmpty { throw Problem.validation(problems) }
        guard try await Item.find(input.itemId, on: app.database) != nil else { throw Problem.validation([FieldProblem("itemId", "unknownItem")]) }
        if let order = input.orderId {
            let hasItem = try await OrderLineRow.query(on: app.database).filter(\.$orderID == order).filter(\.$itemID == input.itemId).count() > 0
            guard hasItem else { throw Problem.validation([FieldProblem("orderId", "orderWithoutItem")]) }
        }
        let checked = try file.map { try check($0.data, filename: $0.filename, note: $0.note) }
        return try await app.write(as: p.auditActor) { change in
            let id = UUID()
            let title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
            let operation = (input.operation ?? "").trimmingCharacters(in: .whitespaces)
            try await (change.db as! any SQLDatabase).insert(into: "tech_documents")
                .columns("id", "item_id", "kind", "title", "operation", "order_id", "version", "created_by", "created_at", "updated_at")
                .values(SQLBind(id), SQLBind(input.itemId), SQLBind(input.kind), SQLBind(title), SQLBind(operation), SQLBind(input.orderId),
                        SQLBind(1), SQLBind(p.userID), SQLBind(change.now), SQLBind(change.now)).run()
            try await change.audit("tech_document", id, "create", after: [
                "item_id": input.itemId.uuidString, "kind": input.kind, "title": title, "operation": operation, "order_id": input.orderId?.uuidString])
            if let checked { _ = try await storeRevision(p, id, checked, expectedVersion: 1, in: change) }
            return id
        }
    }

    struct CheckedFile: Sendable { let data: Data; let filename: String; let mediaType: String; let sha256: String; let note: String }

    static func check(_ data: Data, filename: String, note: String) throws -> CheckedFile {
        let (type, name) = try DocumentService.checkFile(data, filename: filename, allowed: allowedTypes, maxBytes: maxBytes)
        let n = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard n.count <= 500 else { throw Problem.validation([FieldProblem("note", "tooLong", ["max": "500"])]) }
        return CheckedFile(data: data, filename: name, mediaType: DocumentService.mediaType(type, name: name), sha256: SHA256.hash(data: data).lowercaseHex, note: n)
    }

    /// A new revision: the next label, the previous one superseded, the suppliers who see the
    /// document told to read and acknowledge it. `version` guards against two uploads at once.
    static func addRevision(_ p: Principal, _ id: UUID, data: Data, filename: String, note: String, version: Int?, app: Application) async throws -> UUID {
        try p.require(.manageTechnicalDocuments)
        let doc = try await load(p, id, on: app.database)
        let checked = try check(data, filename: filename, note: note)
        return try await app.write(as: p.auditActor) { change in
            try await storeRevision(p, id, checked, expectedVersion: version ?? doc.version, in: change)
        }
    }

    private static func storeRevision(_ p: Principal, _ id: UUID, _ f: CheckedFile, expectedVersion: Int, in change: Change) async throws -> UUID {
        let sql = change.db as! any SQLDatabase
        struct Current: Decodable { let current_label: String?; let current_revision_id: UUID?; let item_id: UUID; let title: String; let version: Int }
        guard let cur = try await sql.raw("SELECT current_label, current_revision_id, item_id, title, version FROM tech_documents WHERE id = \(bind: id)")
            .firstRow(decoding: Current.self) else { throw Problem.notFound }
        guard cur.version == expectedVersion else { throw Problem.staleVersion(current: cur.version) }
        let label = RevisionLabel.next(after: cur.current_label)
        let rev = UUID()
        // One copy per content: the same file uploaded again (to another item, or as a
        // revision that only changes the note) is not stored twice.
        try await sql.raw("""
            INSERT INTO file_blobs (sha256, size, data, created_at) VALUES (\(bind: f.sha256), \(bind: f.data.count), \(bind: f.data), \(bind: change.now))
            ON CONFLICT (sha256) DO NOTHING
            """).run()
        try await sql.insert(into: "tech_document_revisions")
            .columns("id", "document_id", "label", "sha256", "filename", "media_type", "size", "note", "uploaded_by", "created_at")
            .values(SQLBind(rev), SQLBind(id), SQLBind(label), SQLBind(f.sha256), SQLBind(f.filename), SQLBind(f.mediaType), SQLBind(f.data.count),
                    SQLBind(f.note), SQLBind(p.userID), SQLBind(change.now)).run()
        if let previous = cur.current_revision_id {
            try await sql.update("tech_document_revisions").set("superseded_at", to: change.now).where("id", .equal, previous).run()
        }
        try await change.updateVersioned("tech_documents", id: id, expected: cur.version, sets: [
            "current_revision_id": rev, "current_label": label, "updated_at": change.now])
        try await change.audit("tech_document", id, "revise", before: ["revision": cur.current_label],
                               after: ["revision": label, "filename": f.filename, "sha256": f.sha256, "note": f.note])
        // Everyone who should read it: the people of each supplier the document is shared with.
        struct Person: Decodable { let id: UUID; let roles: String }
        let people = try await sql.raw("""
            SELECT u.id, u.roles FROM tech_documents d JOIN organizations org ON org.kind = 'supplier'
            JOIN users u ON u.organization_id = org.id AND u.active = \(true)
            WHERE d.id = \(bind: id) AND \(unsafeRaw: visibleSQL(supplier: "org.id"))
            """).rows(decoding: Person.self).filter { Policy.allows(Role.parseList($0.roles), .viewTechnicalDocuments) }.map(\.id)
        try await change.notify("document.revised", recipients: people, messageKey: "notice.documentRevised",
                                params: ["title": cur.title, "revision": label], link: "/technical-documents/\(id)")
        return rev
    }

    /// The supplier's read receipt of the current revision (again: nothing changes).
    static func acknowledge(_ p: Principal, _ id: UUID, _ input: AcknowledgeInput, app: Application) async throws {
        let doc = try await load(p, id, on: app.database)
        guard p.isSupplier else { throw Problem.forbidden }
        guard input.revisionId == doc.current_revision_id else {
            throw Problem.conflict("problem.document.notCurrent", ["revision": doc.current_label ?? ""])
        }
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            let inserted = try await sql.raw("""
                INSERT INTO tech_document_acks (id, revision_id, organization_id, user_id, at)
                VALUES (\(bind: UUID()), \(bind: input.revisionId), \(bind: p.organizationID), \(bind: p.userID), \(bind: change.now))
                ON CONFLICT (revision_id, organization_id) DO NOTHING RETURNING id
                """).all()
            guard !inserted.isEmpty else { return }
            try await change.audit("tech_document", id, "acknowledge", after: ["revision": doc.current_label, "organization_id": p.organizationID.uuidString])
            try await change.settleNotices(["document.revised"], link: "/technical-documents/\(id)", forUsersOf: p.organizationID)
        }
    }

    /// The file of one revision, to whoever may see the document; each download is logged.
    static func download(_ req: Request, document id: UUID, revision: UUID) async throws -> Response {
        let p = try req.requirePrincipal()
        _ = try await load(p, id, on: req.db)
        struct FileRow: Decodable { let label: String; let filename: String; let media_type: String; let data: Data }
        guard let f = try await (req.db as! any SQLDatabase).raw("""
            SELECT r.label, r.filename, r.media_type, b.data FROM tech_document_revisions r JOIN file_blobs b ON b.sha256 = r.sha256
            WHERE r.id = \(bind: revision) AND r.document_id = \(bind: id)
            """).firstRow(decoding: FileRow.self) else { throw Problem.notFound }
        try await (req.db as! any SQLDatabase).insert(into: "tech_document_downloads")
            .columns("id", "document_id", "revision_id", "user_id", "organization_id", "at")
            .values(SQLBind(UUID()), SQLBind(id), SQLBind(revision), SQLBind(p.userID), SQLBind(p.organizationID), SQLBind(req.subcon.clock.now())).run()
        // Never cached: a superseded revision must not linger in a browser as if current.
        let response = DocumentService.fileResponse(f.data, filename: f.filename, mediaType: f.media_type, cacheControl: "private, no-store")
        response.headers.replaceOrAdd(name: "X-Revision", value: f.label)
        return response
    }

    // MARK: Sharing by hand

    struct GrantRow: Decodable { let id: UUID; let code: String; let name: String; let state: String?; let reason: String?; let set_at: Date?; let open_order: Int }

    /// Every supplier that sees the item's documents or has a grant row for it.
    static func grants(_ p: Principal, item: UUID, on db: any Database) async throws -> [DocumentGrantDTO] {
        try p.require(.manageTechnicalDocuments)
        guard try await Item.find(item, on: db) != nil else { throw Problem.notFound }
        let open = openOrderSQL(item: "it.id", supplier: "org.id")
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT org.id, org.code, org.name, g.state, g.reason, g.set_at, CASE WHEN \(unsafeRaw: open) THEN 1 ELSE 0 END AS open_order
            FROM items it JOIN organizations org ON org.kind = 'supplier' LEFT JOIN tech_document_grants g ON g.item_id = it.id AND g.supplier_id = org.id
            WHERE it.id = \(bind: item) AND (g.id IS NOT NULL OR \(unsafeRaw: open))
            ORDER BY org.code
            """).rows(decoding: GrantRow.self)
        return rows.map { r in
            DocumentGrantDTO(itemId: item, supplierId: r.id, supplierCode: r.code, supplierName: r.name,
                             state: r.state ?? "open_order", reason: r.reason ?? "", setAt: r.set_at)
        }
    }

    static func setGrant(_ p: Principal, _ input: GrantInput, app: Application) async throws {
        try p.require(.manageTechnicalDocuments)
        let problems = input.validate()
        if !problems.isEmpty { throw Problem.validation(problems) }
        guard try await Item.find(input.itemId, on: app.database) != nil else { throw Problem.validation([FieldProblem("itemId", "unknownItem")]) }
        guard let org = try await Organization.find(input.supplierId, on: app.database), org.kind == OrganizationKind.supplier.rawValue else {
            throw Problem.validation([FieldProblem("supplierId", "unknownSupplier")])
        }
        let reason = (input.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            struct Old: Decodable { let state: String }
            let old = try await sql.raw("SELECT state FROM tech_document_grants WHERE item_id = \(bind: input.itemId) AND supplier_id = \(bind: input.supplierId)")
                .firstRow(decoding: Old.self)?.state
            try await sql.delete(from: "tech_document_grants").where("item_id", .equal, input.itemId).where("supplier_id", .equal, input.supplierId).run()
            if input.state != "none" {
                try await sql.insert(into: "tech_document_grants").columns("id", "item_id", "supplier_id", "state", "reason", "set_by", "set_at")
                    .values(SQLBind(UUID()), SQLBind(input.itemId), SQLBind(input.supplierId), SQLBind(input.state), SQLBind(reason),
                            SQLBind(p.userID), SQLBind(change.now)).run()
            }
            try await change.audit("item", input.itemId, "document_sharing", before: ["supplier": org.code, "sharing": old ?? "none"],
                                   after: ["supplier": org.code, "sharing": input.state, "reason": reason])
        }
    }

    /// Whether shipping the item waits for read receipts.
    static func setRequireAcknowledgment(_ p: Principal, item: UUID, _ input: DocumentSettingsInput, app: Application) async throws {
        try p.require(.manageTechnicalDocuments)
        guard let i = try await Item.find(item, on: app.database) else { throw Problem.notFound }
        try await app.write(as: p.auditActor) { change in
            let sql = change.db as! any SQLDatabase
            struct Old: Decodable { let require_document_ack: Bool }
            let old = try await sql.raw("SELECT require_document_ack FROM items WHERE id = \(bind: item)").firstRow(decoding: Old.self)?.require_document_ack
            guard old != input.requireAcknowledgment else { return }
            try await sql.update("items").set("require_document_ack", to: input.requireAcknowledgment).where("id", .equal, item).run()
            try await change.audit("item", i.id, "update", before: ["require_document_ack": old.map { String($0) }],
                                   after: ["require_document_ack": String(input.requireAcknowledgment)])
        }
    }

    // MARK: Shipping

    /// Refuses a delivery note while the supplier has not acknowledged the current revision of a
    /// document of an item that asks for it (inside the note's transaction).
    static func checkAcknowledged(supplier: UUID, order: UUID, items: [UUID], on db: any Database) async throws {
        guard !items.isEmpty else { return }
        struct Current: Decodable { let item_id: UUID; let item_code: String; let title: String; let current_label: String; let acknowledged: Int }
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT d.item_id, i.code AS item_code, d.title, d.current_label, CASE WHEN \(unsafeRaw: ackedSQL(supplier: "me.id")) THEN 1 ELSE 0 END AS acknowledged
            FROM tech_documents d JOIN items i ON i.id = d.item_id JOIN organizations me ON me.id = \(bind: supplier)
            WHERE i.require_document_ack = \(true) AND (d.order_id IS NULL OR d.order_id = \(bind: order))
              AND d.item_id IN (\(binds: items)) AND \(unsafeRaw: visibleSQL(supplier: "me.id"))
            ORDER BY i.code, d.title
            """).rows(decoding: Current.self)
        let pending = DocumentAcknowledgment.blocking(requiresAcknowledgment: true, current: rows.map {
            .init(title: "\($0.item_code) \($0.title)", revision: $0.current_label, acknowledged: $0.acknowledged == 1)
        })
        guard !pending.isEmpty else { return }
        throw Problem.conflict("problem.document.notAcknowledged",
                               ["documents": pending.map { "\($0.documentTitle) (\($0.revision))" }.joined(separator: ", ")])
    }
}
