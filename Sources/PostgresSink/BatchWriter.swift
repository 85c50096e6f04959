import IngestCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The database side of the pipeline: `database.pool_size` writer threads, each owning one
/// libpq connection, taking sealed batches from the batch queue and COPYing them in.
///
/// A batch is retried on transient failures with capped exponential backoff
/// (`batch.max_retries`, 5 s cap) and then handed to `giveUp` (the spool); rows the table
/// refuses are isolated by bisection and become `refused_by_db` rejects. Threads, not tasks:
/// libpq blocks, and the cooperative pool must never be blocked.
public final class BatchWriter: Sendable {
    public struct Settings: Sendable {
        public var url: String
        public var table: String
        public var dedupe: Bool
        public var poolSize: Int

        public init(url: String, table: String, dedupe: Bool, poolSize: Int) {
            self.url = url
            self.table = table
            self.dedupe = dedupe
            self.poolSize = poolSize
        }
    }

    /// What the writer tells the rest of the daemon.
    public struct Hooks: Sendable {
        /// A batch's rows are committed: count, COPY duration and the rows (for latency).
        public var committed: @Sendable (_ readings: ArraySlice<Reading>, _ seconds: Double) -> Void = { _, _ in }
        /// Retries exhausted (or shutting down with the database away): keep the batch safe.
        public var giveUp: @Sendable (_ batch: Batch, _ error: PostgresError) -> Void
        public init(giveUp: @escaping @Sendable (Batch, PostgresError) -> Void) {
            self.giveUp = giveUp
        }
    }

    public let settings: Settings
    let batches: BoundedQueue<Batch>
    let maxRetries: @Sendable () -> Int
    let stats: IngestStats
    let logger: Logger
    let hooks: Hooks
    private let slots: [WriterSlot]
    private let threads = Mutex<[DedicatedThread]>([])
    /// Set at shutdown: one attempt per batch, no backoff, so a dead database cannot hold the
    /// sequence past its deadline; what fails goes straight to the spool.
    let hurry = Atomic<Bool>(false)
    /// Set when the database is too slow to drain in time: batches go to the spool untried.
    let spoolOnly = Atomic<Bool>(false)

    public init(settings: Settings, batches: BoundedQueue<Batch>, maxRetries: @escaping @Sendable () -> Int,
                stats: IngestStats, logger: Logger, hooks: Hooks) {
        self.settings = settings
        self.batches = batches
        self.maxRetries = maxRetries
        self.stats = stats
        self.logger = logger
        self.hooks = hooks
        slots = (0..<settings.poolSize).map { WriterSlot(index: $0) }
    }

    public func start() {
        let started = slots.map { slot in DedicatedThread { self.run(slot) } }
        threads.withLock { $0 = started }
    }

    /// Stop retrying: from now on a failed batch is handed to `giveUp` at once.
    public func hurryUp() {
        hurry.store(true, ordering: .relaxed)
    }

    /// From now on every batch goes straight to `giveUp` (drain time-out, forced shutdown).
    public func spoolEverything() {
        hurry.store(true, ordering: .relaxed)
        spoolOnly.store(true, ordering: .relaxed)
    }

    /// Cancels statements in flight (forced shutdown).
    public func cancelInFlight() {
        for slot in slots { slot.cancel() }
    }

    /// Blocks until every writer thread has finished (after the batch queue is closed and
    /// drained).
    public func join() {
        for thread in threads.withLock({ $0 }) { thread.join() }
    }

    /// Closes the pool's connections. Call after `join()`.
    public func closeConnections() {
        for slot in slots { slot.closeConnection() }
    }

    public var openConnections: Int { slots.filter(\.isConnected).count }

    /// Rows taken from the queue but not yet committed or given up.
    public var inFlightRows: Int { slots.reduce(0) { $0 + $1.inFlightRows.load(ordering: .relaxed) } }

    // MARK: - Writer thread

    private func run(_ slot: WriterSlot) {
        while true {
            let taken = batches.takeBlocking(max: 1)
            guard let batch = taken.first else { return }
            slot.inFlightRows.store(batch.readings.count + batch.rejects.count, ordering: .relaxed)
            write(batch, slot)
            slot.inFlightRows.store(0, ordering: .relaxed)
        }
    }

    private func write(_ batch: Batch, _ slot: WriterSlot) {
        var job = WriteJob(batch: batch)
        var attempt = 0
        while true {
            if spoolOnly.load(ordering: .relaxed) {
                hooks.giveUp(job.remaining, PostgresError(kind: .transient, sqlState: nil,
                                                          message: "shutting down: spooled untried", connectionLost: false))
                return
            }
            do {
                let connection = try slot.connection(settings: settings, logger: logger)
                try job.run(on: connection, writer: self)
                return
            } catch {
                stats.dbErrors.add(1, ordering: .relaxed)
                if error.connectionLost { slot.connectionLost(error, logger: logger) }
                attempt += 1
                let limit = hurry.load(ordering: .relaxed) ? 0 : maxRetries()
                if attempt > limit {
                    hooks.giveUp(job.remaining, error)
                    return
                }
                let delay = min(5.0, 0.1 * Double(1 << min(attempt, 10)))
                logger.warning("batch_retry", metadata: [
                    "attempt": .stringConvertible(attempt), "max_retries": .stringConvertible(limit),
                    "delay_s": .stringConvertible(delay), "error": .string(error.description),
                ])
                sleep(seconds: delay)
            }
        }
    }

    /// Sleeps in short steps so that `hurryUp()` cuts a backoff short.
    private func sleep(seconds: Double) {
        let end = Timestamp.monotonicSeconds() + seconds
        while !hurry.load(ordering: .relaxed) {
            let left = end - Timestamp.monotonicSeconds()
            if left <= 0 { return }
            usleep(UInt32(min(left, 0.05) * 1_000_000))
        }
    }
}
