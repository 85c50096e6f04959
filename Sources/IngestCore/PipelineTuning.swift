/// The pipeline settings a SIGHUP reload may change while it runs (SPEC 3): read on each use
/// (the full-queue policy when the queue is full, the retry limit per failed batch), so a
/// reload reaches them without restarting anything.
public struct PipelineTuning: Sendable, Equatable {
    public var fullPolicy: BoundedQueue<Message>.FullPolicy
    public var maxRetries: Int
    public var batchLimits: Batcher.Limits

    public init(fullPolicy: BoundedQueue<Message>.FullPolicy, maxRetries: Int, batchLimits: Batcher.Limits) {
        self.fullPolicy = fullPolicy
        self.maxRetries = maxRetries
        self.batchLimits = batchLimits
    }

    public init(_ configuration: IngestConfiguration) {
        self.init(fullPolicy: configuration.queue.fullPolicy, maxRetries: configuration.batch.maxRetries,
                  batchLimits: configuration.batch.limits)
    }
}
