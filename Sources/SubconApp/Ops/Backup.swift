import Crypto
import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// Online backups the company keeps itself, and restoring one into an empty place.
///
/// Every stored file (evidence, photos, drawings) lives in the database, so one consistent copy
/// of the database is the whole backup: SQLite's `VACUUM INTO` (a snapshot while writers go on),
/// or `pg_dump` run on a snapshot exported from a read-only transaction. A backup is a folder
/// `subcon-<UTC time>` with the database file and `manifest.json`: each file's size and SHA-256,
/// and every table's row count as of the snapshot, so a restore can prove it brought back all.
public enum Backup {
    public struct Manifest: Codable, Sendable, Equatable {
        public var format = 1
        public var createdAt: Date
        /// `sqlite` or `postgresql`: a backup restores into the same kind of database.
        public var database: String
        /// How many schema changes the database had.
        public var migrations: Int
        public var files: [File]
        public var tables: [String: Int]
        public struct File: Codable, Sendable, Equatable { public let name: String; public let size: Int; public let sha256: String }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case targetNotEmpty(String)
        case notABackup(String)
        case checksumMismatch(String)
        case wrongDatabase(backup: String, target: String)
        case tool(String)
        case countMismatch(table: String, expected: Int, found: Int)

        public var description: String {
            switch self {
            case .targetNotEmpty(let t): "refused: \(t) is not empty; restore only into an empty data directory or database"
            case .notABackup(let p): "\(p) is not a Subcon backup (no readable manifest.json)"
            case .checksumMismatch(let f): "refused: \(f) does not match its checksum in manifest.json (damaged or altered)"
            case .wrongDatabase(let b, let t): "refused: the backup is of a \(b) database and the target is \(t)"
            case .tool(let m): m
            case .countMismatch(let t, let e, let f): "restore check failed: table \(t) has \(f) rows, the backup had \(e)"
            }
        }
    }

    static let sqliteFile = "subcon.sqlite"
    static let dumpFile = "subcon.pgdump"
    static let manifestFile = "manifest.json"
    static let prefix = "subcon-"

    // MARK: Making one

