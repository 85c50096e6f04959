import Logging
import Synchronization

/// Runs the shutdown sequence of SPEC 7 exactly once, logging each step, and enforces the
/// hard deadline and the second-signal escape hatch.
///
/// Every step runs even if an earlier one failed (a failed MQTT disconnect must never skip
/// the flush); the failure is logged on the step's own event as `error`. The forced path
/// is synchronous and runs on whichever thread triggers it (the deadline thread or the
/// signal task): it spools what is in memory and terminates with exit code 3, whatever the
/// orderly sequence is doing at that moment.
public actor ShutdownCoordinator {
    private enum Phase { case idle, running, completed }

    private let steps: any ShutdownSteps
    private let logger: Logger
    private let drainTimeout: @Sendable () -> Double
    private let hardTimeout: @Sendable () -> Double
    private let terminate: @Sendable (Int32) -> Void
    private var phase = Phase.idle
    private var startedAt = 0.0
    /// Claimed by whichever path writes `shutdown_complete` first: the orderly end or force.
    private let finished = Mutex(false)
    private let forcedStart = Mutex<Double?>(nil)
    private let forcedDone = Latch()
    /// Paces the deadline thread; stopped when the orderly sequence finishes first.
    private var deadline: Ticker?

    /// - Parameters:
    ///   - drainTimeout, hardTimeout: read when the sequence starts, so a reload of
    ///     `shutdown.*` applies to the next shutdown.
    ///   - terminate: ends the process with the code (tests pass a recorder).
    public init(steps: any ShutdownSteps, logger: Logger, drainTimeout: @escaping @Sendable () -> Double,
                hardTimeout: @escaping @Sendable () -> Double, terminate: @escaping @Sendable (Int32) -> Void) {
        self.steps = steps
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.hardTimeout = hardTimeout
        self.terminate = terminate
    }

    public var isRunning: Bool { phase != .idle }

    /// The orderly sequence. Returns 0, or nil if the forced path finished first.
    public func run() async -> Int32? {
        guard phase == .idle else { return nil }
        phase = .running
        startedAt = Timestamp.monotonicSeconds()
        let hard = hardTimeout()
        startDeadline(after: hard)

        await steps.beginShutdown()
        log("shutdown_initiated", ["drain_timeout_s": .stringConvertible(drainTimeout()),
                                   "timeout_s": .stringConvertible(hard)])

        await step("mqtt_disconnected") { try await self.steps.stopSource() }

        let initial = steps.queueDepth()
        let drained = await steps.waitForEmptyQueue(timeout: drainTimeout())
        let remaining = drained ? 0 : steps.queueDepth()
        if remaining == 0 {
            log("queue_drained", ["drained": .stringConvertible(initial)])
        } else {
            var fields: Logger.Metadata = ["remaining": .stringConvertible(remaining)]
            do {
                fields["spooled_messages"] = .stringConvertible(try await steps.spoolQueue())
            } catch {
                fields["error"] = .string("\(error)")
            }
            log("queue_drain_timeout", fields)
        }

        await step("workers_stopped") { try await self.steps.stopWorkers() }
        await step("batch_writer_flushed", totals: true) { try await self.steps.flushWriter() }
        await step("db_pool_closed") { try await self.steps.closePool() }

        cancelDeadline()
        // Once the forced path has begun it owns the ending (spool, its own closing lines,
        // exit code 3): wait for it rather than return and let the process exit 0 under it.
        guard !isForced, claimFinish() else {
            await forcedDone.wait()
            return nil
        }
        phase = .completed
        let totals = steps.totals()
        logger.info("shutdown_complete", metadata: [
            "duration_ms": .stringConvertible(Int((Timestamp.monotonicSeconds() - startedAt) * 1000)),
            "records_written": .stringConvertible(totals.recordsWritten),
            "spooled_rows": .stringConvertible(totals.spooledRows),
            "exit_code": .stringConvertible(0),
        ])
        return 0
    }

    /// The forced path: spool what is in memory, log `shutdown_forced` and
    /// `shutdown_complete` with exit code 3, terminate. Safe from any thread; once.
    public nonisolated func force(reason: String) {
        let first = forcedStart.withLock { start -> Bool in
            guard start == nil else { return false }
            start = Timestamp.monotonicSeconds()
            return true
        }
        guard first else { return }
        defer { forcedDone.fire() }
        let spooled = steps.forceSpool()
        guard claimFinish() else { return }
        logger.warning("shutdown_forced", metadata: [
            "reason": .string(reason), "spooled_rows": .stringConvertible(spooled),
        ])
        let totals = steps.totals()
        let began = forcedStart.withLock { $0 } ?? Timestamp.monotonicSeconds()
        logger.info("shutdown_complete", metadata: [
            "duration_ms": .stringConvertible(Int((Timestamp.monotonicSeconds() - began) * 1000)),
            "records_written": .stringConvertible(totals.recordsWritten),
            "spooled_rows": .stringConvertible(totals.spooledRows),
            "exit_code": .stringConvertible(3),
        ])
        terminate(3)
    }

    // MARK: - Helpers

    private var isForced: Bool { forcedStart.withLock { $0 != nil } }

    private nonisolated func claimFinish() -> Bool {
        finished.withLock { done in
            defer { done = true }
            return !done
        }
    }

    private func log(_ event: String, _ fields: Logger.Metadata = [:]) {
        guard !isForced else { return }
        logger.info("\(event)", metadata: fields)
    }

    private func step(_ event: String, totals: Bool = false, _ body: @Sendable () async throws -> Void) async {
        var fields: Logger.Metadata = [:]
        do {
            try await body()
        } catch {
            fields["error"] = .string("\(error)")
        }
        if totals {
            let t = steps.totals()
            fields["records_written"] = .stringConvertible(t.recordsWritten)
            fields["batches_flushed"] = .stringConvertible(t.batchesFlushed)
            fields["spooled_rows"] = .stringConvertible(t.spooledRows)
        }
        log(event, fields)
    }

    private func startDeadline(after seconds: Double) {
        let ticker = Ticker(interval: seconds)
        deadline = ticker
        DedicatedThread { [self] in
            if ticker.wait() { force(reason: "deadline") }
        }.detach()
    }

    private func cancelDeadline() {
        deadline?.stop()
    }
}
