import Concurrency
import IngestModel
import Logging
import PayloadFormats
import Synchronization

/// The pipeline from a message source to a batch sink, and the shutdown steps over it:
///
/// source -> `PipelineInlet` -> message queue -> `WorkerPool` (decode) -> `Batcher` ->
/// batch queue -> `WriterLanes` -> sink, with `SpoolWriter` taking what the sink does not.
///
/// It knows neither MQTT nor PostgreSQL (those are the source and the sink), so the drain,
/// the deadline and the forced path are tested here with fakes; the daemon only wires it.
public final class IngestPipeline: ShutdownSteps {
    public let stats: IngestStats
    public let messages: BoundedQueue<Message>
    let batches: BoundedQueue<Batch>
    let batcher: Batcher
    let decoder: BatchDecoder
    let spooler: SpoolWriter
    /// Why the spool refused a batch a writer lane still holds, nil when none does (/ready's `spool`).
    public var spoolFailure: String? { lanes.spoolRefusal }
    let tuning: Live<PipelineTuning>
    let lanes: WriterLanes
    let source: any MessageSource
    let sink: any BatchSink
    let inlet: PipelineInlet
    let workerCount: Int
    public let journal: (any MessageJournal)?
    /// Messages and rows between two queues (in the inlet, a worker, the flush tick): the
    /// forced shutdown waits for them to land before its last sweep.
    let carried = InFlight()
    private let forwarder: BatchForwarder
    private let shuttingDown = Atomic<Bool>(false)
    private let workersTask = Locked<Task<Void, Never>?>(nil)
    private let tickerTask = Locked<Task<Void, Never>?>(nil)
    private let drainWatchdog = Locked<Task<Void, Never>?>(nil)

    /// What the pipeline is built from, apart from its source and sink.
    public struct Settings: Sendable {
        public var queueCapacity: Int
        public var workers: Int
        public var tuning: PipelineTuning

        /// The sizes fixed at start-up (`queue.capacity`, the worker count) and the reloadable
        /// `tuning` it starts with.
        public init(queueCapacity: Int, workers: Int, tuning: PipelineTuning) {
            self.queueCapacity = queueCapacity
            self.workers = workers
            self.tuning = tuning
        }
    }

    /// Builds the stages; nothing runs until `start()`. `journal`, when given, is where the
    /// source thread appends each message before its callback returns (SPEC 8a).
    public init(settings: Settings, source: any MessageSource, sink: any BatchSink, decoder payloadDecoder: any PayloadFormat,
                spool: any BatchSpool, journal: (any MessageJournal)? = nil, stats: IngestStats = IngestStats(), logger: Logger) {
        self.stats = stats
        self.journal = journal
        self.source = source
        self.sink = sink
        workerCount = settings.workers
        // Workers are woken per 256 messages (a worker's take) or 5 ms, or by the 10 ms tick,
        // not per message: each wake-up is a futex call on libmosquitto's thread, and often
        // a switch away from it (at 2 ms, one in 60 messages under a flood).
        messages = BoundedQueue(capacity: settings.queueCapacity, handoffBatch: 256, handoffDelay: 0.005)
        // Two batches per lane in front of the writers: enough to keep them busy, small
        // enough that a slow database pushes back on the queue within a second.
        batches = BoundedQueue(capacity: max(2, sink.laneCount * 2))
        batcher = Batcher(limits: settings.tuning.batchLimits)
        tuning = Live<PipelineTuning>(settings.tuning)
        let rejectLog = RejectLog(logger: logger)
        decoder = BatchDecoder(decoder: payloadDecoder, stats: stats, rejectLog: rejectLog)
        spooler = SpoolWriter(spool: spool, journal: journal, stats: stats, logger: logger)
        forwarder = BatchForwarder(batches: batches, spooler: spooler)
        lanes = WriterLanes(sink: sink, batches: batches, spooler: spooler, tuning: tuning, journal: journal,
                            stats: stats, rejectLog: rejectLog, logger: logger)
        inlet = PipelineInlet(queue: messages, tuning: tuning, decoder: decoder, spooler: spooler, carried: carried,
                              journal: journal, stats: stats, logger: logger)
    }

    /// Starts everything, the source last: by the time a message can arrive, everything
    /// downstream is running. (The daemon replays the journal between the two halves.)
    public func start() throws {
        startStages()
        try startSource()
    }

    /// Lanes, workers and the flush tick.
    public func startStages() {
        lanes.start()
        let workers = WorkerPool(messages: messages, batcher: batcher, decoder: decoder, forwarder: forwarder,
                                 carried: carried)
        let count = workerCount
        workersTask.withLock { $0 = Task { await workers.run(count: count) } }
        tickerTask.withLock { $0 = Task { await self.tick() } }
    }

    /// The journal's fsync thread, then the source.
    public func startSource() throws {
        journal?.startSyncing()
        try source.start(delivering: inlet)
    }

    /// What the start-up journal replay did (`journal_replayed`).
    public struct JournalReplay: Sendable, Equatable {
        public var entries = 0
        public var rows = 0
        public var skippedDone = 0

        public init(entries: Int = 0, rows: Int = 0, skippedDone: Int = 0) {
            self.entries = entries
            self.rows = rows
            self.skippedDone = skippedDone
        }
    }

