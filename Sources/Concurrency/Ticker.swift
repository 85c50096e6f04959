/// Paces a loop on a thread the daemon owns (the spool replay, the database probe): `wait()`
/// sleeps one interval and says whether to go on; `stop()` wakes it at once to say no.
public final class Ticker: Sendable {
    private let interval: Double
    private let lock = ConditionLock()
    // Read and written only with `lock` held.
    private nonisolated(unsafe) var stopped = false

    /// `interval`: seconds each `wait()` sleeps.
    public init(interval: Double) {
        self.interval = interval
    }

    /// Sleeps one interval. False once `stop()` was called (then returns at once).
    public func wait() -> Bool {
        lock.withLock { !lock.wait(timeout: interval) { stopped } }
    }

    /// Whether `stop()` was called, so a long loop body can give up between steps (`PeriodicThread`).
    public var isStopped: Bool { lock.withLock { stopped } }

    /// Ends the ticking: the waiter wakes at once and `wait()` returns false from then on.
    public func stop() {
        lock.withLock { stopped = true }
        lock.broadcast()
    }
}
