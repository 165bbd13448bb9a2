import Fluent
import SQLKit

/// Every schema change, in order. One struct per change, each with a revert. Keep to what both
/// SQLite and PostgreSQL accept (no ALTER COLUMN; add tables and columns, create indexes).
enum Migrations {
    static let all: [any AsyncMigration] = [
        // 1. Organizations, sites and people
        CreateOrganizations(),
        CreateSites(),
        CreateUsers(),
        // 2. Sign-in
        CreateWebSessions(),
        CreateAPITokens(),
        CreateLoginAttempts(),
        // 3. Audit trail
        CreateAuditLog(),
        // 4. Notifications and API plumbing
        CreateOutbox(),
        CreateNotifications(),
        CreateIdempotencyKeys(),
        // 5. Master data
        CreateItems(),
        CreateBOMs(),
        CreatePriceAgreements(),
        CreateSupplierProfiles(),
        CreateRoutings(),
        CreateImportBatches(),
        // 6. Documents and supplier qualification
        CreateDocuments(),
        CreateQualificationChecks(),
        // 7. Plans and outsourcing orders
        CreateOrders(),
        // 8. Material flow: issues, the supplier-held ledger, deliveries, receipts, write-off
        CreateMaterialFlow(),
        // 9. Supplier progress reports and promised dates
        CreateProgress(),
        // 10. Incoming inspection, exceptions with owners, deadlines and 8D
        CreateQuality(),
        // 11. Settlement: month-end counts, statements, their lines and the sources they took
        CreateSettlement(),
        // 12. Each open order line's projected lateness and the supplier's reason for it
        AddLineLateness(),
        // 13. Titles and descriptions of system-raised exceptions in each reader's language
        AddExceptionWords(),
        // 14. Reports: receipt days, defects per inspection, saved filters
        CreateReports(),
        // 15. Tasks done before their notices were delivered
        CreateSettledNotices(),
        CreateLedgerTotals(),
        AddOrderLateness(),
        AddReceiptLineReceivedAt(),
        AddNoticeLinkIndex(),
        AddLineShipReadiness(),
        AddUnconfirmedMaterialIndex(),
        CreateKeptCounts(),
        AddSupplierExceptionIndexes(),
        AddInspectionReceiptIndex(),
        // 16. Supplier scorecards: weights by version, monthly grades, proposed probation
        CreateScorecards(),
        AddKeptDeliveries(),
        AddRevisionSupplier(),
        AddLineSupplier(),
        AddScorecardFigureIndexes(),
        // 17. Supplier invoices against locked statements, and their payments
        CreateInvoices(),
        // 18. Who answers for each reject (工废 / 料废), with its effects per material
        CreateRejectDecisions(),
        // 19. Rejects of every kind (process scrap, discrepancies) and the thread each is disputed in
        AddRejectDisputes(),
        AddInvoiceListIndexes(),
        // 20. Channels (robots, webhooks, email), each delivery and its attempts, personal preferences
        CreateChannels(),
        // 21. Technical documents in revisions, shared by orders or by hand, downloads and read receipts
        CreateTechnicalDocuments(),
        // 22. Which day's scheduled backup an instance has taken on
        CreateBackupRuns(),
        // 23. Handing open order lines over from one supplier to another, with a checklist
        CreateHandovers(),
        AddArchiveIndexes(),
        // 24. What home pages and dashboards read: lines with their order's status, months kept per supplier
        AddWorkbenchFigures(),
        AddRecentDocumentsIndex(),
        CreateLotBalances(),
        // 25. List pages read from indexes that hold their whole sort key and the row's id
        AddOrderPageIndexes(),
        AddExceptionPageIndexes(),
        AddLateOrderCounts(),
        AddExceptionTypeIndex(),
        AddPendingRevisionCounts(),
        AddLateLinePageIndex(),
        AddWaitingPageIndex(),
        AddSupplierTodoExceptionIndex(),
        AddClaimedMarks(),
        AddReportLineOrderIndex(),
        // 26. Late lines' totals kept per supplier, notices' per person; late orders paged from their own index
        AddKeptCounts(name: "SubconApp.AddLateLineCounts", counts: [.lateLines, .unexplainedLateLines]),
        AddLateOrderPageIndex(),
        AddKeptCounts(name: "SubconApp.AddNotificationCounts", counts: [.notifications, .unreadNotifications]),
        AddReceiptAndNotePageIndexes(),
        AddLineOrderCode(),
        // 27. Sign-in changes heard by every instance (PostgreSQL's sign-in cache); a supplier's exceptions paged from an index
        AddSignInChangeNotices(),
        AddSupplierExceptionPageIndexes(),
        // 28. The buyer's totals from one kept row per status (SQLite)
        KeepCountsAcrossSuppliers(),
        // 29. The dashboard's late lines by risk and lines due by day from kept counts; progress reports keep their gap to the line's last;
        //     statements paged from an index holding their ids
        AddKeptCounts(name: "SubconApp.AddLateLineRiskCounts", counts: [.lateLinesByRisk]),
        AddReportGaps(),
        AddOpenLineDueCounts(),
        AddStatementPageIndex(),
        // 30. The searches of people, items and orders from trigram indexes
        AddSubstringSearch(),
        // 31. A line's progress sums from the order's index alone
        CoverProgressSums(),
        // 32. ... and kept on the line
        KeepLineReportSums(),
        // 33. Organizations searched from a trigram index too
        AddOrganizationSearch(),
        // 34. PostgreSQL vacuums the orders after their daily sweep, so their pages stay index-only
        VacuumOrdersSooner(),
        // 35. Open delivery notes in their list's order
        AddOpenNoteIndexes(),
        // 36. A supplier's open exceptions of one type (the material hub's discrepancies)
        AddSupplierExceptionTypeIndex(),
        // 37. The home pages' to-do from kept counts and the first entries of indexes
        AddTodoKeptCounts(),
        // 38. A supplier's work list in its order from an index, its total kept
        AddWorkListIndex(),
        // 39. A supplier's ready lines and exceptions to answer counted by the database
        AddSupplierTodoKeptCounts(),
        // 40. The material hub's lines to arrive and a supplier's receipts to inspect from indexes in their order
        AddMaterialHubIndexes(),
        // 41. PostgreSQL's statistics of the open delivery notes' condition
        AddOpenNoteStatistics(),
        // 42. The buyer's receipts to inspect from one index, their receipts in it
        AddAwaitingReceiptIndex(),
        // 43. A supplier's material documents from an index of its own and one of those transferred to it
        AddSupplierDocumentIndexes(),
        // 44. The corrective checks' list in its order, everyone's and one supplier's
        AddCorrectiveCheckPageIndexes(),
        // 45. A supplier's to-do from indexes in the order it reads them, for one kept plan
        AddTodoPlanIndexes(),
        // 46. One supplier's movements of a month from an index (its write-off)
        AddSupplierMovementTimeIndex(),
    ]
}

