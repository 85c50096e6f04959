#if canImport(Glibc)
import Glibc
#endif
import Concurrency
import IngestConfig
import IngestModel
import Logging
import PayloadFormats
import Synchronization

/// The pipeline from a message source to a batch sink, and the shutdown steps over it:
///
/// source -> `PipelineInlet` -> message queue -> `WorkerPool` (decode) -> `Batcher` ->
/// batch queue -> `WriterLanes` -> sink, with `SpoolWriter` taking what the sink does not.
///
/// It knows neither MQTT nor PostgreSQL (those are the source and the sink), so start-up,
/// journal recovery (`JournalRecovery`) and the shutdown steps (`PipelineShutdown`) are
/// tested here with fakes; the daemon only wires it.
public final class IngestPipeline: Sendable {
    /// The counters every stage adds to (/metrics, `shutdown_complete`).
    public let stats: IngestStats
    /// The message queue from the inlet to the workers; the daemon reads its depth and capacity for /ready.
    public let messages: BoundedQueue<Message>
    /// `queue.max_bytes`: the payload bytes between the inlet and the commit (or spool). The
    /// queue bounds messages; this bounds what they weigh (README, "Memory budget").
    public let payloadBytes: ByteBudget
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
    /// The crash journal the inlet appends to, nil when it is off; closed by the shutdown.
    public let journal: (any MessageJournal)?
    /// Messages and rows between two queues (in the inlet, a worker, the flush tick): the
    /// forced shutdown waits for them to land before its last sweep.
    let carried = InFlight()
    let forwarder: BatchForwarder
    /// The order of the workers' takes for an ordered format (Sparkplug B).
    let turnstile = Turnstile()
    /// What an earlier run left in the journal, replayed by `start()` before the source.
    let recovery: JournalRecovery?
    /// Loops beside the pipeline (the database probe, the spool replay): started with it,
    /// stopped by the shutdown's "close pool" step.
    let background: [any BackgroundWork]
    let logger: Logger
    let shuttingDown = Atomic<Bool>(false)
    let workersTask = Locked<Task<Void, Never>?>(nil)
    let tickerTask = Locked<Task<Void, Never>?>(nil)

    /// What the pipeline is built from, apart from its source and sink.
    public struct Settings: Sendable {
        /// `queue.capacity`: messages the message queue holds before `queue.full_policy` applies.
        public var queueCapacity: Int
        /// `queue.max_bytes`: payload bytes held from the inlet to the commit (`ByteBudget`).
        public var queueMaxBytes: Int
        /// How many decode workers run (tasks on the cooperative pool).
        public var workers: Int
        /// The reloadable settings the pipeline starts with; `retune(_:)` replaces them.
        public var tuning: PipelineTuning

        /// The sizes fixed at start-up (`queue.capacity`, the worker count) and the reloadable
        /// `tuning` it starts with.
        public init(queueCapacity: Int, queueMaxBytes: Int = 16 << 20, workers: Int, tuning: PipelineTuning) {
            self.queueCapacity = queueCapacity
            self.queueMaxBytes = queueMaxBytes
            self.workers = workers
            self.tuning = tuning
        }
    }

