import Concurrency
import Synchronization

/// Running totals that the shutdown sequence, the logs and the readiness body read back.
/// (swift-metrics counters are write-only; these are the numbers we report ourselves.)
public final class IngestStats: Sendable {
    /// Messages handed over by the MQTT callback, dropped ones included (`messages_received_total`).
    public let messagesReceived = Atomic<Int>(0)
    /// Messages refused by the `drop_newest` policy (`messages_dropped_total`).
    public let messagesDropped = Atomic<Int>(0)
    /// Times a message met a full queue, whether it then waited or was dropped (`queue_full_total`).
    public let queueFull = Atomic<Int>(0)
    /// Rejects of every reason together; by reason via `rejectedCount`.
    public let messagesRejected = Atomic<Int>(0)
    /// Readings committed to the database, rejects not included (`rows_written_total{table}`
    /// of the readings table).
    public let rowsWritten = Atomic<Int>(0)
    /// Text readings committed (`rows_written_total{table}` of the text table).
    public let textRowsWritten = Atomic<Int>(0)
    /// Batches fully committed (`batches_flushed_total`).
    public let batchesFlushed = Atomic<Int>(0)
    /// Failed write attempts, retries included (`db_errors_total`).
    public let dbErrors = Atomic<Int>(0)
    /// Rows written to the spool instead of the database (`spooled_rows_total`).
    public let spooledRows = Atomic<Int>(0)
    /// Spooled rows later committed by the replay (`spool_replayed_rows_total`).
    public let spoolReplayedRows = Atomic<Int>(0)
    /// Rows neither written, spooled nor left in a journal: should stay 0 (`lost_rows_total`).
    public let lostRows = Atomic<Int>(0)
    /// Journal entries an earlier run left undone and this one wrote at start-up.
    public let journalReplayed = Atomic<Int>(0)
    /// Reconnections to the broker after a lost connection (`mqtt_reconnects_total`).
    public let mqttReconnects = Atomic<Int>(0)
    /// Sparkplug rebirth requests published (`sparkplug_rebirths_requested_total`, SPEC 4b).
    public let sparkplugRebirths = Atomic<Int>(0)
    /// Microseconds since the epoch of the last successful commit, 0 before the first.
    public let lastFlushAt = Atomic<Int64>(0)

    /// Rejects by reason (rejects are rare: a lock is fine here).
    private let rejectsByReason = Locked<[RejectReason: Int]>([:])
    /// Ignored leaves by kind (added once per worker take, not per leaf).
    private let ignoredByKind = Locked(IgnoredFields())

    /// One instance per daemon, shared by every stage; all counters start at zero.
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

    /// Adds a decode's ignored leaves (`fields_ignored_total{kind}`).
    public func ignored(_ tally: IgnoredFields) {
        guard !tally.isEmpty else { return }
        ignoredByKind.withLock { $0.add(tally) }
    }

    /// Leaves of `kind` ignored so far.
    public func ignoredCount(_ kind: IgnoredKind) -> Int {
        ignoredByKind.withLock { $0[kind] }
    }
}
