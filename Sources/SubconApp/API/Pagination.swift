import SubconDomain
import Vapor

public struct PageRequest: Sendable {
    public var page: Int
    public var per: Int
    public var offset: Int { (page - 1) * per }

    public static let maxPer = 200

    /// A fixed window, for downloads that take more than a page.
    public init(page: Int, per: Int) { self.page = page; self.per = per }

    /// Reads `page` and `per` from the query string; bad values are a 400, not a silent default.
    public init(_ req: Request, defaultPer: Int = 50) throws {
        var problems: [FieldProblem] = []
        func read(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
            guard let raw = req.queryText(name), !raw.isEmpty else { return fallback }
            guard let v = Int(raw), range.contains(v) else {
                problems.append(FieldProblem(name, "outOfRange", ["min": String(range.lowerBound), "max": String(range.upperBound)]))
                return fallback
            }
            return v
        }
        page = read("page", 1, 1...1_000_000)
        per = read("per", defaultPer, 1...Self.maxPer)
        if !problems.isEmpty { throw Problem.badRequest("problem.query.invalid", fields: problems) }
    }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var page: Int
    public var per: Int
    public var total: Int
    public var pageCount: Int { total == 0 ? 0 : (total + per - 1) / per }
}

extension Page: Codable, RequestDecodable, ResponseEncodable, AsyncRequestDecodable, AsyncResponseEncodable, Content where Item: Content {}

/// `?limit=&after=`: a page of a list read on from where the previous one stopped (the `next` of
/// its answer). For lists without a total to show, whose rows a client walks in order.
public struct KeysetRequest: Sendable {
    public var limit: Int
    public var after: ListCursor?

    public static let maxLimit = 500

    /// Bad values are a 400 naming the field, not a silent first page.
    public init(_ req: Request, defaultLimit: Int = 50) throws {
        limit = try req.intQuery("limit", default: defaultLimit, range: 1...Self.maxLimit)
        after = try Self.cursor(req)
    }

    /// `after` alone, for pages whose length is theirs to choose.
    public static func cursor(_ req: Request) throws -> ListCursor? {
        guard let raw = req.queryText("after"), !raw.isEmpty else { return nil }
        guard let cursor = ListCursor(token: raw) else { throw Problem.badRequest("problem.query.invalid", fields: [badCursor]) }
        return cursor
    }

    static let badCursor = FieldProblem("after", "invalidValue")

    /// The rows to read: one more than the page, to know whether another page follows.
    public var rowsToRead: Int { limit + 1 }
}

extension ListCursor {
    /// Part `i` of a key of `count` parts, as an id, a number or text. A cursor of another list
    /// (of another length) or one made up is a 400.
    func uuid(_ i: Int, of count: Int) throws -> UUID {
        guard let id = UUID(uuidString: try part(i, of: count)) else { throw Self.bad }
        return id
    }

    func int(_ i: Int, of count: Int) throws -> Int {
        guard let n = Int(try part(i, of: count)), (0...Int(Int32.max)).contains(n) else { throw Self.bad }
        return n
    }

    func part(_ i: Int, of count: Int) throws -> String {
        guard parts.count == count, parts.indices.contains(i) else { throw Self.bad }
        return parts[i]
    }

    private static var bad: Problem { Problem.badRequest("problem.query.invalid", fields: [KeysetRequest.badCursor]) }
}

/// A page of a list walked by its key: `next` is there when more rows follow, to pass as `after`.
public struct KeysetPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: String?

    /// - Parameter rows: up to `limit + 1` rows, read after the previous page's last.
    public init(rows: [Item], limit: Int, key: (Item) -> ListCursor) {
        if rows.count > limit {
            items = Array(rows.prefix(limit))
            next = items.last.map { key($0).token }
        } else {
            items = rows
            next = nil
        }
    }
}

extension KeysetPage: Codable, RequestDecodable, ResponseEncodable, AsyncRequestDecodable, AsyncResponseEncodable, Content where Item: Content {}
