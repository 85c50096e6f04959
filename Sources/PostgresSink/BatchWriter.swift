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
        public var url: String
        public var table: String
        public var dedupe: Bool
        public var poolSize: Int
        /// The crash journal whose entries each commit records done (nil: journal off).
        public var journalID: String?

        public init(url: String, table: String, dedupe: Bool, poolSize: Int, journalID: String? = nil) {
            self.url = url
            self.table = table
            self.dedupe = dedupe
            self.poolSize = poolSize
            self.journalID = journalID
        }
    }

    public let settings: Settings
    let logger: Logger
    /// Told of each committed COPY (rows and duration), for the latency metrics.
    let committed: @Sendable (_ readings: ArraySlice<Reading>, _ seconds: Double) -> Void
    private let slots: [WriterSlot]

    public init(settings: Settings, logger: Logger,
                committed: @escaping @Sendable (ArraySlice<Reading>, Double) -> Void = { _, _ in }) {
        self.settings = settings
        self.logger = logger
        self.committed = committed
        slots = (0..<settings.poolSize).map { WriterSlot(index: $0) }
    }

    public var laneCount: Int { slots.count }

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

    public func cancel(lane: Int) {
        slots[lane].cancel()
    }

    public func close() {
        for slot in slots { slot.closeConnection() }
    }

    public var openConnections: Int { slots.filter(\.isConnected).count }
}
