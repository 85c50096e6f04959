import Concurrency
import Foundation
import IngestConfig
import PostgresSink

/// A fresh database for one test, created on the test PostgreSQL server and dropped by
/// `drop()`. Queries run on a dedicated thread (libpq blocks).
public final class TestDatabase: Sendable {
    public let name: String
    public let url: String
    let adminURL: String

    public static func create() async throws -> TestDatabase {
        let admin = try TestServices.adminURL()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await Self.run(admin, "CREATE DATABASE \(name)")
        let url = String(admin[..<admin.lastIndex(of: "/")!]) + "/" + name
        return TestDatabase(name: name, url: url, adminURL: admin)
    }

    /// The lifecycle most tests want: hypertables, no compression, retention or roll-ups,
    /// so no background job of TimescaleDB's moves rows under a test that counts them.
    public static let plainHypertables = IngestConfiguration.Timescale(
        chunkInterval: LifecycleInterval(seconds: 86_400), compressAfter: nil, retainFor: nil, rollups: [])

    /// A fresh database with the daemon's schema (`readings`, `readings_text`, the rest).
    public static func migrated(dedupe: Bool = false, timescale: IngestConfiguration.Timescale = plainHypertables,
                                table: String = "readings") async throws -> TestDatabase {
        let db = try await create()
        do {
            _ = try await db.migrate(dedupe: dedupe, timescale: timescale, table: table)
        } catch {
            await db.drop()
            throw error
        }
        return db
    }

    /// Runs the daemon's migration (SPEC 5, 5a) on this database once more.
    public func migrate(dedupe: Bool = false, timescale: IngestConfiguration.Timescale,
                        table: String = "readings") async throws -> SchemaMigrator.Outcome {
        try await DedicatedThread.run {
            let c = try PostgresConnection(url: self.url)
            defer { c.close() }
            return try SchemaMigrator(table: table, dedupe: dedupe, timescale: timescale).migrate(c)
        }
    }

    init(name: String, url: String, adminURL: String) {
        self.name = name
        self.url = url
        self.adminURL = adminURL
    }

    public func drop() async {
        _ = try? await Self.run(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// First column of the first row, as text.
    @discardableResult
    public func query(_ sql: String) async throws -> String? {
        try await Self.run(url, sql)
    }

    public func count(_ sql: String) async throws -> Int {
        Int(try await query(sql) ?? "0") ?? 0
    }

    /// Whether `table` is a TimescaleDB hypertable (false, not an error, where the extension
    /// is not installed: its catalog views exist only with it).
    public func isHypertable(_ table: String) async throws -> Bool {
        guard try await count("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'") == 1 else { return false }
        return try await count(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = '\(table)'") == 1
    }

    /// Runs `sql` on the server's `postgres` database as the administrator (roles, databases).
    @discardableResult
    public static func admin(_ sql: String) async throws -> String? {
        try await run(try TestServices.adminURL(), sql)
    }

    @discardableResult
    static func run(_ url: String, _ sql: String) async throws -> String? {
        try await DedicatedThread.run {
            let connection = try PostgresConnection(url: url)
            defer { connection.close() }
            return try connection.scalar(sql)
        }
    }
}

/// Runs `body` with `db`, then drops the database, also when `body` throws.
public func dropping<T>(_ db: TestDatabase, _ body: (TestDatabase) async throws -> T) async throws -> T {
    try await withCleanup(db, { await $0.drop() }, body)
}
