import Concurrency
import Synchronization

/// Running totals that the shutdown sequence, the logs and the readiness body read back.
/// (swift-metrics counters are write-only; these are the numbers we report ourselves.)
public final class IngestStats: Sendable {
    public let messagesReceived = Atomic<Int>(0)
    public let messagesDropped = Atomic<Int>(0)
    public let queueFull = Atomic<Int>(0)
    public let messagesRejected = Atomic<Int>(0)
    public let rowsWritten = Atomic<Int>(0)
    public let batchesFlushed = Atomic<Int>(0)
    public let dbErrors = Atomic<Int>(0)
    public let spooledRows = Atomic<Int>(0)
    public let spoolReplayedRows = Atomic<Int>(0)
    public let lostRows = Atomic<Int>(0)
    /// Journal entries an earlier run left undone and this one wrote at start-up.
    public let journalReplayed = Atomic<Int>(0)
    public let mqttReconnects = Atomic<Int>(0)
    /// Microseconds since the epoch of the last successful commit, 0 before the first.
    public let lastFlushAt = Atomic<Int64>(0)

    /// Rejects by reason (rejects are rare: a lock is fine here).
    private let rejectsByReason = Locked<[RejectReason: Int]>([:])

    public init() {}

    /// Counts one rejected message (or row refused by the database).
    public func rejected(_ reason: RejectReason) {
        messagesRejected.add(1, ordering: .relaxed)
        rejectsByReason.withLock { $0[reason, default: 0] += 1 }
    }

    /// Messages rejected for `reason` so far (`messages_rejected_total{reason}`).
    public func rejectedCount(_ reason: RejectReason) -> Int {
        rejectsByReason.withLock { $0[reason] ?? 0 }
    }
}
