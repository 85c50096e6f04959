import IngestModel
import Logging

/// PostgreSQL as the pipeline's sink: `database.pool_size` slots, each one libpq connection
/// used only by its writer lane's thread, COPYing batches in.
///
/// One call is one attempt, one transaction (the pipeline's `WriterLanes` retry and spool): a
/// lost connection is closed and reopened on the next attempt, and rows the table refuses are
/// isolated by bisection (`WriteJob`) and come back as `refused_by_db` rejects.
public final class BatchWriter: BatchSink {
    /// The `database.*` keys the writer needs; `journalID` names the journal whose entries
    /// each commit records as done.
    public struct Settings: Sendable {
        /// `database.url`: a libpq URI or key=value string; it carries the password, so never log it as is.
        public var url: String
        /// `database.table`, already checked to be a plain identifier.
        public var table: String
        /// `database.dedupe`: readings go in through a staging table and `ON CONFLICT DO NOTHING`.
        public var dedupe: Bool
        /// `database.pool_size`: slots, each one connection and one writer lane.
        public var poolSize: Int
        /// The crash journal whose entries each commit records done (nil: journal off).
        public var journalID: String?

        /// The `database.*` values as loaded; `journalID` only when the journal is on.
        public init(url: String, table: String, dedupe: Bool, poolSize: Int, journalID: String? = nil) {
            self.url = url
            self.table = table
            self.dedupe = dedupe
            self.poolSize = poolSize
            self.journalID = journalID
        }

        /// Where and how this writer's rows are copied.
        var target: CopyTarget { CopyTarget(table: table, dedupe: dedupe) }
    }

    /// Fixed for the writer's life: a reload does not reach it.
    public let settings: Settings
    let logger: Logger
    /// Told of each committed batch (rows, duration, its messages), for the metrics.
    let committed: @Sendable (BatchCommit) -> Void
    private let slots: [WriterSlot]
    /// Says when the server is known to be down (the lanes' circuit breaker); nil: never.
    private let probe: DatabaseProbe?

    /// `settings.poolSize` slots, connected lazily. `probe`, when given, opens the lanes'
    /// circuit breaker while it knows the server down.
    public init(settings: Settings, probe: DatabaseProbe? = nil, logger: Logger,
                committed: @escaping @Sendable (BatchCommit) -> Void = { _ in }) {
        self.settings = settings
        self.probe = probe
        self.logger = logger
        self.committed = committed
        slots = (0..<settings.poolSize).map { WriterSlot(index: $0) }
    }

    /// `database.pool_size`: one lane per slot, each on its own connection.
    public var laneCount: Int { slots.count }

    /// One transaction on the lane's connection, reconnecting first if it is closed; a lost
    /// connection is dropped so the next attempt opens a new one. Refused rows are bisected out.
    public func write(_ batch: Batch, lane: Int) -> SinkOutcome {
        let slot = slots[lane]
        var job = WriteJob(batch: batch, settings: settings)
        return slot.attempting {
            do throws(PostgresError) {
                let connection = try slot.connection(settings: settings, logger: logger)
                return try job.run(on: connection, committed: committed, logger: logger)
            } catch {
                if error.connectionLost { slot.connectionLost(error, logger: logger) }
                return SinkOutcome(written: 0, unwritten: batch, failure: error.description)
            }
        }
    }

    /// Aborts every attempt that has run longer than `seconds` (see `WriterSlot.abort()`);
    /// called while the probe says the server answers nothing. Returns how many.
    @discardableResult
    func abortAttempts(runningLongerThan seconds: Double) -> Int {
        var aborted = 0
        for slot in slots where slot.attemptSeconds > seconds && slot.abort() {
            aborted += 1
        }
        return aborted
    }

    /// Sends `PQcancel` for the lane's statement from a detached thread, so it returns at once
    /// even when the server never answers.
    public func cancel(lane: Int) {
        slots[lane].cancel()
    }

    /// Closes each slot's connection; the probe and the watchdog are background work, stopped apart.
    public func close() {
        for slot in slots { slot.closeConnection() }
    }

    /// The probe's `knownDown` (nil without a probe): a failed check, or one unanswered over 3 s.
    public var unavailable: String? { probe?.knownDown }

    /// Slots holding a connection now, for /ready's `open_connections`. Lock-free.
    public var openConnections: Int { slots.filter(\.isConnected).count }
}
