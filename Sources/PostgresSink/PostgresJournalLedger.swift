import IngestModel
import Logging

/// The database as the crash journal's ledger (SPEC 8a): `ingest_journal_done`, written by the
/// writer and the spool replay in the transactions that commit the rows. Asked once, at
/// start-up, with the migration's patience: answering "nothing is done" because the server
/// is not up yet would double every committed entry on replay.
public struct PostgresJournalLedger: JournalLedger {
    let url: String
    let patience: Double
    let logger: Logger

    /// The ledger at `url`, waiting up to `patience` seconds for the server (logging
    /// `db_unavailable` per attempt).
    public init(url: String, patience: Double = 60, logger: Logger) {
        self.url = url
        self.patience = patience
        self.logger = logger
    }

    /// Reads `ingest_journal_done` on a connection of its own, retrying for up to `patience` seconds
    /// while the server is not up.
    public func doneEntries(journal: String, since: UInt64) throws -> [ClosedRange<UInt64>] {
        try DatabaseStartup.withPatience(logger: logger, patience: patience) {
            let connection = try PostgresConnection(url: url)
            defer { connection.close() }
            return try JournalDoneTable.ranges(journal: journal, since: since, on: connection)
        }
    }

    /// Deletes the records on a connection of its own, in one try: a failure only leaves them for
    /// next time.
    public func forgetDone(journal: String, below seq: UInt64) throws {
        let connection = try PostgresConnection(url: url)
        defer { connection.close() }
        try JournalDoneTable.forget(journal: journal, below: seq, on: connection)
    }
}
