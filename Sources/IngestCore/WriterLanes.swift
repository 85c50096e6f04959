import Concurrency
import IngestModel
import Logging
import Synchronization

/// The threads between the batch queue and the sink: one per sink slot, each taking one
/// sealed batch at a time and writing it until it is committed or kept in the spool.
///
/// A failed attempt is retried with capped exponential backoff (`batch.max_retries`, 5 s
/// cap), from where it stopped (the sink hands back only what it did not write); then the
/// rest goes to the spool. If the spool refuses it too (a full disk, no descriptors), the
/// lane keeps the batch and alternates database and spool with the same backoff: the lane
/// takes nothing new meanwhile, so the queues fill and the MQTT callback blocks — the
/// broker holds the rest rather than anything being dropped. While the sink says it is
/// down (`BatchSink.unavailable`: the database probe saw it refuse or not answer), batches
/// go to the spool untried, so an outage costs a spool write per batch rather than a round
/// of connection attempts, and the queue keeps moving (`db_circuit_open` / `_closed`).
/// Threads, not tasks: a sink blocks (libpq), and the cooperative pool must never be blocked.
final class WriterLanes: Sendable {
    /// How hard the lanes try, lowered step by step as the shutdown proceeds.
    enum Mode: Int {
        /// Retries with backoff (normal running).
        case retrying
        /// One attempt per batch, no backoff: a dead database cannot hold the shutdown.
        case oneAttempt
        /// Every batch to the spool untried (drain time-out, forced shutdown).
        case spoolOnly
    }

    private let sink: any BatchSink
    private let batches: BoundedQueue<Batch>
    private let spooler: SpoolWriter
    private let tuning: Live<PipelineTuning>
    private let journal: (any MessageJournal)?
    /// Given back each batch's payload bytes once it is committed or spooled.
    private let payloadBytes: ByteBudget
    private let stats: IngestStats
    private let rejectLog: RejectLog
    private let logger: Logger
    private let mode = Atomic<Int>(Mode.retrying.rawValue)
    /// The sink said it was down at the last look (for logging the transitions once).
    private let circuitOpen = Atomic<Bool>(false)
    /// The batch each lane holds (taken, not yet committed or spooled), and the condition a
    /// backoff sleeps on and `cancelUntilIdle` waits on.
    private let held: Locked<[Batch?]>
    /// Per lane: why the spool refused the batch it holds (nil when it holds none refused).
    private let refused: Locked<[String?]>
    private let wake = ConditionLock()
    private let threads = Locked<[DedicatedThread]>([])

    init(sink: any BatchSink, batches: BoundedQueue<Batch>, spooler: SpoolWriter, tuning: Live<PipelineTuning>,
         journal: (any MessageJournal)?, payloadBytes: ByteBudget, stats: IngestStats, rejectLog: RejectLog,
         logger: Logger) {
        self.journal = journal
        self.payloadBytes = payloadBytes
        self.sink = sink
        self.batches = batches
        self.spooler = spooler
        self.tuning = tuning
        self.stats = stats
        self.rejectLog = rejectLog
        self.logger = logger
        held = Locked(Array(repeating: nil, count: sink.laneCount))
        refused = Locked(Array(repeating: nil, count: sink.laneCount))
    }

    func start() {
        let started = (0..<sink.laneCount).map { lane in DedicatedThread { self.run(lane) } }
        threads.withLock { $0 = started }
    }

    /// Lowers the effort (never raises it) and cuts any backoff short.
    func lower(to new: Mode) {
        while true {
            let old = mode.load(ordering: .relaxed)
            guard new.rawValue > old else { break }
            if mode.compareExchange(expected: old, desired: new.rawValue, ordering: .relaxed).exchanged { break }
        }
        wake.withLock { wake.broadcast() }
    }

    /// Why the spool refused a batch a lane still holds; nil when no lane holds one (/ready).
    var spoolRefusal: String? { refused.withLock { $0.lazy.compactMap { $0 }.first } }

    /// Rows taken from the queue and not yet committed or spooled.
    var heldRows: Int { held.withLock { $0.reduce(0) { $0 + ($1?.rowCount ?? 0) } } }

    /// The batches of lanes still stuck in the sink (a database that answers nothing, not
    /// even a cancel), for the forced shutdown, which cannot wait for them.
    var stuckBatches: [Batch] { held.withLock { $0.compactMap { $0 } } }

