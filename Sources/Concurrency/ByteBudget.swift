/// A bound on the bytes held at once, for the payloads between the MQTT callback and the
/// commit (`queue.max_bytes`): the queue bounds messages, this bounds what they weigh, so a
/// burst of large payloads during a slow database pushes back on the broker instead of
/// growing the process past its memory limit.
///
/// A holder acquires its bytes before it keeps them and releases them once they are gone
/// (committed, spooled, dropped). Threads block (`acquire(_:dropWhenFull:)`), tasks suspend
/// (`acquire(_:)`); waiting tasks are admitted in arrival order (a thread, or a task that
/// finds room at once, may pass them). Whatever is asked for is admitted when nothing is held, so one item
/// larger than the whole budget still passes, alone. `close()` admits everyone from then on
/// (shutdown: nothing must wait for bytes that will never be released).
public final class ByteBudget: @unchecked Sendable {
    // @unchecked: every stored var below is read and written only with `lock` held.
    private let lock = ConditionLock()
    private var used = 0
    private var closed = false
    private var blockedThreads = 0
    private var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []
    /// The bound, in bytes.
    public let limit: Int

    /// What one blocking `acquire` came to.
    public enum Outcome: Sendable, Equatable {
        /// Admitted; `waited` tells whether it had to wait for bytes to be released first.
        case admitted(waited: Bool)
        /// Not admitted (`dropWhenFull` and no room): the caller drops the item and counts it.
        case refused
    }

    /// A budget of `limit` bytes (at least 1).
    public init(limit: Int) {
        precondition(limit >= 1)
        self.limit = limit
    }

    /// Bytes held now.
    public var held: Int { lock.withLock { used } }
    /// Threads and tasks waiting for room right now (tests wait for a waiter to be parked).
    public var waiting: Int { lock.withLock { blockedThreads + waiters.count } }

    /// Blocking acquire for threads the daemon owns (never from a Swift task): waits for
    /// room, or with `dropWhenFull` refuses at once.
    /// `dropWhenFull` is evaluated only when there is no room.
    public func acquire(_ bytes: Int, dropWhenFull: @autoclosure () -> Bool) -> Outcome {
        lock.lock()
        defer { lock.unlock() }
        var waited = false
        while !fits(bytes) {
            if dropWhenFull() { return .refused }
            waited = true
            blockedThreads += 1
            lock.wait()
            blockedThreads -= 1
        }
        used += bytes
        return .admitted(waited: waited)
    }

    /// Suspending acquire for tasks (journal replay): waits for room. Not cancellable: it ends
    /// on a `release` or on `close()`, which every shutdown path calls.
    public func acquire(_ bytes: Int) async {
        lock.lock()
        if fits(bytes) {
            used += bytes
            lock.unlock()
            return
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters.append((bytes, continuation))
            lock.unlock()
        }
    }

    /// Gives bytes back; wakes the blocked threads and the waiting tasks that now fit.
    public func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        lock.lock()
        used = max(0, used - bytes)
        let admitted = admitWaitersLocked()
        if blockedThreads > 0 { lock.broadcast() }  // counted under the lock before each wait
        lock.unlock()
        for continuation in admitted { continuation.resume() }
    }

    /// Admits every acquire from now on, those waiting included (shutdown).
    public func close() {
        lock.lock()
        closed = true
        let admitted = waiters.map(\.continuation)
        waiters.removeAll()
        lock.broadcast()
        lock.unlock()
        for continuation in admitted { continuation.resume() }
    }

    private func fits(_ bytes: Int) -> Bool { closed || used == 0 || used + bytes <= limit }

    /// The waiting tasks that fit now, in arrival order, their bytes counted.
    private func admitWaitersLocked() -> [CheckedContinuation<Void, Never>] {
        var admitted: [CheckedContinuation<Void, Never>] = []
        while let first = waiters.first, fits(first.bytes) {
            used += first.bytes
            admitted.append(first.continuation)
            waiters.removeFirst()
        }
        return admitted
    }
}
