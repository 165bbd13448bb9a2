import Foundation
import SQLKit
import Testing
@testable import SubconApp

@Suite struct WALCheckpointTests {
    /// The server's own connections leave the write-ahead log to the background checkpointer,
    /// which copies it into the database file (the file grows from its header to the schema the
    /// migrations wrote). Only the embedded database has a log to copy.
    @Test func theServerCopiesTheLogBackInTheBackground() async throws {
        guard (ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "").isEmpty else { return }
        let dir = NSTemporaryDirectory() + "subcon-wal-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/subcon.sqlite"
        func size() -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        try await TestApp.run(demo: false, live: true, adjust: {
            $0.database = .sqliteFile(path: path)
            $0.runBackgroundWorkers = true
            $0.outboxInterval = 3600
        }) { t in
            let auto = try await t.sql.raw("PRAGMA wal_autocheckpoint").first()?.decode(column: "wal_autocheckpoint", as: Int.self)
            #expect(auto == 0)
            // Waits for the copy, not for a fixed time: a slow machine only takes longer.
            let deadline = Date().addingTimeInterval(20)
            while size() < 100_000 && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
            #expect(size() >= 100_000)
        }
    }
}
