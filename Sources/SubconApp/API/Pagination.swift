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
