@testable import Concurrency
@testable import IngestCore
@testable import IngestModel
import TestSupport
import Testing

@Suite("BoundedQueue: back-pressure, drop policy, close")
struct BoundedQueueTests {
    @Test func blockPolicyReallyBlocksTheProducerUntilAConsumerTakes() async throws {
        let queue = BoundedQueue<Int>(capacity: 2)
        #expect(queue.put(1, policy: .block) == .enqueued(waited: false))
        #expect(queue.put(2, policy: .block) == .enqueued(waited: false))
        let result = Locked<BoundedQueue<Int>.PutResult?>(nil)
        let producer = DedicatedThread {
            let outcome = queue.put(3, policy: .block)
            result.withLock { $0 = outcome }
        }
        try await waitUntil(5, "the producer to park") { queue.blockedThreadCount == 1 }
        #expect(result.withLock { $0 } == nil, "the producer must still be waiting for room")
        #expect(await queue.take(max: 1) == [1])
        try await waitUntil(5, "producer to finish") { result.withLock { $0 } != nil }
        producer.detach()
        #expect(result.withLock { $0 } == .enqueued(waited: true))
        #expect(await queue.take(max: 10) == [2, 3])
    }

    @Test func dropNewestRefusesWhenFull() {
        let queue = BoundedQueue<Int>(capacity: 1)
        #expect(queue.put(1, policy: .dropNewest) == .enqueued(waited: false))
        #expect(queue.put(2, policy: .dropNewest) == .dropped)
        #expect(queue.count == 1)
    }

    @Test func closeWakesABlockedProducerAndIdleConsumers() async throws {
        let queue = BoundedQueue<Int>(capacity: 1)
        _ = queue.put(1, policy: .block)
        let result = Locked<BoundedQueue<Int>.PutResult?>(nil)
        let producer = DedicatedThread {
            let outcome = queue.put(2, policy: .block)
            result.withLock { $0 = outcome }
        }
        try await waitUntil(5, "the producer to park") { queue.blockedThreadCount == 1 }
        #expect(result.withLock { $0 } == nil)
        queue.close()
        try await waitUntil(5, "producer to wake") { result.withLock { $0 } != nil }
        producer.detach()
        #expect(result.withLock { $0 } == .closed)
        #expect(await queue.take(max: 5) == [1], "consumers drain what is left")
        #expect(await queue.take(max: 5) == [], "then get an empty batch")
    }

    @Test func asyncConsumerWaitingIsHandedTheNextItem() async throws {
        let queue = BoundedQueue<Int>(capacity: 10)
        async let taken = queue.take(max: 10)
        try await waitUntil(5, "the consumer to park") { queue.waitingTakerCount == 1 }
        _ = queue.put(7, policy: .block)
        #expect(await taken == [7])
    }

    @Test func asyncProducerWaitsForRoomAndBlockingConsumerTakes() async throws {
        let queue = BoundedQueue<Int>(capacity: 1)
        #expect(await queue.put(1))
        async let second = queue.put(2)
        try await waitUntil(5, "the second put to wait") { queue.count == 1 && queue.waitingPutterCount == 1 }
        let first = try await DedicatedThread.run { queue.takeBlocking(max: 1) }
        #expect(first == [1])
        #expect(await second)
        #expect(try await DedicatedThread.run { queue.takeBlocking(max: 5, timeout: 1) } == [2])
        #expect(try await DedicatedThread.run { queue.takeBlocking(max: 5, timeout: 0.05) } == [],
                "a timed take gives up")
    }

    @Test func manyProducersAndConsumersLoseNothing() async throws {
        let queue = BoundedQueue<Int>(capacity: 16)
        let producers = (0..<3).map { p in
            DedicatedThread { for i in 0..<2000 { _ = queue.put(p * 10_000 + i, policy: .block) } }
        }
        let collected = await withTaskGroup(of: [Int].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var mine: [Int] = []
                    while true {
                        let batch = await queue.take(max: 7)
                        if batch.isEmpty { return mine }
                        mine += batch
                    }
                }
            }
            group.addTask {
                _ = try? await DedicatedThread.run { for p in producers { p.join() } }
                queue.close()
                return []
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(collected.count == 6000)
        #expect(Set(collected).count == 6000)
    }
}

