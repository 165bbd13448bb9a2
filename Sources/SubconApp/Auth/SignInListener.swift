import Fluent
import Foundation
import PostgresNIO
import SQLKit
import Vapor

/// Keeps `SignInCache` current on PostgreSQL: one connection of its own listens on the
/// installation's sign-in channel, forgets the cache when a change is heard, and sends and hears
/// back this instance's ticks (see `SignInCache` for why a tick makes the cache trusted). When
/// the connection drops, the cache is dropped with it and the listener connects again.
struct SignInListener: LifecycleHandler {
    let configuration: PostgresConnection.Configuration
    let cache: SignInCache
    private let task = TaskBox()

    init(configuration: PostgresConnection.Configuration, cache: SignInCache) {
        self.configuration = configuration; self.cache = cache
    }

    /// The channel the triggers notify: one per schema, so test runs sharing a server do not hear
    /// each other (`current_schema()` in the trigger is the schema it fires in).
    static func channel(schema: String) -> String { "subcon_signin_" + schema }

    func didBootAsync(_ app: Application) async throws {
        let schema = try await (app.database as! any SQLDatabase).raw("SELECT current_schema() AS s").first()?.decode(column: "s", as: String.self) ?? "public"
        let (configuration, cache, logger) = (self.configuration, self.cache, app.logger)
        let channel = Self.channel(schema: schema)
        let instance = UUID().uuidString
        let period = cache.trust / 4
        task.set(Task {
            while !Task.isCancelled {
                cache.lostContact()
                do {
                    let connection = try await PostgresConnection.connect(on: app.eventLoopGroup.any(), configuration: configuration, id: 0, logger: logger)
                    defer { Task { try? await connection.close() } }
                    try await connection.listen(on: channel) { notices in
                        // Ticks go out on the listening connection itself, every quarter of the
                        // trust; a failed one ends the listening, and the loop connects again.
                        let ticking = Task {
                            while !Task.isCancelled {
                                let n = cache.tickSent()
                                do {
                                    try await connection.query("SELECT pg_notify(\(channel), \("tick \(instance) \(n)"))", logger: logger).get()
                                } catch {
                                    try? await connection.close()
                                    return
                                }
                                try? await Task.sleep(for: period)
                            }
                        }
                        defer { ticking.cancel() }
                        for try await notice in notices {
                            if cache.isDeaf { continue }
                            let words = notice.payload.split(separator: " ")
                            if words.count == 3, words[0] == "tick" {
                                if words[1] == instance, let n = UInt64(words[2]) { cache.tickHeard(n) }
                            } else {
                                cache.forgetAll()
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("sign-in cache: listening failed (\(String(describing: error))); retrying")
                }
                cache.lostContact()
                if !Task.isCancelled { try? await Task.sleep(nanoseconds: 1_000_000_000) }
            }
            cache.lostContact()
        })
    }

    func shutdownAsync(_ app: Application) async { await task.stop() }
}

/// Notices on the sign-in channel when a column that signing in reads changes, or a row it
/// reads goes (PostgreSQL only; SQLite keeps no sign-in cache). The transaction is marked too
/// (`subcon.signin_changed`), so that `Application.write` can wait for every instance before it
/// answers. Statement triggers: one notice however many rows (PostgreSQL also folds equal
/// notices of one transaction into one).
struct AddSignInChangeNotices: AsyncMigration {
    static let watched: [(table: String, columns: [String])] = [
        ("api_tokens", ["token_hash", "user_id", "expires_at", "revoked_at"]),
        ("users", ["organization_id", "login", "display_name", "roles", "locale", "active"]),
        ("organizations", ["kind", "name", "active"]),
    ]

    func prepare(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        guard sql.dialect.name == "postgresql" else { return }
        try await sql.raw("""
            CREATE FUNCTION subcon_signin_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              PERFORM pg_notify('subcon_signin_' || current_schema(), 'changed');
              PERFORM set_config('subcon.signin_changed', 'on', true);
              RETURN NULL;
            END $$
            """).run()
        for (table, columns) in Self.watched {
            try await sql.raw("""
                CREATE TRIGGER \(unsafeRaw: table)_signin_changed AFTER UPDATE OF \(unsafeRaw: columns.joined(separator: ", ")) OR DELETE ON \(unsafeRaw: table)
                  FOR EACH STATEMENT EXECUTE FUNCTION subcon_signin_changed()
                """).run()
        }
    }

    func revert(on database: any Database) async throws {
        let sql = database as! any SQLDatabase
        guard sql.dialect.name == "postgresql" else { return }
        for (table, _) in Self.watched { try await sql.raw("DROP TRIGGER \(unsafeRaw: table)_signin_changed ON \(unsafeRaw: table)").run() }
        try await sql.raw("DROP FUNCTION subcon_signin_changed()").run()
    }
}
