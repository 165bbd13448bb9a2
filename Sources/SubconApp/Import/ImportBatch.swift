import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// An uploaded file, parsed and checked, waiting for the user to confirm. Nothing in master data
/// changes until `commit`, and then everything in it changes in one transaction or nothing does.
final class ImportBatch: Model, @unchecked Sendable {
    static let schema = "import_batches"

    @ID(key: .id) var id: UUID?
    @Field(key: "kind") var kind: String
    @Field(key: "filename") var filename: String
    /// previewed → committed, or discarded.
    @Field(key: "status") var status: String
    /// The table as read from the file (JSON), so the commit applies exactly what was previewed.
    @Field(key: "payload") var payload: String
    @Field(key: "problem_count") var problemCount: Int
    @Field(key: "row_count") var rowCount: Int
    @Field(key: "created_by") var createdBy: UUID
    @Field(key: "created_at") var createdAt: Date
    @OptionalField(key: "committed_at") var committedAt: Date?

    init() {}
}

struct CreateImportBatches: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("import_batches")
            .id()
            .field("kind", .string, .required)
            .field("filename", .string, .required)
            .field("status", .string, .required)
            .field("payload", .string, .required)
            .field("problem_count", .int, .required)
            .field("row_count", .int, .required)
            .field("created_by", .uuid, .required)
            .field("created_at", .datetime, .required)
            .field("committed_at", .datetime)
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("import_batches").delete() }
}

