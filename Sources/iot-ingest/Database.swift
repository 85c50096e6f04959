import IngestCore
import Logging
import PostgresSink
#if canImport(Glibc)
import Glibc
#endif

/// Start-up database work, run on a dedicated thread (libpq blocks).
enum Database {
    /// Connects (retrying while the server is not there yet, up to `patience` seconds) and
    /// runs the schema migration. Logs `db_connected` and `schema_ready`.
    static func migrate(_ settings: IngestConfiguration.Database, logger: Logger,
                        patience: Double = 60) async throws -> SchemaMigrator.Outcome {
        try await DedicatedThread.run { () throws -> SchemaMigrator.Outcome in
            let deadline = Timestamp.monotonicSeconds() + patience
            var attempt = 0
            while true {
                do {
                    let connection = try PostgresConnection(url: settings.url)
                    defer { connection.close() }
                    logger.info("db_connected", metadata: [
                        "server_version": .stringConvertible(connection.serverVersion),
                        "pool_size": .stringConvertible(settings.poolSize),
                    ])
                    let outcome = try SchemaMigrator(table: settings.table, dedupe: settings.dedupe).migrate(connection)
                    logger.info("schema_ready", metadata: [
                        "table": .string(settings.table), "timescaledb": .stringConvertible(outcome.timescale),
                        "dedupe": .stringConvertible(settings.dedupe),
                    ])
                    return outcome
                } catch let error as PostgresError where error.connectionLost && Timestamp.monotonicSeconds() < deadline {
                    attempt += 1
                    logger.warning("db_unavailable", metadata: [
                        "attempt": .stringConvertible(attempt), "error": .string(error.description),
                    ])
                    usleep(UInt32(min(5.0, 0.5 * Double(attempt)) * 1_000_000))
                }
            }
        }
    }
}
