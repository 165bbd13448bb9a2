import ArgumentParser
import CMallocTuning
import Foundation
import Logging
import NIOCore
import NIOPosix
import SubconApp
import Vapor

@main
struct Subcon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subcon",
        abstract: "Subcon 委外协同平台 — outsourcing collaboration between a manufacturer and its suppliers.",
        subcommands: [Serve.self, Migrate.self, SeedDemo.self, CreateAdmin.self, Audit.self, CheckData.self, SeedBench.self, BackupCommand.self, RestoreCommand.self],
        defaultSubcommand: Serve.self
    )

    /// Swift's tasks run on the event loops instead of a pool of their own (vapor/template's
    /// option), before anything else: a request no longer moves from its event loop to that pool
    /// and back (two thread switches and wake-ups each), which was the largest single item of the
    /// server's kernel time. `SUBCON_TASKS_ON_EVENT_LOOPS=0` keeps the separate pool. Nothing here
    /// waits on a future (`.wait()` on an event loop would never return). The driver's statements
    /// and the password hashing stay on their thread pool; the read connections' short statements
    /// run on the loop that asks, as they ran on the pool's thread before; long reads (scorecards,
    /// reports) stay on the driver, and background passes have a thread of their own.
    static func main() async {
        if ProcessInfo.processInfo.environment["SUBCON_TASKS_ON_EVENT_LOOPS"] != "0" {
            _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        await main(nil)
    }
}

/// Production unless `SUBCON_ENV=development` (development re-reads templates on every request).
func runtimeEnvironment() -> Environment {
    ProcessInfo.processInfo.environment["SUBCON_ENV"] == "development" ? .development : .production
}

/// Builds the app from the environment, runs `body`, and shuts it down.
func withConfiguredApp(demo: Bool = false, workers: Bool = false, _ body: (Application) async throws -> Void) async throws {
    var settings = Settings.fromEnvironment()
    settings.demo = demo
    settings.runBackgroundWorkers = workers
    var environment = runtimeEnvironment()
    environment.arguments = ["subcon"]
    let app = try await Application.make(environment)
    do {
        try await configure(app, settings: settings)
        try await body(app)
    } catch {
        try? await app.asyncShutdown()
        throw error
    }
    try await app.asyncShutdown()
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the web server (migrations run first).")
    @ArgumentParser.Option(help: "Address to listen on.") var host = ProcessInfo.processInfo.environment["HOST"] ?? "127.0.0.1"
    @ArgumentParser.Option(help: "Port to listen on.") var port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080
    @ArgumentParser.Flag(help: "Load the demo data when the database is empty, and list the demo logins on the login page.") var demo = false

    func run() async throws {
        limitMallocArenas()
        var settings = Settings.fromEnvironment()
        // Read once: Vapor makes loggers per request (the request's, the router's parameters'),
        // and parsing the environment for each one cost a third of a small request's time.
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardOutput(label: label)
            h.logLevel = level
            return h
        }
        settings.demo = demo || ProcessInfo.processInfo.environment["DEMO"] == "1"
        var environment = runtimeEnvironment()
        environment.arguments = ["subcon", "serve"]
        let app = try await Application.make(environment)
        app.http.server.configuration.hostname = host
        app.http.server.configuration.port = port
        do {
            try await configure(app, settings: settings)
            print("Subcon listening on http://\(host):\(port)\(settings.demo ? "  (demo: log in as admin / demo)" : "")")
            try await app.execute()
            // Stopped taking requests: let those already running finish before the databases go.
            await app.inFlightRequests?.drain()
        } catch {
            try? await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()
    }
}

/// glibc gives each thread that meets a busy heap a new one, up to eight per core, and keeps
/// what each has held: a server whose requests hop across threads ended up holding the peak of
/// every heap at once (the month's write-off, run again and again: 98 → 283 MB; with one heap
/// per core it stays at 158 MB, and at 243 MB under 64 connections instead of 396).
/// `MALLOC_ARENA_MAX` in the environment still decides when an operator sets it.
func limitMallocArenas() {
    guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil else { return }
    _ = subcon_limit_malloc_arenas(Int32(max(2, System.coreCount)))
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run database migrations and exit.")
    func run() async throws {
        try await withConfiguredApp { _ in print("migrations are up to date") }
    }
}

