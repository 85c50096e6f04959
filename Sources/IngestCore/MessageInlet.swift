import Logging
import Synchronization

/// The pipeline's entrance, called by the source on its own thread for every message.
///
/// It counts the message and puts it in the bounded queue under the live full-queue policy:
/// `block` waits for room (the broker then holds the rest), `drop_newest` counts and logs
/// the drop (at most once a second). A message that finds the queue closed (a forced
/// shutdown while this thread waited for room) has already been acknowledged to the broker,
/// so it is decoded and spooled here rather than discarded.
public final class MessageInlet: Sendable {
    let queue: BoundedQueue<Message>
    let tuning: LiveTuning
    let decoder: BatchDecoder
    let spooler: SpoolWriter
    let stats: IngestStats
    let logger: Logger
    /// Counts a message between arrival here and the queue (or the spool): the forced
    /// shutdown waits for it to land.
    let carried: InFlight
    private let lastDropLog = Mutex(-Double.infinity)

    init(queue: BoundedQueue<Message>, tuning: LiveTuning, decoder: BatchDecoder, spooler: SpoolWriter,
         carried: InFlight, stats: IngestStats, logger: Logger) {
        self.queue = queue
        self.tuning = tuning
        self.decoder = decoder
        self.spooler = spooler
        self.carried = carried
        self.stats = stats
        self.logger = logger
    }

    /// Hands one message to the pipeline. Blocking (block policy, full queue); never call
    /// it from a Swift task.
    public func deliver(_ message: Message) {
        stats.messagesReceived.add(1, ordering: .relaxed)
        carried.add()
        defer { carried.remove() }
        switch queue.put(message, policy: tuning.current.fullPolicy) {
        case .enqueued(let waited):
            if waited { stats.queueFull.add(1, ordering: .relaxed) }
        case .dropped:
            stats.queueFull.add(1, ordering: .relaxed)
            stats.messagesDropped.add(1, ordering: .relaxed)
            logDrop()
        case .closed:
            spooler.keep(decoder.decode(CollectionOfOne(message)), reason: "forced shutdown")
        }
    }

    private func logDrop() {
        let now = Timestamp.monotonicSeconds()
        let due = lastDropLog.withLock { last in
            guard now - last >= 1 else { return false }
            last = now
            return true
        }
        guard due else { return }
        logger.warning("message_dropped", metadata: [
            "policy": "drop_newest", "dropped_total": .stringConvertible(stats.messagesDropped.load(ordering: .relaxed)),
        ])
    }
}
