import Durability
import Logging

/// Writes spool files back to the database, oldest first (SPEC 8).
///
/// Each file's COPY and its `ingest_spool_applied` row commit in one transaction; the file
/// is deleted only after that commit. A crash between commit and delete leaves a file whose
/// name is already in `ingest_spool_applied`: it is deleted without being applied again, so
/// no file is ever applied twice. The row also holds the file's CRC-32C: a file whose name
/// was applied with other content (another replica's file of the same name, or this one's
/// before the clock stepped back) is a different file, applied under `<name>#<crc>`; it is
/// never deleted unapplied. Rows the server refuses for their data (a malformed line, a value
/// too large for the index, a broken constraint) are bisected out as the live writer does:
/// the rest of the file is applied, and only the refused lines are kept, in `corrupt/` under
/// the file's name, written and fsynced before the commit, so they are never deleted. A
/// batch's journal sidecar is turned into `ingest_journal_done` records, then deleted, once
/// none of its files is left.
public struct SpoolReplayer {
    /// What `spool_replayed` logs (SPEC 8).
    public struct Outcome: Sendable, Equatable {
        public var files = 0
        public var rows = 0
        /// Files with lines the server refused (those lines are in `corrupt/`).
        public var corrupt = 0
        public var refusedRows = 0
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
            do {
                let applied = try apply(file, data: data, on: connection)
                if applied.refused > 0 {
                    outcome.corrupt += 1
                    outcome.refusedRows += applied.refused
                    logger.error("spool_file_corrupt", metadata: [
                        "file": .string(file.name), "rows_refused": .stringConvertible(applied.refused),
                        "rows_applied": .stringConvertible(applied.rows),
                        "error": .string(applied.error ?? ""), "moved_to": "corrupt/",
                    ])
                }
                if applied.fresh {
                    outcome.files += 1
                    outcome.rows += applied.rows
                }
                spool.remove(file)
            } catch where error.kind == .data {
                // Not a row: the applied-record itself was refused (a broken bookkeeping table).
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

    /// What one file's transaction did: `fresh` false when it had been applied before (and
    /// only needs deleting).
    private struct Applied {
        var fresh = false
        var rows = 0
        var refused = 0
        var error: String?
    }

    /// One transaction: skip if already applied, else COPY (bisecting refused lines out) +
    /// keep the refused lines in `corrupt/` + record.
    private func apply(_ file: Spool.File, data: [UInt8], on c: PostgresConnection) throws(PostgresError) -> Applied {
        if dedupe && !file.isRejects { try DedupeStaging.prepare(on: c, like: table) }
        let crc = String(CRC32C.checksum(data))
        return try c.transaction { () throws(PostgresError) -> Applied in
            var key = file.name
            // nil: never applied; "": applied before checksums were kept (trust the name).
            let recorded = try c.scalar("SELECT coalesce(checksum::text, '') FROM ingest_spool_applied WHERE file = $1", [key])
            if recorded == crc || recorded == "" { return Applied() }
            if recorded != nil {
                key = file.name + "#" + crc
                if try c.scalar("SELECT 1 FROM ingest_spool_applied WHERE file = $1", [key]) != nil { return Applied() }
            }
            var applied = Applied(fresh: true)
            let refused = try copyBisecting(data, on: c) { (chunk) throws(PostgresError) in
                if file.isRejects {
                    try c.copy("COPY ingest_rejects (received_at, topic, payload, reason, detail) FROM STDIN", data: chunk)
                } else if dedupe {
                    try DedupeStaging.copy(chunk, format: "text", into: table, on: c)
                } else {
                    try c.copy("COPY \"\(table)\" \(CopyEncoder.readingColumns) FROM STDIN", data: chunk)
                }
            }
            applied.rows = refused.total - refused.lines
            applied.refused = refused.lines
            applied.error = refused.error
            if refused.lines > 0 {
                do throws(FileError) {
                    try spool.keepRefused(refused.bytes, of: file)
                } catch {
                    // Nowhere to keep them: apply nothing, leave the file for the next round.
                    throw PostgresError(kind: .transient, sqlState: nil,
                                        message: "cannot keep refused spool rows: \(error.description)", connectionLost: false)
                }
            }
            _ = try c.scalar("INSERT INTO ingest_spool_applied (file, applied_at, checksum) VALUES ($1, now(), $2)", [key, crc])
            return applied
        }
    }

    /// Runs `copy` on the whole file under a savepoint; if the server refuses the data, the
    /// lines are split in halves, each half under its own savepoint, until the refused lines
    /// stand alone. Returns the refused lines (in file order), how many lines the file has,
    /// and the first refusal's message. The lines are only found when a split is needed.
    private func copyBisecting(_ data: [UInt8], on c: PostgresConnection,
                               copy: ([UInt8]) throws(PostgresError) -> Void) throws(PostgresError)
        -> (bytes: [UInt8], lines: Int, total: Int, error: String?) {
        guard !data.isEmpty else { return ([], 0, 0, nil) }
        func attempt(_ chunk: [UInt8]) throws(PostgresError) -> String? {
            try c.execute("SAVEPOINT spool_chunk")
            do throws(PostgresError) {
                try copy(chunk)
                return nil
            } catch where error.kind == .data {
                try c.execute("ROLLBACK TO SAVEPOINT spool_chunk")
                return error.description
            }
        }
        guard let firstError = try attempt(data) else {
            let newlines = data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            return ([], 0, newlines + (data.last == 0x0A ? 0 : 1), nil)
        }
        let lines = Self.lineRanges(data)
        var refused: [Range<Int>] = []
        var pending: [Range<Int>] = []  // ranges of line indices, last one tried first
        func split(_ span: Range<Int>) {
            let middle = span.lowerBound + span.count / 2
            pending.append(middle..<span.upperBound)
            pending.append(span.lowerBound..<middle)
        }
        if lines.count == 1 { refused = [lines[0]] } else { split(0..<lines.count) }
        while let span = pending.popLast() {
            let bytes = lines[span.lowerBound].lowerBound..<lines[span.upperBound - 1].upperBound
            guard try attempt(Array(data[bytes])) != nil else { continue }
            if span.count == 1 { refused.append(bytes) } else { split(span) }
        }
        // The stack walks lines first to last, so `refused` is already in file order.
        return (refused.flatMap { data[$0] }, refused.count, lines.count, firstError)
    }

    /// Byte ranges of the lines of a COPY text file, newline included (a last line without
    /// one counts as well).
    static func lineRanges(_ data: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for (i, byte) in data.enumerated() where byte == 0x0A {
            ranges.append(start..<(i + 1))
            start = i + 1
        }
        if start < data.count { ranges.append(start..<data.count) }
        return ranges
    }
}