    /// Writes a new backup folder under `parent` and returns its path and manifest.
    public static func make(app: Application, settings: Settings, into parent: String, now: Date) async throws -> (path: String, manifest: Manifest) {
        let stamp = DateFormatter.backupStamp.string(from: now)
        let folder = (parent as NSString).appendingPathComponent(prefix + stamp)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        do {
            let manifest: Manifest
            if case .postgres(let url, let searchPath) = settings.database {
                manifest = try await makePostgres(app: app, url: url, schema: searchPath?.first, folder: folder, now: now)
            } else {
                manifest = try await makeSQLite(app: app, folder: folder, now: now)
            }
            let data = try JSONEncoder.manifest.encode(manifest)
            try data.write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(manifestFile)), options: .atomic)
            return (folder, manifest)
        } catch {
            // Nothing half-made is left to be mistaken for a backup.
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    private static func makeSQLite(app: Application, folder: String, now: Date) async throws -> Manifest {
        let target = (folder as NSString).appendingPathComponent(sqliteFile)
        // One connection for the copy and the counts of the copy: ATTACH is per connection.
        let tables = try await app.database.withConnection { db -> [String: Int] in
            let sql = db as! any SQLDatabase
            try await sql.raw("VACUUM INTO \(literal: target)").run()
            try await sql.raw("ATTACH DATABASE \(literal: target) AS backup_copy").run()
            do {
                let counts = try await countTables(sql, schema: "backup_copy", sqlite: true)
                try await sql.raw("DETACH DATABASE backup_copy").run()
                return counts
            } catch {
                try? await sql.raw("DETACH DATABASE backup_copy").run()
                throw error
            }
        }
        return Manifest(createdAt: now, database: "sqlite", migrations: try await migrationCount(app.database),
                        files: [try describe(target)], tables: tables)
    }

    private static func makePostgres(app: Application, url: String, schema: String?, folder: String, now: Date) async throws -> Manifest {
        let target = (folder as NSString).appendingPathComponent(dumpFile)
        let version = try await migrationCount(app.database)
        // The counts and the dump read the same snapshot: a read-only transaction exports it
        // and stays open while pg_dump runs on it, however many writes commit meanwhile.
        let tables = try await app.database.transaction { tx -> [String: Int] in
            let sql = tx as! any SQLDatabase
            try await sql.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").run()
            guard let snapshot = try await sql.raw("SELECT pg_export_snapshot() AS s").first()?.decode(column: "s", as: String.self) else {
                throw Failure.tool("PostgreSQL did not export a snapshot")
            }
            let counts = try await countTables(sql, schema: nil, sqlite: false)
            var args = ["--format=custom", "--no-owner", "--no-privileges", "--snapshot=\(snapshot)", "--file=\(target)"]
            if let schema { args.append("--schema=\(schema)") }
            args.append(libpqURL(url))
            try await run("pg_dump", args)
            return counts
        }
        return Manifest(createdAt: now, database: "postgresql", migrations: version, files: [try describe(target)], tables: tables)
    }

    static func countTables(_ sql: any SQLDatabase, schema: String?, sqlite: Bool) async throws -> [String: Int] {
        let names: [String]
        if sqlite {
            let master = schema.map { "\($0).sqlite_master" } ?? "sqlite_master"
            names = try await sql.raw("SELECT name FROM \(unsafeRaw: master) WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
                .all().map { try $0.decode(column: "name", as: String.self) }
        } else {
            names = try await sql.raw("""
                SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name
                """).all().map { try $0.decode(column: "name", as: String.self) }
        }
        var counts: [String: Int] = [:]
        for name in names {
            let qualified = schema.map { "\($0).\"\(name)\"" } ?? "\"\(name)\""
            counts[name] = try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: qualified)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
        return counts
    }

    static func migrationCount(_ db: any Database) async throws -> Int {
        try await (db as! any SQLDatabase).raw("SELECT COUNT(*) AS n FROM _fluent_migrations").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static func describe(_ path: String) throws -> Manifest.File {
        let (size, digest) = try sha256(of: path)
        return Manifest.File(name: (path as NSString).lastPathComponent, size: size, sha256: digest)
    }

    /// Streams the file through the digest: a database of gigabytes is never in memory at once.
    static func sha256(of path: String) throws -> (Int, String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure.notABackup(path) }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            size += chunk.count
        }
        return (size, hasher.finalize().lowercaseHex)
    }

    // MARK: Restoring

    /// Reads a backup folder's manifest and checks every file against it.
    public static func verify(_ folder: String) throws -> Manifest {
        let path = (folder as NSString).appendingPathComponent(manifestFile)
        guard let data = FileManager.default.contents(atPath: path), let manifest = try? JSONDecoder.manifest.decode(Manifest.self, from: data),
              !manifest.files.isEmpty else { throw Failure.notABackup(folder) }
        for f in manifest.files {
            // Only plain names: a manifest cannot point outside its folder.
            guard !f.name.contains("/"), f.name != "..", f.name != "." else { throw Failure.notABackup(folder) }
            let (size, digest) = (try? sha256(of: (folder as NSString).appendingPathComponent(f.name))) ?? (-1, "")
            guard size == f.size, digest == f.sha256 else { throw Failure.checksumMismatch(f.name) }
        }
        return manifest
    }

    /// Puts the backup's database in place: into a data directory without a database, or into
    /// a PostgreSQL database without tables. The caller opens the app afterwards and checks the
    /// counts with `check`.
    public static func restore(from folder: String, settings: Settings) async throws -> Manifest {
        let manifest = try verify(folder)
        switch settings.database {
        case .sqliteFile(let path):
            guard manifest.database == "sqlite" else { throw Failure.wrongDatabase(backup: manifest.database, target: "sqlite") }
            let fm = FileManager.default
            for p in [path, path + "-wal"] {
                if let size = (try? fm.attributesOfItem(atPath: p))?[.size] as? Int, size > 0 { throw Failure.targetNotEmpty(path) }
            }
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            for p in [path, path + "-wal", path + "-shm"] { try? fm.removeItem(atPath: p) }
            let partial = path + ".restoring"
            try? fm.removeItem(atPath: partial)
            try fm.copyItem(atPath: (folder as NSString).appendingPathComponent(sqliteFile), toPath: partial)
            // Appears whole or not at all.
            try fm.moveItem(atPath: partial, toPath: path)
        case .postgres(let url, _):
            guard manifest.database == "postgresql" else { throw Failure.wrongDatabase(backup: manifest.database, target: "postgresql") }
            let existing = try await output("psql", ["--no-psqlrc", "-tA", "-c",
                                                     "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
                                                     libpqURL(url)])
            guard existing.trimmingCharacters(in: .whitespacesAndNewlines) == "0" else { throw Failure.targetNotEmpty("the database") }
            // The searches' trigram indexes use `pg_trgm`, an extension of the database, which the
            // dump of one schema does not hold: made first where it can be (a dump of the whole
            // database creates it itself, if it is not there yet).
            _ = try? await output("psql", ["--no-psqlrc", "-tA", "-c", "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public", libpqURL(url)])
            try await run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                         "--dbname=\(libpqURL(url))", (folder as NSString).appendingPathComponent(dumpFile)])
        case .sqliteMemory:
            throw Failure.wrongDatabase(backup: manifest.database, target: "an in-memory database")
        }
        return manifest
    }

    /// After a restore: every table has the rows the backup counted.
    public static func check(_ manifest: Manifest, on db: any Database) async throws {
        let found = try await countTables(db as! any SQLDatabase, schema: nil, sqlite: manifest.database == "sqlite")
        for (table, expected) in manifest.tables.sorted(by: { $0.key < $1.key }) {
            let n = found[table] ?? -1
            guard n == expected else { throw Failure.countMismatch(table: table, expected: expected, found: n) }
        }
    }

    // MARK: Keeping N

    /// Removes the oldest backup folders under `parent` beyond the newest `keep`.
    public static func prune(_ parent: String, keep: Int) throws -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [])
            .filter { $0.hasPrefix(prefix) && FileManager.default.fileExists(atPath: (parent as NSString).appendingPathComponent($0 + "/" + manifestFile)) }
            .sorted()
        let old = names.dropLast(max(0, keep))
        for n in old { try FileManager.default.removeItem(atPath: (parent as NSString).appendingPathComponent(n)) }
        return Array(old)
    }

    // MARK: Tools

    /// libpq does not know the driver's `tlsmode`; it reads `sslmode`.
    static func libpqURL(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return url }
        let tls = c.queryItems?.first { $0.name == "tlsmode" }?.value
        c.queryItems = (c.queryItems ?? []).filter { $0.name != "tlsmode" }
        if let tls { c.queryItems?.append(URLQueryItem(name: "sslmode", value: tls == "disable" ? "disable" : tls == "require" ? "require" : "prefer")) }
        if c.queryItems?.isEmpty == true { c.queryItems = nil }
        return c.string ?? url
    }

    static func run(_ tool: String, _ args: [String]) async throws {
        _ = try await output(tool, args)
    }

    /// Runs a PostgreSQL client tool off the event loops and returns what it printed.
    static func output(_ tool: String, _ args: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                p.arguments = [tool] + args
                let out = Pipe(), err = Pipe()
                p.standardOutput = out
                p.standardError = err
                do {
                    try p.run()
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    let stderr = err.fileHandleForReading.readDataToEndOfFile()
                    p.waitUntilExit()
                    guard p.terminationStatus == 0 else {
                        let message = String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                        continuation.resume(throwing: Failure.tool("\(tool) failed (\(p.terminationStatus)): \(message.prefix(500))"))
                        return
                    }
                    continuation.resume(returning: String(decoding: stdout, as: UTF8.self))
                } catch {
                    continuation.resume(throwing: Failure.tool("\(tool) could not start: \(error)"))
                }
            }
        }
    }
}

