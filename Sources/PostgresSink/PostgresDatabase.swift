#if canImport(Glibc)
import Glibc
#endif
import Concurrency
import Durability
import IngestConfig
import IngestModel
import Logging

/// Everything the daemon does with PostgreSQL, behind the pipeline's sink protocol: the
/// writer's pool (`BatchWriter`), the reachability probe for /ready and the periodic spool
/// replay, each on threads of its own (libpq blocks). `close()` stops all three.
public final class PostgresDatabase: BatchSink, JournalLedger {
    public let settings: IngestConfiguration.Database
    public let writer: BatchWriter
    public let probe: DatabaseProbe
    let replayLoop: SpoolReplayLoop
    /// Unblocks writers stuck on a server that answers nothing (see `startBackgroundWork`).
    private let watchdog = Locked<PeriodicThread?>(nil)
    let spool: Spool
    let stats: IngestStats
    let logger: Logger

    public init(settings: IngestConfiguration.Database, spool: Spool, journalID: String? = nil, stats: IngestStats,
                logger: Logger, committed: @escaping @Sendable (ArraySlice<Reading>, Double) -> Void = { _, _ in }) {
        self.settings = settings
        self.spool = spool
        self.stats = stats
        self.logger = logger
        writer = BatchWriter(settings: .init(url: settings.url, table: settings.table, dedupe: settings.dedupe,
                                             poolSize: settings.poolSize, journalID: journalID),
                             logger: logger, committed: committed)
        probe = DatabaseProbe(url: settings.url, stats: stats)
        replayLoop = SpoolReplayLoop(spool: spool, database: settings, stats: stats, logger: logger)
    }

    /// How long a write may run while the probe's check goes unanswered before it is aborted.
    static let stuckAfter = 2.0

    /// Starts the probe, the 30 s spool replay loop and the watchdog: while the probe's own
    /// check goes unanswered (a black-holed server: no error and no TCP timeout will ever
    /// come), every second it aborts writes running longer than `stuckAfter`, so their
    /// lanes spool the batches and the queue keeps moving instead of hanging in libpq.
    public func startBackgroundWork() {
        probe.start()
        replayLoop.start()
        let (probe, writer, logger) = (probe, writer, logger)
        watchdog.withLock {
            $0 = PeriodicThread(every: 1) { _ in
                guard probe.unanswered else { return }
                let aborted = writer.abortAttempts(runningLongerThan: Self.stuckAfter)
                if aborted > 0 {
                    logger.warning("db_writes_aborted", metadata: [
                        "writes": .stringConvertible(aborted), "error": "the database answers nothing",
                    ])
                }
            }
        }
    }

    /// One spool replay pass now (start-up, SPEC 11; `replay-spool`). Blocking. Nil when
    /// the database could not be reached.
    @discardableResult
    public func replaySpool() -> SpoolReplayer.Outcome? {
        replayOnce(spool: spool, database: settings, stats: stats, logger: logger)
    }

    // MARK: - BatchSink

    public var laneCount: Int { writer.laneCount }

    public func write(_ batch: Batch, lane: Int) -> SinkOutcome { writer.write(batch, lane: lane) }

    public func cancel(lane: Int) { writer.cancel(lane: lane) }

    public var unavailable: String? { probe.knownDown }

    public func close() {
        watchdog.withLock { $0 }?.stop()
        replayLoop.stop()
        probe.stop()
        writer.close()
    }

    // MARK: - JournalLedger

    /// The journal entries the database has recorded done: recovery skips them (SPEC 8a).
    public func doneEntries(journal: String, since: UInt64) throws -> [ClosedRange<UInt64>] {
        let connection = try PostgresConnection(url: settings.url)
        defer { connection.close() }
        return try JournalDoneTable.ranges(journal: journal, since: since, on: connection)
    }

    /// Deletes done-records below the oldest sequence still in a segment: no longer needed.
    public func forgetDone(journal: String, below seq: UInt64) throws {
        let connection = try PostgresConnection(url: settings.url)
        defer { connection.close() }
        try JournalDoneTable.forget(journal: journal, below: seq, on: connection)
    }

    // MARK: - Start-up

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
    /// runs the schema migration, on a thread of its own. Logs `db_connected` and
    /// `schema_ready`, and `db_unavailable` for each failed attempt.
    public static func migrate(_ settings: IngestConfiguration.Database, logger: Logger,
                               patience: Double = 60) async throws -> SchemaMigrator.Outcome {
        try await DedicatedThread.run { () throws -> SchemaMigrator.Outcome in
            try withPatience(logger: logger, patience: patience) { () throws -> SchemaMigrator.Outcome in
                let connection = try PostgresConnection(url: settings.url)
                defer { connection.close() }
                logger.info("db_connected", metadata: [
                    "server_version": .stringConvertible(connection.serverVersion),
                    "pool_size": .stringConvertible(settings.poolSize),
                ])
                let outcome = try SchemaMigrator(table: settings.table, dedupe: settings.dedupe).migrate(connection)
                var fields: Logger.Metadata = [
                    "table": .string(settings.table), "timescaledb": .stringConvertible(outcome.timescale),
                    "dedupe": .stringConvertible(settings.dedupe),
                ]
                if let why = outcome.timescaleUnavailable { fields["timescaledb_unavailable"] = .string(why) }
                logger.info("schema_ready", metadata: fields)
                return outcome
            }
        }
    }
}