    /// Builds the stages; nothing runs until `start()`. `journal`, when given, is where the
    /// source thread appends each message before its callback returns (SPEC 8a); `ledger`
    /// is where its entries an earlier run committed are recorded (none: only the spool's
    /// count as done). `background` runs from start-up to "close pool".
    public init(settings: Settings, source: any MessageSource, sink: any BatchSink, decoder payloadDecoder: any PayloadFormat,
                spool: any BatchSpool, journal: (any MessageJournal)? = nil, ledger: (any JournalLedger)? = nil,
                background: [any BackgroundWork] = [], stats: IngestStats = IngestStats(), logger: Logger) {
        self.stats = stats
        self.journal = journal
        self.logger = logger
        self.background = background
        recovery = journal.map { JournalRecovery(journal: $0, ledger: ledger ?? NoLedger(), spool: spool) }
        self.source = source
        self.sink = sink
        workerCount = settings.workers
        // Workers are woken per 256 messages (a worker's take) or 5 ms, or by the 10 ms tick,
        // not per message: each wake-up is a futex call on libmosquitto's thread, and often
        // a switch away from it (at 2 ms, one in 60 messages under a flood).
        messages = BoundedQueue(capacity: settings.queueCapacity, handoffBatch: 256, handoffDelay: 0.005)
        payloadBytes = ByteBudget(limit: settings.queueMaxBytes)
        // Two batches per lane in front of the writers: enough to keep them busy, small
        // enough that a slow database pushes back on the queue within a second.
        batches = BoundedQueue(capacity: max(2, sink.laneCount * 2))
        // Sealed by bytes too, at a share of `queue.max_bytes` small enough that the batches
        // that can be held at once (the open one, the batch queue's, one per lane) fit in it.
        batcher = Batcher(limits: settings.tuning.batchLimits,
                          sealBytes: max(1, settings.queueMaxBytes / (3 * sink.laneCount + 1)))
        tuning = Live<PipelineTuning>(settings.tuning)
        let rejectLog = RejectLog(logger: logger)
        decoder = BatchDecoder(decoder: payloadDecoder, stats: stats, rejectLog: rejectLog)
        spooler = SpoolWriter(spool: spool, journal: journal, stats: stats, logger: logger)
        forwarder = BatchForwarder(batches: batches, spooler: spooler)
        lanes = WriterLanes(sink: sink, batches: batches, spooler: spooler, tuning: tuning, journal: journal,
                            payloadBytes: payloadBytes, stats: stats, rejectLog: rejectLog, logger: logger)
        inlet = PipelineInlet(queue: messages, payloadBytes: payloadBytes, tuning: tuning, decoder: decoder,
                              spooler: spooler, carried: carried, journal: journal, stats: stats, logger: logger)
    }

    /// The pipeline the daemon runs, from its configuration: the queue, worker and batch keys,
    /// and the payload format. The daemon and the load generator's hot path both build it
    /// here, so the benchmark measures what runs.
    public convenience init(configuration c: IngestConfiguration, source: any MessageSource, sink: any BatchSink,
                            spool: any BatchSpool, journal: (any MessageJournal)? = nil,
                            ledger: (any JournalLedger)? = nil, background: [any BackgroundWork] = [],
                            stats: IngestStats = IngestStats(), controls: (any ControlPublisher)? = nil,
                            logger: Logger) {
        let sparkplug = c.routes.contains { $0.format == .sparkplugB } ? SparkplugSessions() : nil
        let rebirths = SparkplugRebirths(enabled: c.sparkplug.requestRebirth,
                                         interval: c.sparkplug.rebirthIntervalSeconds,
                                         publisher: controls, stats: stats, logger: logger)
        self.init(settings: .init(queueCapacity: c.queue.capacity, queueMaxBytes: c.queue.maxBytes, workers: c.workers,
                                  tuning: PipelineTuning(c)),
                  source: source, sink: sink,
                  decoder: Self.format(c, sparkplug: sparkplug.map { ($0, rebirths) }),
                  spool: spool, journal: journal, ledger: ledger, background: background, stats: stats,
                  logger: logger)
    }