@Suite("BoundedQueue: batched hand-off to tasks")
struct BoundedQueueHandoffTests {
    @Test func aWaitingTaskIsWokenPerBatchAndNudgeDeliversTheTail() async throws {
        let queue = BoundedQueue<Int>(capacity: 100, handoffBatch: 4, handoffDelay: 60)
        _ = queue.put(0, policy: .block)
        _ = await queue.take(max: 10)  // the first hand-off sets the clock
        async let first = queue.take(max: 10)
        try await waitUntil(5, "the consumer to park") { queue.waitingTakerCount == 1 }
        for i in 1...3 { _ = queue.put(i, policy: .block) }
        #expect(queue.count == 3, "below the batch size and before the delay: still queued")
        #expect(queue.waitingTakerCount == 1)
        _ = queue.put(4, policy: .block)
        #expect(await first == [1, 2, 3, 4])
        async let second = queue.take(max: 10)
        try await waitUntil(5, "the consumer to park") { queue.waitingTakerCount == 1 }
        _ = queue.put(5, policy: .block)
        queue.nudge()
        #expect(await second == [5])
        async let third = queue.take(max: 10)
        try await waitUntil(5, "the consumer to park") { queue.waitingTakerCount == 1 }
        _ = queue.put(6, policy: .block)
        queue.close()
        #expect(await third == [6], "close hands held-back items to the waiting task")
    }
}

@Suite("BoundedQueue: small capacities and the drain wait")
struct BoundedQueueSmallCapacityTests {
    /// A burst through a queue smaller than the hand-off batch, consumed only through the
    /// tick's `nudge()`: before the fix, nudge removed items without waking the producer
    /// blocked for room, and the burst stalled for good.
    @Test(arguments: [1, 16, 63])
    func aBurstThroughAQueueBelowTheHandoffBatchNeverStalls(capacity: Int) async throws {
        let queue = BoundedQueue<Int>(capacity: capacity, handoffBatch: 64, handoffDelay: 60)
        let total = 2000
        _ = queue.put(-1, policy: .block)
        #expect(await queue.take(max: 1) == [-1], "the first hand-off sets the clock")
        let producer = DedicatedThread { for i in 0..<total { _ = queue.put(i, policy: .block) } }
        // The tick also bounds the test: past 30 s it closes the queue, which wakes everyone.
        let end = Timestamp.monotonicSeconds() + 30
        let ticker = Task {
            while !Task.isCancelled {
                queue.nudge()
                if Timestamp.monotonicSeconds() > end { queue.close() }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        var received: [Int] = []
        while received.count < total {
            let taken = await queue.take(max: 256)
            if taken.isEmpty { break }
            received += taken
        }
        ticker.cancel()
        await ticker.value
        queue.close()
        _ = try await DedicatedThread.run { producer.join() }
        #expect(received.count == total, "stalled after \(received.count) of \(total)")
        #expect(received == Array(0..<received.count), "in order")
    }

    @Test func waitUntilEmptyReturnsWhenTheLastItemIsTakenAndTimesOutOtherwise() async throws {
        let queue = BoundedQueue<Int>(capacity: 10)
        #expect(await queue.waitUntilEmpty(timeout: 5), "empty already")
        _ = queue.put(1, policy: .block)
        let start = Timestamp.monotonicSeconds()
        #expect(await !queue.waitUntilEmpty(timeout: 0.2), "times out while an item waits")
        #expect(Timestamp.monotonicSeconds() - start >= 0.2)
        async let drained = queue.waitUntilEmpty(timeout: 30)
        _ = queue.put(2, policy: .block)
        #expect(try await DedicatedThread.run { queue.takeBlocking(max: 1) } == [1])
        #expect(try await DedicatedThread.run { queue.takeBlocking(max: 1) } == [2])
        let before = Timestamp.monotonicSeconds()
        #expect(await drained)
        #expect(Timestamp.monotonicSeconds() - before < 15, "woken by the take, not by the 30 s time-out")
    }
}
