/// What the shutdown sequence does to the rest of the daemon, one method per SPEC 7 step.
/// The daemon implements it over the real pipeline; tests implement it with fakes to check
/// order, deadline and failure handling without a broker or a database.
public protocol ShutdownSteps: Sendable {
    /// Readiness goes false (step 2, `shutdown_initiated`). `drainTimeout` bounds the time
    /// until everything in memory is out of it (committed or spooled), whichever step it is
    /// stuck in: a drained queue in front of a hung database must not wait for the deadline.
    func beginShutdown(drainTimeout: Double) async
    /// Stop reading from the broker and send DISCONNECT (step 3).
    func stopSource() async throws
    /// Messages still waiting in the queue.
    func queueDepth() -> Int
    /// Suspends until the queue is empty or `timeout` seconds pass (step 4); returns whether
    /// it is empty. Awaited, never polled.
    func waitForEmptyQueue(timeout: Double) async -> Bool
    /// After a drain time-out: decode what is left in the queue and spool it. Returns the
    /// number of messages taken.
    func spoolQueue() async throws -> Int
    /// Close the queue and wait for the workers to finish (step 5).
    func stopWorkers() async throws
    /// Seal the open batch, wait for the writers to commit or spool everything (step 6).
    func flushWriter() async throws
    /// Close the database connections (step 7).
    func closePool() async throws
    /// Forced path: write everything still in memory to the spool, quickly, from any
    /// thread. Returns the rows spooled.
    func forceSpool() -> Int
    /// Running totals for the closing events.
    func totals() -> ShutdownTotals
}

/// The counts `shutdown_complete` carries (SPEC 7).
public struct ShutdownTotals: Sendable, Equatable {
    /// Readings of both tables committed since start-up (`rows_written_total`, summed over `table`).
    public var recordsWritten: Int
    /// Batches fully committed (`batches_flushed_total`).
    public var batchesFlushed: Int
    /// Rows written to the spool instead (`spooled_rows_total`).
    public var spooledRows: Int

    /// Running totals, read from `IngestStats` when the sequence ends.
    public init(recordsWritten: Int, batchesFlushed: Int, spooledRows: Int) {
        self.recordsWritten = recordsWritten
        self.batchesFlushed = batchesFlushed
        self.spooledRows = spooledRows
    }
}
