import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// An item's routing: a header carrying the version, and its operations.
final class RoutingHeader: Model, @unchecked Sendable {
    static let schema = "routings"
    @ID(key: .id) var id: UUID?
    @Parent(key: "item_id") var item: Item
    @Field(key: "version") var version: Int
    @Children(for: \.$routing) var operations: [RoutingOperationRow]
    init() {}
}

final class RoutingOperationRow: Model, @unchecked Sendable {
    static let schema = "routing_operations"
    @ID(key: .id) var id: UUID?
    @Parent(key: "routing_id") var routing: RoutingHeader
    @Field(key: "seq") var sequence: Int
    @Field(key: "code") var code: String
    @Field(key: "name") var name: String
    @Field(key: "mode") var mode: String
    @OptionalParent(key: "default_supplier_id") var defaultSupplier: Organization?
    init() {}
}

struct CreateRoutings: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("routings")
            .id()
            .field("item_id", .uuid, .required, .references("items", "id"))
            .field("version", .int, .required)
            .unique(on: "item_id")
            .create()
        try await db.schema("routing_operations")
            .id()
            .field("routing_id", .uuid, .required, .references("routings", "id", onDelete: .cascade))
            .field("seq", .int, .required)
            .field("code", .string, .required)
            .field("name", .string, .required)
            .field("mode", .string, .required)
            .field("default_supplier_id", .uuid, .references("organizations", "id"))
            .unique(on: "routing_id", "seq")
            .create()
    }
    func revert(on db: any Database) async throws {
        try await db.schema("routing_operations").delete()
        try await db.schema("routings").delete()
    }
}

struct RoutingOperationInput: Codable, Sendable {
    var sequence: Int
    var code: String
    var name: String
    var mode: String
    /// Supplier organization code, for outsourced operations.
    var defaultSupplier: String?
}

struct RoutingInput: StrictInput {
    static let fields: Set<String> = ["version", "operations"]
    /// The routing's current version (0 when the item has none yet).
    var version: Int
    var operations: [RoutingOperationInput]

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if operations.count > 100 { p.append(FieldProblem("operations", "tooMany", ["max": "100"])) }
        for (i, op) in operations.enumerated() {
            Check.code(op.code, "operations[\(i)].code", into: &p)
            Check.text(op.name, "operations[\(i)].name", max: 100, into: &p)
            if RoutingOperation.Mode(rawValue: op.mode) == nil { p.append(FieldProblem("operations[\(i)].mode", "invalidValue")) }
        }
        return p
    }
}

struct RoutingDTO: Content {
    struct Operation: Content {
        let sequence: Int; let code: String; let name: String; let mode: String
        let defaultSupplierId: UUID?; let defaultSupplierCode: String?; let defaultSupplierName: String?
    }
    let itemId: UUID
    let version: Int
    let operations: [Operation]
}

enum RoutingService {
    /// One operation of any item's routing, with codes instead of ids.
    struct OperationRow: Decodable, Sendable { let item: String; let seq: Int; let code: String; let name: String; let mode: String; let supplier: String? }

    /// Every routed operation, by item code and sequence (imports check against them, exports list them).
    static func allOperations(on db: any Database) async throws -> [OperationRow] {
        try await (db as! any SQLDatabase).raw("""
            SELECT i.code AS item, o.seq, o.code, o.name, o.mode, s.code AS supplier
            FROM routing_operations o JOIN routings h ON h.id = o.routing_id JOIN items i ON i.id = h.item_id
            LEFT JOIN organizations s ON s.id = o.default_supplier_id ORDER BY i.code, o.seq
            """).rows(decoding: OperationRow.self)
    }

    /// A routing as one line of text, as the audit trail shows it.
    static func describe(_ ops: [RoutingOperation]) -> String {
        RoutingRules.ordered(ops).map { "\($0.sequence) \($0.code) \($0.name) \($0.mode.rawValue)\($0.defaultSupplier.map { " " + $0 } ?? "")" }
            .joined(separator: "; ")
    }

    static func get(_ p: Principal, itemID: UUID, on db: any Database) async throws -> RoutingDTO {
        _ = try await ItemService.get(p, itemID, on: db)
        guard let h = try await RoutingHeader.query(on: db).filter(\.$item.$id == itemID)
            .with(\.$operations) { $0.with(\.$defaultSupplier) }.first() else {
            return RoutingDTO(itemId: itemID, version: 0, operations: [])
        }
        return RoutingDTO(itemId: itemID, version: h.version, operations: h.operations.sorted { $0.sequence < $1.sequence }.map {
            .init(sequence: $0.sequence, code: $0.code, name: $0.name, mode: $0.mode, defaultSupplierId: $0.$defaultSupplier.id,
                  defaultSupplierCode: $0.defaultSupplier?.code, defaultSupplierName: $0.defaultSupplier?.name)
        })
    }

