import Durability
import IngestCore
import Logging

/// Writes spool files back to the database, oldest first (SPEC 8).
///
/// Each file's COPY and its `ingest_spool_applied` row commit in one transaction; the file
/// is deleted only after that commit. A crash between commit and delete leaves a file whose
/// name is already in `ingest_spool_applied`: it is deleted without being applied again, so
/// no file is ever applied twice. The row also holds the file's CRC-32C: a file whose name
/// was applied with other content (another replica's file of the same name, or this one's
/// before the clock stepped back) is a different file, applied under `<name>#<crc>`; it is
/// never deleted unapplied. A file the server refuses (malformed or refused data) is
/// moved to `corrupt/` and logged, never deleted. A batch's journal sidecar is turned into
/// `ingest_journal_done` records, then deleted, once none of its files is left.
public struct SpoolReplayer {
    /// What `spool_replayed` logs (SPEC 8).
    public struct Outcome: Sendable, Equatable {
        public var files = 0
        public var rows = 0
        public var corrupt = 0
        public init() {}
    }

    public let spool: Spool
    public let table: String
    public let dedupe: Bool
    public let logger: Logger

    public init(spool: Spool, table: String, dedupe: Bool, logger: Logger) {
        self.spool = spool
        self.table = table
        self.dedupe = dedupe
        self.logger = logger
    }

    /// Replays every file present now. Stops at the first transient failure (the rest waits
    /// for the next round) by throwing it. `shouldStop` is checked between files.
    public func replay(on connection: PostgresConnection, shouldStop: () -> Bool = { false }) throws(PostgresError) -> Outcome {
        var outcome = Outcome()
        for file in spool.files() {
            if shouldStop() { break }
            let data: [UInt8]
            do {
                data = try spool.contents(of: file)
            } catch {
                logger.error("spool_file_unreadable", metadata: ["file": .string(file.name), "error": .string(error.description)])
                continue
            }
            let rows = data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            do {
                if try apply(file, data: data, on: connection) {
                    outcome.files += 1
                    outcome.rows += rows
                }
                spool.remove(file)
            } catch where error.kind == .data {
                outcome.corrupt += 1
                logger.error("spool_file_corrupt", metadata: [
                    "file": .string(file.name), "error": .string(error.description), "moved_to": "corrupt/",
                ])
                do { try spool.quarantine(file) } catch {
                    logger.error("spool_quarantine_failed", metadata: ["file": .string(file.name), "error": .string(error.description)])
                }
            }
        }
        // A batch's journal entries become database records once all its files are in.
        for sidecar in spool.sidecars() where !sidecar.waiting {
            if shouldStop() { break }
            try connection.transaction { () throws(PostgresError) in
                try JournalDoneTable.record(sidecar.ranges, journal: sidecar.journal, on: connection)
            }
            spool.removeSidecar(sidecar)
        }
        return outcome
    }

    /// One transaction: skip if already applied, else COPY + record. Returns false when the
    /// file had been applied before (and only needs deleting).
    private func apply(_ file: Spool.File, data: [UInt8], on c: PostgresConnection) throws(PostgresError) -> Bool {
        if dedupe && !file.isRejects { try DedupeStaging.prepare(on: c, like: table) }
        let crc = String(CRC32C.checksum(data))
        return try c.transaction { () throws(PostgresError) -> Bool in
            var key = file.name
            // nil: never applied; "": applied before checksums were kept (trust the name).
            let recorded = try c.scalar("SELECT coalesce(checksum::text, '') FROM ingest_spool_applied WHERE file = $1", [key])
            if recorded == crc || recorded == "" { return false }
            if recorded != nil {
                key = file.name + "#" + crc
                if try c.scalar("SELECT 1 FROM ingest_spool_applied WHERE file = $1", [key]) != nil { return false }
            }
            if file.isRejects {
                try c.copy("COPY ingest_rejects (received_at, topic, payload, reason, detail) FROM STDIN", data: data)
            } else if dedupe {
                try DedupeStaging.copy(data, format: "text", into: table, on: c)
            } else {
                try c.copy("COPY \"\(table)\" \(CopyEncoder.readingColumns) FROM STDIN", data: data)
            }
            _ = try c.scalar("INSERT INTO ingest_spool_applied (file, applied_at, checksum) VALUES ($1, now(), $2)", [key, crc])
            return true
        }
    }
}
