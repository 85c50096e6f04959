import Concurrency
import Logging
import Synchronization

/// Unblocks writers stuck on a server that answers nothing. While the probe's own check goes
/// unanswered (a black-holed server: no error and no TCP timeout will ever come), every
/// second it aborts writes running longer than `stuckAfter`, so their lanes spool the
/// batches and the queue keeps moving instead of hanging in libpq (`db_writes_aborted`).
public final class StuckWriteWatchdog: BackgroundWork {
    /// How long a write may run while the probe's check goes unanswered before it is aborted.
    static let stuckAfter = 2.0

    private let probe: DatabaseProbe
    private let writer: BatchWriter
    private let logger: Logger
    private let thread = Locked<PeriodicThread?>(nil)

    /// Watches `writer`'s slots while `probe` gets no answer.
    public init(probe: DatabaseProbe, writer: BatchWriter, logger: Logger) {
        self.probe = probe
        self.writer = writer
        self.logger = logger
    }

    /// Checks once a second on a thread of its own; aborts writes only while the probe's check
    /// goes unanswered.
    public func start() {
        let (probe, writer, logger) = (probe, writer, logger)
        thread.withLock {
            $0 = PeriodicThread(every: 1) { _ in
                guard probe.unanswered else { return }
                let aborted = writer.abortAttempts(runningLongerThan: Self.stuckAfter)
                if aborted > 0 {
                    logger.warning("db_writes_aborted", metadata: [
                        "writes": .stringConvertible(aborted), "error": "the database answers nothing",
                    ])
                }
            }
        }
    }

    /// Joins the watchdog's thread after its current check. Blocking.
    public func stop() {
        thread.withLock { $0 }?.stop()
    }
}
