import Fluent
import NIOConcurrencyHelpers
import Foundation
import SQLKit
@testable import SubconApp
import Testing
import Vapor
import VaporTesting

/// Backup and restore on whichever database the run uses: a backup taken while writes go on is
/// complete and consistent (every table's rows as counted in its snapshot, the audit chain
/// intact, nothing half-written); a quiet one restores to the same tables row by row, stored
/// files included; a damaged backup or a target that is not empty is refused.
@Suite struct BackupTests {
    /// A fresh folder, removed when the test process ends (backups are whole databases: a run
    /// of the suite left megabytes behind in the temporary directory).
    static func folder() -> String {
        let path = NSTemporaryDirectory() + "subcon-backup-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        TemporaryFolders.add(path)
        return path
    }

    /// Another app on a restored database: migrations find nothing to do.
    static func withRestored(_ t: TestApp, _ database: Settings.DatabaseChoice, _ body: (Application) async throws -> Void) async throws {
        var settings = t.settings
        settings.database = database
        settings.demo = false
        try await withApp(configure: { app in
            try await configure(app, settings: settings, clock: t.clock, passwordHasher: PasswordHasher(cost: 4))
        }) { app in try await body(app) }
    }

    /// Keeps writing through the API (items, each audited) until told to stop.
    final class Writer: @unchecked Sendable {
        var stop = false
        var written = 0
        func run(_ t: TestApp, token: String) async throws {
            while !stop {
                let r = try await t.request(.POST, "/api/v1/items", token: token, json: """
                    {"code":"BK-\(written)","name":"备份期间写入 \(written)","uom":"件","kind":"raw_material"}
                    """)
                #expect(r.status == .created, "\(r.body.string)")
                written += 1
            }
        }
    }

