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

    static func unreadCount(userID: UUID, on db: any Database) async throws -> Int {
        try await InboxItem.query(on: db).filter(\.$user.$id == userID).filter(\.$readAt == nil).count()
    }

    static func list(userID: UUID, page: PageRequest, unreadOnly: Bool, locale: AppLocale, catalog: Catalog,
                     on db: any Database) async throws -> Page<Item> {
        var q = InboxItem.query(on: db).filter(\.$user.$id == userID)
        if unreadOnly { q = q.filter(\.$readAt == nil) }
        let total = try await q.count()
        let rows = try await q.sort(\.$createdAt, .descending).sort(\.$id).range(page.offset..<(page.offset + page.per)).all()
        let items = rows.map { row in
            let params = (try? JSONDecoder().decode([String: String].self, from: Data(row.params.utf8))) ?? [:]
            return Item(id: row.id!, event: row.event, message: catalog.text(row.messageKey, locale, params),
                        link: row.link, createdAt: row.createdAt, read: row.readAt != nil)
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
