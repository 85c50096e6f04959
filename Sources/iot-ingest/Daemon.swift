import Concurrency
import Durability
import IngestConfig
import IngestCore
import IngestModel
import Logging
import MQTTSource
import Observability
import PostgresSink

/// The composition root: builds the MQTT source, the PostgreSQL writer, probe, watchdog and
/// journal ledger, the spool and its replay loop, and the pipeline between them, and reads
/// them for the health endpoints. It only wires: the pipeline starts, recovers the journal
/// and shuts down (IngestCore); the source, the sink and the spool do their own I/O.
final class Daemon: HealthSource {
    let configuration: Live<IngestConfiguration>
    let stats = IngestStats()
    let spool: Spool
    let subscriber: MQTTSubscriber
    let writer: BatchWriter
    let probe: DatabaseProbe
    let spoolReplayer: SpoolReplayer
    let journal: Journal?
    let pipeline: IngestPipeline
    let shutdown: PipelineShutdown
    let startedAt = Timestamp.now()
    let logger: Logger

    /// `journal` is opened (and locked) by the caller, before the database is reached.
    /// Throws `MQTTError` when the MQTT client cannot be set up (bad TLS files, say).
    init(configuration c: IngestConfiguration, journal: Journal?, metrics: IngestMetrics?, logger: Logger) throws {
        configuration = Live<IngestConfiguration>(c)
        self.logger = logger
        self.journal = journal
        let db = c.database
        spool = Spool(directory: c.spoolDirectory)
        probe = DatabaseProbe(url: db.url, stats: stats)
        writer = BatchWriter(settings: .init(url: db.url, table: db.table, dedupe: db.dedupe, poolSize: db.poolSize,
                                             journalID: journal?.id),
                             probe: probe, logger: logger,
                             committed: { commit in metrics?.committed(commit) })
        spoolReplayer = SpoolReplayer(spool: spool, applier: PostgresSpoolApplier(url: db.url, table: db.table,
                                                                                 dedupe: db.dedupe),
                                      logger: logger)
        subscriber = try MQTTSubscriber(settings: c.mqtt, subscriptions: c.subscriptions, stats: stats, logger: logger,
                                        hostStateTopic: c.sparkplug.stateTopic)
        pipeline = IngestPipeline(
            configuration: c, source: subscriber, sink: writer, spool: spool, journal: journal,
            ledger: PostgresJournalLedger(url: db.url, logger: logger),
            background: [probe, StuckWriteWatchdog(probe: probe, writer: writer, logger: logger),
                         SpoolReplayLoop(replayer: spoolReplayer, stats: stats)],
            stats: stats, controls: subscriber, logger: logger)
        shutdown = PipelineShutdown(pipeline)
    }

    /// SPEC 11's order from here is the pipeline's (`IngestPipeline.start`), after the
    /// Sparkplug birth catalog is loaded (journal replay resolves aliases through it).
    func start() async throws {
        await loadSparkplugCatalog()
        try await pipeline.start()
    }

    /// Seeds the Sparkplug sessions from `sparkplug_metrics` (SPEC 4b), when a route reads
    /// Sparkplug B. A database that cannot be read now only costs rebirth requests later.
    private func loadSparkplugCatalog() async {
        guard let sessions = pipeline.sparkplugSessions else { return }
        let url = configuration.current.database.url
        do {
            let catalog = try await DedicatedThread.run { () throws(PostgresError) in try SparkplugCatalog.load(url: url) }
            let (devices, metrics) = sessions.seed(catalog)
            logger.info("sparkplug_catalog_loaded", metadata: [
                "devices": .stringConvertible(devices), "metrics": .stringConvertible(metrics),
            ])
        } catch {
            logger.warning("sparkplug_catalog_unavailable", metadata: ["error": .string("\(error)")])
        }
    }

    /// Applies a reloaded configuration's live keys (SPEC 3).
    func apply(_ next: IngestConfiguration) {
        configuration.replace(next)
        pipeline.retune(PipelineTuning(next))
    }

    // MARK: - HealthSource

    func snapshot() -> HealthSnapshot {
        let mqtt = subscriber.status
        let db = probe.current
        let files = spool.summary
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
        s.queueDepth = pipeline.messages.count
        s.queueCapacity = pipeline.messages.capacity
        s.pendingRows = pipeline.pendingRows
        s.lastFlushAt = stats.lastFlushAt.load(ordering: .relaxed)
        s.spoolFiles = files.files
        s.spoolBytes = files.bytes
        s.spoolFailure = pipeline.spoolFailure
        s.journalBytes = journal?.bytes ?? 0
        s.journalBlockedAppends = journal?.blockedAppends.load(ordering: .relaxed) ?? 0
        s.journalDirectory = journal?.settings.directory
        s.journalFailure = journal?.writeFailure
        s.journalWriteFailures = journal?.failedCreations.load(ordering: .relaxed) ?? 0
        s.journalSyncFailures = journal?.failedSyncs.load(ordering: .relaxed) ?? 0
        s.shuttingDown = pipeline.isShuttingDown
        s.startedAt = startedAt
        return s
    }
}
