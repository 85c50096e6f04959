import Concurrency
import Durability
import IngestConfig
import IngestModel
import Logging
import Synchronization

/// Replays the spool every 30 s while the daemon runs (SPEC 8), on its own thread with its
/// own connection, so spooled rows find their way in once the database is back.
final class SpoolReplayLoop: Sendable {
    let spool: Spool
    let database: IngestConfiguration.Database
    let stats: IngestStats
    let logger: Logger
    private let thread = Locked<PeriodicThread?>(nil)

    init(spool: Spool, database: IngestConfiguration.Database, stats: IngestStats, logger: Logger) {
        self.spool = spool
        self.database = database
        self.stats = stats
        self.logger = logger
    }

    func start() {
        thread.withLock {
            $0 = PeriodicThread(every: 30) { stopping in
                guard !self.spool.files().isEmpty else { return }
                replayOnce(spool: self.spool, database: self.database, stats: self.stats, logger: self.logger,
                           shouldStop: stopping)
            }
        }
    }

    /// Stops between two files and joins the thread. Blocking.
    func stop() {
        thread.withLock { $0 }?.stop()
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
