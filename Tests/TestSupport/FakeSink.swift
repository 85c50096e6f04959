import Concurrency
import IngestModel

/// A sink that stores, fails, refuses negative values, or hangs until cancelled. A cancel
/// reaches only an attempt already hanging, as PQcancel reaches only a running statement.
public final class FakeSink: BatchSink {
    public enum Behaviour { case accept, fail, hangUntilCancelled }
    public struct State {
        public var behaviour: Behaviour
        public var readings: [Reading] = []
        public var texts: [TextReading] = []
        public var rejects: [Reject] = []
        /// Sparkplug metric definitions received (`Batch.definitions`).
        public var definitions = 0
        public var entries: [UInt64] = []
        public var attempts = 0
        public var hanging: Set<Int> = []
        public var cancelled: Set<Int> = []
        public var cancels = 0
        public var closed = false
        /// What `unavailable` says (the circuit breaker's input).
        public var down: String?
    }

    public let laneCount: Int
    public let state: Locked<State>
    /// Where a hung lane sleeps until `cancel(lane:)` wakes it.
    private let wake = ConditionLock()

    public init(lanes: Int = 2, _ behaviour: Behaviour = .accept) {
        laneCount = lanes
        state = Locked(State(behaviour: behaviour))
    }

    public var stored: Int { state.withLock { $0.readings.count } }

    public var unavailable: String? { state.withLock { $0.down } }

    public func write(_ batch: Batch, lane: Int) -> SinkOutcome {
        let behaviour = state.withLock { s in
            s.attempts += 1
            return s.behaviour
        }
        switch behaviour {
        case .accept:
            let good = batch.readings.filter { $0.value >= 0 }
            let refused = batch.readings.filter { $0.value < 0 }.map { Reject($0.source, reason: .refusedByDB, detail: "negative") }
            state.withLock { s in
                s.readings += good
                s.texts += batch.texts
                s.rejects += batch.rejects + refused
                s.definitions += batch.definitions.count
                s.entries += batch.entries
            }
            return SinkOutcome(written: good.count, writtenText: batch.texts.count, refused: refused)
        case .fail:
            return SinkOutcome(written: 0, unwritten: batch, failure: "database on fire")
        case .hangUntilCancelled:
            wake.withLock {
                state.withLock { _ = $0.hanging.insert(lane) }
                _ = wake.wait(timeout: 60) { state.withLock { $0.cancelled.contains(lane) } }
                state.withLock { s in
                    s.hanging.remove(lane)
                    s.cancelled.remove(lane)
                }
            }
            return SinkOutcome(written: 0, unwritten: batch, failure: "canceling statement due to user request")
        }
    }

    public func cancel(lane: Int) {
        wake.withLock {
            state.withLock { s in
                s.cancels += 1
                if s.hanging.contains(lane) { s.cancelled.insert(lane) }
            }
            wake.broadcast()
        }
    }

    public func close() { state.withLock { $0.closed = true } }
}