extension DateFormatter {
    static let backupStamp: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f
    }()
}

extension JSONEncoder {
    static var manifest: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }
}

extension JSONDecoder {
    static var manifest: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}

/// The nightly backup of `subcon serve` (set `BACKUP_DIR`): once a day at `BACKUP_HOUR`
/// where the installation is, by whichever instance claims the day first, keeping the newest
/// `BACKUP_KEEP`.
enum ScheduledBackup {
    public struct Schedule: Sendable {
        public var directory: String
        public var hour: Int
        public var keep: Int
    }

    static func runIfDue(app: Application) async throws {
        guard let schedule = app.subcon.settings.backup else { return }
        let now = app.subcon.clock.now()
        let hour = app.subcon.settings.calendar.component(.hour, from: now)
        guard hour >= schedule.hour else { return }
        let day = app.subcon.today().description
        let sql = app.database as! any SQLDatabase
        let claimed = try await sql.raw("""
            INSERT INTO backup_runs (day, started_at) VALUES (\(bind: day), \(bind: now)) ON CONFLICT (day) DO NOTHING RETURNING day
            """).all()
        guard !claimed.isEmpty else { return }
        // Off the worker's loop: a large database takes a while, and messages keep flowing.
        Task.detached {
            do {
                let made = try await Backup.make(app: app, settings: app.subcon.settings, into: schedule.directory, now: now)
                let removed = try Backup.prune(schedule.directory, keep: schedule.keep)
                try await sql.update("backup_runs").set("finished_at", to: app.subcon.clock.now()).set("path", to: made.path)
                    .where("day", .equal, day).run()
                app.logger.notice("backup written to \(made.path)\(removed.isEmpty ? "" : "; removed \(removed.joined(separator: ", "))")")
            } catch {
                app.logger.error("scheduled backup failed: \(String(describing: error))")
                try? await sql.update("backup_runs").set("error", to: String(describing: error).prefix(500).description).where("day", .equal, day).run()
            }
        }
    }
}

struct CreateBackupRuns: AsyncMigration {
    func prepare(on db: any Database) async throws {
        try await db.schema("backup_runs")
            .field("day", .string, .required)
            .field("started_at", .datetime, .required)
            .field("finished_at", .datetime)
            .field("path", .string)
            .field("error", .string)
            .unique(on: "day")
            .create()
    }
    func revert(on db: any Database) async throws { try await db.schema("backup_runs").delete() }
}
