import Fluent
import Foundation
import SubconDomain
import Vapor

struct BOMsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("items", ":id", "boms", use: list)
        routes.post("items", ":id", "boms", use: create)
        routes.get("items", ":id", "explosion", use: explode)
        routes.patch("boms", ":id", use: update)
    }

    func list(req: Request) async throws -> [BOMDTO] {
        try await BOMService.versions(try req.requirePrincipal(), itemID: try req.idParameter(), on: req.db)
    }

    func create(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let itemID = try req.idParameter()
        _ = try await ItemService.get(p, itemID, on: req.db)
        try p.require(.editMasterData)
        return try await .created(try await BOMService.create(p, itemID: itemID, try req.decodeStrict(BOMInput.self), app: req.application), for: req)
    }

    func update(req: Request) async throws -> BOMDTO {
        let p = try req.requirePrincipal()
        try p.require(.viewMasterData)
        let id = try req.idParameter()
        _ = try await BOMService.get(id, on: req.db)
        try p.require(.editMasterData)
        return try await BOMService.update(p, bomID: id, try req.decodeStrict(BOMPatchInput.self), app: req.application)
    }

    /// `?quantity=10&date=2026-07-01` (date defaults to today in the installation's time zone).
    func explode(req: Request) async throws -> ExplosionDTO {
        let p = try req.requirePrincipal()
        let (quantity, day) = try Self.explosionQuery(req)
        return try await BOMService.explode(p, itemID: try req.idParameter(), quantity: quantity, on: day, db: req.db)
    }

    static func explosionQuery(_ req: Request) throws -> (FixedDecimal, Day) {
        var problems: [FieldProblem] = []
        var quantity = FixedDecimal(1)
        if let raw = req.queryText("quantity"), !raw.isEmpty {
            if let q = try? FixedDecimal.parse(raw), q > .zero { quantity = q } else { problems.append(FieldProblem("quantity", "positiveDecimal")) }
        }
        var day = Self.today(req)
        if let raw = req.queryText("date"), !raw.isEmpty {
            if let d = Day(raw) { day = d } else { problems.append(FieldProblem("date", "badDate")) }
        }
        if !problems.isEmpty { throw Problem.badRequest("problem.query.invalid", fields: problems) }
        return (quantity, day)
    }

    static func today(_ req: Request) -> Day { req.subcon.today() }
}

/// The web form takes BOM lines as text, one component per line: `CODE QTY [SCRAP%] [supplier]`,
/// separated by spaces, tabs or commas — what people paste from a spreadsheet.
enum BOMLineText {
    static func parse(_ text: String) -> Result<[BOMLineInput], Problem> {
        var lines: [BOMLineInput] = []
        var problems: [FieldProblem] = []
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let parts = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "，" }).map(String.init)
            if parts.isEmpty { continue }
            guard parts.count >= 2, let qty = try? FixedDecimal.parse(parts[1]) else {
                problems.append(FieldProblem("lines", "badLine", ["line": String(n + 1)])); continue
            }
            var scrap = FixedDecimal.zero
            var supply = SupplyBy.manufacturer.rawValue
            for extra in parts.dropFirst(2) {
                if extra.lowercased() == "supplier" || extra == "供应商" || extra == "供應商" { supply = SupplyBy.supplier.rawValue }
                else if let s = try? FixedDecimal.parse(extra.replacingOccurrences(of: "%", with: "")) { scrap = s }
                else { problems.append(FieldProblem("lines", "badLine", ["line": String(n + 1)])) }
            }
            lines.append(BOMLineInput(component: parts[0], quantityPer: qty, scrapPercent: scrap, supplyBy: supply))
        }
        if !problems.isEmpty { return .failure(.validation(problems)) }
        return .success(lines)
    }
}
