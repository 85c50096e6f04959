import DequeModule

/// The bounded FIFO between two stages that live in different worlds: a thread the daemon
/// owns on one side (libmosquitto's callback, a libpq writer thread), Swift tasks on the other.
///
/// Threads block (`put(_:policy:)`, `takeBlocking(max:)`); tasks suspend (`put(_:)`,
/// `take(max:)`), so no task ever parks a cooperative-pool thread. Takers get items in
/// batches to keep the per-message cost of the hand-off low. `close()` wakes everyone:
/// producers get `.closed`, consumers drain what is left and then get an empty batch.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every stored var below is read and written only with `lock` held.
    private let lock = ConditionLock()
    private var items = Deque<Element>()
    private var closed = false
    private var asyncTakers = Deque<(max: Int, continuation: CheckedContinuation<[Element], Never>)>()
    private var asyncPutters: [CheckedContinuation<Void, Never>] = []
    private var blockedThreads = 0
    private var lastHandoff = 0.0
    public let capacity: Int
    /// A waiting task is woken once this many items are there, or `handoffDelay` after the
    /// previous hand-off, or by `nudge()`: waking a task per message costs more than the
    /// decode itself, so under load the workers get items in batches.
    public let handoffBatch: Int
    public let handoffDelay: Double

    public enum FullPolicy: String, Sendable, CaseIterable {
        /// Wait for room: back-pressure reaches the broker.
        case block
        /// Refuse the new item at once; the caller counts it.
        case dropNewest = "drop_newest"
    }

    public enum PutResult: Sendable, Equatable {
        /// Enqueued; `waited` tells whether the queue was full first (counted as queue_full).
        case enqueued(waited: Bool)
        case dropped
        case closed
    }

    public init(capacity: Int, handoffBatch: Int = 1, handoffDelay: Double = 0) {
        precondition(capacity >= 1 && handoffBatch >= 1)
        self.capacity = capacity
        self.handoffBatch = handoffBatch
        self.handoffDelay = handoffDelay
    }

    /// Hands whatever is waiting to an idle task (called by a short periodic tick, so the
    /// tail of a burst smaller than `handoffBatch` never waits longer than one tick).
    public func nudge() {
        lock.lock()
        guard !items.isEmpty, let taker = asyncTakers.popFirst() else {
            lock.unlock()
            return
        }
        let batch = removeLocked(max: taker.max)
        lastHandoff = Timestamp.monotonicSeconds()
        lock.unlock()
        taker.continuation.resume(returning: batch)
    }

    /// Items waiting.
    public var count: Int { lock.withLock { items.count } }
    public var isClosed: Bool { lock.withLock { closed } }

    /// Blocking put for threads the daemon owns. Never call it from a Swift task.
    /// `policy` is evaluated only when the queue is full.
    public func put(_ item: Element, policy: @autoclosure () -> FullPolicy) -> PutResult {
        lock.lock()
        var waited = false
        while !closed && items.count >= capacity {
            if policy() == .dropNewest {
                lock.unlock()
                return .dropped
            }
            waited = true
            blockedThreads += 1
            lock.wait()
            blockedThreads -= 1
        }
        if closed {
            lock.unlock()
            return .closed
        }
        let wake = appendLocked(item)
        lock.unlock()
        wake?()
        return .enqueued(waited: waited)
    }

    /// Suspending put for tasks: waits for room. Returns false if the queue was closed.
    public func put(_ item: Element) async -> Bool {
        while true {
            lock.lock()
            if closed {
                lock.unlock()
                return false
            }
            if items.count < capacity {
                let wake = appendLocked(item)
                lock.unlock()
                wake?()
                return true
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                asyncPutters.append(continuation)
                lock.unlock()
            }
        }
    }

    /// Suspends until at least one item is there and returns up to `max` of them, oldest
    /// first; returns an empty array once the queue is closed and empty.
    public func take(max: Int) async -> [Element] {
        lock.lock()
        if !items.isEmpty || closed {
            let batch = removeLocked(max: max)
            lastHandoff = Timestamp.monotonicSeconds()
            let wake = roomLocked()
            lock.unlock()
            wake()
            return batch
        }
        return await withCheckedContinuation { continuation in
            asyncTakers.append((max, continuation))
            lock.unlock()
        }
    }

    /// Blocking take for threads the daemon owns: up to `max` items, or empty once closed and
    /// empty, or empty after `timeout` seconds when one is given.
    public func takeBlocking(max: Int, timeout: Double? = nil) -> [Element] {
        lock.lock()
        let deadline = timeout.map { Timestamp.monotonicSeconds() + $0 }
        while items.isEmpty && !closed {
            blockedThreads += 1
            if let deadline {
                let left = deadline - Timestamp.monotonicSeconds()
                if left <= 0 { blockedThreads -= 1; break }
                lock.wait(seconds: left)
            } else {
                lock.wait()
            }
            blockedThreads -= 1
        }
        let batch = removeLocked(max: max)
        let wake = roomLocked()
        lock.unlock()
        wake()
        return batch
    }

    /// Removes everything at once (forced shutdown: what is left goes to the spool).
    public func removeAll() -> [Element] {
        lock.lock()
        let all = Array(items)
        items.removeAll()
        let wake = roomLocked()
        lock.unlock()
        wake()
        return all
    }

    /// No more puts; wakes blocked producers (`.closed`) and idle consumers (empty batch).
    public func close() {
        lock.lock()
        closed = true
        // A waiting task may still be owed items held back for batching: give them out.
        let handed = asyncTakers.map { ($0.continuation, removeLocked(max: $0.max)) }
        asyncTakers.removeAll()
        let putters = asyncPutters
        asyncPutters.removeAll()
        lock.broadcast()
        lock.unlock()
        for (continuation, batch) in handed { continuation.resume(returning: batch) }
        for putter in putters { putter.resume() }
    }

    // MARK: - with the lock held

    /// Appends and hands work to a waiting consumer; returns what to resume after unlocking.
    private func appendLocked(_ item: Element) -> (() -> Void)? {
        items.append(item)
        if !asyncTakers.isEmpty, handoffDue() {
            let taker = asyncTakers.removeFirst()
            let batch = removeLocked(max: taker.max)
            return { taker.continuation.resume(returning: batch) }
        }
        if blockedThreads > 0 { lock.broadcast() }
        return nil
    }

    private func handoffDue() -> Bool {
        if items.count >= handoffBatch || closed { return true }
        let now = Timestamp.monotonicSeconds()
        guard now - lastHandoff >= handoffDelay else { return false }
        lastHandoff = now
        return true
    }

    private func removeLocked(max: Int) -> [Element] {
        let n = Swift.min(max, items.count)
        guard n > 0 else { return [] }
        let batch = Array(items.prefix(n))
        items.removeFirst(n)
        return batch
    }

    /// Room was made: wake producers waiting for it.
    private func roomLocked() -> () -> Void {
        if blockedThreads > 0 { lock.broadcast() }
        guard !asyncPutters.isEmpty else { return {} }
        let putters = asyncPutters
        asyncPutters.removeAll()
        return { for p in putters { p.resume() } }
    }
}
