import Fluent
import FluentPostgresDriver
import FluentSQLiteDriver
import Foundation
import Leaf
import LeafKit
import Prometheus
import SQLKit
import Vapor

/// The composition root: builds every dependency from `settings` and wires the app. Tests call
/// it with test settings; `subcon serve` calls it with settings from the environment.
public func configure(_ app: Application, settings: Settings, clock: any AppClock = SystemClock(),
                      passwordHasher: PasswordHasher = PasswordHasher(cost: 12),
                      metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) async throws {
    app.logger.logLevel = settings.logLevel

    // SQLite runs every statement on this pool, and passwords are hashed on it. NIO's shared pool
    // has a thread per core — two here — so two long statements (a background pass and a report)
    // or two sign-ins stopped every other statement on every connection, and requests waited
    // out the connection timeout in bursts. A thread for each SQLite connection (requests' and
    // background passes', one each per event loop) and two more for hashing and files.
    let loops = Array(app.eventLoopGroup.makeIterator()).count
    app.threadPool = NIOThreadPool(numberOfThreads: 2 * loops + 2)

    // Database
    // sqlite-kit keeps an "in-memory" database in a temporary file of this name (its SQLite is
    // built without shared cache), which the write connection opens too.
    let memoryID = UUID().uuidString
    let memoryPath = FileManager.default.temporaryDirectory
        .appendingPathComponent("sqlite-kit_memorydb-\(ProcessInfo.processInfo.processIdentifier)-\(memoryID).sqlite3").path
    switch settings.database {
    case .sqliteFile(let path):
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        app.databases.use(.sqlite(.file(path), sqlLogLevel: .debug), as: .sqlite)
        if settings.runBackgroundWorkers {
            app.databases.use(.sqlite(.file(path), sqlLogLevel: .debug), as: .sqliteBackground, isDefault: false)
        }
    case .sqliteMemory:
        app.databases.use(.sqlite(.init(storage: .memory(identifier: memoryID)), sqlLogLevel: .debug), as: .sqlite)
        app.lifecycle.use(RemoveMemoryDatabase(path: memoryPath))
    case .postgres(let url, let searchPath):
        var config = try SQLPostgresConfiguration(url: url)
        config.searchPath = searchPath
        app.databases.use(.postgres(configuration: config, maxConnectionsPerEventLoop: 4,
                                    encodingContext: .default, decodingContext: .default, sqlLogLevel: .debug), as: .psql)
        // The prepared reads' own connections, which always use a statement's generic plan (see
        // `PreparedReads`), and never a parallel one: their reads are a page long, and a plan kept
        // for an unknown offset expects enough rows to start two workers, which took 8 of the late
        // lines' 13 ms. Nor a memoized join: a generic plan sizes each Memoize node's cache for
        // the thousands of rows it expects, and building and freeing those took 0.85 of the late
        // lines' 1.15 ms in PostgreSQL for a page whose 50 rows have 50 different keys anyway.
        var prepared = config
        prepared.coreConfiguration.options.additionalStartupParameters.append(("plan_cache_mode", "force_generic_plan"))
        prepared.coreConfiguration.options.additionalStartupParameters.append(("max_parallel_workers_per_gather", "0"))
        prepared.coreConfiguration.options.additionalStartupParameters.append(("enable_memoize", "off"))
        app.databases.use(.postgres(configuration: prepared, maxConnectionsPerEventLoop: 4,
                                    encodingContext: .default, decodingContext: .default, sqlLogLevel: .debug), as: .psqlPrepared, isDefault: false)
    }
    if case .postgres(_, let searchPath?) = settings.database, let schema = searchPath.first {
        // A private schema (tests give each run its own) must exist before migrations create tables in it.
        try await (app.database as! any SQLDatabase).raw("CREATE SCHEMA IF NOT EXISTS \(ident: schema)").run()
    }
    if case .sqliteFile(let path) = settings.database {
        // WAL lets readers go on while one writer commits; the setting persists in the file.
        _ = try await (app.database as! any SQLDatabase).raw("PRAGMA journal_mode=WAL").all()
        // Per connection (one per event loop): read the file through a memory map and keep more
        // pages, instead of a read() system call for every page a query touches — on a database
        // of gigabytes that copying showed as a tenth of a write's profile. Pages of the map count
        // in the process's RSS but are the kernel's page cache.
        // The cache also bounds how much memory a sort or GROUP BY may take before it spills to a
        // temporary file. The driver's connections now run the heavy reports (changes have their own
        // connection), whose sorts filled 64 MB each: two at once took the server from about 60 to
        // 290 MB. The background passes' connections mostly scan, once every minute or ten.
        for (id, cacheKiB) in [(DatabaseID.sqlite, 16384), (.sqliteBackground, 16384)] where app.databases.ids().contains(id) {
            for loop in app.eventLoopGroup.makeIterator() {
                let db = app.databases.database(id, logger: app.logger, on: loop) as! any SQLDatabase
                _ = try await db.raw("PRAGMA mmap_size = \(unsafeRaw: String(settings.sqliteMapBytes))").all()
                _ = try await db.raw("PRAGMA cache_size = -\(unsafeRaw: String(cacheKiB))").all()
                _ = try await db.raw("PRAGMA synchronous = \(unsafeRaw: settings.sqliteSynchronousFull ? "FULL" : "NORMAL")").all()
            }
        }
        if settings.sqliteReadConnections { app.useReadConnections(path: path, mapBytes: Int(settings.sqliteMapBytes)) }
    }
    for migration in Migrations.all { app.migrations.add(migration) }
    try await app.autoMigrate()
    if settings.sqliteWriteConnection {
        switch settings.database {
        case .sqliteFile(let path):
            try app.useWriteConnection(path: path, mapBytes: Int(settings.sqliteMapBytes), synchronousFull: settings.sqliteSynchronousFull)
        case .sqliteMemory:
            // Said plainly if sqlite-kit ever keeps it elsewhere (the open would only say it cannot).
            guard FileManager.default.fileExists(atPath: memoryPath) else { throw WriteConnection.NotFound(path: memoryPath) }
            try app.useWriteConnection(path: memoryPath, mapBytes: 0, synchronousFull: settings.sqliteSynchronousFull)
        case .postgres: break
        }
    }
    // The tests' database is a temporary file too: reads take connections of their own there as
    // on a real file, so that every test goes the way production does.
    if case .sqliteMemory = settings.database, settings.sqliteReadConnections, FileManager.default.fileExists(atPath: memoryPath) {
        app.useReadConnections(path: memoryPath, mapBytes: 0)
    }

    // Services
    let catalog = try Catalog(directory: settings.resourcesDirectory + "/Locales")
    let openAPI = try Data(contentsOf: URL(fileURLWithPath: settings.resourcesDirectory + "/openapi.json"))
    app.subcon = SubconServices(settings: settings, clock: clock, catalog: catalog,
                            writeGate: TurnGate(enabled: !settings.database.isPostgres),
                            heavyReads: TurnGate(limit: settings.heavyReads, maxWaiting: 4 * settings.heavyReads), metrics: metrics,
                            openAPIDocument: openAPI, passwordHasher: passwordHasher,
                                bodyShapes: BodyShapes(openAPI: openAPI),
                                signInCache: settings.database.isPostgres && settings.signInCacheTrust > .zero
                                    ? SignInCache(trust: settings.signInCacheTrust) : nil)

    // Robots and webhooks: a receiver that is down answers (or not) within seconds, and an
    // address never redirects a signed message elsewhere.
    app.http.client.configuration.timeout = .init(connect: .seconds(3), read: .seconds(Int64(max(1, settings.channels.timeout))))
    app.http.client.configuration.redirectConfiguration = .disallow
    app.http.client.configuration.decompression = .disabled

    // Views
    app.views.use(.leaf)
    app.leaf.sources = .singleSource(NIOLeafFiles(fileio: app.fileio, limits: .default,
                                                  sandboxDirectory: settings.resourcesDirectory,
                                                  viewDirectory: settings.resourcesDirectory + "/Views/"))
    app.leaf.tags["t"] = TranslateTag(catalog: catalog)
    app.leaf.tags["words"] = WordsTag(catalog: catalog)
    app.leaf.tags["num"] = NumberTag(style: .quantity)
    app.leaf.tags["money"] = NumberTag(style: .money)
    app.leaf.tags["date"] = DateTag()

    // HTTP
    app.routes.defaultMaxBodySize = "1mb"
    // Every JSON answer written as it is encoded (see `StreamingJSONEncoder`).
    ContentConfiguration.global.use(encoder: StreamingJSONEncoder(), for: .json)
    app.middleware = Middlewares()
    let inFlight = InFlightRequests()
    app.inFlightRequests = inFlight
    app.middleware.use(inFlight)
    app.middleware.use(RequestMetrics(registry: metrics))
    app.middleware.use(SecurityHeaders(httpsOnly: settings.secureCookies))
    app.middleware.use(ProblemMiddleware(catalog: catalog))
    app.middleware.use(RefuseNULInQuery())
    app.middleware.use(FileMiddleware(publicDirectory: settings.publicDirectory + "/"))
    try routes(app)

    if settings.demo {
        if try await DemoData.seedIfEmpty(app: app), settings.demoScenario {
            try await DemoOrders.seed(app: app)
            if settings.demoHistory { try await DemoHistory.seed(app: app); try await DemoInvoices.history(app: app) }
        }
    }
    if case .postgres(let url, _) = settings.database {
        // Live updates reach every instance through LISTEN/NOTIFY, tests included.
        app.lifecycle.use(LiveListener(configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, channel: settings.liveChannel))
        if let cache = app.subcon.signInCache {
            app.lifecycle.use(SignInListener(configuration: try SQLPostgresConfiguration(url: url).coreConfiguration, cache: cache))
        }
    }
    if settings.runBackgroundWorkers {
        app.lifecycle.use(OutboxWorker(interval: .milliseconds(Int64(settings.outboxInterval * 1000))))
        app.lifecycle.use(ChannelWorker(interval: .milliseconds(Int64(settings.outboxInterval * 1000))))
        app.lifecycle.use(FreeMemory(interval: .seconds(2)))
    }
}

