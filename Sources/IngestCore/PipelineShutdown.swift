import Concurrency
import IngestModel

/// SPEC 7's steps over a running `IngestPipeline`, for the `ShutdownCoordinator` to run in
/// order and against its deadlines: the drain, the forced path to the spool, and the close
/// of the sink, the background loops and the journal. Its own type so the pipeline only
/// builds and runs, and so the steps are tested one by one with a fake source and sink.
public final class PipelineShutdown: ShutdownSteps {
    let pipeline: IngestPipeline
    /// Spools what the lanes hold once the drain time has passed (see `beginShutdown`).
    private let drainWatchdog = Locked<Task<Void, Never>?>(nil)

    /// The steps over `pipeline`; building them does nothing yet.
    public init(_ pipeline: IngestPipeline) {
        self.pipeline = pipeline
    }

    /// Marks the pipeline shutting down and drops the lanes to one attempt per batch; one second
    /// after `drainTimeout`, a watchdog spools what the lanes hold untried and cancels their writes.
    public func beginShutdown(drainTimeout: Double) async {
        pipeline.shuttingDown.store(true, ordering: .relaxed)
        let lanes = pipeline.lanes
        // A database that is down must not hold the sequence: what fails goes to the spool.
        lanes.lower(to: .oneAttempt)
        // One that hangs (a lock, a black hole) must not either: a second after the drain time
        // (the queue's own time-out goes first, and spools the queue), whatever the lanes
        // still hold or will be given goes to the spool untried.
        drainWatchdog.withLock {
            $0 = Task {
                guard (try? await Task.sleep(for: .seconds(drainTimeout + 1))) != nil else { return }
                _ = try? await DedicatedThread.run {
                    lanes.lower(to: .spoolOnly)
                    lanes.cancelUntilIdle(timeout: 2)
                }
            }
        }
    }

    /// Runs the source's blocking `stop()` on a thread of its own, off the cooperative pool.
    /// The journal stops making appends wait first: a source thread parked on a full journal
    /// disk would otherwise never return to be stopped.
    public func stopSource() async throws {
        pipeline.journal?.stopWaiting()
        let source = pipeline.source
        try await DedicatedThread.run { source.stop() }
    }

    /// Messages waiting in the message queue (`queue_depth`, `/ready`).
    public func queueDepth() -> Int { pipeline.messages.count }

    /// Awaits the message queue's own `waitUntilEmpty` while the workers keep taking from it.
    public func waitForEmptyQueue(timeout: Double) async -> Bool { await pipeline.messages.waitUntilEmpty(timeout: timeout) }

    /// Lanes to spool-only, the queue's messages decoded straight into the spool, running writes
    /// cancelled (up to 2 s), all on a thread of its own.
    public func spoolQueue() async throws -> Int {
        // The sink is too slow to drain in time: stop trying it and keep everything on disk.
        // On a thread of its own: cancelling talks to the server and can block.
        let p = pipeline
        return try await DedicatedThread.run {
            p.lanes.lower(to: .spoolOnly)
            let taken = p.messages.removeAll()
            p.payloadBytes.close()  // what was taken out here is never given back one by one
            p.awaitOrderedTakes(timeout: 1)
            p.spooler.keep(p.decoder.decode(taken), reason: "drain timeout")
            p.lanes.cancelUntilIdle(timeout: 2)
            return taken.count
        }
    }

    /// Closes the message queue, awaits the workers as they finish what they took, then stops
    /// the 10 ms flush tick.
    public func stopWorkers() async throws {
        pipeline.messages.close()
        pipeline.payloadBytes.close()
        await pipeline.workersTask.withLock { $0 }?.value
        pipeline.tickerTask.withLock { $0 }?.cancel()
        await pipeline.tickerTask.withLock { $0 }?.value
    }

    /// Hands the open batch to the lanes, closes the batch queue and joins the lane threads,
    /// which return once every batch is committed or spooled.
    public func flushWriter() async throws {
        if let last = pipeline.batcher.sealAll() { await pipeline.forwarder.send(last) }
        pipeline.batches.close()
        let lanes = pipeline.lanes
        try await DedicatedThread.run { lanes.join() }
    }

    /// Cancels the drain watchdog, then stops the background loops, closes the sink and closes
    /// the journal, in that order, on a thread of its own.
    public func closePool() async throws {
        drainWatchdog.withLock { $0 }?.cancel()
        let (background, sink, journal) = (pipeline.background, pipeline.sink, pipeline.journal)
        try await DedicatedThread.run {
            for work in background { work.stop() }
            sink.close()
            journal?.close()
        }
    }

    /// Everything in memory to the spool: the queue, the open batch, the batches waiting for
    /// a lane, what a worker or the source's thread carries between two of those (waited
    /// for, bounded), and (through the cancelled attempts) the lanes' own batches.
    public func forceSpool() -> Int {
        let p = pipeline
        let before = p.stats.spooledRows.load(ordering: .relaxed)
        p.lanes.lower(to: .spoolOnly)
        p.messages.close()
        p.payloadBytes.close()  // a source thread waiting for bytes goes on (to the closed queue)
        sweepToSpool()
        // A message or batch in someone's hands lands in a queue (swept next) or, finding
        // the queue closed, in the spool by its carrier's hand.
        _ = p.carried.waitUntilZero(timeout: 0.25)
        p.batches.close()
        sweepToSpool()
        if !p.lanes.cancelUntilIdle(timeout: 0.5) {
            // A lane is stuck in the sink and cannot be cancelled (a black-holed database).
            for batch in p.lanes.stuckBatches { p.spooler.keepStuck(batch) }
        }
        p.journal?.close()
        return p.stats.spooledRows.load(ordering: .relaxed) - before
    }

    private func sweepToSpool() {
        let p = pipeline
        let taken = p.messages.removeAll()
        p.awaitOrderedTakes(timeout: 0.5)
        var batch = p.decoder.decode(taken)
        for b in [p.batcher.sealAll()].compactMap({ $0 }) + p.batches.removeAll() { batch.absorb(b) }
        p.spooler.keep(batch, reason: "forced shutdown")
    }

    /// What `shutdown_complete` reports (SPEC 7).
    public func totals() -> ShutdownTotals {
        let stats = pipeline.stats
        return ShutdownTotals(recordsWritten: stats.rowsWritten.load(ordering: .relaxed)
                                                  + stats.textRowsWritten.load(ordering: .relaxed),
                              batchesFlushed: stats.batchesFlushed.load(ordering: .relaxed),
                              spooledRows: stats.spooledRows.load(ordering: .relaxed))
    }
}
