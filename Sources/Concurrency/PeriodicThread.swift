/// A thread the daemon owns that runs a blocking job every `interval` seconds until
/// `stop()`: the database probe and the spool replay loop, whose libpq calls must never run
/// on the cooperative pool.
public final class PeriodicThread: Sendable {
    private let ticker: Ticker
    private let thread: DedicatedThread

    /// Starts the thread; the first run is one interval from now. `body` gets a function
    /// that turns true once `stop()` was called, to cut a long run short between two steps.
    public init(every interval: Double, _ body: @escaping @Sendable (_ stopping: () -> Bool) -> Void) {
        let ticker = Ticker(interval: interval)
        self.ticker = ticker
        thread = DedicatedThread {
            while ticker.wait() { body { ticker.isStopped } }
        }
    }

    /// Wakes the thread, lets the current run finish and joins it. Blocking.
    public func stop() {
        ticker.stop()
        thread.join()
    }
}
