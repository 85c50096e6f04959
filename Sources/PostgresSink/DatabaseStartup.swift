#if canImport(Glibc)
import Glibc
#endif
import Concurrency
import IngestConfig
import IngestModel
import Logging

/// What start-up asks of the database before anything runs: patience while the server comes
/// up (compose starts them together), then the schema (SPEC 11: `db_connected`,
/// `schema_ready`).
public enum DatabaseStartup {
    /// Runs `body`, retrying while the server is not reachable, up to `patience` seconds
    /// (logging `db_unavailable` per attempt). Blocking.
    public static func withPatience<T>(logger: Logger, patience: Double = 60, _ body: () throws -> T) throws -> T {
        let deadline = Timestamp.monotonicSeconds() + patience
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as PostgresError where error.connectionLost && Timestamp.monotonicSeconds() < deadline {
                attempt += 1
                logger.warning("db_unavailable", metadata: [
                    "attempt": .stringConvertible(attempt), "error": .string(error.description),
                ])
                usleep(UInt32(min(5.0, 0.5 * Double(attempt)) * 1_000_000))
            }
        }
    }

    /// Connects (retrying while the server is not there yet, up to `patience` seconds) and
    /// runs the schema migration with the Timescale lifecycle, on a thread of its own. Logs
    /// `db_connected`, `schema_ready`, then `timescale_configured`, `timescale_failed` or
    /// `timescale_unavailable`, and `db_unavailable` for each failed attempt.
    public static func migrate(_ settings: IngestConfiguration.Database, timescale: IngestConfiguration.Timescale,
                               logger: Logger, patience: Double = 60) async throws -> SchemaMigrator.Outcome {
        try await DedicatedThread.run { () throws -> SchemaMigrator.Outcome in
            try withPatience(logger: logger, patience: patience) { () throws -> SchemaMigrator.Outcome in
                let connection = try PostgresConnection(url: settings.url)
                defer { connection.close() }
                logger.info("db_connected", metadata: [
                    "server_version": .stringConvertible(connection.serverVersion),
                    "pool_size": .stringConvertible(settings.poolSize),
                ])
                let outcome = try SchemaMigrator(table: settings.table, dedupe: settings.dedupe, timescale: timescale)
                    .migrate(connection)
                var fields: Logger.Metadata = [
                    "table": .string(settings.table), "timescaledb": .stringConvertible(outcome.timescale),
                    "dedupe": .stringConvertible(settings.dedupe),
                ]
                if let why = outcome.timescaleUnavailable { fields["timescaledb_unavailable"] = .string(why) }
                logger.info("schema_ready", metadata: fields)
                logLifecycle(outcome, timescale, logger: logger)
                return outcome
            }
        }
    }

    /// SPEC 5a's one event after `schema_ready`: what the lifecycle created or changed, why
    /// it could not, or that the keys are skipped on plain PostgreSQL.
    static func logLifecycle(_ outcome: SchemaMigrator.Outcome, _ timescale: IngestConfiguration.Timescale,
                             logger: Logger) {
        if let why = outcome.timescaleUnavailable {
            logger.notice("timescale_unavailable", metadata: [
                "reason": .string(why), "skipped": .string("timescale.* (chunk interval, compression, retention, roll-ups)"),
            ])
        } else if let error = outcome.lifecycleError {
            logger.error("timescale_failed", metadata: ["error": .string(error.description)])
        } else if let report = outcome.lifecycle {
            var fields: Logger.Metadata = [
                "changes": .string(report.changes.isEmpty ? "none" : report.changes.joined(separator: "; ")),
                "changed": .stringConvertible(report.changes.count),
                "chunk_interval": .string(timescale.chunkInterval.sql),
                "compress_after": .string(timescale.compressAfter?.sql ?? "off"),
                "retain_for": .string(timescale.retainFor?.sql ?? "off"),
                "rollups": .string(timescale.rollups.isEmpty ? "none" : timescale.rollups.map(\.sql).joined(separator: ", ")),
            ]
            if !report.notes.isEmpty { fields["notes"] = .string(report.notes.joined(separator: "; ")) }
            if !report.leftInPlace.isEmpty {
                fields["left_in_place"] = .string(report.leftInPlace.joined(separator: ", "))
            }
            logger.info("timescale_configured", metadata: fields)
        }
    }

    /// With `database.create_schema: false`, the tables the writer needs that the database
    /// lacks (the text table after an upgrade without `migrate`, say): one attempt, nil
    /// when the server cannot be reached (the writers will find out, and spool). Blocking.
    public static func missingTables(_ settings: IngestConfiguration.Database, also extra: [String] = []) -> [String]? {
        guard let connection = try? PostgresConnection(url: settings.url) else { return nil }
        defer { connection.close() }
        var missing: [String] = []
        for table in [settings.table, TextReading.table(for: settings.table), "ingest_rejects"] + extra {
            guard let found = try? connection.scalar("SELECT to_regclass($1) IS NULL",
                                                     [SchemaMigrator.quoted(table)]) else { return nil }
            if found == "t" { missing.append(table) }
        }
        return missing
    }
}
