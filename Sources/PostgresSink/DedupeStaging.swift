/// How rows reach the table when `database.dedupe` is on: COPY cannot skip a row that
/// conflicts with the unique index, so they are copied into a session-local staging table
/// and moved with `INSERT ... ON CONFLICT DO NOTHING`. Used by the writer (binary COPY) and
/// the spool replay (text COPY), each on its own connection.
enum DedupeStaging {
    static let table = "ingest_staging"

    /// Creates the staging table for this session if it is not there yet (emptied at every
    /// commit).
    static func prepare(on connection: PostgresConnection, like target: String) throws(PostgresError) {
        try connection.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(table) (LIKE "\(target)" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
            """)
    }

    /// COPYs `data` (`format`: `binary` or `text`) into `target` through the staging table,
    /// which it leaves empty for the next call in the same transaction. Call inside a
    /// transaction, after `prepare`.
    static func copy(_ data: [UInt8], format: String, into target: String,
                     on connection: PostgresConnection) throws(PostgresError) {
        try connection.copy("COPY \(table) \(CopyEncoder.readingColumns) FROM STDIN (FORMAT \(format))", data: data)
        try connection.execute("""
            INSERT INTO "\(target)" \(CopyEncoder.readingColumns) SELECT time, device_id, metric, value FROM \(table)
            ON CONFLICT DO NOTHING
            """)
        try connection.execute("DELETE FROM \(table)")
    }
}
