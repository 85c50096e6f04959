import Concurrency
import IngestModel

/// Collects the workers' rows into batches and seals a batch when it reaches
/// `batch.max_rows` or when its oldest row is `batch.flush_interval_ms` old.
///
/// Shared by all workers behind a mutex that is held only to append to an array: the sealed
/// batch is handed on outside the lock, so a slow database never blocks the append path.
public final class Batcher: Sendable {
    /// When a batch is sealed: `batch.max_rows` rows or `batch.flush_interval_ms` of age,
    /// whichever comes first (SPEC 6). Reloadable, so it lives in `PipelineTuning`.
    public struct Limits: Sendable, Equatable {
        /// `batch.max_rows`: a batch is sealed once its readings (numeric and text), or its
        /// rejects, reach this many.
        public var maxRows: Int
        /// `batch.flush_interval_ms` in seconds: the most age of the oldest row before sealing.
        public var flushInterval: Double

        /// `flushInterval` in seconds, not milliseconds.
        public init(maxRows: Int, flushInterval: Double) {
            self.maxRows = maxRows
            self.flushInterval = flushInterval
        }
    }

    private struct State {
        var open = Batch()
        var openedAt = 0.0
        var limits: Limits
    }

    private let state: Locked<State>
    /// Payload bytes at which the open batch is sealed whatever its rows: with large payloads
    /// `queue.max_bytes` would otherwise be held whole by one batch waiting for its age, and
    /// intake would stop until the flush tick, database idle or not.
    let sealBytes: Int

    /// Starts with an empty open batch; `update(_:)` changes the limits later.
    public init(limits: Limits, sealBytes: Int = .max) {
        state = Locked(State(limits: limits))
        self.sealBytes = sealBytes
    }

    /// New limits take effect for the batch being filled (SIGHUP reload).
    public func update(_ limits: Limits) {
        state.withLock { $0.limits = limits }
    }

    /// The limits in force now (the last `update`).
    public var limits: Limits { state.withLock { $0.limits } }

    /// Rows currently waiting in the open batch.
    public var pendingRows: Int { state.withLock { $0.open.rowCount } }

    /// Adds a worker's output (its messages whole); returns the batch to write if this
    /// filled it: `batch.max_rows` readings of both kinds, or as many rejects.
    public func add(_ rows: Batch) -> Batch? {
        state.withLock { s in
            if s.open.isEmpty { s.openedAt = Timestamp.monotonicSeconds() }
            s.open.readings.append(contentsOf: rows.readings)
            if !rows.texts.isEmpty { s.open.texts.append(contentsOf: rows.texts) }
            s.open.rejects.append(contentsOf: rows.rejects)
            if !rows.definitions.isEmpty { s.open.definitions.append(contentsOf: rows.definitions) }
            s.open.entries.append(contentsOf: rows.entries)
            s.open.payloadBytes += rows.payloadBytes
            let readings = s.open.readings.count + s.open.texts.count
            guard readings >= s.limits.maxRows || s.open.rejects.count >= s.limits.maxRows
                    || s.open.definitions.count >= s.limits.maxRows || s.open.payloadBytes >= sealBytes
            else { return nil }
            return Self.seal(&s)
        }
    }

    /// The open batch if its oldest row is older than the flush interval.
    public func sealIfDue(now: Double = Timestamp.monotonicSeconds()) -> Batch? {
        state.withLock { s in
            guard !s.open.isEmpty, now - s.openedAt >= s.limits.flushInterval else { return nil }
            return Self.seal(&s)
        }
    }

    /// Whatever is open, regardless of age (shutdown flush).
    public func sealAll() -> Batch? {
        state.withLock { s in s.open.isEmpty ? nil : Self.seal(&s) }
    }

    private static func seal(_ s: inout State) -> Batch {
        let batch = s.open
        s.open = Batch()
        s.open.readings.reserveCapacity(s.limits.maxRows + 16)
        return batch
    }
}
