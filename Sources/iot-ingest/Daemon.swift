import IngestCore
import Logging
import MQTTSource
import Observability
import PostgresSink

/// The composition root: builds the MQTT source, the PostgreSQL sink and the pipeline
/// between them, and reads all three for the health endpoints. It does nothing else; the
/// pipeline (in IngestCore) runs and shuts down, the source and the sink do their own I/O.
final class Daemon: HealthSource {
    let configuration: LiveConfiguration
    let stats = IngestStats()
    let spool: Spool
    let subscriber: MQTTSubscriber
    let database: PostgresDatabase
    let pipeline: IngestPipeline
    let startedAt = Timestamp.now()
    let logger: Logger

    /// Throws `MQTTError` when the MQTT client cannot be set up (bad TLS files, say).
    init(configuration c: IngestConfiguration, metrics: IngestMetrics?, logger: Logger) throws {
        configuration = LiveConfiguration(c)
        self.logger = logger
        spool = Spool(directory: c.spoolDirectory)
        database = PostgresDatabase(settings: c.database, spool: spool, stats: stats, logger: logger,
                                    committed: { readings, seconds in metrics?.committed(readings, seconds: seconds) })
        subscriber = try MQTTSubscriber(settings: c.mqtt, stats: stats, logger: logger)
        pipeline = IngestPipeline(
            settings: .init(queueCapacity: c.queue.capacity, workers: c.workers, tuning: PipelineTuning(c)),
            source: subscriber, sink: database,
            decoder: PayloadDecoder(template: c.payload.topicTemplate, maxBytes: c.payload.maxBytes),
            spool: spool, stats: stats, logger: logger)
    }

    /// The pipeline (which connects to the broker last), then the database's probe and
    /// replay loop.
    func start() throws {
        try pipeline.start()
        database.startBackgroundWork()
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
        s.shuttingDown = pipeline.isShuttingDown
        s.startedAt = startedAt
        return s
    }
}
