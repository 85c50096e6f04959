import IngestCore
import Logging
import MQTTSource
import Observability
import PostgresSink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running daemon's parts, wired in data-flow order:
/// MQTTSubscriber -> messages -> WorkerPool -> Batcher -> batches -> BatchWriter.
///
/// It implements the shutdown steps over those parts, so `ShutdownCoordinator` stays free
/// of any knowledge of MQTT or PostgreSQL.
final class Pipeline: ShutdownSteps, HealthSource {
    let configuration: LiveConfiguration
    let stats = IngestStats()
    let messages: BoundedQueue<Message>
    let batches: BoundedQueue<Batch>
    let batcher: Batcher
    let writer: BatchWriter
    let subscriber: MQTTSubscriber
    let spool: Spool
    let replayer: SpoolReplayLoop
    let decoder: BatchDecoder
    let probe: DatabaseProbe
    let startedAt = Timestamp.now()
    let logger: Logger
    let shuttingDown = Atomic<Bool>(false)
    private let workersTask = Mutex<Task<Void, Never>?>(nil)
    private let tickerTask = Mutex<Task<Void, Never>?>(nil)

    init(configuration c: IngestConfiguration, metrics: IngestMetrics?, logger: Logger) throws {
        let live = LiveConfiguration(c)
        self.configuration = live
        self.logger = logger
        // Workers are woken per 64 messages (or 2 ms, or the 10 ms tick), not per message.
        messages = BoundedQueue(capacity: c.queue.capacity, handoffBatch: 64, handoffDelay: 0.002)
        // Two batches per connection in front of the writers: enough to keep them busy,
        // small enough that a slow database pushes back on the queue within a second.
        batches = BoundedQueue(capacity: max(2, c.database.poolSize * 2))
        batcher = Batcher(limits: c.batch.limits)
        let stats = self.stats
        let log = logger
        let spool = Spool(directory: c.spoolDirectory)
        self.spool = spool
        let decoder = BatchDecoder(decoder: PayloadDecoder(template: c.payload.topicTemplate, maxBytes: c.payload.maxBytes),
                                   stats: stats, rejectLog: RejectLog(logger: logger))
        self.decoder = decoder
        replayer = SpoolReplayLoop(spool: spool, database: c.database, stats: stats, logger: logger)
        probe = DatabaseProbe(url: c.database.url, stats: stats)
        var hooks = BatchWriter.Hooks(giveUp: { batch, error in
            Pipeline.spool(batch, to: spool, stats: stats, logger: log, reason: error.description)
        })
        if let metrics {
            hooks.committed = { readings, seconds in metrics.committed(readings, seconds: seconds) }
        }
        writer = BatchWriter(
            settings: .init(url: c.database.url, table: c.database.table, dedupe: c.database.dedupe,
                            poolSize: c.database.poolSize),
            batches: batches, maxRetries: { live.current.batch.maxRetries },
            stats: stats, logger: logger, hooks: hooks)
        subscriber = try MQTTSubscriber(
            settings: c.mqtt, queue: messages, policy: { live.current.queue.fullPolicy }, stats: stats, logger: logger,
            stranded: { message in
                stats.strandedInFlight.add(1, ordering: .relaxed)
                defer { stats.strandedInFlight.subtract(1, ordering: .relaxed) }
                Pipeline.spool(decoder.decode(CollectionOfOne(message)), to: spool, stats: stats, logger: log,
                               reason: "forced shutdown")
            })
    }

    /// Writers, workers and the flush ticker first, the subscriber last: by the time a
    /// message can arrive, everything downstream is running.
    func start() throws {
        let c = configuration.current
        writer.start()
        let workers = WorkerPool(messages: messages, batches: batches, batcher: batcher, decoder: decoder,
                                 orphaned: { batch in await self.spoolFromTask(batch, reason: "forced shutdown") })
        workersTask.withLock { $0 = Task { await workers.run(count: c.workers) } }
        tickerTask.withLock { $0 = Task { await self.tick() } }
        replayer.start()
        probe.start()
        try subscriber.start()
    }

    // MARK: - HealthSource

    func snapshot() -> HealthSnapshot {
        let mqtt = subscriber.status
        let db = probe.current
        let files = spool.files()
        var s = HealthSnapshot()
        s.mqttConnected = mqtt.connected
        s.mqttSubscribed = mqtt.subscribed
        s.broker = mqtt.broker
        s.subscriptions = mqtt.subscriptions
        s.databaseReachable = db.reachable
        s.databaseCheckedAt = db.checkedAt
        s.databaseError = db.error
        s.poolSize = writer.settings.poolSize
        s.openConnections = writer.openConnections
        s.queueDepth = messages.count
        s.queueCapacity = messages.capacity
        s.pendingRows = batcher.pendingRows + batches.count * batcher.limits.maxRows + writer.inFlightRows
        s.lastFlushAt = stats.lastFlushAt.load(ordering: .relaxed)
        s.spoolFiles = files.count
        s.spoolBytes = files.reduce(0) { $0 + $1.bytes }
        s.shuttingDown = shuttingDown.load(ordering: .relaxed)
        s.startedAt = startedAt
        return s
    }