struct SeedDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed-demo", abstract: "Load the demo data into an empty database.")
    func run() async throws {
        try await withConfiguredApp { app in
            let seeded = try await DemoData.seedIfEmpty(app: app)
            if seeded && Settings.fromEnvironment().demoScenario { try await DemoOrders.seed(app: app) }
            print(seeded ? "demo data loaded (password for every login: demo)" : "database is not empty: nothing loaded")
        }
    }
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-admin", abstract: "Create the manufacturer and an admin login.")
    @ArgumentParser.Option(help: "Login name.") var login: String
    @ArgumentParser.Option(help: "Display name.") var name = "Administrator"
    @ArgumentParser.Option(help: "Password (read from SUBCON_ADMIN_PASSWORD when omitted).") var password: String?
    @ArgumentParser.Option(help: "Manufacturer code, used when no manufacturer exists yet.") var companyCode = "MFG"
    @ArgumentParser.Option(help: "Manufacturer name, used when no manufacturer exists yet.") var companyName = "Manufacturer"

    func run() async throws {
        guard let pw = password ?? ProcessInfo.processInfo.environment["SUBCON_ADMIN_PASSWORD"] else {
            throw ValidationError("give --password or set SUBCON_ADMIN_PASSWORD")
        }
        try await withConfiguredApp { app in
            try await AdminBootstrap.createAdmin(app: app, login: login, displayName: name, password: pw,
                                                 companyCode: companyCode, companyName: companyName)
            print("admin '\(login)' created")
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Audit trail tools.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Walk the hash chain; exit 1 at the first altered or missing row.")
        func run() async throws {
            var failed = false
            try await withConfiguredApp { app in
                let report = try await AuditVerification.run(app: app)
                print(report.message)
                failed = !report.ok
            }
            if failed { throw ArgumentParser.ExitCode(1) }
        }
    }
}

struct CheckData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-data",
        abstract: "Look for half-written records (documents without lines, movements that do not add up) and verify the audit chain; exit 1 on any finding.")
    func run() async throws {
        var failed = false
        try await withConfiguredApp { app in
            let findings = try await DataIntegrity.run(on: app.db)
            for f in findings { print("FAIL \(f)") }
            let audit = try await AuditVerification.run(app: app)
            print(audit.message)
            failed = !findings.isEmpty || !audit.ok
            if findings.isEmpty { print("data: \(DataIntegrity.checkCount) checks, nothing half-written") }
        }
        if failed { throw ArgumentParser.ExitCode(1) }
    }
}

struct SeedBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed-bench", abstract: "Load a large data set for the benchmark (empty database only).")
    @ArgumentParser.Option(help: "Supplier organizations.") var suppliers = 2000
    @ArgumentParser.Option(help: "Users per supplier.") var usersPerSupplier = 5
    @ArgumentParser.Option(help: "Notifications in each of a few inboxes.") var notifications = 20000
    @ArgumentParser.Option(help: "Outsourcing orders, spread over the suppliers.") var orders = 20000
    @ArgumentParser.Option(help: "Lines per order.") var linesPerOrder = 3
    @ArgumentParser.Option(help: "Items (one in ten raw material) the lines and the ledger use.") var items = 1
    @ArgumentParser.Option(help: "Months of history the orders spread over (and of locked statements, at least 12).") var months = 1

    func run() async throws {
        try await withConfiguredApp { app in
            try await BenchData.seed(app: app, suppliers: suppliers, usersPerSupplier: usersPerSupplier, notificationsPerUser: notifications,
                                     shape: .init(orders: orders, linesPerOrder: linesPerOrder, items: items, months: months))
            print("seeded \(suppliers) suppliers, \(suppliers * usersPerSupplier) users, \(notifications) notifications per inbox, \(orders) orders × \(linesPerOrder) lines over \(months) months")
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent backup of the database (every stored file is in it) while the server runs: a folder subcon-<UTC time> with manifest.json.")
    @ArgumentParser.Option(help: "Folder to write the backup folder into (BACKUP_DIR, or ./backups).")
    var to = ProcessInfo.processInfo.environment["BACKUP_DIR"] ?? "./backups"
    @ArgumentParser.Option(help: "Keep only the newest N backups in that folder.") var keep: Int?

    func run() async throws {
        if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
        try await withConfiguredApp { app in
            let made = try await Backup.make(app: app, settings: app.subcon.settings, into: to, now: Date())
            let rows = made.manifest.tables.values.reduce(0, +)
            print("backup written to \(made.path): \(made.manifest.tables.count) tables, \(rows) rows, "
                  + made.manifest.files.map { "\($0.name) \($0.size) bytes sha256 \($0.sha256)" }.joined(separator: "; "))
            if let keep { for removed in try Backup.prune(to, keep: keep) { print("removed \(removed)") } }
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring a backup back into an empty data directory (DATA_DIR) or an empty PostgreSQL database (DATABASE_URL), then check every table's rows and the audit chain.")
    @ArgumentParser.Argument(help: "The backup folder (the one holding manifest.json).") var folder: String

    func run() async throws {
        let manifest: Backup.Manifest
        do {
            manifest = try await Backup.restore(from: folder, settings: Settings.fromEnvironment())
        } catch let failure as Backup.Failure {
            FileHandle.standardError.write(Data((failure.description + "\n").utf8))
            throw ArgumentParser.ExitCode(2)
        }
        var failed = false
        try await withConfiguredApp { app in
            do {
                try await Backup.check(manifest, on: app.db)
                let audit = try await AuditVerification.run(app: app)
                print(audit.message)
                failed = !audit.ok
                print("restored \(manifest.tables.count) tables, \(manifest.tables.values.reduce(0, +)) rows from the backup of \(manifest.createdAt)")
            } catch let failure as Backup.Failure {
                FileHandle.standardError.write(Data((failure.description + "\n").utf8))
                failed = true
            }
        }
        if failed { throw ArgumentParser.ExitCode(1) }
    }
}
