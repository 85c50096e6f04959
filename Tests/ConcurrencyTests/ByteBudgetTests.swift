import Concurrency
import Testing

@Suite("ByteBudget: queue.max_bytes")
struct ByteBudgetTests {
    /// Polls `condition` every 10 ms for at most 10 s (this target has no TestSupport).
    func eventually(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<1_000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test(.timeLimit(.minutes(1))) func aThreadWaitsForRoomAndDropNewestRefusesAtOnce() async throws {
        let budget = ByteBudget(limit: 100)
        #expect(budget.acquire(60, dropWhenFull: false) == .admitted(waited: false))
        #expect(budget.acquire(50, dropWhenFull: true) == .refused, "60 + 50 is over 100")
        #expect(budget.held == 60)
        let waiter = Task {
            try await DedicatedThread.run { budget.acquire(50, dropWhenFull: false) }  // never park a pool thread
        }
        try await eventually("the thread to wait for room") { budget.waiting == 1 }
        #expect(budget.held == 60, "still waiting, nothing taken")
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

    /// Waiting tasks go in arrival order: a small request behind a large one waits for it,
    /// even when it alone would fit.
    @Test(.timeLimit(.minutes(1))) func waitingTasksAreAdmittedInArrivalOrder() async throws {
        let budget = ByteBudget(limit: 100)
        await budget.acquire(100)
        let first = Task { await budget.acquire(70) }
        try await eventually("the first to wait") { budget.waiting == 1 }
        let second = Task { await budget.acquire(30) }
        try await eventually("the second to wait") { budget.waiting == 2 }
        budget.release(30)  // room for the second alone: it must not pass the first
        #expect(budget.waiting == 2 && budget.held == 70)
        budget.release(70)
        await first.value  // both admitted, in order: the check that matters is the one above
        await second.value
        #expect(budget.held == 100 && budget.waiting == 0)
    }

    @Test(.timeLimit(.minutes(1))) func closeAdmitsEveryoneWaitingAndLater() async throws {
        let budget = ByteBudget(limit: 10)
        await budget.acquire(10)
        let task = Task { await budget.acquire(10) }
        let thread = Task { try await DedicatedThread.run { budget.acquire(10, dropWhenFull: false) } }
        try await eventually("a task and a thread waiting") { budget.waiting == 2 }
        budget.close()
        await task.value
        #expect(try await thread.value == .admitted(waited: true), "the blocked thread is woken")
        #expect(budget.acquire(1_000, dropWhenFull: true) == .admitted(waited: false))
    }
}