/// The receipt and delivery-note lists (the API's, up to 500 rows) in their page order: without
/// them SQLite sorted all 176,000 receipts (28 ms) or 37,000 notes (6 ms) on every call.
struct AddReceiptAndNotePageIndexes: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "goods_receipts_created_idx", on: "goods_receipts", "created_at", "code")
        try await createIndex(db, "delivery_notes_ship_idx", on: "delivery_notes", "ship_date", "code")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "delivery_notes_ship_idx").run()
        try await (db as! any SQLDatabase).drop(index: "goods_receipts_created_idx").run()
    }
}

/// The material hub lists the latest documents of every kind (newest first); without an index
/// in that order SQLite read and sorted all of them on every view (150,000 documents: 22–109 ms).
struct AddRecentDocumentsIndex: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await createIndex(db, "material_documents_created_idx", on: "material_documents", "created_at", "code")
    }

    func revert(on db: any Database) async throws {
        try await (db as! any SQLDatabase).drop(index: "material_documents_created_idx").run()
    }
}

func createIndex(_ db: any Database, _ name: String, on table: String, _ columns: String..., unique: Bool = false) async throws {
    let sql = db as! any SQLDatabase
    var b = sql.create(index: name).on(table)
    if unique { b = b.unique() }
    for c in columns { b = b.column(c) }
    try await b.run()
}

struct CreateOrganizations: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("organizations")
            .id()
            .field("kind", .string, .required)
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("active", .bool, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "code")
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("organizations").delete() }
}

struct CreateSites: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("sites")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("kind", .string, .required)
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("plant_id", .uuid, .references("sites", "id"))
            .field("active", .bool, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .unique(on: "code")
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("sites").delete() }
}

struct CreateUsers: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("users")
            .id()
            .field("organization_id", .uuid, .required, .references("organizations", "id"))
            .field("login", .string, .required)
            .field("display_name", .string, .required)
            .field("email", .string)
            .field("password_hash", .string, .required)
            .field("roles", .string, .required)
            .field("locale", .string, .required)
            .field("active", .bool, .required)
            .field("version", .int, .required)
            .field("created_at", .datetime, .required)
            .field("updated_at", .datetime, .required)
            .unique(on: "login")
            .create()
        try await createIndex(db, "users_org_idx", on: "users", "organization_id")
    }
    func revert(on db: any Database) async throws { try await db.schema("users").delete() }
}

struct CreateWebSessions: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("web_sessions")
            .id()
            .field("token_hash", .string, .required)
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("csrf_token", .string, .required)
            .field("created_at", .datetime, .required)
            .field("expires_at", .datetime, .required)
            .unique(on: "token_hash")
            .create()
        try await createIndex(db, "web_sessions_user_idx", on: "web_sessions", "user_id")
    }
    func revert(on db: any Database) async throws { try await db.schema("web_sessions").delete() }
}

