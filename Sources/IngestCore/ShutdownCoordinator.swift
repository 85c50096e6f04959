import Concurrency
import IngestModel
import Logging

/// Runs the shutdown sequence of SPEC 7 once, logging each step, against the hard deadline
/// and the second-signal escape hatch, and decides the exit code (0 orderly, 3 forced).
///
/// The orderly sequence, a sleep until the deadline and the second signal race in one
/// place (`firstFinished`). If the orderly one loses, it is left where it is stuck (it can
/// only be stuck in a step that never returns) and its later lines are suppressed; the
/// forced path spools what is in memory on a thread the daemon owns. Either way
/// `shutdown_complete` is written here, once, and the code is returned, not exited with:
/// the process ends in `main`, after the other services have stopped.
///
/// Every step runs even if an earlier one failed (a failed MQTT disconnect must never skip
/// the flush); the failure is logged on the step's own event as `error`.
public final class ShutdownCoordinator: Sendable {
    private enum Ending: Sendable {
        case orderly
        case forced(reason: String)
    }

    private struct State {
        var started = false
        var forced = false
        var exitCode: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private let steps: any ShutdownSteps
    private let logger: Logger
    private let drainTimeout: @Sendable () -> Double
    private let hardTimeout: @Sendable () -> Double
    private let state = Locked(State())
    private let secondSignal = Latch()

    /// - Parameters:
    ///   - drainTimeout, hardTimeout: read when the sequence starts, so a reload of
    ///     `shutdown.*` applies to the next shutdown.
    public init(steps: any ShutdownSteps, logger: Logger, drainTimeout: @escaping @Sendable () -> Double,
                hardTimeout: @escaping @Sendable () -> Double) {
        self.steps = steps
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.hardTimeout = hardTimeout
    }

    /// Whether the sequence has started (`run()` was called); stays true after it ends.
    public var isRunning: Bool { state.withLock { $0.started } }

    /// The exit code, once the sequence has ended.
    public var exitCode: Int32? { state.withLock { $0.exitCode } }

    /// The forced path's own time (one sweep to the spool, bounded waits for carriers and
    /// cancels, under a second): it starts this long before `shutdown.timeout_s`, so the
    /// process is gone by the deadline even when the database answers nothing.
    static func forcedHeadStart(_ hard: Double) -> Double { min(1.0, hard / 4) }

    /// Forces the shutdown (a second SIGTERM/SIGINT): now if the sequence is running, at its
    /// start otherwise. Returns at once (it fires the latch `run()` races against); the
    /// forced path runs inside `run()`.
    public func force() {
        secondSignal.fire()
    }

    /// Runs the sequence and returns the exit code; a second caller waits for the same code.
    public func run() async -> Int32 {
        let first = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else {
            return await withCheckedContinuation { continuation in
                let done = state.withLock { s -> Int32? in
                    if s.exitCode == nil { s.waiters.append(continuation) }
                    return s.exitCode
                }
                if let done { continuation.resume(returning: done) }
            }
        }
        let startedAt = Timestamp.monotonicSeconds()
        let hard = hardTimeout()
        let signal = secondSignal
        let racers: [@Sendable () async -> Ending] = [
            { await self.orderly(hardTimeout: hard); return .orderly },
            {
                try? await Task.sleep(for: .seconds(hard - Self.forcedHeadStart(hard)))
                return Task.isCancelled ? .orderly : .forced(reason: "deadline")
            },
            {
                await signal.wait()
                return Task.isCancelled ? .orderly : .forced(reason: "second_signal")
            },
        ]
        // A second signal that came before the sequence started forces it outright.
        let ending = signal.isFired ? .forced(reason: "second_signal") : await firstFinished(racers)
        let code: Int32
        switch ending {
        case .orderly:
            code = 0
        case .forced(let reason):
            state.withLock { $0.forced = true }
            let steps = self.steps
            let spooled = (try? await DedicatedThread.run { steps.forceSpool() }) ?? 0
            logger.warning("shutdown_forced", metadata: [
                "reason": .string(reason), "spooled_rows": .stringConvertible(spooled),
            ])
            code = 3
        }
        let totals = steps.totals()
        logger.info("shutdown_complete", metadata: [
            "duration_ms": .stringConvertible(Int((Timestamp.monotonicSeconds() - startedAt) * 1000)),
            "records_written": .stringConvertible(totals.recordsWritten),
            "spooled_rows": .stringConvertible(totals.spooledRows),
            "exit_code": .stringConvertible(code),
        ])
        let waiters = state.withLock { s -> [CheckedContinuation<Int32, Never>] in
            s.exitCode = code
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.resume(returning: code) }
        return code
    }

    // MARK: - The orderly sequence

    private func orderly(hardTimeout hard: Double) async {
        let drain = drainTimeout()
        await steps.beginShutdown(drainTimeout: drain)
        log("shutdown_initiated", ["drain_timeout_s": .stringConvertible(drain),
                                   "timeout_s": .stringConvertible(hard)])

        await step("mqtt_disconnected") { try await self.steps.stopSource() }

        let initial = steps.queueDepth()
        let drained = await steps.waitForEmptyQueue(timeout: drain)
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
    }

    /// Logs a step's event unless the forced path has taken over (its lines come last).
    private func log(_ event: String, _ fields: Logger.Metadata = [:]) {
        state.withLock { s in
            guard !s.forced else { return }
            logger.info("\(event)", metadata: fields)
        }
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
}
