import Concurrency
import IngestModel

/// A spool in memory: counts what it was given, and can be made to refuse writes (a full
/// disk) until told otherwise.
public final class FakeSpool: BatchSpool {
    public struct State: Sendable {
        public var readings: [Reading] = []
        public var texts: [TextReading] = []
        public var rejects: [Reject] = []
        public var entries: [UInt64] = []
        public var failing = false
        public var refusals = 0
    }

    public let state = Locked(State())

    public init() {}

    /// Rows it holds (readings + rejects), as a spool file would have lines.
    public var rows: Int { state.withLock { $0.readings.count + $0.texts.count + $0.rejects.count } }

    public func failWrites(_ failing: Bool) { state.withLock { $0.failing = failing } }

    public struct DiskFull: Error, CustomStringConvertible {
        public var description: String { "cannot write spool: No space left on device" }
    }

    public func write(_ batch: Batch, journal: String?) throws -> Int {
        try state.withLock { s in
            if s.failing {
                s.refusals += 1
                throw DiskFull()
            }
            s.readings += batch.readings
            s.texts += batch.texts
            s.rejects += batch.rejects
            s.entries += batch.entries
            return batch.rowCount
        }
    }

    /// The journal entries of the batches it holds (any journal).
    public func doneEntries(journal: String) -> [ClosedRange<UInt64>] {
        SeqRanges(covering: state.withLock { $0.entries }).ranges
    }
}