struct CreateAPITokens: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("api_tokens")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("kind", .string, .required)
            .field("name", .string, .required)
            .field("token_hash", .string, .required)
            .field("prefix", .string, .required)
            .field("created_at", .datetime, .required)
            .field("expires_at", .datetime)
            .field("last_used_at", .datetime)
            .field("revoked_at", .datetime)
            .unique(on: "token_hash")
            .create()
        try await createIndex(db, "api_tokens_user_idx", on: "api_tokens", "user_id")
    }
    func revert(on db: any Database) async throws { try await db.schema("api_tokens").delete() }
}

struct CreateLoginAttempts: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("login_attempts")
            .id()
            .field("login", .string, .required)
            .field("address", .string, .required)
            .field("at", .datetime, .required)
            .field("succeeded", .bool, .required)
            .create()
        try await createIndex(db, "login_attempts_login_idx", on: "login_attempts", "login", "at")
        try await createIndex(db, "login_attempts_address_idx", on: "login_attempts", "address", "at")
    }
    func revert(on db: any Database) async throws { try await db.schema("login_attempts").delete() }
}

struct CreateAuditLog: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("audit_log")
            .field("seq", .int64, .identifier(auto: false))
            .field("at_ms", .int64, .required)
            .field("actor_id", .uuid)
            .field("actor_login", .string, .required)
            .field("entity", .string, .required)
            .field("entity_id", .string, .required)
            .field("action", .string, .required)
            .field("changes", .string, .required)
            .field("prev_hash", .string, .required)
            .field("hash", .string, .required)
            .create()
        try await createIndex(db, "audit_log_entity_idx", on: "audit_log", "entity", "entity_id")
    }
    func revert(on db: any Database) async throws { try await db.schema("audit_log").delete() }
}

struct CreateOutbox: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("outbox")
            .id()
            .field("event", .string, .required)
            .field("payload", .string, .required)
            .field("created_at", .datetime, .required)
            .field("available_at", .datetime, .required)
            .field("processed_at", .datetime)
            .field("attempts", .int, .required)
            .field("last_error", .string)
            .create()
        try await createIndex(db, "outbox_pending_idx", on: "outbox", "processed_at", "available_at")
    }
    func revert(on db: any Database) async throws { try await db.schema("outbox").delete() }
}

struct CreateNotifications: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("notifications")
            .id()
            .field("user_id", .uuid, .required, .references("users", "id", onDelete: .cascade))
            .field("event", .string, .required)
            .field("message_key", .string, .required)
            .field("params", .string, .required)
            .field("link", .string)
            .field("created_at", .datetime, .required)
            .field("read_at", .datetime)
            .field("outbox_id", .uuid, .required)
            .unique(on: "outbox_id", "user_id")
            .create()
        // Serve "my inbox, newest first" and "my unread, newest first" straight from an index.
        try await createIndex(db, "notifications_user_time_idx", on: "notifications", "user_id", "created_at", "id")
        try await createIndex(db, "notifications_unread_idx", on: "notifications", "user_id", "read_at", "created_at", "id")
    }
    func revert(on db: any Database) async throws { try await db.schema("notifications").delete() }
}

struct CreateIdempotencyKeys: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("idempotency_keys")
            .id()
            .field("user_id", .uuid, .required)
            .field("key", .string, .required)
            .field("fingerprint", .string, .required)
            .field("status", .int)
            .field("content_type", .string)
            .field("body", .string)
            .field("created_at", .datetime, .required)
            .unique(on: "user_id", "key")
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("idempotency_keys").delete() }
}

/// A migration that only replaces indexes by longer ones (`IndexExtension`).
protocol IndexExtensionMigration: AsyncMigration {
    static var extensions: [IndexExtension] { get }
}

extension IndexExtensionMigration {
    func prepare(on db: any Database) async throws { try await IndexExtension.apply(Self.extensions, on: db) }
    func revert(on db: any Database) async throws { try await IndexExtension.undo(Self.extensions, on: db) }
}

/// An index that a longer one replaces: the longer one's prefix serves every read the shorter
/// one did, so a write keeps no more indexes than before.
struct IndexExtension {
    let table: String
    let old: String
    let oldColumns: [String]
    let new: String
    let newColumns: [String]

    static func apply(_ extensions: [IndexExtension], on db: any Database) async throws {
        for e in extensions {
            try await create(e.new, on: e.table, e.newColumns, db)
            try await (db as! any SQLDatabase).drop(index: e.old).run()
        }
    }

    static func undo(_ extensions: [IndexExtension], on db: any Database) async throws {
        for e in extensions {
            try await create(e.old, on: e.table, e.oldColumns, db)
            try await (db as! any SQLDatabase).drop(index: e.new).run()
        }
    }

    private static func create(_ name: String, on table: String, _ columns: [String], _ db: any Database) async throws {
        var b = (db as! any SQLDatabase).create(index: name).on(table)
        for c in columns { b = b.column(c) }
        try await b.run()
    }
}