    @Test func aBackupWhileWritingIsCompleteAndAQuietOneRestoresRowByRow() async throws {
        try await TestApp.run(scenario: true) { t in
            let planner = try await t.token("planner")
            // Stored files are in the database and so in the backup: one document at least.
            #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM file_blobs").first()!.decode(column: "n", as: Int.self) > 0)
            let writer = Writer()
            let writing = Task { try await writer.run(t, token: planner) }
            while writer.written < 3 { try await Task.sleep(nanoseconds: 5_000_000) }
            let busy = try await Backup.make(app: t.app, settings: t.settings, into: Self.folder(), now: t.clock.now())
            writer.stop = true
            try await writing.value
            #expect(writer.written >= 3)
            #expect((busy.manifest.tables["items"] ?? 0) > 0)

            if case .postgres(let url, let searchPath) = t.settings.database {
                try await Self.postgres(t, url: url, schema: searchPath?.first ?? "public", busy: busy)
                return
            }
            // Into an empty data directory: every table's rows as the snapshot counted them, the
            // audit chain verifies, nothing half-written.
            let target = Self.folder() + "/subcon.sqlite"
            let restored = try await Backup.restore(from: busy.path, settings: Self.settings(t, .sqliteFile(path: target)))
            #expect(restored == busy.manifest)
            try await Self.withRestored(t, .sqliteFile(path: target)) { app in
                try await Backup.check(restored, on: app.db)
                #expect(try await AuditVerification.run(app: app).ok)
                #expect(try await DataIntegrity.run(on: app.db).isEmpty)
            }
            // The same target again: refused, and left as it was.
            await #expect(throws: Backup.Failure.targetNotEmpty(target)) {
                _ = try await Backup.restore(from: busy.path, settings: Self.settings(t, .sqliteFile(path: target)))
            }

            // With the writes stopped, the restored copy equals the database table by table, row by row.
            let quiet = try await Backup.make(app: t.app, settings: t.settings, into: Self.folder(), now: t.clock.now())
            let second = Self.folder() + "/subcon.sqlite"
            _ = try await Backup.restore(from: quiet.path, settings: Self.settings(t, .sqliteFile(path: second)))
            try await t.app.db.withConnection { db in
                let sql = db as! any SQLDatabase
                try await sql.raw("ATTACH DATABASE \(literal: second) AS restored").run()
                for table in quiet.manifest.tables.keys.sorted() {
                    for (a, b) in [("main", "restored"), ("restored", "main")] {
                        let n = try await sql.raw("""
                            SELECT COUNT(*) AS n FROM (SELECT * FROM \(unsafeRaw: a).\(ident: table) EXCEPT SELECT * FROM \(unsafeRaw: b).\(ident: table)) x
                            """).first()!.decode(column: "n", as: Int.self)
                        #expect(n == 0, "\(table): \(n) rows of \(a) not in \(b)")
                    }
                }
                try await sql.raw("DETACH DATABASE restored").run()
            }
            #expect(quiet.manifest.tables.count > 50)

            // A damaged backup is refused before anything is written.
            let damaged = quiet.path + "/subcon.sqlite"
            let handle = try #require(FileHandle(forUpdatingAtPath: damaged))
            try handle.seek(toOffset: 5000)
            try handle.write(contentsOf: Data([0x42]))
            try handle.close()
            let third = Self.folder() + "/subcon.sqlite"
            await #expect(throws: Backup.Failure.checksumMismatch("subcon.sqlite")) {
                _ = try await Backup.restore(from: quiet.path, settings: Self.settings(t, .sqliteFile(path: third)))
            }
            #expect(!FileManager.default.fileExists(atPath: third))
            await #expect(throws: Backup.Failure.notABackup(NSTemporaryDirectory())) {
                _ = try await Backup.restore(from: NSTemporaryDirectory(), settings: Self.settings(t, .sqliteFile(path: third)))
            }
        }
    }

    static func settings(_ t: TestApp, _ database: Settings.DatabaseChoice) -> Settings {
        var s = t.settings
        s.database = database
        return s
    }

    /// PostgreSQL: the dump restores into a new, empty database; compared table by table there.
    static func postgres(_ t: TestApp, url: String, schema: String, busy: (path: String, manifest: Backup.Manifest)) async throws {
        func database(_ name: String) -> String {
            var c = URLComponents(string: url)!
            c.path = "/" + name
            return c.string!
        }
        let names = ["r_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased(),
                     "q_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()]
        for n in names { try await t.sql.raw("CREATE DATABASE \(ident: n)").run() }
        do {
            let restored = try await Backup.restore(from: busy.path, settings: settings(t, .postgres(url: database(names[0]), searchPath: [schema])))
            try await withRestored(t, .postgres(url: database(names[0]), searchPath: [schema])) { app in
                try await Backup.check(restored, on: app.db)
                #expect(try await AuditVerification.run(app: app).ok)
                #expect(try await DataIntegrity.run(on: app.db).isEmpty)
            }
            await #expect(throws: Backup.Failure.targetNotEmpty("the database")) {
                _ = try await Backup.restore(from: busy.path, settings: settings(t, .postgres(url: database(names[0]), searchPath: [schema])))
            }
            let quiet = try await Backup.make(app: t.app, settings: t.settings, into: folder(), now: t.clock.now())
            _ = try await Backup.restore(from: quiet.path, settings: settings(t, .postgres(url: database(names[1]), searchPath: [schema])))
            try await withRestored(t, .postgres(url: database(names[1]), searchPath: [schema])) { app in
                let copy = app.db as! any SQLDatabase
                for table in quiet.manifest.tables.keys.sorted() {
                    let digest: SQLQueryString = "SELECT COUNT(*) AS n, md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), '')) AS h FROM \(ident: table) r"
                    let a = try await t.sql.raw(digest).first()!, b = try await copy.raw(digest).first()!
                    #expect(try a.decode(column: "n", as: Int.self) == b.decode(column: "n", as: Int.self), "\(table)")
                    #expect(try a.decode(column: "h", as: String.self) == b.decode(column: "h", as: String.self), "\(table) differs")
                }
            }
        } catch {
            for n in names { try? await t.sql.raw("DROP DATABASE IF EXISTS \(ident: n) WITH (FORCE)").run() }
            throw error
        }
        for n in names { try await t.sql.raw("DROP DATABASE IF EXISTS \(ident: n) WITH (FORCE)").run() }
    }

    @Test func oldBackupsBeyondTheNewestNAreRemoved() throws {
        let parent = Self.folder()
        for stamp in ["20261101-020000", "20261102-020000", "20261103-020000", "20261104-020000"] {
            let f = parent + "/subcon-" + stamp
            try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: f + "/manifest.json", contents: Data("{}".utf8))
        }
        // Something else in the folder is never touched.
        try FileManager.default.createDirectory(atPath: parent + "/subcon-notes", withIntermediateDirectories: true)
        #expect(try Backup.prune(parent, keep: 2) == ["subcon-20261101-020000", "subcon-20261102-020000"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).sorted() == ["subcon-20261103-020000", "subcon-20261104-020000", "subcon-notes"])
        #expect(Backup.libpqURL("postgres://u@h:5432/db?tlsmode=disable") == "postgres://u@h:5432/db?sslmode=disable")
    }
}

/// Folders the tests made, removed at the process's exit.
private enum TemporaryFolders {
    private static let made = NIOLockedValueBox<[String]?>(nil)

    static func add(_ path: String) {
        made.withLockedValue { paths in
            if paths == nil {
                paths = []
                atexit { TemporaryFolders.removeAll() }
            }
            paths!.append(path)
        }
    }

    static func removeAll() {
        for path in made.withLockedValue({ $0 ?? [] }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
