import Concurrency
import Synchronization
import Testing

@Suite("ByteBudget: queue.max_bytes")
struct ByteBudgetTests {
    @Test func aThreadWaitsForRoomAndDropNewestRefusesAtOnce() async throws {
        let budget = ByteBudget(limit: 100)
        #expect(budget.acquire(60, dropWhenFull: false) == .admitted(waited: false))
        #expect(budget.acquire(50, dropWhenFull: true) == .refused, "60 + 50 is over 100")
        #expect(budget.held == 60)
        let admitted = Atomic<Bool>(false)
        let waiter = Task {
            try await DedicatedThread.run {  // a blocked acquire must not park a pool thread
                let outcome = budget.acquire(50, dropWhenFull: false)
                admitted.store(true, ordering: .releasing)
                return outcome
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let early = admitted.load(ordering: .acquiring)
        #expect(!early, "still waiting for room")
        budget.release(60)
        #expect(try await waiter.value == .admitted(waited: true))
        #expect(budget.held == 50)
    }

    @Test func oneItemLargerThanTheWholeBudgetPassesAlone() {
        let budget = ByteBudget(limit: 100)
        #expect(budget.acquire(1_000, dropWhenFull: true) == .admitted(waited: false))
        #expect(budget.acquire(1, dropWhenFull: true) == .refused)
        budget.release(1_000)
        #expect(budget.acquire(1, dropWhenFull: true) == .admitted(waited: false))
    }

    @Test(.timeLimit(.minutes(1))) func tasksAreAdmittedInOrderAsBytesComeBack() async throws {
        let budget = ByteBudget(limit: 100)
        await budget.acquire(100)
        let order = Locked<[Int]>([])
        let first = Task { await budget.acquire(70); order.withLock { $0.append(1) } }
        try await Task.sleep(for: .milliseconds(50))
        let second = Task { await budget.acquire(30); order.withLock { $0.append(2) } }
        try await Task.sleep(for: .milliseconds(50))
        #expect(order.withLock { $0 }.isEmpty)
        budget.release(100)
        await first.value
        await second.value
        #expect(order.withLock { $0 } == [1, 2])
        #expect(budget.held == 100)
    }

    @Test(.timeLimit(.minutes(1))) func closeAdmitsEveryoneWaitingAndLater() async throws {
        let budget = ByteBudget(limit: 10)
        await budget.acquire(10)
        let task = Task { await budget.acquire(10) }
        let thread = Task { try await DedicatedThread.run { budget.acquire(10, dropWhenFull: false) } }
        budget.close()
        await task.value
        #expect(try await thread.value != .refused, "a blocked thread goes on too")
        #expect(budget.acquire(1_000, dropWhenFull: true) == .admitted(waited: false))
    }
}
