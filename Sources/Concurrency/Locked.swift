#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex: the lock every module of the daemon uses.
///
/// Why not `Synchronization.Mutex`: on Linux a contended `Mutex` waits in the kernel
/// (`FUTEX_LOCK_PI`) and is handed over there, where the thread sanitizer cannot see it, so
/// TSan reports races between two critical sections of one lock (reproduced with four
/// threads appending under one `Mutex`). pthread locks are intercepted by TSan, so the
/// sanitizer run checks the locking the shipped binary really does. Uncontended, both cost
/// one atomic instruction to take and one to release.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only read or written inside `withLock`, with `mutex` held; the
    // mutex is allocated in init, freed in deinit, and used only through pthread calls.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    /// From here on `value` is reachable only through `withLock`.
    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` on the value with the lock held; every other caller waits until it returns.
    @inline(__always)
    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
