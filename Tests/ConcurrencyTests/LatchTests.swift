import Concurrency
import Testing

@Suite("Latch and firstFinished")
struct LatchTests {
    @Test func everyWaiterReturnsOnFireAndLaterWaitersReturnAtOnce() async throws {
        let latch = Latch()
        async let a: Void = latch.wait()
        async let b: Void = latch.wait()
        #expect(!latch.isFired)
        latch.fire()
        _ = await (a, b)
        await latch.wait()
        #expect(latch.isFired)
    }

    @Test func aCancelledWaiterReturns() async {
        let latch = Latch()
        let waiter = Task { await latch.wait(); return Task.isCancelled }
        waiter.cancel()
        #expect(await waiter.value)
        #expect(!latch.isFired)
    }

    @Test func firstFinishedReturnsTheFirstResultWithoutWaitingForTheOthers() async {
        let start = ContinuousClock.now
        let winner = await firstFinished([
            { @Sendable in try? await Task.sleep(for: .seconds(30)); return "slow" },
            { @Sendable in "fast" },
        ])
        #expect(winner == "fast")
        #expect(ContinuousClock.now - start < .seconds(5), "the slow one was cancelled, not awaited")
    }
}
