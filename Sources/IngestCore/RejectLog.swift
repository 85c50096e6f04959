import Concurrency
import IngestModel
import Logging

/// Logs rejected messages at warning level at most once per second per reason, with the
/// number of repeats it kept quiet about in `suppressed` (SPEC 4): a flood of bad payloads
/// must not become a flood of log lines.
public final class RejectLog: Sendable {
    private let limit: RateLimit<RejectReason>
    private let logger: Logger

    /// Logs through `logger`, at most once per `interval` seconds per reason.
    public init(logger: Logger, interval: Double = 1) {
        self.logger = logger
        limit = RateLimit(interval: interval)
    }

    /// Logs `message_rejected` for `reject`, at most once per `interval` per reason; the
    /// lines in between are counted and reported as `suppressed` on the next one (SPEC 4).
    public func record(_ reject: Reject, now: Double = Timestamp.monotonicSeconds()) {
        guard let suppressed = limit.admit(reject.reason, now: now) else { return }
        var metadata: Logger.Metadata = [
            "reason": .string(reject.reason.rawValue),
            "topic": .string(reject.topic),
            "suppressed": .stringConvertible(suppressed),
        ]
        if let detail = reject.detail { metadata["detail"] = .string(detail) }
        logger.warning("message_rejected", metadata: metadata)
    }
}
