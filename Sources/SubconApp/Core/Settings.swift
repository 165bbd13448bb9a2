import Foundation
import SubconDomain
import Vapor

/// Everything the app can be configured with. Built from the environment by the executable and
/// directly by tests, then handed to `configure` — nothing else reads the environment.
public struct Settings: Sendable {
    public enum DatabaseChoice: Sendable {
        case sqliteFile(path: String)
        case sqliteMemory
        /// `searchPath` lets tests give each run its own PostgreSQL schema.
        case postgres(url: String, searchPath: [String]?)

        var isPostgres: Bool { if case .postgres = self { true } else { false } }
    }

    public var database: DatabaseChoice
    /// Folder holding `Views/`, `Locales/` and `openapi.json`.
    public var resourcesDirectory: String
    public var publicDirectory: String
    /// Load demo data when the database is empty, and list the demo logins on the login page.
    public var demo: Bool
    /// With the demo: also the example workbook's master data and plans and orders in every
    /// state (off in tests, which build what they need; `DEMO_SCENARIO=0` turns it off).
    public var demoScenario: Bool
    /// With the scenario: a year of history for the scorecards' trends and grades (`DEMO_HISTORY=0` turns it off).
    public var demoHistory = false
    /// Folder holding the example workbook.
    public var examplesDirectory: String
    /// Mark cookies `Secure` (set when the app is served over HTTPS, directly or behind a proxy).
    public var secureCookies: Bool
    public var sessionLifetime: TimeInterval
    public var apiTokenLifetime: TimeInterval
    public var loginThrottle: LoginThrottle
    /// Tests drive the outbox by hand; the server runs it in the background.
    public var runBackgroundWorkers: Bool
    public var outboxInterval: TimeInterval
    public var logLevel: Logger.Level
    /// Time zone for dates shown on pages (stored times are UTC).
    public var timeZone: String
    /// How long suppliers have to answer an order or revision, and when admins hear of it.
    public var responseClock: ResponseClock
    /// How long a closed 8D is watched for its defect to come back (效果验证): days or lots, whichever first.
    public var correctiveWindow = CorrectiveEffect.Window()
    /// Lateness in days beyond which a projected completion opens a delay exception
    /// (DELAY_THRESHOLD_DAYS).
    public var delayThresholdDays = 3
    /// Nightly backups by the server (BACKUP_DIR, BACKUP_HOUR, BACKUP_KEEP); nil: none.
    var backup: ScheduledBackup.Schedule?
    /// The reasons a supplier chooses from when a line is late (DELAY_REASONS, comma separated;
    /// "other" with a note is always offered).
    public var delayReasons = DelayReasons(codes: DelayReasons.standard)
    /// The PostgreSQL channel live updates travel on (one per schema, so test runs sharing a
    /// server do not hear each other).
    var liveChannel: String {
        if case .postgres(_, let searchPath?) = database, let schema = searchPath.first { return "subcon_live_" + schema }
        return "subcon_live"
    }
    /// How far beyond the ordered quantity a line may be received (OVER_RECEIPT_PERCENT).
    public var overReceiptPercent = FixedDecimal(units: 50_000)
    /// Write-off variance tolerated before a deduction is proposed, as a percentage of the
    /// material to account for (WRITE_OFF_TOLERANCE_PERCENT).
    public var writeOffTolerancePercent = FixedDecimal(units: 10_000)
    /// How far a statement's invoices may differ from it in net and in tax and still match
    /// (INVOICE_TOLERANCE_FEN; the tax system rounds line by line, the statement once).
    public var invoiceTolerance = InvoiceMatching.defaultTolerance
    /// How much of an SQLite database file each connection maps into memory (SQLITE_MMAP_MB).
    public var sqliteMapBytes: Int64 = 8 << 30
    /// Whether the hottest reads on an SQLite file take connections of their own
    /// (SQLITE_READ_CONNECTIONS=0 keeps every read on the driver; see `ReadConnections`).
    public var sqliteReadConnections = true
    /// Whether changes on SQLite run on a connection of their own, statement after statement on
    /// the change's thread (SQLITE_WRITE_CONNECTION=0 keeps them on the driver; see `WriteConnection`).
    public var sqliteWriteConnection = true
    /// On PostgreSQL, how long a sign-in cache vouched for by a tick heard back is used
    /// (SIGN_IN_CACHE_MS, 0: no cache; see `SignInCache`). A change to who may sign in waits this
    /// long (and a tenth of a second) before it answers, so that every instance has heard it or
    /// stopped trusting its cache; every instance must be given the same value.
    public var signInCacheTrust: Duration = .seconds(1)
    /// Whether every commit to an SQLite file waits for the disk (SQLITE_SYNCHRONOUS=full, the
    /// default) or only checkpoints do (`normal`: a power cut or a crash of the machine — not of
    /// the process — may lose the last commits, never the file's consistency; a commit costs
    /// microseconds instead of one fsync, 3.8 ms on the benchmark's disk).
    public var sqliteSynchronousFull = true
    /// How many changes on an SQLite file may share one COMMIT, and so one wait for the disk,
    /// when they queue for the write gate (SQLITE_GROUP_COMMIT, 1…256; 1: each commits alone).
    /// None of them answers before that COMMIT (see `WriteConnection.groupedTransaction`).
    public var sqliteGroupCommit = 32
    /// How long a change that would commit its group alone waits for the next change to join,
    /// while changes arrive together (SQLITE_GROUP_LINGER_US, 0…100,000 µs; 0: never waits).
    /// A client writing alone never waits (see `WriteConnection.groupedTransaction`).
    public var sqliteGroupLinger: Duration = .microseconds(200)
    /// How many heavy reads (write-off, statement detail, reports, rankings) one instance builds
    /// at once (HEAVY_READS, 1…64); the others wait their turn.
    public var heavyReads = 2
    /// Elements per batch when a long answer is streamed: a statement's lines, the write-off's rows (tests make it small).
    public var streamedBatch = 2_000
    /// The last day of each statement period (STATEMENT_CUTOFF_DAY, 1…28; unset: the month's end).
    public var statementCalendar = SettlementCalendar.monthEnd
    /// The Gregorian calendar where the installation is: days, months and periods are counted in it.
    var calendar: Calendar {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: timeZone) ?? .gmt
        return cal
    }
    /// VAT on statements (VAT_PERCENT, 13 by default).
    public var taxPercent = StatementAmounts.defaultTaxPercent
    /// Graded penalties (PENALTY_WINDOW_DAYS, PENALTY_FREE_OCCURRENCES).
    public var gradedPenalty = GradedPenalty()
    /// Where people open the links in robot messages, webhooks and email (PUBLIC_URL).
    public var publicURL = "http://localhost:8080"
    /// Chat robots, webhooks and email.
    public var channels = ChannelSettings()

    public init(
        database: DatabaseChoice = .sqliteMemory,
        resourcesDirectory: String = "Resources",
        publicDirectory: String = "Public",
        demo: Bool = false,
        demoScenario: Bool = false,
        examplesDirectory: String = "examples",
        secureCookies: Bool = false,
        sessionLifetime: TimeInterval = 12 * 3600,
        apiTokenLifetime: TimeInterval = 12 * 3600,
        loginThrottle: LoginThrottle = LoginThrottle(),
        runBackgroundWorkers: Bool = true,
        outboxInterval: TimeInterval = 1,
        logLevel: Logger.Level = .notice,
        timeZone: String = "Asia/Shanghai"
    ) {
        self.database = database
        self.resourcesDirectory = resourcesDirectory
        self.publicDirectory = publicDirectory
        self.demo = demo
        self.demoScenario = demoScenario
        self.examplesDirectory = examplesDirectory
        self.secureCookies = secureCookies
        self.sessionLifetime = sessionLifetime
        self.apiTokenLifetime = apiTokenLifetime
        self.loginThrottle = loginThrottle
        self.runBackgroundWorkers = runBackgroundWorkers
        self.outboxInterval = outboxInterval
        self.logLevel = logLevel
        self.timeZone = timeZone
        self.responseClock = ResponseClock()
    }

    /// Reads the variables documented in the README.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Settings {
        var s = Settings()
        let dataDir = env["DATA_DIR"] ?? "./data"
        if let url = env["DATABASE_URL"], !url.isEmpty {
            s.database = .postgres(url: url, searchPath: nil)
        } else {
            s.database = .sqliteFile(path: dataDir + "/subcon.sqlite")
        }
        let root = env["SUBCON_ROOT"] ?? FileManager.default.currentDirectoryPath
        s.resourcesDirectory = env["RESOURCES_DIR"] ?? root + "/Resources"
        s.publicDirectory = env["PUBLIC_DIR"] ?? root + "/Public"
        s.examplesDirectory = root + "/examples"
        s.demoScenario = env["DEMO_SCENARIO"] != "0"
        s.demoHistory = env["DEMO_HISTORY"] != "0"
        // Served over HTTPS (PUBLIC_URL says so) means Secure cookies, unless COOKIE_SECURE says otherwise.
        let httpsURL = env["PUBLIC_URL"]?.lowercased().hasPrefix("https://") ?? false
        if let explicit = env["COOKIE_SECURE"]?.lowercased(), !explicit.isEmpty {
            s.secureCookies = ["1", "true", "yes"].contains(explicit)
        } else {
            s.secureCookies = httpsURL
        }
        if let h = env["SESSION_HOURS"].flatMap(Double.init) { s.sessionLifetime = h * 3600 }
        if let h = env["API_TOKEN_HOURS"].flatMap(Double.init) { s.apiTokenLifetime = h * 3600 }
        if let l = env["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) { s.logLevel = l }
        if let tz = env["SUBCON_TIMEZONE"], TimeZone(identifier: tz) != nil { s.timeZone = tz }
        if let h = env["ACK_HOURS"].flatMap(Int.init), h > 0 { s.responseClock.answerHours = h }
        if let d = env["CA_WINDOW_DAYS"].flatMap(Int.init), d > 0 { s.correctiveWindow.days = d }
        if let n = env["CA_WINDOW_LOTS"].flatMap(Int.init), n > 0 { s.correctiveWindow.lots = n }
        if let h = env["ACK_ESCALATE_HOURS"].flatMap(Int.init), h > 0 { s.responseClock.escalateAfterHours = h }
        if let r = env["DELAY_REASONS"], !r.isEmpty { s.delayReasons = DelayReasons(codes: r.split(separator: ",").map(String.init)) }
        if let d = env["DELAY_THRESHOLD_DAYS"].flatMap(Int.init), d >= 0, d <= 365 { s.delayThresholdDays = d }
        if let p = env["OVER_RECEIPT_PERCENT"].flatMap({ try? FixedDecimal.parse($0) }), p >= .zero, p <= FixedDecimal(units: 1_000_000) {
            s.overReceiptPercent = p
        }
        if let d = env["STATEMENT_CUTOFF_DAY"].flatMap(Int.init), let c = SettlementCalendar(cutOffDay: d) { s.statementCalendar = c }
        if let p = env["VAT_PERCENT"].flatMap({ try? FixedDecimal.parse($0) }), p >= .zero, p <= FixedDecimal(100) { s.taxPercent = p }
        if let d = env["PENALTY_WINDOW_DAYS"].flatMap(Int.init), (1...3650).contains(d) { s.gradedPenalty.windowDays = d }
        if let n = env["PENALTY_FREE_OCCURRENCES"].flatMap(Int.init), (0...100).contains(n) { s.gradedPenalty.freeOccurrences = n }
        if let n = env["HEAVY_READS"].flatMap(Int.init), (1...64).contains(n) { s.heavyReads = n }
        if env["SQLITE_READ_CONNECTIONS"] == "0" { s.sqliteReadConnections = false }
        if env["SQLITE_WRITE_CONNECTION"] == "0" { s.sqliteWriteConnection = false }
        if let ms = env["SIGN_IN_CACHE_MS"].flatMap(Int64.init), (0...60_000).contains(ms) { s.signInCacheTrust = .milliseconds(ms) }
        if env["SQLITE_SYNCHRONOUS"]?.lowercased() == "normal" { s.sqliteSynchronousFull = false }
        if let n = env["SQLITE_GROUP_COMMIT"].flatMap(Int.init), (1...256).contains(n) { s.sqliteGroupCommit = n }
        if let us = env["SQLITE_GROUP_LINGER_US"].flatMap(Int64.init), (0...100_000).contains(us) { s.sqliteGroupLinger = .microseconds(us) }
        if let m = env["SQLITE_MMAP_MB"].flatMap(Int64.init), (0...1 << 20).contains(m) { s.sqliteMapBytes = m << 20 }
        if let f = env["INVOICE_TOLERANCE_FEN"].flatMap(Int64.init), (0...10_000).contains(f) { s.invoiceTolerance = FixedDecimal(units: f * 100) }
        if let p = env["WRITE_OFF_TOLERANCE_PERCENT"].flatMap({ try? FixedDecimal.parse($0) }), p >= .zero, p <= FixedDecimal(units: 1_000_000) {
            s.writeOffTolerancePercent = p
        }
        if let u = env["PUBLIC_URL"], !u.isEmpty { s.publicURL = u.hasSuffix("/") ? String(u.dropLast()) : u }
        s.channels.allowHTTP = ["1", "true", "yes"].contains(env["CHANNELS_ALLOW_HTTP"]?.lowercased() ?? "")
        if let t = env["CHANNEL_TIMEOUT_SECONDS"].flatMap(Double.init), t > 0, t <= 120 { s.channels.timeout = t }
        if let h = env["CHANNEL_GIVE_UP_HOURS"].flatMap(Double.init), h > 0, h <= 24 * 30 { s.channels.giveUpAfter = h * 3600 }
        if let c = env["SENDMAIL_COMMAND"], !c.isEmpty { s.channels.sendmailCommand = c }
        if let f = env["MAIL_FROM"], ChannelCheck.email(f) { s.channels.mailFrom = f }
        if let h = env["DIGEST_HOUR"].flatMap(Int.init), (0...23).contains(h) { s.channels.digestHour = h }
        if let dir = env["BACKUP_DIR"], !dir.isEmpty {
            s.backup = .init(directory: dir, hour: env["BACKUP_HOUR"].flatMap(Int.init).flatMap { (0...23).contains($0) ? $0 : nil } ?? 2,
                             keep: env["BACKUP_KEEP"].flatMap(Int.init).flatMap { (1...1000).contains($0) ? $0 : nil } ?? 7)
        }
        return s
    }
}

/// How messages leave Subcon for chat groups, other systems and mailboxes.
public struct ChannelSettings: Sendable {
    /// Robot addresses must be HTTPS; tests and a bridge on the same host may allow plain HTTP
    /// (CHANNELS_ALLOW_HTTP).
    public var allowHTTP = false
    /// How long one attempt may take before it counts as a timeout (CHANNEL_TIMEOUT_SECONDS).
    public var timeout: TimeInterval = 10
    /// How long a message is retried before it is given up and shown to admins (CHANNEL_GIVE_UP_HOURS).
    public var giveUpAfter: TimeInterval = 24 * 3600
    /// The first retry waits up to this long; each further one up to twice as long.
    public var retryBase: TimeInterval = 10
    /// A sendmail-compatible command that reads a whole message on stdin (SENDMAIL_COMMAND, e.g.
    /// `/usr/bin/msmtp -t`); without it no email is sent.
    public var sendmailCommand: String?
    public var mailFrom = "subcon@localhost"
    /// The hour (installation's time zone) at which daily digests go out (DIGEST_HOUR).
    public var digestHour = 8
    public init() {}
}
