#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain pthread for blocking work (libpq, libmosquitto's stop, fsync): such calls must
/// never run on the Swift cooperative pool, which has only as many threads as cores.
public final class DedicatedThread: Sendable {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private let thread: pthread_t
    /// Whether the thread was joined or detached: a pthread may be joined once only, and
    /// the orderly and the forced shutdown paths can both reach a `join()`.
    private let released = Locked(false)

    /// Starts `body` on a new thread.
    public init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread = handle
    }

    /// Waits for the thread to finish. Blocking. A second caller waits for the first one's
    /// join to return (the lock is held across it), so both see the thread ended.
    public func join() {
        released.withLock { done in
            guard !done else { return }
            pthread_join(thread, nil)
            done = true
        }
    }

    /// Lets the thread clean up after itself when it ends (for threads never joined).
    public func detach() {
        released.withLock { done in
            guard !done else { return }
            pthread_detach(thread)
            done = true
        }
    }

    /// Runs blocking `body` on a fresh thread and suspends (not blocks) the calling task
    /// until it is done. For one-off work such as a migration or MQTT's stop.
    @discardableResult
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = DedicatedThread {
                continuation.resume(with: Result { try body() })
            }
            thread.detach()
        }
    }
}
