import Foundation
import Vapor

/// `subcon audit verify`, as a function the tests can call.
public enum AuditVerification {
    public struct Report: Sendable {
        public let ok: Bool
        public let checked: Int
        public let message: String
    }

    public static func run(app: Application) async throws -> Report {
        let result = try await AuditLog.verify(on: app.database)
        if let failure = result.failure {
            return Report(ok: false, checked: result.checked, message: "audit chain BROKEN after \(result.checked) good rows: \(failure)")
        }
        return Report(ok: true, checked: result.checked, message: "audit chain intact: \(result.checked) rows verified")
    }
}
