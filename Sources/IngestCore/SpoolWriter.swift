import Logging

/// Puts into the spool what the database did not take (retries exhausted, the drain
/// time-out, the forced shutdown), counting and logging each batch with the reason.
///
/// The one way rows leave memory other than a commit. Blocking (fsync): call it from a
/// thread the daemon owns.
public final class SpoolWriter: Sendable {
    let spool: any BatchSpool
    let journal: (any MessageJournal)?
    let stats: IngestStats
    let logger: Logger

    public init(spool: any BatchSpool, journal: (any MessageJournal)?, stats: IngestStats, logger: Logger) {
        self.spool = spool
        self.journal = journal
        self.stats = stats
        self.logger = logger
    }

    /// Writes `batch` to the spool; returns the rows (readings + rejects) now on disk.
    /// A spool that cannot be written is the one way rows are lost: logged as critical and
    /// counted in `lostRows`.
    @discardableResult
    public func keep(_ batch: Batch, reason: String) -> Int {
        guard !batch.isEmpty else { return 0 }
        do {
            let rows = try spool.write(batch, journal: journal?.id)
            journal?.markDone(batch.entries)
            if rows == 0 { return 0 }  // only journal entries (messages without rows): recorded
            logger.warning("batch_spooled", metadata: [
                "rows": .stringConvertible(batch.readings.count), "rejects": .stringConvertible(batch.rejects.count),
                "reason": .string(reason),
            ])
            // Counted after the log line, so whoever sees the count also sees the line.
            stats.spooledRows.add(rows, ordering: .relaxed)
            return rows
        } catch {
            stats.lostRows.add(batch.readings.count + batch.rejects.count, ordering: .relaxed)
            logger.critical("spool_write_failed", metadata: [
                "rows": .stringConvertible(batch.readings.count), "error": .string("\(error)"),
            ])
            return 0
        }
    }
}
