import Concurrency
import Durability
import IngestConfig
import IngestCore
import IngestModel
import Logging
import MQTTSource
import Observability
import PayloadFormats
import PostgresSink

/// The composition root: builds the MQTT source, the PostgreSQL sink and the pipeline
/// between them, and reads all three for the health endpoints. It does nothing else; the
/// pipeline (in IngestCore) runs and shuts down, the source and the sink do their own I/O.
final class Daemon: HealthSource {
    let configuration: Live<IngestConfiguration>
    let stats = IngestStats()
    let spool: Spool
    let subscriber: MQTTSubscriber
    let database: PostgresDatabase
    let journal: Journal?
    let pipeline: IngestPipeline
    let startedAt = Timestamp.now()
    let logger: Logger

    /// `journal` is opened (and locked) by the caller, before the database is reached.
    /// Throws `MQTTError` when the MQTT client cannot be set up (bad TLS files, say).
    init(configuration c: IngestConfiguration, journal: Journal?, metrics: IngestMetrics?, logger: Logger) throws {
        configuration = Live<IngestConfiguration>(c)
        self.logger = logger
        spool = Spool(directory: c.spoolDirectory)
        self.journal = journal
        database = PostgresDatabase(settings: c.database, spool: spool, journalID: journal?.id, stats: stats,
                                    logger: logger,
                                    committed: { readings, seconds in metrics?.committed(readings, seconds: seconds) })
        subscriber = try MQTTSubscriber(settings: c.mqtt, stats: stats, logger: logger)
        pipeline = IngestPipeline(
            settings: .init(queueCapacity: c.queue.capacity, workers: c.workers, tuning: PipelineTuning(c)),
            source: subscriber, sink: database,
            decoder: PayloadDecoder(template: c.payload.topicTemplate, maxBytes: c.payload.maxBytes),
            spool: spool, journal: journal, stats: stats, logger: logger)
    }

    /// SPEC 11's order from here: the pipeline's stages, the journal replay
    /// (`journal_replayed`), the database's probe and replay loop, then the broker.
    func start() async throws {
        pipeline.startStages()
        if let journal { try await replay(journal) }
        database.startBackgroundWork()
        try pipeline.startSource()
    }

    /// What the journal holds and is not done, through the pipeline. "Done" is what the
    /// database recorded (asked with the migration's patience: without it, replaying could
    /// double what committed) plus what the spool's sidecars hold.
    private func replay(_ journal: Journal) async throws {
        let (database, spool, id, since) = (self.database, self.spool, journal.id, journal.oldestSeq)
        let done = try await DedicatedThread.run { () throws -> SeqRanges in
            let recorded = try PostgresDatabase.withPatience(logger: self.logger) {
                try database.doneEntries(journal: id, since: since)
            }
            try? database.forgetDone(journal: id, below: since)
            return SeqRanges(recorded + spool.sidecars().filter { $0.journal == id }.flatMap(\.ranges))
        }
        let replay = await pipeline.replayJournal(done: done)
        stats.journalReplayed.add(replay.entries, ordering: .relaxed)
        logger.info("journal_replayed", metadata: [
            "entries": .stringConvertible(replay.entries), "rows": .stringConvertible(replay.rows),
            "skipped_done": .stringConvertible(replay.skippedDone),
        ])
    }

    /// Applies a reloaded configuration's live keys (SPEC 3).
    func apply(_ next: IngestConfiguration) {
        configuration.replace(next)
        pipeline.retune(PipelineTuning(next))
    }

    // MARK: - HealthSource

    func snapshot() -> HealthSnapshot {
        let mqtt = subscriber.status
        let db = database.probe.current
        let files = spool.summary
        var s = HealthSnapshot()
        s.mqttConnected = mqtt.connected
        s.mqttSubscribed = mqtt.subscribed
        s.broker = mqtt.broker
        s.subscriptions = mqtt.subscriptions
        s.databaseReachable = db.reachable
        s.databaseCheckedAt = db.checkedAt
        s.databaseError = db.error
        s.poolSize = database.settings.poolSize
        s.openConnections = database.writer.openConnections
        s.queueDepth = pipeline.messages.count
        s.queueCapacity = pipeline.messages.capacity
        s.pendingRows = pipeline.pendingRows
        s.lastFlushAt = stats.lastFlushAt.load(ordering: .relaxed)
        s.spoolFiles = files.files
        s.spoolBytes = files.bytes
        s.spoolFailure = pipeline.spoolFailure
        s.journalBytes = journal?.bytes ?? 0
        s.journalBlockedAppends = journal?.blockedAppends.load(ordering: .relaxed) ?? 0
        s.shuttingDown = pipeline.isShuttingDown
        s.startedAt = startedAt
        return s
    }
}
