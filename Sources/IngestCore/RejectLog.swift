import Concurrency
import IngestModel
import Logging

/// Logs rejected messages at warning level at most once per second per reason, with the
/// number of repeats it kept quiet about in `suppressed` (SPEC 4): a flood of bad payloads
/// must not become a flood of log lines.
public final class RejectLog: Sendable {
    private struct Slot {
        var lastLogged = -Double.infinity
        var suppressed = 0
    }

    private let slots = Locked<[RejectReason: Slot]>([:])
    private let logger: Logger
    private let interval: Double

    public init(logger: Logger, interval: Double = 1) {
        self.logger = logger
        self.interval = interval
    }

    /// Logs `message_rejected` for `reject`, at most once per `interval` per reason; the
    /// lines in between are counted and reported as `suppressed` on the next one (SPEC 4).
    public func record(_ reject: Reject, now: Double = Timestamp.monotonicSeconds()) {
        let suppressed: Int? = slots.withLock { slots in
            var slot = slots[reject.reason] ?? Slot()
            defer { slots[reject.reason] = slot }
            guard now - slot.lastLogged >= interval else {
                slot.suppressed += 1
                return nil
            }
            let count = slot.suppressed
            slot.lastLogged = now
            slot.suppressed = 0
            return count
        }
        guard let suppressed else { return }
        var metadata: Logger.Metadata = [
            "reason": .string(reject.reason.rawValue),
            "topic": .string(reject.topic),
            "suppressed": .stringConvertible(suppressed),
        ]
        if let detail = reject.detail { metadata["detail"] = .string(detail) }
        logger.warning("message_rejected", metadata: metadata)
    }
}
