import Synchronization

/// Counts work that has left one stage and not yet reached the next (rows a writer lane
/// holds, a message the source thread is handing over), so the forced shutdown can wait for
/// it to land (bounded) instead of sleeping and hoping.
///
/// `add`/`remove` are one atomic each: they sit on the per-message path. The waiter
/// announces itself before it reads the count and the remover reads that announcement after
/// it decrements (both sequentially consistent), so one of them always sees the other and
/// no wake-up is lost.
public final class InFlight: Sendable {
    private let count = Atomic<Int>(0)
    private let waiters = Atomic<Int>(0)
    private let lock = ConditionLock()

    /// Starts at zero.
    public init() {}

    /// The count at this instant, for tests and logs; to wait for zero use `waitUntilZero`.
    public var value: Int { count.load(ordering: .sequentiallyConsistent) }

    /// Counts `n` units of work leaving their stage.
    public func add(_ n: Int = 1) {
        count.add(n, ordering: .sequentiallyConsistent)
    }

    /// Counts `n` of them arrived at the next stage; the last one wakes `waitUntilZero`.
    public func remove(_ n: Int = 1) {
        let left = count.subtract(n, ordering: .sequentiallyConsistent).newValue
        if left == 0 && waiters.load(ordering: .sequentiallyConsistent) > 0 {
            lock.withLock { lock.broadcast() }
        }
    }

    /// Blocks until the count is zero or `timeout` seconds pass. Returns whether it is zero.
    /// For threads the daemon owns.
    public func waitUntilZero(timeout: Double) -> Bool {
        lock.withLock {
            waiters.add(1, ordering: .sequentiallyConsistent)
            defer { waiters.subtract(1, ordering: .sequentiallyConsistent) }
            return lock.wait(timeout: timeout) { count.load(ordering: .sequentiallyConsistent) == 0 }
        }
    }
}
