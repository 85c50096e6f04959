import Concurrency
import DequeModule
import IngestModel

/// The bounded FIFO between two stages that live in different worlds: a thread the daemon
/// owns on one side (libmosquitto's callback, a writer lane), Swift tasks on the other.
///
/// Threads block (`put(_:policy:)`, `takeBlocking(max:)`); tasks suspend (`put(_:)`,
/// `take(max:)`, `waitUntilEmpty(timeout:)`), so no task ever parks a cooperative-pool
/// thread. Takers get items in batches to keep the per-message cost of the hand-off low.
/// `close()` wakes everyone: producers get `.closed`, consumers drain what is left and then
/// get an empty batch.
///
/// Invariant: every path that removes items wakes the producers waiting for room (a missed
/// wake-up with a small capacity would leave libmosquitto's thread asleep for good) and,
/// when the queue is left empty, the tasks waiting for it to drain.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every stored var below is read and written only with `lock` held.
    private let lock = ConditionLock()
    private var items = Deque<Element>()
    private var closed = false
    private var asyncTakers = Deque<(max: Int, continuation: CheckedContinuation<Taken, Never>)>()
    /// Hand-outs to tasks so far (non-empty ones): the next one's number.
    private var handOuts: UInt64 = 0
    private var asyncPutters: [CheckedContinuation<Void, Never>] = []
    private var emptyWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiterID = 0
    private var blockedThreads = 0
    private var lastHandoff = 0.0
    /// Items the queue holds before `put` waits or drops (`queue.capacity` for messages).
    public let capacity: Int
    /// A waiting task is woken once this many items are there, or `handoffDelay` after the
    /// previous hand-off, or by `nudge()`: waking a task per message costs more than the
    /// decode itself, so under load the workers get items in batches.
    public let handoffBatch: Int
    /// Seconds since the last hand-off after which a waiting task is woken with fewer than `handoffBatch` items.
    public let handoffDelay: Double

    /// What `put` does when the queue is full (`queue.full_policy`, SPEC 3).
    public enum FullPolicy: String, Sendable, CaseIterable {
        /// Wait for room: back-pressure reaches the broker.
        case block
        /// Refuse the new item at once; the caller counts it.
        case dropNewest = "drop_newest"
    }

    /// What became of one `put`, so the caller can count drops and waits without a second lock.
    public enum PutResult: Sendable, Equatable {
        /// Enqueued; `waited` tells whether the queue was full first (counted as queue_full).
        case enqueued(waited: Bool)
        case dropped
        case closed
    }

    /// `handoffBatch` and `handoffDelay` let a waiting consumer sleep until that many items or
    /// that many seconds have gathered: one wake-up per chunk instead of one per message.
    public init(capacity: Int, handoffBatch: Int = 1, handoffDelay: Double = 0) {
        precondition(capacity >= 1 && handoffBatch >= 1)
        self.capacity = capacity
        self.handoffBatch = handoffBatch
        self.handoffDelay = handoffDelay
    }

    /// Items waiting.
    public var count: Int { lock.withLock { items.count } }
    /// Whether `close()` was called: puts fail, though items may still be waiting for takers.
    public var isClosed: Bool { lock.withLock { closed } }
    /// Threads blocked in `put` or `takeBlocking` right now (tests wait for a producer to
    /// be really parked before they check that it is woken).
    public var blockedThreadCount: Int { lock.withLock { blockedThreads } }
    /// Non-empty hand-outs to tasks so far: the number the next one gets.
    public var handedOut: UInt64 { lock.withLock { handOuts } }
    /// Tasks suspended in `take` right now.
    public var waitingTakerCount: Int { lock.withLock { asyncTakers.count } }
    /// Tasks suspended in `put` right now.
    public var waitingPutterCount: Int { lock.withLock { asyncPutters.count } }

    /// Hands whatever is waiting to an idle task (called by a short periodic tick, so the
    /// tail of a burst smaller than `handoffBatch` never waits longer than one tick).
    public func nudge() {
        lock.lock()
        guard !items.isEmpty, let taker = asyncTakers.popFirst() else {
            lock.unlock()
            return
        }
        let batch = handOutLocked(max: taker.max)
        lastHandoff = Timestamp.monotonicSeconds()
        let wake = removedLocked()
        lock.unlock()
        taker.continuation.resume(returning: batch)
        wake()
    }

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
        wake()
        return .enqueued(waited: waited)
    }

    /// Suspending put for tasks: waits for room. Returns false if the queue was closed (the
    /// caller still owns `item` and must keep it elsewhere).
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
                wake()
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
        await takeNumbered(max: max).items
    }

    /// Up to `max` items, as `take(max:)`, and the hand-out's number: tasks' non-empty
    /// hand-outs are numbered 0, 1, 2... in the order the items left the queue, so takers
    /// that run in parallel can still put something in queue order (`Turnstile`).
    public func takeNumbered(max: Int) async -> Taken {
        lock.lock()
        if !items.isEmpty || closed {
            let batch = handOutLocked(max: max)
            lastHandoff = Timestamp.monotonicSeconds()
            let wake = removedLocked()
            lock.unlock()
            wake()
            return batch
        }
        return await withCheckedContinuation { continuation in
            asyncTakers.append((max, continuation))
            lock.unlock()
        }
    }

    /// What a task's take gets: the items, and the hand-out's number (meaningless when empty).
    public struct Taken: Sendable {
        /// In queue order; empty only once the queue is closed and empty.
        public var items: [Element]
        /// The hand-out's place among all non-empty hand-outs to tasks.
        public var ticket: UInt64
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
        let wake = removedLocked()
        lock.unlock()
        wake()
        return batch
    }

    /// Removes everything at once (drain time-out, forced shutdown: it goes to the spool).
    public func removeAll() -> [Element] {
        lock.lock()
        // Not `Array(items)` on an empty deque: Deque builds its copy with
        // `ContiguousArray(unsafeUninitializedCapacity: 0)`, which stores a count of 0 into
        // the runtime's shared empty-array singleton — a benign race, but one the thread
        // sanitizer rightly reports against every other thread reading an empty array.
        let all = items.isEmpty ? [] : Array(items)
        items.removeAll()
        let wake = removedLocked()
        lock.unlock()
        wake()
        return all
    }

    /// Suspends until the queue is empty or `timeout` seconds have passed; returns whether
    /// it is empty. The drain step of the shutdown awaits this instead of polling.
    public func waitUntilEmpty(timeout: Double) async -> Bool {
        await firstFinished([
            { await self.untilEmpty(); return true },
            {
                try? await Task.sleep(for: .seconds(timeout))
                return self.count == 0
            },
        ])
    }

    /// No more puts; wakes blocked producers (`.closed`) and idle consumers (empty batch).
    public func close() {
        lock.lock()
        closed = true
        // A waiting task may still be owed items held back for batching: give them out.
        let handed = asyncTakers.map { ($0.continuation, handOutLocked(max: $0.max)) }
        asyncTakers.removeAll()
        let wake = removedLocked()
        lock.broadcast()
        lock.unlock()
        for (continuation, batch) in handed { continuation.resume(returning: batch) }
        wake()
    }

    // MARK: - with the lock held

    private func untilEmpty() async {
        let id = lock.withLock {
            nextWaiterID += 1
            return nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                if items.isEmpty || Task.isCancelled {
                    lock.unlock()
                    continuation.resume()
                    return
                }
                emptyWaiters[id] = continuation
                lock.unlock()
            }
        } onCancel: {
            lock.withLock { emptyWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Appends and hands work to a waiting consumer; returns what to resume after unlocking.
    private func appendLocked(_ item: Element) -> () -> Void {
        items.append(item)
        if !asyncTakers.isEmpty, handoffDue() {
            let taker = asyncTakers.removeFirst()
            let batch = handOutLocked(max: taker.max)
            let wake = removedLocked()
            return {
                taker.continuation.resume(returning: batch)
                wake()
            }
        }
        if blockedThreads > 0 { lock.broadcast() }
        return {}
    }

    private func handoffDue() -> Bool {
        if items.count >= handoffBatch || closed { return true }
        let now = Timestamp.monotonicSeconds()
        guard now - lastHandoff >= handoffDelay else { return false }
        lastHandoff = now
        return true
    }

    /// Removes up to `max` items for a task, numbering the hand-out if it is not empty.
    private func handOutLocked(max: Int) -> Taken {
        let items = removeLocked(max: max)
        guard !items.isEmpty else { return Taken(items: items, ticket: handOuts) }
        defer { handOuts += 1 }
        return Taken(items: items, ticket: handOuts)
    }

    private func removeLocked(max: Int) -> [Element] {
        let n = Swift.min(max, items.count)
        guard n > 0 else { return [] }
        let batch = Array(items.prefix(n))
        items.removeFirst(n)
        return batch
    }

    /// Items left (or the queue closed): wake the threads blocked for room, the tasks
    /// waiting to put, and, if it is now empty, the tasks waiting for that. Returns what to
    /// resume after unlocking.
    private func removedLocked() -> () -> Void {
        if blockedThreads > 0 { lock.broadcast() }
        let putters = asyncPutters
        asyncPutters.removeAll()
        var drained: [CheckedContinuation<Void, Never>] = []
        if items.isEmpty && !emptyWaiters.isEmpty {
            drained = Array(emptyWaiters.values)
            emptyWaiters.removeAll()
        }
        if putters.isEmpty && drained.isEmpty { return {} }
        return {
            for p in putters { p.resume() }
            for d in drained { d.resume() }
        }
    }
}
