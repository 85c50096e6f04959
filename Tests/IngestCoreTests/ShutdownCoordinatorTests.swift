#if canImport(Glibc)
import Glibc
#endif
@testable import Concurrency
@testable import IngestCore
@testable import IngestModel
import Logging
import TestSupport
import Testing

/// Records calls, can throw from a step, can hang in the flush.
final class FakeSteps: ShutdownSteps {
    let calls = Locked<[String]>([])
    let depth = Locked(0)
    let failStop: Bool
    let flushDelay: Double

    init(failStop: Bool = false, flushDelay: Double = 0, depth: Int = 0) {
        self.failStop = failStop
        self.flushDelay = flushDelay
        self.depth.withLock { $0 = depth }
    }

    func record(_ s: String) { calls.withLock { $0.append(s) } }
    func beginShutdown(drainTimeout: Double) async { record("begin") }
    func stopSource() async throws {
        record("stopSource")
        if failStop { throw Failure("broker gone") }
    }
    func queueDepth() -> Int { depth.withLock { $0 } }
    func waitForEmptyQueue(timeout: Double) async -> Bool {
        if queueDepth() == 0 { return true }
        try? await Task.sleep(for: .seconds(timeout))
        return queueDepth() == 0
    }
    func spoolQueue() async throws -> Int {
        record("spoolQueue")
        return depth.withLock { d in defer { d = 0 }; return d }
    }
    func stopWorkers() async throws { record("stopWorkers") }
    let flushEnded = Locked(false)
    func flushWriter() async throws {
        record("flushWriter")
        // Not cancellable, like a writer thread being joined: the coordinator must not wait.
        if flushDelay > 0 { _ = try? await DedicatedThread.run { usleep(UInt32(self.flushDelay * 1_000_000)) } }
        flushEnded.withLock { $0 = true }
    }
    func closePool() async throws { record("closePool") }
    func forceSpool() -> Int { record("forceSpool"); return 42 }
    func totals() -> ShutdownTotals { ShutdownTotals(recordsWritten: 7, batchesFlushed: 2, spooledRows: 0) }
}

@Suite("ShutdownCoordinator with fake steps")
struct ShutdownCoordinatorTests {
    func coordinator(_ steps: FakeSteps, _ log: EventLog, drain: Double = 1, hard: Double = 5) -> ShutdownCoordinator {
        ShutdownCoordinator(steps: steps, logger: log.logger, drainTimeout: { drain }, hardTimeout: { hard })
    }

    @Test func stepsRunInSpecOrderAndEndWithShutdownComplete() async {
        let steps = FakeSteps(), log = EventLog()
        let code = await coordinator(steps, log).run()
        #expect(code == 0)
        #expect(log.names == ["shutdown_initiated", "mqtt_disconnected", "queue_drained", "workers_stopped",
                              "batch_writer_flushed", "db_pool_closed", "shutdown_complete"])
        #expect(steps.calls.withLock { $0 } == ["begin", "stopSource", "stopWorkers", "flushWriter", "closePool"])
    }

    @Test func aThrowingStepDoesNotSkipTheFlush() async {
        let steps = FakeSteps(failStop: true), log = EventLog()
        let code = await coordinator(steps, log).run()
        #expect(code == 0)
        #expect(steps.calls.withLock { $0 }.contains("flushWriter"))
        let disconnected = log.events.withLock { $0.first { $0.0 == "mqtt_disconnected" } }
        #expect(disconnected?.1["error"] != nil, "the failure is logged on the step's event")
    }

    @Test func drainTimeoutSpoolsTheRemainder() async {
        let steps = FakeSteps(depth: 3), log = EventLog()
        _ = await coordinator(steps, log, drain: 0.2).run()
        #expect(log.names.contains("queue_drain_timeout"))
        #expect(!log.names.contains("queue_drained"))
        let timeout = log.events.withLock { $0.first { $0.0 == "queue_drain_timeout" } }
        #expect(timeout?.1["remaining"]?.description == "3")
        #expect(steps.calls.withLock { $0 }.contains("spoolQueue"))
    }

    @Test func deadlineForcesExitThreeWithShutdownCompleteLast() async throws {
        let steps = FakeSteps(flushDelay: 8), log = EventLog()
        let c = coordinator(steps, log, drain: 0.1, hard: 0.5)
        let started = Timestamp.monotonicSeconds()
        let code = await c.run()
        #expect(code == 3)
        // The property, not a tight time: the run ends while the flush still hangs. (With
        // 2 cores and every suite in parallel, a timer may fire late; the flush takes 8 s.)
        #expect(!steps.flushEnded.withLock { $0 }, "the stuck flush is not waited for")
        #expect(Timestamp.monotonicSeconds() - started < 6)
        #expect(c.exitCode == 3)
        #expect(steps.calls.withLock { $0 }.contains("forceSpool"))
        let forced = log.events.withLock { $0.first { $0.0 == "shutdown_forced" } }
        #expect(forced?.1["reason"]?.description == "deadline")
        #expect(forced?.1["spooled_rows"]?.description == "42")
        let complete = log.events.withLock { $0.first { $0.0 == "shutdown_complete" } }
        #expect(complete?.1["exit_code"]?.description == "3")
        // The flush (8 s) outlives the race: wait for it, then check it stayed silent.
        try await waitUntil(12, "the abandoned flush to end") { steps.flushEnded.withLock { $0 } }
        #expect(log.names.suffix(2) == ["shutdown_forced", "shutdown_complete"])
        #expect(!log.names.contains("batch_writer_flushed"), "the orderly path stays silent after a force")
        #expect(log.names.filter { $0 == "shutdown_complete" }.count == 1)
    }

    @Test func secondSignalForcesOnce() async throws {
        let steps = FakeSteps(flushDelay: 5), log = EventLog()
        let c = coordinator(steps, log, hard: 60)
        let orderly = Task { await c.run() }
        try await waitUntil(5, "flush to start") { steps.calls.withLock { $0 }.contains("flushWriter") }
        c.force()
        c.force()
        #expect(await orderly.value == 3)
        #expect(await c.run() == 3, "a later caller gets the same code")
        #expect(log.names.filter { $0 == "shutdown_forced" }.count == 1)
        #expect(steps.calls.withLock { $0 }.filter { $0 == "forceSpool" }.count == 1)
        let forced = log.events.withLock { $0.first { $0.0 == "shutdown_forced" } }
        #expect(forced?.1["reason"]?.description == "second_signal")
        #expect(log.names.filter { $0 == "shutdown_complete" }.count == 1)
    }

    @Test func aSecondSignalBeforeTheSequenceStartsForcesAtOnce() async {
        let steps = FakeSteps(), log = EventLog()
        let c = coordinator(steps, log, hard: 60)
        c.force()
        #expect(await c.run() == 3)
        #expect(steps.calls.withLock { $0 }.contains("forceSpool"))
    }
}