    /// Replaces the whole routing (it is edited as one list), guarded by its version.
    static func replace(_ p: Principal, itemID: UUID, _ input: RoutingInput, app: Application) async throws -> RoutingDTO {
        let current = try await get(p, itemID: itemID, on: app.database)
        try p.require(.editMasterData)
        guard input.version == current.version else { throw Problem.staleVersion(current: current.version) }
        let codes = Set(input.operations.compactMap { $0.defaultSupplier }.filter { !$0.isEmpty })
        let suppliers = try await Organization.query(on: app.database).filter(\.$code ~~ codes)
            .filter(\.$kind == OrganizationKind.supplier.rawValue).all()
        let byCode = Dictionary(uniqueKeysWithValues: suppliers.map { ($0.code, $0) })
        var problems: [FieldProblem] = []
        for (i, op) in input.operations.enumerated() {
            if let code = op.defaultSupplier, !code.isEmpty, byCode[code] == nil {
                problems.append(FieldProblem("operations[\(i)].defaultSupplier", "unknownSupplier"))
            }
        }
        let domain = input.operations.map {
            RoutingOperation(sequence: $0.sequence, code: $0.code, name: $0.name, mode: RoutingOperation.Mode(rawValue: $0.mode) ?? .inHouse,
                             defaultSupplier: $0.defaultSupplier?.isEmpty == true ? nil : $0.defaultSupplier)
        }
        for problem in RoutingRules.check(domain) {
            switch problem {
            case .duplicateSequence(let s): problems.append(FieldProblem("operations", "duplicateSequence", ["sequence": String(s)]))
            case .duplicateCode(let c): problems.append(FieldProblem("operations", "duplicateCode", ["code": c]))
            case .nonPositiveSequence(let s): problems.append(FieldProblem("operations", "nonPositiveSequence", ["sequence": String(s)]))
            case .outsourcedWithoutSupplier(let c): problems.append(FieldProblem("operations", "outsourcedWithoutSupplier", ["code": c]))
            case .inHouseWithSupplier(let c): problems.append(FieldProblem("operations", "inHouseWithSupplier", ["code": c]))
            }
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        let before = describe(current.operations.map {
            RoutingOperation(sequence: $0.sequence, code: $0.code, name: $0.name, mode: RoutingOperation.Mode(rawValue: $0.mode) ?? .inHouse,
                             defaultSupplier: $0.defaultSupplierCode)
        })
        try await app.write(as: p.auditActor) { change in
            let header: RoutingHeader
            if let existing = try await RoutingHeader.query(on: change.db).filter(\.$item.$id == itemID).first() {
                try await change.updateVersioned(RoutingHeader.schema, id: existing.id!, expected: input.version, sets: [:])
                try await RoutingOperationRow.query(on: change.db).filter(\.$routing.$id == existing.id!).delete()
                header = existing
            } else {
                header = RoutingHeader()
                header.$item.id = itemID; header.version = 1
                try await header.create(on: change.db)
            }
            for op in domain {
                let row = RoutingOperationRow()
                row.$routing.id = header.id!; row.sequence = op.sequence; row.code = op.code; row.name = op.name
                row.mode = op.mode.rawValue; row.$defaultSupplier.id = op.defaultSupplier.flatMap { byCode[$0]?.id }
                try await row.create(on: change.db)
            }
            try await change.audit("routing", itemID, "update", before: ["operations": before], after: ["operations": describe(domain)])
        }
        return try await get(p, itemID: itemID, on: app.database)
    }
}

struct RoutingsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("items", ":id", "routing", use: show)
        routes.put("items", ":id", "routing", use: replace)
    }

    func show(req: Request) async throws -> RoutingDTO {
        try await RoutingService.get(try req.requirePrincipal(), itemID: try req.idParameter(), on: req.db)
    }

    func replace(req: Request) async throws -> RoutingDTO {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        _ = try await ItemService.get(p, id, on: req.db)
        try p.require(.editMasterData)
        return try await RoutingService.replace(p, itemID: id, try req.decodeStrict(RoutingInput.self), app: req.application)
    }
}
