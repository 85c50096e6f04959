@testable import Concurrency
@testable import IngestModel
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
        let start = Timestamp.monotonicSeconds()
        let winner = await firstFinished([
            { @Sendable in try? await Task.sleep(for: .seconds(30)); return "slow" },
            { @Sendable in "fast" },
        ])
        #expect(winner == "fast")
        #expect(Timestamp.monotonicSeconds() - start < 5, "the slow one was cancelled, not awaited")
    }
}
