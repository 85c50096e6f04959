/// N decode tasks between the message queue and the batch queue.
///
/// Each worker takes messages in batches (one hand-off per up to `takeSize` messages, not per
/// message), decodes them, and appends the rows to the shared `Batcher`; when that seals a
/// batch the worker carries it to the writers' queue, waiting there if the writers are
/// behind — which, through the full message queue, is what pushes back on the broker.
public struct WorkerPool: Sendable {
    public let messages: BoundedQueue<Message>
    public let batches: BoundedQueue<Batch>
    public let batcher: Batcher
    public let decoder: BatchDecoder
    /// Takes a sealed batch that found the batch queue closed (a forced shutdown got there
    /// first), so it is kept rather than dropped. Called from a task: must not block.
    public let orphaned: @Sendable (Batch) async -> Void
    public var takeSize = 256

    public init(messages: BoundedQueue<Message>, batches: BoundedQueue<Batch>, batcher: Batcher,
                decoder: BatchDecoder, orphaned: @escaping @Sendable (Batch) async -> Void) {
        self.messages = messages
        self.batches = batches
        self.batcher = batcher
        self.decoder = decoder
        self.orphaned = orphaned
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
        var decoded = Batch()
        while true {
            let taken = await messages.take(max: takeSize)
            if taken.isEmpty { return }
            decoded.readings.removeAll(keepingCapacity: true)
            decoded.rejects.removeAll(keepingCapacity: true)
            decoder.decode(taken, into: &decoded)
            if let sealed = batcher.add(readings: decoded.readings, rejects: decoded.rejects),
               await !batches.put(sealed) {
                await orphaned(sealed)
            }
        }
    }
}
