/// Where the crash journal learns, at start-up, which of its entries an earlier run already
/// committed: the database records them in the same transaction as the rows (PostgresSink
/// implements this). Spooled entries are recorded next to their spool files instead.
public protocol JournalLedger: Sendable {
    /// The ranges of `journal`'s entries recorded done, from `since` on. Blocking.
    func doneEntries(journal: String, since: UInt64) throws -> [ClosedRange<UInt64>]
    /// Forgets the records below `seq` (no segment holds those entries any more). Blocking.
    func forgetDone(journal: String, below seq: UInt64) throws
}
