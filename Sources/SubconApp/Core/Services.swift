import Fluent
import Foundation
import Prometheus
import SubconDomain
import Vapor

/// The app's dependencies, built once in `configure` and reached through `app.subcon` /
/// `req.subcon`. Nothing else is global.
public struct SubconServices: Sendable {
    public let settings: Settings
    public let clock: any AppClock
    public let catalog: Catalog
    public let writeGate: TurnGate
    /// Turns for reads that hold a whole large result while they are built.
    public let heavyReads: TurnGate
    public let metrics: PrometheusCollectorRegistry
    public let openAPIDocument: Data
    public let passwordHasher: PasswordHasher
    /// What each JSON body may contain, from the OpenAPI document.
    let bodyShapes: BodyShapes
    /// API tokens' sign-in rows on PostgreSQL (nil on SQLite, or when turned off).
    let signInCache: SignInCache?
    /// This instance's open live-update streams.
    let live = LiveEvents()
    /// Which trigrams of the search indexes are common (`SubstringSearch.matches`), per instance.
    let trigramCounts = TrigramCounts()

    var isPostgres: Bool { settings.database.isPostgres }

    /// Today's date where the installation is (`SUBCON_TIMEZONE`): validity periods and due
    /// dates are calendar days there, not in UTC.
    func today() -> Day {
        let c = settings.calendar.dateComponents([.year, .month, .day], from: clock.now())
        return Day(year: c.year!, month: c.month!, day: c.day!)!
    }
}

/// Bcrypt with a configurable cost: 12 in production, the minimum in tests so they stay quick.
public struct PasswordHasher: Sendable {
    public var cost: Int
    public init(cost: Int) { self.cost = cost }

    func hash(_ password: String, on app: Application) async throws -> String {
        let cost = self.cost
        return try await app.threadPool.runIfActive { try Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String, on app: Application) async throws -> Bool {
        try await app.threadPool.runIfActive { try Bcrypt.verify(password, created: hash) }
    }
}

extension Application {
    private struct ServicesKey: StorageKey { typealias Value = SubconServices }

    public var subcon: SubconServices {
        get {
            guard let s = storage[ServicesKey.self] else { fatalError("configure(_:settings:) has not run") }
            return s
        }
        set { storage[ServicesKey.self] = newValue }
    }
}

extension Request {
    public var subcon: SubconServices { application.subcon }
    var now: Date { subcon.clock.now() }
}
