import IngestModel

/// The database side of the spool replay (SPEC 8): each file's COPY and its
/// `ingest_spool_applied` row commit in one transaction, keyed by name and CRC-32C, so a file
/// is never applied twice, and one whose name was applied with other content (another
/// replica's file of that name, or this one's before the clock stepped back) is applied under
/// `<name>#<crc>`. Rows refused for their data are bisected out as the writer does.
public struct PostgresSpoolApplier: SpoolApplier {
    let url: String
    let target: CopyTarget

    /// Applies into `table` (`database.table`) at `url`, through staging when `dedupe`.
    public init(url: String, table: String, dedupe: Bool) {
        self.url = url
        target = CopyTarget(table: table, dedupe: dedupe)
    }

    /// A fresh connection per pass; a failed connect of any kind is `.unavailable`, so the pass
    /// waits for the next round.
    public func session() throws(SpoolApplyError) -> any SpoolSession {
        do throws(PostgresError) {
            return PostgresSpoolSession(connection: try PostgresConnection(url: url), target: target)
        } catch {
            throw SpoolApplyError(.unavailable, error.description)
        }
    }
}

/// One replay pass's connection.
final class PostgresSpoolSession: SpoolSession {
    private let connection: PostgresConnection
    private let target: CopyTarget
    private var prepared = false

    init(connection: PostgresConnection, target: CopyTarget) {
        self.connection = connection
        self.target = target
    }

    func apply(_ file: SpoolFileContents,
               keepRefused: ([UInt8]) throws -> Void) throws(SpoolApplyError) -> SpoolFileApplied {
        do throws(PostgresError) {
            if !prepared && file.kind != .rejects {
                try target.prepare(on: connection)
                prepared = true
            }
            return try connection.transaction { () throws(PostgresError) -> SpoolFileApplied in
                try applyInTransaction(file, keepRefused: keepRefused)
            }
        } catch where error.code == .data {
            // Not a row: the applied-record itself was refused (a broken bookkeeping table).
            throw SpoolApplyError(.fileRefused, error.description)
        } catch {
            throw SpoolApplyError(.unavailable, error.description)
        }
    }

    private func applyInTransaction(_ file: SpoolFileContents,
                                    keepRefused: ([UInt8]) throws -> Void) throws(PostgresError) -> SpoolFileApplied {
        let c = connection
        let crc = String(file.checksum)
        var key = file.name
        // nil: never applied; "": applied before checksums were kept (trust the name).
        let recorded = try c.scalar("SELECT coalesce(checksum::text, '') FROM ingest_spool_applied WHERE file = $1", [key])
        if recorded == crc || recorded == "" { return SpoolFileApplied() }
        if recorded != nil {
            key = file.name + "#" + crc
            if try c.scalar("SELECT 1 FROM ingest_spool_applied WHERE file = $1", [key]) != nil {
                return SpoolFileApplied()
            }
        }
        let data = file.data
        let lines = Self.lineRanges(data)
        let refusals = try Bisection.refusals(count: lines.count) { (range) throws(PostgresError) -> String? in
            let bytes = Array(data[lines[range.lowerBound].lowerBound..<lines[range.upperBound - 1].upperBound])
            try c.execute("SAVEPOINT spool_chunk")
            do throws(PostgresError) {
                switch file.kind {
                case .rejects: try target.copyRejects(bytes, format: .text, on: c)
                case .texts: try target.copyTexts(bytes, format: .text, on: c)
                case .readings: try target.copyReadings(bytes, format: .text, on: c)
                case .definitions: try target.upsertDefinitions(bytes, format: .text, on: c)
                }
                return nil
            } catch where error.code == .data {
                try c.execute("ROLLBACK TO SAVEPOINT spool_chunk")
                return error.description
            }
        }
        if !refusals.isEmpty {
            do {
                try keepRefused(refusals.flatMap { data[lines[$0.index]] })
            } catch {
                // Nowhere to keep them: apply nothing, leave the file for the next round.
                throw PostgresError(code: .transient, sqlState: nil,
                                    message: "cannot keep refused spool rows: \(error)", connectionLost: false)
            }
        }
        _ = try c.scalar("INSERT INTO ingest_spool_applied (file, applied_at, checksum) VALUES ($1, now(), $2)", [key, crc])
        return SpoolFileApplied(fresh: true, rows: lines.count - refusals.count, refused: refusals.count,
                                error: refusals.first?.reason)
    }

    func recordDone(_ ranges: [ClosedRange<UInt64>], journal: String) throws(SpoolApplyError) {
        do throws(PostgresError) {
            try connection.transaction { () throws(PostgresError) in
                try JournalDoneTable.record(ranges, journal: journal, on: connection)
            }
        } catch {
            throw SpoolApplyError(.unavailable, error.description)
        }
    }

    func close() { connection.close() }

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
