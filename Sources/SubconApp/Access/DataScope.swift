import Fluent
import Foundation
import SQLKit
import Vapor

/// A record that belongs to one organization. A supplier's people see only rows of their own
/// organization; the manufacturer's people see all.
protocol SupplierOwned: Model where IDValue == UUID {
    /// The column naming the owning organization.
    static var ownerKey: FieldKey { get }
}

/// Supplier isolation, applied in one place: every read and write of supplier-owned data goes
/// through `query`, `find`, `restrict` or `and`.
public struct DataScope: Sendable {
    /// nil for the manufacturer's people.
    public let supplierID: UUID?

    func query<M: SupplierOwned>(_ type: M.Type, on db: any Database) -> QueryBuilder<M> {
        let q = M.query(on: db)
        guard let supplierID else { return q }
        return q.filter(.path([M.ownerKey], schema: M.schema), .equal, .bind(supplierID))
    }

    /// The record, or 404 — also when it exists but belongs to another supplier.
    func find<M: SupplierOwned>(_ type: M.Type, _ id: UUID?, on db: any Database) async throws -> M {
        guard let id, let found = try await query(type, on: db).filter(\M._$id == id).first() else {
            throw Problem.notFound
        }
        return found
    }

    /// Whether rows owned by this organization are visible (for reads keyed by an organization id).
    func includes(organizationID: UUID) -> Bool { supplierID == nil || supplierID == organizationID }

    /// For list reads through `ListQuery`.
    func restrict(_ query: inout ListQuery, column: String) {
        if let supplierID { query.equal(column, supplierID) }
    }

    /// For reads written in SQL: ` AND` the row's supplier (any of `columns`, e.g. a transfer's
    /// source or destination) is this supplier; nothing for the manufacturer's people.
    func and(_ columns: String...) -> SQLQueryString {
        guard let supplierID else { return "" }
        var any: SQLQueryString = ""
        for (n, column) in columns.enumerated() { any = any + (n == 0 ? "" : " OR ") + "\(unsafeRaw: column) = \(bind: supplierID)" }
        return " AND (" + any + ")"
    }
}

extension Request {
    /// Reads a UUID path parameter; a malformed one is a 404 like any unknown id.
    func idParameter(_ name: String = "id") throws -> UUID {
        guard let raw = parameters.get(name), let id = UUID(uuidString: raw) else { throw Problem.notFound }
        return id
    }
}
