import IngestCore
import Logging
import MQTTSource
import PostgresSink
import Synchronization

/// The running daemon's parts, wired in data-flow order:
/// MQTTSubscriber -> messages -> WorkerPool -> Batcher -> batches -> BatchWriter.
///
/// It implements the shutdown steps over those parts, so `ShutdownCoordinator` stays free
/// of any knowledge of MQTT or PostgreSQL.
final class Pipeline: ShutdownSteps {
    let configuration: LiveConfiguration
    let stats = IngestStats()
    let messages: BoundedQueue<Message>
    let batches: BoundedQueue<Batch>
    let batcher: Batcher
    let writer: BatchWriter
    let subscriber: MQTTSubscriber
    let logger: Logger
    let shuttingDown = Atomic<Bool>(false)
    private let workersTask = Mutex<Task<Void, Never>?>(nil)
    private let tickerTask = Mutex<Task<Void, Never>?>(nil)

    init(configuration c: IngestConfiguration, logger: Logger) throws {
        let live = LiveConfiguration(c)
        self.configuration = live
        self.logger = logger
        messages = BoundedQueue(capacity: c.queue.capacity)
        // Two batches per connection in front of the writers: enough to keep them busy,
        // small enough that a slow database pushes back on the queue within a second.
        batches = BoundedQueue(capacity: max(2, c.database.poolSize * 2))
        batcher = Batcher(limits: c.batch.limits)
        let stats = self.stats
        let log = logger
        writer = BatchWriter(
            settings: .init(url: c.database.url, table: c.database.table, dedupe: c.database.dedupe,
                            poolSize: c.database.poolSize),
            batches: batches, maxRetries: { live.current.batch.maxRetries },
            stats: stats, logger: logger,
            hooks: .init(giveUp: { batch, error in
                // The spool closes this gap (shutdown issue); until then the loss is loud.
                stats.lostRows.add(batch.readings.count + batch.rejects.count, ordering: .relaxed)
                log.error("batch_lost", metadata: [
                    "rows": .stringConvertible(batch.readings.count), "rejects": .stringConvertible(batch.rejects.count),
                    "error": .string(error.description),
                ])
            }))
        subscriber = try MQTTSubscriber(settings: c.mqtt, queue: messages, policy: { live.current.queue.fullPolicy },
                                        stats: stats, logger: logger)
    }

    /// Writers, workers and the flush ticker first, the subscriber last: by the time a
    /// message can arrive, everything downstream is running.
    func start() throws {
        let c = configuration.current
        writer.start()
        let workers = WorkerPool(
            messages: messages, batches: batches, batcher: batcher,
            decoder: PayloadDecoder(template: c.payload.topicTemplate, maxBytes: c.payload.maxBytes),
            rejectLog: RejectLog(logger: logger), stats: stats)
        workersTask.withLock { $0 = Task { await workers.run(count: c.workers) } }
        tickerTask.withLock { $0 = Task { await self.tick() } }
        try subscriber.start()
    }

    /// Seals the open batch once it is `flush_interval_ms` old. Checks at a quarter of the
    /// interval (at most every 100 ms), so a row waits at most ~1.25 intervals.
    private func tick() async {
        while !Task.isCancelled {
            let interval = batcher.limits.flushInterval
            try? await Task.sleep(for: .milliseconds(Int(min(0.1, interval / 4) * 1000)))
            if let batch = batcher.sealIfDue() {
                _ = await batches.put(batch)
            }
        }
    }

    // MARK: - ShutdownSteps

    func beginShutdown() async {
        shuttingDown.store(true, ordering: .relaxed)
    }

    func stopSource() async throws {
        try await DedicatedThread.run { self.subscriber.stop() }
    }

    func queueDepth() -> Int { messages.count }

    func spoolQueue() async throws -> Int {
        // Until the spool exists the workers keep decoding what is left; the writer stops
        // retrying so they are not held up by a dead database.
        writer.hurryUp()
        return 0
    }

    func stopWorkers() async throws {
        messages.close()
        await workersTask.withLock { $0 }?.value
        tickerTask.withLock { $0 }?.cancel()
        await tickerTask.withLock { $0 }?.value
    }

    func flushWriter() async throws {
        if let last = batcher.sealAll() {
            _ = await batches.put(last)
        }
        batches.close()
        try await DedicatedThread.run { self.writer.join() }
    }

    func closePool() async throws {
        try await DedicatedThread.run { self.writer.closeConnections() }
    }

    func forceSpool() -> Int {
        writer.hurryUp()
        writer.cancelInFlight()
        let stranded = messages.removeAll().count
        let open = batcher.sealAll()
        let queued = batches.removeAll()
        let rows = (open.map { $0.readings.count } ?? 0) + queued.reduce(0) { $0 + $1.readings.count }
        stats.lostRows.add(rows + stranded, ordering: .relaxed)
        return 0
    }

    func totals() -> ShutdownTotals {
        ShutdownTotals(recordsWritten: stats.rowsWritten.load(ordering: .relaxed),
                       batchesFlushed: stats.batchesFlushed.load(ordering: .relaxed),
                       spooledRows: stats.spooledRows.load(ordering: .relaxed))
    }
}
