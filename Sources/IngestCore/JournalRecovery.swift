import Concurrency
import IngestModel
import Logging

/// Start-up recovery of the crash journal (SPEC 8a): which entries an earlier run left
/// undone, and their replay through the pipeline before the source starts.
///
/// "Done" is what the ledger (the database) recorded in the transactions that committed the
/// rows, plus what the spool recorded beside its files; everything else is decoded, batched
/// and handed to the lanes with its sequence number, so its commit (or spool) records it done
/// like any other message, and a crash during the replay neither loses nor doubles it.
public struct JournalRecovery: Sendable {
    /// What the replay did (`journal_replayed`).
    public struct Outcome: Sendable, Equatable {
        /// Entries replayed.
        public var entries = 0
        /// Rows (readings and rejects) they decoded into.
        public var rows = 0
        /// Entries skipped because the ledger or the spool has them done.
        public var skippedDone = 0

        /// A replay's counts.
        public init(entries: Int = 0, rows: Int = 0, skippedDone: Int = 0) {
            self.entries = entries
            self.rows = rows
            self.skippedDone = skippedDone
        }
    }

    let journal: any MessageJournal
    let ledger: any JournalLedger
    let spool: any BatchSpool

    /// Recovery of `journal`, with what `ledger` and `spool` say is done.
    public init(journal: any MessageJournal, ledger: any JournalLedger, spool: any BatchSpool) {
        self.journal = journal
        self.ledger = ledger
        self.spool = spool
    }

    /// The entries done already. Forgets the ledger's records below the oldest entry still
    /// in a segment (a failure to forget costs only space). Blocking: the ledger may ask the
    /// database, and waits for it as long as the ledger's patience says.
    public func doneEntries() throws -> SeqRanges {
        let (id, since) = (journal.id, journal.oldestSeq)
        let recorded = try ledger.doneEntries(journal: id, since: since)
        try? ledger.forgetDone(journal: id, below: since)
        return SeqRanges(recorded + spool.doneEntries(journal: id))
    }

    /// Replays what is not done into `pipeline` (whose stages are running, its source not
    /// yet), marks the skipped entries done, counts and logs `journal_replayed`.
    ///
    /// A chunk at a time (`chunkBytes` of payload, read on a thread of its own): each takes
    /// its bytes from `queue.max_bytes` before it is decoded, like a live message, and gives
    /// them back as its batches commit, so replaying a full journal holds no more memory
    /// than running does.
    @discardableResult
    func run(into pipeline: IngestPipeline) async throws -> Outcome {
        let done = try await DedicatedThread.run { try self.doneEntries() }
        let chunkBytes = max(1, min(4 << 20, pipeline.payloadBytes.limit / 2))
        var outcome = Outcome()
        let journal = self.journal
        while true {
            // Reading the mapping and marking done (which may unmap and delete segments) are
            // file work: on a thread of its own, never on the cooperative pool.
            let (pending, skipped) = try await DedicatedThread.run { () -> ([Message], Int) in
                var pending: [Message] = [], skipped: [UInt64] = []
                for message in journal.takeRecovered(maxBytes: chunkBytes) {
                    if done.contains(message.journalSeq) { skipped.append(message.journalSeq) } else { pending.append(message) }
                }
                journal.markDone(skipped)
                return (pending, skipped.count)
            }
            if pending.isEmpty && skipped == 0 { break }
            outcome.skippedDone += skipped
            outcome.entries += pending.count
            await pipeline.payloadBytes.acquire(pending.reduce(0) { $0 + $1.payload.count })
            outcome.rows += await pipeline.replay(pending)
        }
        pipeline.stats.journalReplayed.add(outcome.entries, ordering: .relaxed)
        pipeline.logger.info("journal_replayed", metadata: [
            "entries": .stringConvertible(outcome.entries), "rows": .stringConvertible(outcome.rows),
            "skipped_done": .stringConvertible(outcome.skippedDone),
        ])
        return outcome
    }
}

/// The ledger of a pipeline without one (unit tests, the hot-path benchmark): nothing is
/// recorded done but what the spool holds.
struct NoLedger: JournalLedger {
    func doneEntries(journal: String, since: UInt64) throws -> [ClosedRange<UInt64>] { [] }
    func forgetDone(journal: String, below seq: UInt64) throws {}
}
