import IngestConfig
import IngestModel

/// The pipeline settings a SIGHUP reload may change while it runs (SPEC 3): read on each use
/// (the full-queue policy when the queue is full, the retry limit per failed batch), so a
/// reload reaches them without restarting anything.
public struct PipelineTuning: Sendable, Equatable {
    /// `queue.full_policy`: read by the inlet each time the message queue is full.
    public var fullPolicy: BoundedQueue<Message>.FullPolicy
    /// `batch.max_retries`: retries after a batch's first failed write before it is spooled.
    public var maxRetries: Int
    /// `batch.max_rows` and `batch.flush_interval_ms`, handed to the `Batcher` on reload.
    public var batchLimits: Batcher.Limits

    /// The values as they are; `init(_:)` takes them from a configuration.
    public init(fullPolicy: BoundedQueue<Message>.FullPolicy, maxRetries: Int, batchLimits: Batcher.Limits) {
        self.fullPolicy = fullPolicy
        self.maxRetries = maxRetries
        self.batchLimits = batchLimits
    }

    /// The configuration's values in the pipeline's types (the configuration module knows
    /// no pipeline type, so that it can be loaded and checked without building a pipeline).
    public init(_ configuration: IngestConfiguration) {
        let fullPolicy: BoundedQueue<Message>.FullPolicy = switch configuration.queue.fullPolicy {
        case .block: .block
        case .dropNewest: .dropNewest
        }
        let batch = configuration.batch
        self.init(fullPolicy: fullPolicy, maxRetries: batch.maxRetries,
                  batchLimits: .init(maxRows: batch.maxRows, flushInterval: Double(batch.flushIntervalMs) / 1000))
    }
}
