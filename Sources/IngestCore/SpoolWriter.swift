import Concurrency
import IngestModel
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
    /// Whether the last write failed (for `spool_write_recovered`).
    private let failing = Locked(false)

    /// Writes to `spool`; with a `journal`, a spooled batch's entries are recorded done with it
    /// and then marked done in the journal.
    public init(spool: any BatchSpool, journal: (any MessageJournal)?, stats: IngestStats, logger: Logger) {
        self.spool = spool
        self.journal = journal
        self.stats = stats
        self.logger = logger
    }

    /// Writes `batch` to the spool. Returns nil once it is on disk, else why the spool
    /// refused it (a full disk, no descriptors left, a read-only remount): the caller still
    /// holds the batch and tries again later (the writer lanes do: back-pressure, not loss).
    public func tryKeep(_ batch: Batch, reason: String) -> String? {
        guard batch.hasContent else { return nil }
        do {
            let rows = try spool.write(batch, journal: journal?.id)
            journal?.markDone(batch.entries)
            if failing.withLock({ f in defer { f = false }; return f }) { logger.notice("spool_write_recovered") }
            if rows == 0 { return nil }  // only journal entries (messages without rows): recorded
            logger.warning("batch_spooled", metadata: [
                "rows": .stringConvertible(batch.readings.count), "text_rows": .stringConvertible(batch.texts.count),
                "rejects": .stringConvertible(batch.rejects.count), "reason": .string(reason),
            ])
            // Counted after the log line, so whoever sees the count also sees the line.
            stats.spooledRows.add(rows, ordering: .relaxed)
            return nil
        } catch {
            failing.withLock { $0 = true }
            logger.error("spool_write_failed", metadata: [
                "rows": .stringConvertible(batch.readings.count), "text_rows": .stringConvertible(batch.texts.count),
                "rejects": .stringConvertible(batch.rejects.count), "error": .string("\(error)"),
            ])
            return "\(error)"
        }
    }

    /// A batch a writer lane holds while stuck in a database that answers nothing, not even
    /// a cancel: it may yet commit, or never, and the forced shutdown cannot wait to learn
    /// which. With a journal its entries stay undone, so the next start writes them exactly
    /// once (a commit would have recorded them done); without one a copy is spooled, stored
    /// twice only if the stuck statement commits after all (`database.dedupe` absorbs that).
    public func keepStuck(_ batch: Batch) {
        let reason = "forced shutdown: writer stuck in the database"
        guard journal != nil, !batch.entries.isEmpty else { return keep(batch, reason: reason) }
        logger.error("batch_left_to_journal", metadata: [
            "rows": .stringConvertible(batch.rowCount), "entries": .stringConvertible(batch.entries.count),
            "reason": .string(reason),
        ])
    }

    /// The last chance, on the shutdown's forced paths, where nobody is left to hold the
    /// batch: if the spool refuses it, the journal still holds its messages for the next
    /// start (`batch_left_to_journal`); without a journal its rows are lost, logged as
    /// critical and counted in `iot_ingest_lost_rows_total`.
    public func keep(_ batch: Batch, reason: String) {
        guard tryKeep(batch, reason: reason) != nil else { return }
        if journal != nil && !batch.entries.isEmpty {
            logger.error("batch_left_to_journal", metadata: [
                "entries": .stringConvertible(batch.entries.count), "reason": .string(reason),
            ])
            return
        }
        let rows = batch.rowCount
        stats.lostRows.add(rows, ordering: .relaxed)
        logger.critical("rows_lost", metadata: ["rows": .stringConvertible(rows), "reason": .string(reason)])
    }
}
