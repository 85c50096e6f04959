import Concurrency
import IngestModel
import Logging
import Synchronization

/// Keeps "did the database answer recently?" fresh for /ready (SPEC 9): every 5 s, unless a
/// batch committed within that window (which already proves it), a `SELECT 1` on its own
/// connection, on its own thread. /ready only reads the cached answer, so a dead database
/// never makes a probe request wait.
public final class DatabaseProbe: BackgroundWork {
    static let interval = 5.0

    /// The cached answer /ready reads.
    public struct State: Sendable {
        /// The last check answered, or a batch committed within the interval (5 s).
        public var reachable = false
        /// When that was known, microseconds since the Unix epoch; 0 before the first check.
        public var checkedAt: Int64 = 0
        /// Why the last check failed, for /ready; nil when it answered.
        public var error: String?
    }

    /// How long a check may go unanswered before the database counts as unreachable: a
    /// black-holed server (stopped, or a route that drops packets) leaves `SELECT 1` waiting
    /// on a socket its kernel still acknowledges, so the answer must be judged by its absence.
    static let answerWithin = 3.0

    private let url: String
    private let stats: IngestStats
    private let state = Locked(State())
    /// When the check now waiting for the server started (µs), nil between checks.
    private let pendingSince = Locked<Int64?>(nil)
    private let ticker = Ticker(interval: DatabaseProbe.interval)
    private let thread = Locked<DedicatedThread?>(nil)

    /// A probe of `url`; `stats.lastFlushAt` spares it a check while batches commit.
    public init(url: String, stats: IngestStats) {
        self.url = url
        self.stats = stats
    }

    /// The cached answer, turned unreachable once the check under way has waited over 3 s.
    /// Never waits for the database.
    public var current: State {
        let now = Timestamp.now()
        if let since = pendingSince.withLock({ $0 }), now - since > Int64(Self.answerWithin * 1e6) {
            let seconds = (now - since) / 1_000_000
            return State(reachable: false, checkedAt: now, error: "no answer from the database for \(seconds) s")
        }
        return state.withLock { $0 }
    }

    /// Why the database is known to be down: the last check failed, or the one under way
    /// has gone unanswered too long. Nil when it answered last, or was never checked.
    public var knownDown: String? {
        let state = current
        return state.checkedAt > 0 && !state.reachable ? (state.error ?? "unreachable") : nil
    }

    /// The check under way has gone unanswered too long: the server is black-holed rather
    /// than refusing (a refusal breaks the writers' connections by itself).
    var unanswered: Bool {
        guard let since = pendingSince.withLock({ $0 }) else { return false }
        return Timestamp.now() - since > Int64(Self.answerWithin * 1e6)
    }

    /// Marks the database as reachable (start-up migration just talked to it).
    public func markReachable() {
        state.withLock { $0 = State(reachable: true, checkedAt: Timestamp.now(), error: nil) }
    }

    /// Starts the check thread, which keeps a connection of its own; the first check is 5 s from now.
    public func start() {
        thread.withLock { $0 = DedicatedThread { self.loop() } }
    }

    /// Stops the loop and joins its thread. Blocking.
    public func stop() {
        ticker.stop()
        thread.withLock { $0 }?.join()
    }

    private func loop() {
        var connection: PostgresConnection?
        defer { connection?.close() }
        while ticker.wait() {
            let lastFlush = stats.lastFlushAt.load(ordering: .relaxed)
            let now = Timestamp.now()
            if now - lastFlush < Int64(Self.interval * 1e6) {
                state.withLock { $0 = State(reachable: true, checkedAt: lastFlush, error: nil) }
                continue
            }
            pendingSince.withLock { $0 = now }
            defer { pendingSince.withLock { $0 = nil } }
            do {
                if connection == nil || !(connection?.isOpen ?? false) {
                    connection?.close()
                    connection = try PostgresConnection(url: url, statementTimeoutMs: 2000)
                }
                _ = try connection?.scalar("SELECT 1")
                state.withLock { $0 = State(reachable: true, checkedAt: Timestamp.now(), error: nil) }
            } catch {
                connection?.close()
                connection = nil
                state.withLock { $0 = State(reachable: false, checkedAt: Timestamp.now(), error: error.description) }
            }
        }
    }
}
