import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// A person's own notifications. Always filtered by the signed-in user: nobody reads another's inbox.
enum Inbox {
    struct Item: Content {
        let id: UUID
        let event: String
        let message: String
        let link: String?
        let createdAt: Date
        let read: Bool
    }

    /// Read by position, as the other lists' rows.
    private struct Row: ReadByPosition {
        let id: UUID
        let event: String
        let message_key: String
        let params: String
        let link: String?
        let created_at: Date
        let read_at: Date?

        static let columnNames = ["id", "event", "message_key", "params", "link", "created_at", "read_at"]
        init(_ r: inout ColumnReader) throws {
            id = try r.value(); event = try r.value(); message_key = try r.value(); params = try r.value(); link = try r.optional()
            created_at = try r.value(); read_at = try r.optional()
        }
    }

    /// The person's unread notices: the kept count, one row. The bell on every page reads it too
    /// (it counted up to a hundred of the person's unread notices, which on PostgreSQL was a
    /// statement sent unnamed and planned anew on every page view); `sql` is then the
    /// application's `keyedReads`, one plan for every person.
    static func unreadCount(userID: UUID, on sql: any SQLDatabase) async throws -> Int {
        try await KeptCounts.unreadNotifications.total(["user_id": userID], on: sql)
    }

    /// The bell on every page says "99+" beyond 99.
    static let badgeLimit = 99

    /// The total is a kept count (`KeptCounts.notifications`), read in the page's statement: the
    /// bench's supplier has 48,000 notices, and counting them took most of each page. `sql`: the application's `keyedReads`,
    /// since the page is one walk back along the person's index (`notifications_user_time_idx`,
    /// or `notifications_unread_idx` for the unread) whoever asks and whichever page, so on
    /// PostgreSQL it is prepared once; the offset is a value for the same reason.
    static func list(userID: UUID, page: PageRequest, unreadOnly: Bool, locale: AppLocale, catalog: Catalog,
                     on sql: any SQLDatabase) async throws -> Page<Item> {
        let counts = unreadOnly ? KeptCounts.unreadNotifications : KeptCounts.notifications
        let (rows, total) = try await counts.pageAndTotal(["user_id": userID], decoding: Row.self, on: sql) { total in
            """
            SELECT id, event, message_key, params, link, created_at, read_at, \(total) FROM notifications
             WHERE user_id = \(bind: userID)\(unsafeRaw: unreadOnly ? " AND read_at IS NULL" : "")
             ORDER BY created_at DESC, id DESC LIMIT \(literal: page.per) OFFSET \(bind: page.offset)
            """
        }
        let items = rows.map { row in
            let params = StoredParams.decode(row.params)
            return Item(id: row.id, event: row.event, message: catalog.text(row.message_key, locale, params),
                        link: row.link, createdAt: row.created_at, read: row.read_at != nil)
        }
        return Page(items: items, page: page.page, per: page.per, total: total)
    }

    /// Marks one item (or, with nil, all) as read. Reading is a personal state, not business
    /// data, so it is not put on the audit trail.
    static func markRead(userID: UUID, itemID: UUID?, now: Date, on db: any Database) async throws {
        var q = InboxItem.query(on: db).filter(\.$user.$id == userID).filter(\.$readAt == nil)
        if let itemID {
            guard try await InboxItem.query(on: db).filter(\.$user.$id == userID).filter(\.$id == itemID).count() > 0 else {
                throw Problem.notFound
            }
            q = q.filter(\.$id == itemID)
        }
        try await q.set(\.$readAt, to: now).update()
    }
}

extension KeptCounts {
    /// Each person's notices, and those still unread.
    static let notifications = KeptCounts(table: "notifications", counts: "notification_counts", keys: ["user_id"])
    static let unreadNotifications = KeptCounts(table: "notifications", counts: "unread_notification_counts", keys: ["user_id"],
                                                only: { row in "\(row).read_at IS NULL" }, reads: ["read_at"])
}
