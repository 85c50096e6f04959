import Concurrency
import IngestModel
import PayloadFormats
import Logging
import Synchronization

/// The pipeline's entrance, called by the source on its own thread for every message.
///
/// It counts the message, takes its payload's bytes from `queue.max_bytes` and puts it in
/// the bounded queue, both under the live full-queue policy: `block` waits for room (the
/// broker then holds the rest), `drop_newest` counts and logs the drop (at most once a
/// second). A message that finds the queue closed (a forced
/// shutdown while this thread waited for room) has already been acknowledged to the broker,
/// so it is decoded and spooled here rather than discarded.
public final class PipelineInlet: MessageInlet {
    let queue: BoundedQueue<Message>
    let payloadBytes: ByteBudget
    let tuning: Live<PipelineTuning>
    let decoder: BatchDecoder
    let spooler: SpoolWriter
    let stats: IngestStats
    let logger: Logger
    /// Counts a message between arrival here and the queue (or the spool): the forced
    /// shutdown waits for it to land.
    let carried: InFlight
    let journal: (any MessageJournal)?
    private let dropLog = RateLimit<Bool>()

    init(queue: BoundedQueue<Message>, payloadBytes: ByteBudget, tuning: Live<PipelineTuning>, decoder: BatchDecoder,
         spooler: SpoolWriter, carried: InFlight, journal: (any MessageJournal)?, stats: IngestStats, logger: Logger) {
        self.queue = queue
        self.payloadBytes = payloadBytes
        self.tuning = tuning
        self.decoder = decoder
        payloadCopyLimit = decoder.decoder.maxBytes + 1
        router = decoder.decoder as? PayloadRouter
        self.spooler = spooler
        self.carried = carried
        self.journal = journal
        self.stats = stats
        self.logger = logger
    }

    /// The most payload bytes worth copying out of the source's buffer: one past
    /// `payload.max_bytes`, enough for the decoder to reject the message as `too_large`.
    public let payloadCopyLimit: Int
    /// The routes, when there are several to choose between (SPEC 4a).
    let router: PayloadRouter?

    /// Whether the source should route each topic (more than one route).
    public var routed: Bool { router != nil }

    /// The topic's route; the source caches it with the topic's string.
    public func route(for topic: String) -> Int32 { router?.route(for: topic) ?? Message.unrouted }

    /// Hands one message to the pipeline: journals it (SPEC 8a: before the callback
    /// returns), then queues it. Blocking (full journal, block policy and full queue); never
    /// call it from a Swift task.
    public func deliver(_ message: Message) {
        stats.messagesReceived.add(1, ordering: .relaxed)
        carried.add()
        defer { carried.remove() }
        var message = message
        if let journal, message.journalSeq == 0 {
            message.journalSeq = journal.append(message) ?? 0
        }
        let bytes = message.payload.count
        let admitted = payloadBytes.acquire(bytes, dropWhenFull: tuning.current.fullPolicy == .dropNewest)
        guard case .admitted(let waitedForBytes) = admitted else { return drop(message) }
        switch queue.put(message, policy: tuning.current.fullPolicy) {
        case .enqueued(let waited):
            if waited || waitedForBytes { stats.queueFull.add(1, ordering: .relaxed) }
        case .dropped:
            payloadBytes.release(bytes)
            drop(message)
        case .closed:
            spooler.keep(decoder.decode(CollectionOfOne(message)), reason: "forced shutdown")
            payloadBytes.release(bytes)
        }
    }

    /// Dropped on purpose (`drop_newest`, the queue full in messages or in bytes): counted,
    /// logged at most once a second, and nothing to replay after a crash.
    private func drop(_ message: Message) {
        stats.queueFull.add(1, ordering: .relaxed)
        stats.messagesDropped.add(1, ordering: .relaxed)
        if message.journalSeq != 0 { journal?.markDone([message.journalSeq]) }
        logDrop()
    }

    private func logDrop() {
        guard dropLog.admit(true, now: Timestamp.monotonicSeconds()) != nil else { return }
        logger.warning("message_dropped", metadata: [
            "policy": "drop_newest", "dropped_total": .stringConvertible(stats.messagesDropped.load(ordering: .relaxed)),
        ])
    }
}