func routes(_ app: Application) throws {
    try app.register(collection: OpsRoutes())

    // JSON API: bearer tokens only, so no cookie ever authorizes an API write (no CSRF surface).
    let api = app.grouped("api", "v1").grouped(BearerAuthenticator())
    try api.register(collection: AuthAPI())
    let signedInAPI = api.grouped(RequireSignIn()).grouped(IdempotencyMiddleware())
    try signedInAPI.register(collection: MeAPI())
    try signedInAPI.register(collection: OrganizationsAPI())
    try signedInAPI.register(collection: UsersAPI())
    try signedInAPI.register(collection: AuditAPI())
    try signedInAPI.register(collection: NotificationsAPI())
    try signedInAPI.register(collection: ItemsAPI())
    try signedInAPI.register(collection: BOMsAPI())
    try signedInAPI.register(collection: PricesAPI())
    try signedInAPI.register(collection: SupplierProfileAPI())
    try signedInAPI.register(collection: QualificationAPI())
    try signedInAPI.register(collection: DocumentsAPI())
    try signedInAPI.register(collection: OrdersAPI())
    try signedInAPI.register(collection: MaterialAPI())
    try signedInAPI.register(collection: ProgressAPI())
    try signedInAPI.register(collection: LateLinesAPI())
    try signedInAPI.register(collection: WorkListAPI())
    try signedInAPI.register(collection: DashboardAPI())
    try signedInAPI.register(collection: TodoAPI())
    try signedInAPI.register(collection: ReportsAPI())
    try signedInAPI.register(collection: QualityAPI())
    try signedInAPI.register(collection: SettlementAPI())
    try signedInAPI.register(collection: InvoiceAPI())
    try signedInAPI.register(collection: RejectAPI())
    try signedInAPI.register(collection: ScorecardAPI())
    try signedInAPI.register(collection: RoutingsAPI())
    try signedInAPI.register(collection: ImportsAPI())
    try signedInAPI.register(collection: ExportsAPI())
    try signedInAPI.register(collection: ChannelAPI())
    try signedInAPI.register(collection: TechDocAPI())
    try signedInAPI.register(collection: HandoverAPI())
    try signedInAPI.register(collection: SupplierArchiveRoutes(prefix: ["organizations"]))

    // Pages: session cookie, CSRF token on every form.
    let pages = app.grouped(SessionAuthenticator()).grouped(CSRFProtection())
    try pages.register(collection: LoginPages())
    let signedInPages = pages.grouped(RequireSignIn())
    try signedInPages.register(collection: HomePages())
    try signedInPages.register(collection: AccountPages())
    try signedInPages.register(collection: AdminUserPages())
    try signedInPages.register(collection: OrganizationPages())
    try signedInPages.register(collection: DocumentsAPI())
    try signedInPages.register(collection: AuditPages())
    try signedInPages.register(collection: ItemPages())
    try signedInPages.register(collection: PricePages())
    try signedInPages.register(collection: OrderPages())
    try signedInPages.register(collection: PlanPages())
    try signedInPages.register(collection: MaterialPages())
    try signedInPages.register(collection: DeliveryPages())
    try signedInPages.register(collection: ProgressPages())
    try signedInPages.register(collection: LateLinesPages())
    try signedInPages.register(collection: DashboardPages())
    try signedInPages.register(collection: ReportPages())
    try signedInPages.register(collection: QualityPages())
    try signedInPages.register(collection: SettlementPages())
    try signedInPages.register(collection: InvoicePages())
    try signedInPages.register(collection: RejectPages())
    try signedInPages.register(collection: ScorecardPages())
    try signedInPages.register(collection: ReviewPages())
    try signedInPages.register(collection: ImportPages())
    try signedInPages.register(collection: ChannelPages())
    try signedInPages.register(collection: TechDocPages())
    try signedInPages.register(collection: HandoverPages())
    try signedInPages.register(collection: SupplierArchiveRoutes(prefix: ["admin", "organizations"]))
}

/// sqlite-kit keeps an "in-memory" database in a temporary file, and never removes it. The test
/// suite makes one per test (2 to 5 MB each): CI runs on the machine it tests and filled its
/// disk with them. The file goes when its application shuts down; connections still open keep
/// reading it until they close, as an unlinked file allows.
private struct RemoveMemoryDatabase: LifecycleHandler {
    let path: String

    func shutdown(_ application: Application) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
