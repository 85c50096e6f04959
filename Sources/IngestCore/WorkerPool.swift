/// N decode tasks between the message queue and the batch queue.
///
/// Each worker takes messages in batches (one hand-off per up to `takeSize` messages, not per
/// message), decodes them with its own `PayloadDecoder`, and appends the rows to the shared
/// `Batcher`; when that seals a batch the worker carries it to the writers' queue, waiting
/// there if the writers are behind — which, through the full message queue, is what pushes
/// back on the broker.
public struct WorkerPool: Sendable {
    public let messages: BoundedQueue<Message>
    public let batches: BoundedQueue<Batch>
    public let batcher: Batcher
    public let decoder: PayloadDecoder
    public let rejectLog: RejectLog
    public let stats: IngestStats
    public var takeSize = 256

    public init(messages: BoundedQueue<Message>, batches: BoundedQueue<Batch>, batcher: Batcher,
                decoder: PayloadDecoder, rejectLog: RejectLog, stats: IngestStats) {
        self.messages = messages
        self.batches = batches
        self.batcher = batcher
        self.decoder = decoder
        self.rejectLog = rejectLog
        self.stats = stats
    }

    /// Runs `count` workers until the message queue is closed and empty.
    public func run(count: Int) async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<count {
                group.addTask { await self.work() }
            }
        }
    }

    private func work() async {
        var readings: [Reading] = []
        var rejects: [Reject] = []
        while true {
            let taken = await messages.take(max: takeSize)
            if taken.isEmpty { return }
            readings.removeAll(keepingCapacity: true)
            rejects.removeAll(keepingCapacity: true)
            for message in taken {
                if let reject = decoder.decode(message, into: &readings) {
                    rejects.append(reject)
                    stats.rejected(reject.reason)
                    rejectLog.record(reject)
                }
            }
            if let sealed = batcher.add(readings: readings, rejects: rejects) {
                _ = await batches.put(sealed)
            }
        }
    }
}
