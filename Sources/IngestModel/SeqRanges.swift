/// Sorted, merged ranges of journal sequence numbers.
public struct SeqRanges: Sendable, Equatable {
    /// Sorted, non-overlapping and non-adjacent: each run of consecutive numbers is one range.
    public private(set) var ranges: [ClosedRange<UInt64>]

    /// Sorts and merges `ranges`, which may overlap or touch.
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

    /// The union, merged again.
    public static func + (a: SeqRanges, b: SeqRanges) -> SeqRanges { SeqRanges(a.ranges + b.ranges) }
}