    /// Writes the entries an earlier run left and did not finish (SPEC 8a) through the
    /// normal path: decoded, batched and handed to the lanes with their sequence numbers, so
    /// their commit (or spool) records them done like any other and a crash during this
    /// replay neither loses nor doubles them. `done` is what the database and the spool's
    /// sidecars say is done already.
    public func replayJournal(done: SeqRanges) async -> JournalReplay {
        var replay = JournalReplay()
        guard let journal else { return replay }
        var skipped: [UInt64] = []
        var batch = Batch()
        let maxRows = max(1, batcher.limits.maxRows)
        for message in journal.takeRecovered() {
            if done.contains(message.journalSeq) {
                skipped.append(message.journalSeq)
                continue
            }
            replay.entries += 1
            let before = batch.rowCount
            decoder.decode(CollectionOfOne(message), into: &batch)
            replay.rows += batch.rowCount - before
            if batch.rowCount >= maxRows {
                await forwarder.send(batch)
                batch = Batch()
            }
        }
        if !batch.isEmpty { await forwarder.send(batch) }
        journal.markDone(skipped)
        replay.skippedDone = skipped.count
        return replay
    }

    /// Applies reloaded settings (SPEC 3): the full-queue policy, the retry limit and the
    /// batch limits take effect on their next use.
    public func retune(_ new: PipelineTuning) {
        tuning.replace(new)
        batcher.update(new.batchLimits)
    }

    public var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Rows decoded and not yet committed or spooled (an estimate: waiting batches count as
    /// full ones).
    public var pendingRows: Int {
        batcher.pendingRows + batches.count * batcher.limits.maxRows + lanes.heldRows
    }

    /// Every 10 ms: hands a burst's tail to the workers, and seals the open batch once it
    /// is `flush_interval_ms` old (so a row waits at most the interval plus 10 ms).
    private func tick() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
            messages.nudge()
            carried.add()
            if let batch = batcher.sealIfDue() { await forwarder.send(batch) }
            carried.remove()
        }
    }

    // MARK: - ShutdownSteps

    public func beginShutdown(drainTimeout: Double) async {
        shuttingDown.store(true, ordering: .relaxed)
        // A database that is down must not hold the sequence: what fails goes to the spool.
        lanes.lower(to: .oneAttempt)
        // One that hangs (a lock, a black hole) must not either: a second after the drain time
        // (the queue's own time-out goes first, and spools the queue), whatever the lanes
        // still hold or will be given goes to the spool untried.
        let lanes = self.lanes
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

    public func stopSource() async throws {
        let source = self.source
        try await DedicatedThread.run { source.stop() }
    }

    /// Messages waiting in the message queue (`queue_depth`, `/ready`).
    public func queueDepth() -> Int { messages.count }

    public func waitForEmptyQueue(timeout: Double) async -> Bool { await messages.waitUntilEmpty(timeout: timeout) }

    public func spoolQueue() async throws -> Int {
        // The sink is too slow to drain in time: stop trying it and keep everything on disk.
        // On a thread of its own: cancelling talks to the server and can block.
        try await DedicatedThread.run {
            self.lanes.lower(to: .spoolOnly)
            let taken = self.messages.removeAll()
            self.spooler.keep(self.decoder.decode(taken), reason: "drain timeout")
            self.lanes.cancelUntilIdle(timeout: 2)
            return taken.count
        }
    }

    public func stopWorkers() async throws {
        messages.close()
        await workersTask.withLock { $0 }?.value
        tickerTask.withLock { $0 }?.cancel()
        await tickerTask.withLock { $0 }?.value
    }

    public func flushWriter() async throws {
        if let last = batcher.sealAll() { await forwarder.send(last) }
        batches.close()
        let lanes = self.lanes
        try await DedicatedThread.run { lanes.join() }
    }

    public func closePool() async throws {
        drainWatchdog.withLock { $0 }?.cancel()
        let (sink, journal) = (self.sink, self.journal)
        try await DedicatedThread.run {
            sink.close()
            journal?.close()
        }
    }

    /// Everything in memory to the spool: the queue, the open batch, the batches waiting for
    /// a lane, what a worker or the source's thread carries between two of those (waited
    /// for, bounded), and (through the cancelled attempts) the lanes' own batches.
    public func forceSpool() -> Int {
        let before = stats.spooledRows.load(ordering: .relaxed)
        lanes.lower(to: .spoolOnly)
        messages.close()
        sweepToSpool()
        // A message or batch in someone's hands lands in a queue (swept next) or, finding
        // the queue closed, in the spool by its carrier's hand.
        _ = carried.waitUntilZero(timeout: 0.25)
        batches.close()
        sweepToSpool()
        if !lanes.cancelUntilIdle(timeout: 0.5) {
            // A lane is stuck in the sink and cannot be cancelled (a black-holed database).
            for batch in lanes.stuckBatches { spooler.keepStuck(batch) }
        }
        journal?.close()
        return stats.spooledRows.load(ordering: .relaxed) - before
    }

    private func sweepToSpool() {
        var batch = decoder.decode(messages.removeAll())
        for b in [batcher.sealAll()].compactMap({ $0 }) + batches.removeAll() { batch.absorb(b) }
        spooler.keep(batch, reason: "forced shutdown")
    }

    /// What `shutdown_complete` reports (SPEC 7).
    public func totals() -> ShutdownTotals {
        ShutdownTotals(recordsWritten: stats.rowsWritten.load(ordering: .relaxed),
                       batchesFlushed: stats.batchesFlushed.load(ordering: .relaxed),
                       spooledRows: stats.spooledRows.load(ordering: .relaxed))
    }
}
