import Concurrency
import IngestModel
import Logging
import Synchronization

/// Replays the spool every 30 s while the daemon runs (SPEC 8), on a thread of its own, so
/// spooled rows find their way in once the database is back.
public final class SpoolReplayLoop: BackgroundWork {
    private let replayer: SpoolReplayer
    private let stats: IngestStats
    private let interval: Double
    private let thread = Locked<PeriodicThread?>(nil)

    /// A loop over `replayer`, every `interval` seconds (30 in the daemon).
    public init(replayer: SpoolReplayer, stats: IngestStats, interval: Double = 30) {
        self.replayer = replayer
        self.stats = stats
        self.interval = interval
    }

    /// Starts the replay thread; the first pass is one interval from now and passes skip an empty spool.
    public func start() {
        let (replayer, stats) = (replayer, stats)
        thread.withLock {
            $0 = PeriodicThread(every: interval) { stopping in
                guard !replayer.spool.files().isEmpty else { return }
                replayer.pass(stats: stats, shouldStop: stopping)
            }
        }
    }

    /// Stops between two files and joins the thread. Blocking.
    public func stop() {
        thread.withLock { $0 }?.stop()
    }
}
