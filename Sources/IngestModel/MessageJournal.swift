/// The crash journal as the pipeline sees it (SPEC 8a): where the source's thread records a
/// message before its callback returns, and where the pipeline says which messages are safe
/// elsewhere (committed, spooled, dropped on purpose).
///
/// A protocol so the core knows no file formats: the daemon gives it the `MAP_SHARED`
/// segments of the `Durability` module, the unit tests TestSupport's `MemoryJournal`.
public protocol MessageJournal: AnyObject, Sendable {
    /// This journal's identity: the done-records in the database and the spool are per
    /// journal, so replicas sharing a database never mix theirs up.
    var id: String { get }
    /// Records one message and returns its sequence number (> 0), or nil when the journal
    /// is closed or cannot take it (logged). Called by the one source thread; may block
    /// while the journal is full (back-pressure, like a full queue).
    func append(_ message: Message) -> UInt64?
    /// The entries are done: their rows are committed or spooled, or they were dropped on
    /// purpose. Any thread.
    func markDone(_ seqs: [UInt64])
    /// The smallest sequence number still on disk: done-records below it are no longer needed.
    var oldestSeq: UInt64 { get }
    /// The next part of what an earlier run left, as messages carrying their `journalSeq`,
    /// oldest first: about `maxBytes` of payload (at least one message), so recovery holds a
    /// chunk at a time, never the whole journal; empty once everything was handed out (each
    /// message once). May read from disk: call it on a thread the daemon owns.
    func takeRecovered(maxBytes: Int) -> [Message]
    /// Shutdown: an append that would wait for room (a full journal, a disk that refuses
    /// segments) returns nil at once from now on, so the source's thread can be stopped; its
    /// message goes on unjournaled into the drain, like one arriving after `close()`.
    func stopWaiting()
    /// Starts the periodic flush to disk (`journal.fsync_interval_ms`), on a thread of its own.
    func startSyncing()
    /// No more appends (shutdown); flushes. Safe to call twice and from two threads.
    func close()
}

extension MessageJournal {
    /// Everything an earlier run left, at once (tests and tools; recovery takes chunks).
    public func takeRecovered() -> [Message] {
        var all: [Message] = []
        while case let chunk = takeRecovered(maxBytes: 1 << 20), !chunk.isEmpty { all += chunk }
        return all
    }
}