    /// Cancels the lanes' attempts until no lane holds rows, or `timeout` seconds pass; the
    /// lanes then spool what they held (call after `lower(to: .spoolOnly)`). Cancels again
    /// every 100 ms: a cancel that lands between a lane's mode check and the start of its
    /// statement finds nothing to cancel. Blocking; returns whether the lanes are idle.
    @discardableResult
    func cancelUntilIdle(timeout: Double) -> Bool {
        let end = Timestamp.monotonicSeconds() + timeout
        while true {
            let busy = held.withLock { lanes in lanes.indices.filter { lanes[$0] != nil } }
            if busy.isEmpty { return true }
            let left = end - Timestamp.monotonicSeconds()
            if left <= 0 { return false }
            for lane in busy { sink.cancel(lane: lane) }
            wake.withLock { _ = wake.wait(seconds: min(0.1, left)) }
        }
    }

    /// Blocks until every lane has finished (after the batch queue is closed and empty).
    func join() {
        for thread in threads.withLock({ $0 }) { thread.join() }
    }

    // MARK: - Lane thread

    private func run(_ lane: Int) {
        while let batch = batches.takeBlocking(max: 1).first {
            held.withLock { $0[lane] = batch }
            write(batch, lane)
            held.withLock { $0[lane] = nil }
            refused.withLock { $0[lane] = nil }
            wake.withLock { wake.broadcast() }
        }
    }

    /// Every way out of here has the batch committed or in the spool (or, on the forced
    /// paths, handed to the journal for the next start): its payload bytes are given back.
    private func write(_ batch: Batch, _ lane: Int) {
        defer { payloadBytes.release(batch.payloadBytes) }
        // Messages that gave no row, no definition and no journal entry: nothing to write.
        if !batch.hasContent { return }
        var left = batch
        var attempt = 0
        var refusals = 0  // by the spool, for this batch
        while true {
            let current = Mode(rawValue: mode.load(ordering: .relaxed)) ?? .spoolOnly
            if current == .spoolOnly {
                spooler.keep(left, reason: "shutting down: spooled untried")
                return
            }
            if let down = sinkDown() {
                guard let refusal = spooler.tryKeep(left, reason: "database unavailable: " + down) else { return }
                refused.withLock { $0[lane] = refusal }
                refusals += 1
                backoff(seconds: Self.delay(after: refusals), from: current)
                continue
            }
            let outcome = sink.write(left, lane: lane)
            account(outcome)
            guard let rest = outcome.unwritten, !rest.isEmpty else {
                // The commit recorded the batch's journal entries too (same transaction).
                journal?.markDone(left.entries)
                stats.batchesFlushed.add(1, ordering: .relaxed)
                return
            }
            left = rest
            held.withLock { $0[lane] = rest }  // what a forced stop must keep: not what committed
            let failure = outcome.failure ?? "not written"
            stats.dbErrors.add(1, ordering: .relaxed)
            attempt += 1
            let limit = current == .retrying ? tuning.current.maxRetries : 0
            if attempt > limit {
                guard let refusal = spooler.tryKeep(left, reason: failure) else { return }
                // Neither took it: hold it (back-pressure), and after the backoff give the
                // database one more attempt before the spool's next.
                refused.withLock { $0[lane] = refusal }
                refusals += 1
                attempt = limit
                backoff(seconds: Self.delay(after: refusals), from: current)
                continue
            }
            let delay = Self.delay(after: attempt)
            logger.warning("batch_retry", metadata: [
                "attempt": .stringConvertible(attempt), "max_retries": .stringConvertible(limit),
                "delay_s": .stringConvertible(delay), "error": .string(failure),
            ])
            backoff(seconds: delay, from: current)
        }
    }

    /// The sink's `unavailable`, logging when it turns on or off.
    private func sinkDown() -> String? {
        let down = sink.unavailable
        if circuitOpen.exchange(down != nil, ordering: .relaxed) != (down != nil) {
            if let down {
                logger.warning("db_circuit_open", metadata: ["error": .string(down)])
            } else {
                logger.info("db_circuit_closed")
            }
        }
        return down
    }

    private func account(_ outcome: SinkOutcome) {
        if outcome.written > 0 || outcome.writtenText > 0 {
            stats.rowsWritten.add(outcome.written, ordering: .relaxed)
            stats.textRowsWritten.add(outcome.writtenText, ordering: .relaxed)
            stats.lastFlushAt.store(Timestamp.now(), ordering: .relaxed)
        }
        for reject in outcome.refused {
            stats.rejected(reject.reason)
            rejectLog.record(reject)
        }
    }

    /// Capped exponential backoff: 0.2 s, 0.4 s, ... 5 s.
    private static func delay(after failures: Int) -> Double {
        min(5.0, 0.1 * Double(1 << min(failures, 10)))
    }

    /// Sleeps for the backoff, or until the mode is lowered.
    private func backoff(seconds: Double, from current: Mode) {
        wake.withLock {
            _ = wake.wait(timeout: seconds) { mode.load(ordering: .relaxed) != current.rawValue }
        }
    }
}