    /// Writes a batch to the spool (blocking: writer threads and the shutdown path). A spool
    /// that cannot be written is the one way rows are lost; it is logged as critical.
    @discardableResult
    static func spool(_ batch: Batch, to spool: Spool, stats: IngestStats, logger: Logger, reason: String) -> Int {
        guard !batch.isEmpty else { return 0 }
        do {
            let rows = try spool.write(batch)
            stats.spooledRows.add(rows, ordering: .relaxed)
            logger.warning("batch_spooled", metadata: [
                "rows": .stringConvertible(batch.readings.count), "rejects": .stringConvertible(batch.rejects.count),
                "reason": .string(reason),
            ])
            return rows
        } catch {
            stats.lostRows.add(batch.readings.count + batch.rejects.count, ordering: .relaxed)
            logger.critical("spool_write_failed", metadata: [
                "rows": .stringConvertible(batch.readings.count), "error": .string(error.description),
            ])
            return 0
        }
    }

    /// Spools a batch from a task: the write blocks on fsync, so it runs on its own thread.
    private func spoolFromTask(_ batch: Batch, reason: String) async {
        let (spool, stats, logger) = (self.spool, self.stats, self.logger)
        _ = try? await DedicatedThread.run { Pipeline.spool(batch, to: spool, stats: stats, logger: logger, reason: reason) }
    }

    /// Every 10 ms: hands a burst's tail to the workers, and seals the open batch once it
    /// is `flush_interval_ms` old (so a row waits at most the interval plus 10 ms).
    private func tick() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
            messages.nudge()
            if let batch = batcher.sealIfDue(), await !batches.put(batch) {
                await spoolFromTask(batch, reason: "forced shutdown")
            }
        }
    }

    // MARK: - ShutdownSteps

    func beginShutdown() async {
        shuttingDown.store(true, ordering: .relaxed)
        // One attempt per batch from now on: a database that is down must not hold the
        // sequence; what fails goes to the spool.
        writer.hurryUp()
    }

    func stopSource() async throws {
        try await DedicatedThread.run { self.subscriber.stop() }
    }

    func queueDepth() -> Int { messages.count }

    func waitForEmptyQueue(timeout: Double) async -> Bool { await messages.waitUntilEmpty(timeout: timeout) }

    func spoolQueue() async throws -> Int {
        // The database is too slow to drain in time: stop trying it and keep everything on
        // disk instead. On a thread of its own: PQcancel talks to the server and can block.
        try await DedicatedThread.run {
            self.writer.spoolEverything()
            self.writer.cancelInFlight()
            let taken = self.messages.removeAll()
            Pipeline.spool(self.decoder.decode(taken), to: self.spool, stats: self.stats, logger: self.logger,
                           reason: "drain timeout")
            return taken.count
        }
    }

    func stopWorkers() async throws {
        messages.close()
        await workersTask.withLock { $0 }?.value
        tickerTask.withLock { $0 }?.cancel()
        await tickerTask.withLock { $0 }?.value
    }

    func flushWriter() async throws {
        if let last = batcher.sealAll(), await !batches.put(last) {
            await spoolFromTask(last, reason: "forced shutdown")
        }
        batches.close()
        try await DedicatedThread.run { self.writer.join() }
    }

    func closePool() async throws {
        try await DedicatedThread.run {
            self.replayer.stop()
            self.probe.stop()
            self.writer.closeConnections()
        }
    }

    /// Everything in memory to the spool: the queue, the open batch, the batches waiting for
    /// a writer, and (through the cancelled statements) the writers' in-flight batches.
    /// Swept twice, around a bounded wait for the writers, to catch rows a worker was
    /// carrying at the first sweep.
    func forceSpool() -> Int {
        let before = stats.spooledRows.load(ordering: .relaxed)
        writer.spoolEverything()
        writer.cancelInFlight()
        messages.close()
        sweepToSpool()
        // Bounded wait for the writers' in-flight batches and for a message the MQTT thread
        // was holding (it wakes on close() and spools it itself); at least 50 ms for the latter.
        let start = Timestamp.monotonicSeconds()
        while Timestamp.monotonicSeconds() - start < 2 {
            let busy = writer.inFlightRows > 0 || stats.strandedInFlight.load(ordering: .relaxed) > 0
            if !busy && Timestamp.monotonicSeconds() - start > 0.05 { break }
            usleep(10_000)
        }
        sweepToSpool()
        return stats.spooledRows.load(ordering: .relaxed) - before
    }

    private func sweepToSpool() {
        var batch = decoder.decode(messages.removeAll())
        for b in [batcher.sealAll()].compactMap({ $0 }) + batches.removeAll() {
            batch.readings += b.readings
            batch.rejects += b.rejects
        }
        Pipeline.spool(batch, to: spool, stats: stats, logger: logger, reason: "forced shutdown")
    }

    func totals() -> ShutdownTotals {
        ShutdownTotals(recordsWritten: stats.rowsWritten.load(ordering: .relaxed),
                       batchesFlushed: stats.batchesFlushed.load(ordering: .relaxed),
                       spooledRows: stats.spooledRows.load(ordering: .relaxed))
    }
}
