import IngestCore
import Logging
import PostgresSink

/// Replays the spool every 30 s while the daemon runs (SPEC 8), on its own thread with its
/// own connection, so spooled rows find their way in once the database is back.
final class SpoolReplayLoop: Sendable {
    static let interval = 30.0

    let spool: Spool
    let database: IngestConfiguration.Database
    let stats: IngestStats
    let logger: Logger
    private let lock = ConditionLock()
    private nonisolated(unsafe) var stopping = false
    private nonisolated(unsafe) var thread: DedicatedThread?
    // nonisolated(unsafe): both vars are read and written only with `lock` held.

    init(spool: Spool, database: IngestConfiguration.Database, stats: IngestStats, logger: Logger) {
        self.spool = spool
        self.database = database
        self.stats = stats
        self.logger = logger
    }

    func start() {
        lock.withLock { thread = DedicatedThread { self.loop() } }
    }

    /// Stops between two files and joins the thread. Blocking.
    func stop() {
        let t = lock.withLock { () -> DedicatedThread? in
            stopping = true
            return thread
        }
        lock.broadcast()
        t?.join()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func loop() {
        while true {
            let stop = lock.withLock { () -> Bool in
                if !stopping { lock.wait(seconds: Self.interval) }
                return stopping
            }
            if stop { return }
            guard !spool.files().isEmpty else { continue }
            _ = replayOnce(spool: spool, database: database, stats: stats, logger: logger, shouldStop: { self.isStopping })
        }
    }
}

/// One replay pass with a fresh connection; logs `spool_replayed` when it applied anything.
/// Blocking. Returns nil when the database could not be reached (try again later).
@discardableResult
func replayOnce(spool: Spool, database: IngestConfiguration.Database, stats: IngestStats, logger: Logger,
                shouldStop: () -> Bool = { false }) -> SpoolReplayer.Outcome? {
    do {
        let connection = try PostgresConnection(url: database.url)
        defer { connection.close() }
        let outcome = try SpoolReplayer(spool: spool, table: database.table, dedupe: database.dedupe, logger: logger)
            .replay(on: connection, shouldStop: shouldStop)
        if outcome.files > 0 || outcome.corrupt > 0 {
            stats.spoolReplayedRows.add(outcome.rows, ordering: .relaxed)
            logger.info("spool_replayed", metadata: [
                "files": .stringConvertible(outcome.files), "rows": .stringConvertible(outcome.rows),
                "corrupt": .stringConvertible(outcome.corrupt), "waiting": .stringConvertible(spool.files().count),
            ])
        }
        return outcome
    } catch {
        logger.warning("spool_replay_deferred", metadata: ["error": .string(error.description)])
        return nil
    }
}
