/// Where the crash journal learns, at start-up, which of its entries an earlier run already
/// committed: the database records them in the same transaction as the rows (PostgresSink
/// implements this). Spooled entries are recorded next to their spool files instead.
public protocol JournalLedger: Sendable {
    /// The ranges of `journal`'s entries recorded done, from `since` on. Blocking.
    func doneEntries(journal: String, since: UInt64) throws -> [ClosedRange<UInt64>]
    /// Forgets the records below `seq` (no segment holds those entries any more). Blocking.
    func forgetDone(journal: String, below seq: UInt64) throws
}

/// Sorted, merged ranges of journal sequence numbers.
public struct SeqRanges: Sendable, Equatable {
    public private(set) var ranges: [ClosedRange<UInt64>]

    public init(_ ranges: [ClosedRange<UInt64>] = []) {
        var merged: [ClosedRange<UInt64>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        self.ranges = merged
    }

    /// The ranges covering `seqs` (any order, duplicates allowed): what a commit records.
    public init(covering seqs: [UInt64]) {
        self.init(seqs.sorted().map { $0...$0 })
    }

    /// Binary search: recovery asks once per journal entry.
    public func contains(_ seq: UInt64) -> Bool {
        var low = 0, high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < seq {
                low = mid + 1
            } else if ranges[mid].lowerBound > seq {
                high = mid - 1
            } else {
                return true
            }
        }
        return false
    }

    public static func + (a: SeqRanges, b: SeqRanges) -> SeqRanges { SeqRanges(a.ranges + b.ranges) }
}