    /// The payload format of the configuration's routes (SPEC 4a): the one route's own, or a
    /// `PayloadRouter` over several (the source then routes each topic once, see
    /// `PipelineInlet.route(for:)`).
    static func format(_ c: IngestConfiguration,
                       sparkplug: (SparkplugSessions, SparkplugRebirths)? = nil) -> any PayloadFormat {
        let p = c.payload
        let formats: [PayloadRouter.Route] = c.routes.map { route in
            let format: any PayloadFormat
            switch route.format {
            case .sparkplugB:
                let (sessions, rebirths) = sparkplug ?? (SparkplugSessions(), SparkplugRebirths(
                    enabled: false, interval: 30, publisher: nil, stats: IngestStats(), logger: Logger(label: "sparkplug")))
                format = SparkplugDecoder(maxBytes: p.maxBytes, maxReadings: p.maxReadings, storeStrings: p.storeStrings,
                                          sessions: sessions, rebirths: rebirths)
            case .json:
                format = PayloadDecoder(template: route.topicTemplate ?? p.topicTemplate, maxBytes: p.maxBytes,
                                        maxReadings: p.maxReadings, storeStrings: p.storeStrings)
            case .influxLine:
                format = InfluxLineDecoder(template: route.topicTemplate, deviceTag: route.deviceTag,
                                           precision: p.influxPrecision, maxBytes: p.maxBytes,
                                           maxReadings: p.maxReadings, storeStrings: p.storeStrings)
            }
            return PayloadRouter.Route(filters: route.filters, format: format)
        }
        return formats.count == 1 ? formats[0].format : PayloadRouter(routes: formats)
    }

    /// The Sparkplug B host's memory (births, sequences), when a route reads Sparkplug B: the
    /// daemon seeds it from `sparkplug_metrics` before `start()`.
    public var sparkplugSessions: SparkplugSessions? {
        func find(_ format: any PayloadFormat) -> SparkplugSessions? {
            if let sparkplug = format as? SparkplugDecoder { return sparkplug.sessions }
            return (format as? PayloadRouter)?.routes.lazy.compactMap { find($0.format) }.first
        }
        return find(decoder.decoder)
    }

    /// SPEC 11's order from the stages on, the one start-up path of the daemon and the tests:
    /// lanes, workers and the flush tick; the journal's recovery (`journal_replayed`); the
    /// background loops; the journal's fsync thread; the source last, so by the time a
    /// message can arrive everything downstream is running.
    public func start() async throws {
        lanes.start()
        let workers = WorkerPool(messages: messages, batcher: batcher, decoder: decoder, forwarder: forwarder,
                                 carried: carried, turnstile: turnstile)
        let count = workerCount
        workersTask.withLock { $0 = Task { await workers.run(count: count) } }
        tickerTask.withLock { $0 = Task { await self.tick() } }
        if let recovery {
            decoder.decoder.replaying(true)
            defer { decoder.decoder.replaying(false) }
            try await recovery.run(into: self)
        }
        for work in background { work.start() }
        journal?.startSyncing()
        try source.start(delivering: inlet)
    }

    /// Decodes `messages` into batches and hands them to the lanes like any other, with
    /// their journal sequence numbers, so their commit (or spool) records them done.
    /// Returns the rows.
    func replay(_ messages: [Message]) async -> Int {
        var rows = 0
        var batch = Batch()
        let maxRows = max(1, batcher.limits.maxRows)
        for message in messages {
            let before = batch.rowCount
            decoder.decode(CollectionOfOne(message), into: &batch)
            rows += batch.rowCount - before
            if batch.rowCount >= maxRows {
                await forwarder.send(batch)
                batch = Batch()
            }
        }
        if !batch.isEmpty { await forwarder.send(batch) }
        return rows
    }

    /// Before a shutdown sweep decodes what is left in the queue: waits (bounded, polling; on
    /// a thread the daemon owns) until every take the workers made has had its ordered turn,
    /// so no Sparkplug message left in the queue is decoded before an earlier one a worker
    /// holds (a birth before its data). A format without order does not wait.
    func awaitOrderedTakes(timeout: Double) {
        guard decoder.decoder.ordered else { return }
        let deadline = Timestamp.monotonicSeconds() + timeout
        while turnstile.next < messages.handedOut && Timestamp.monotonicSeconds() < deadline { usleep(1_000) }
    }

    /// Applies reloaded settings (SPEC 3): the full-queue policy, the retry limit and the
    /// batch limits take effect on their next use.
    public func retune(_ new: PipelineTuning) {
        tuning.replace(new)
        batcher.update(new.batchLimits)
    }

    /// True from the shutdown's first step on (/ready reports not ready). Lock-free.
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
}
