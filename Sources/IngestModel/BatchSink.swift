/// Where sealed batches go: PostgreSQL in the daemon, an in-memory fake in the unit tests.
///
/// The sink makes one attempt per call and says what it achieved; retrying, backing off and
/// spooling are the pipeline's (`WriterLanes`), so they are the same for every sink and can
/// be tested without a database.
public protocol BatchSink: Sendable {
    /// How many batches the sink can write at once (one connection each): the pipeline runs
    /// one writer lane, on a thread of its own, per slot.
    var laneCount: Int { get }
    /// One attempt to write `batch`, from lane `lane`'s thread only. Blocking.
    func write(_ batch: Batch, lane: Int) -> SinkOutcome
    /// Interrupts the attempt running on `lane`, if any (drain time-out, forced shutdown).
    /// Called from another thread; may block briefly.
    func cancel(lane: Int)
    /// Releases the sink's connections and background work, after every lane has stopped.
    /// Blocking.
    func close()
    /// Why the sink is known to be down right now (nil: worth an attempt). While it is set
    /// the lanes spool batches untried instead of spending retries on it (a circuit breaker).
    /// Must not block.
    var unavailable: String? { get }
}

extension BatchSink {
    /// Default for sinks that are never known to be down: every batch is worth an attempt.
    public var unavailable: String? { nil }
}

/// What one `BatchSink.write` achieved.
public struct SinkOutcome: Sendable {
    /// Readings committed by this attempt.
    public var written: Int
    /// Text readings committed by this attempt.
    public var writtenText: Int
    /// Readings the store refused because of their data, now rejects (`refused_by_db`) that
    /// were written, or are in `unwritten`, with the batch's other rejects.
    public var refused: [Reject]
    /// What is still to write (nil when everything is written): retried, or spooled.
    public var unwritten: Batch?
    /// Why `unwritten` is not written (the database's error), for the logs and the spool.
    public var failure: String?

    /// Defaults describe a full success: pass `unwritten` and `failure` together when some rows remain.
    public init(written: Int, writtenText: Int = 0, refused: [Reject] = [], unwritten: Batch? = nil,
                failure: String? = nil) {
        self.written = written
        self.writtenText = writtenText
        self.refused = refused
        self.unwritten = unwritten
        self.failure = failure
    }
}
