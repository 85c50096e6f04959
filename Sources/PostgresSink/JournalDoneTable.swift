/// `ingest_journal_done (journal, lo, hi)`: the crash journal's entries that are done, as
/// ranges, written in the same transaction as the rows they produced (writer, spool replay),
/// so after a crash the database itself says exactly which entries committed.
enum JournalDoneTable {
    static let create = """
        CREATE TABLE IF NOT EXISTS ingest_journal_done (
          journal text NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL
        )
        """
    static let index = "CREATE INDEX IF NOT EXISTS ingest_journal_done_idx ON ingest_journal_done (journal, hi)"

    /// Records `ranges` of `journal`. Call inside the transaction that commits their rows.
    static func record(_ ranges: [ClosedRange<UInt64>], journal: String,
                       on connection: PostgresConnection) throws(PostgresError) {
        guard !ranges.isEmpty else { return }
        let lows = "{" + ranges.map { String($0.lowerBound) }.joined(separator: ",") + "}"
        let highs = "{" + ranges.map { String($0.upperBound) }.joined(separator: ",") + "}"
        _ = try connection.scalar("""
            INSERT INTO ingest_journal_done (journal, lo, hi)
            SELECT $1, lo, hi FROM unnest($2::bigint[], $3::bigint[]) AS r(lo, hi)
            """, [journal, lows, highs])
    }

    static func ranges(journal: String, since: UInt64,
                       on connection: PostgresConnection) throws(PostgresError) -> [ClosedRange<UInt64>] {
        let text = try connection.scalar("""
            SELECT coalesce(string_agg(lo || ' ' || hi, ','), '') FROM ingest_journal_done
            WHERE journal = $1 AND hi >= $2
            """, [journal, String(since)]) ?? ""
        return text.split(separator: ",").compactMap { pair in
            let parts = pair.split(separator: " ")
            guard parts.count == 2, let lo = UInt64(parts[0]), let hi = UInt64(parts[1]), lo <= hi else { return nil }
            return lo...hi
        }
    }

    static func forget(journal: String, below seq: UInt64, on connection: PostgresConnection) throws(PostgresError) {
        _ = try connection.scalar("DELETE FROM ingest_journal_done WHERE journal = $1 AND hi < $2",
                                  [journal, String(seq)])
    }
}
