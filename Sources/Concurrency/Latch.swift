/// A one-way event for tasks: after `fire()`, every `wait()` returns, those already waiting
/// and those that come later. A waiting task that is cancelled returns at once.
///
/// It carries "a second signal came" to the shutdown race and "the subscription is in
/// place" to the start-up sequence without anyone polling a flag.
public final class Latch: Sendable {
    private struct State {
        var fired = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Locked(State())

    /// Starts unfired.
    public init() {}

    /// Whether `fire()` was called, for a check that must not suspend (shutdown's second-signal test).
    public var isFired: Bool { state.withLock { $0.fired } }

    /// Fires the latch; later calls do nothing. Safe from any thread.
    public func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.fired else { return [] }
            s.fired = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the latch has fired, or when the calling task is cancelled.
    public func wait() async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Cancellation is checked under the same lock `onCancel` takes, so a cancel
                // that lands before the waiter is registered is seen here.
                let now = state.withLock { s -> Bool in
                    if s.fired || Task.isCancelled { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
