#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with one condition variable, for the two places where a thread the daemon
/// owns must sleep until another side makes progress (libmosquitto's thread waiting for queue
/// room, a writer thread waiting for a batch).
///
/// Why not `Synchronization.Mutex`: it cannot wait on a condition; and Foundation's
/// `NSCondition` would pull Foundation into the core for twenty lines of pthread calls.
public final class ConditionLock: @unchecked Sendable {
    // @unchecked: the pointers are allocated once in init, freed in deinit, and only used
    // through pthread calls, which are thread-safe by contract.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// On Linux timed waits use CLOCK_MONOTONIC, so a stepped wall clock cannot stretch or cut them.
    public init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Takes the mutex by hand, for hot paths with several exits (`BoundedQueue.put`); every exit
    /// must call `unlock()`. Elsewhere use `withLock`.
    public func lock() { pthread_mutex_lock(mutex) }
    /// Releases what `lock()` took, on the same thread.
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the lock held.
    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits for `broadcast()` (or a spurious wake-up: callers re-check their predicate).
    /// Must be called with the lock held.
    public func wait() { pthread_cond_wait(cond, mutex) }

    /// Like `wait()`, giving up after `seconds`. Returns false on time-out.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        var now = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_MONOTONIC, &now)
        #else
        clock_gettime(CLOCK_REALTIME, &now)
        #endif
        let total = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + max(0, seconds)
        var deadline = timespec()
        deadline.tv_sec = Int(total)
        deadline.tv_nsec = Int((total - Double(Int(total))) * 1e9)
        return pthread_cond_timedwait(cond, mutex, &deadline) == 0
    }

    /// Waits (lock held) until `done()` holds or `timeout` seconds pass, re-checking after
    /// every wake-up so spurious ones are harmless. Returns whether `done()` holds.
    public func wait(timeout: Double, until done: () -> Bool) -> Bool {
        let end = Self.monotonicSeconds() + timeout
        while !done() {
            let left = end - Self.monotonicSeconds()
            if left <= 0 { return false }
            wait(seconds: left)
        }
        return true
    }

    /// Wakes every waiter; call it with the lock held so no waiter misses it between its
    /// check and its wait.
    public func broadcast() { pthread_cond_broadcast(cond) }

    /// CLOCK_MONOTONIC in seconds: a deadline that a stepped wall clock cannot move.
    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
