/// The one place rows enter the tables: the COPY statements for readings and rejects, in
/// binary (the writer, `CopyEncoder`) or text (the spool replay, Durability's `CopyText`), and the path `database.dedupe` needs.
///
/// COPY cannot skip a row that conflicts with the unique index, so with dedupe on, readings
/// are copied into a session-local staging table and moved with `INSERT ... ON CONFLICT DO
/// NOTHING`; the staging table is left empty for the next call in the same transaction.
struct CopyTarget: Sendable {
    /// COPY's two formats we speak.
    enum Format: String {
        case binary
        case text
    }

    /// The readings table (`database.table`), already validated as an identifier.
    let table: String
    /// `database.dedupe`.
    let dedupe: Bool

    static let readingColumns = CopyEncoder.readingColumns
    static let rejectColumns = CopyEncoder.rejectColumns
    static let stagingTable = "ingest_staging"

    /// Once per connection: the staging table when dedupe is on (emptied at every commit).
    func prepare(on connection: PostgresConnection) throws(PostgresError) {
        guard dedupe else { return }
        try connection.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(Self.stagingTable) (LIKE "\(table)" INCLUDING DEFAULTS) \
            ON COMMIT DELETE ROWS
            """)
    }

    /// COPYs readings. Inside a transaction, after `prepare` on this connection.
    func copyReadings(_ data: [UInt8], format: Format, on connection: PostgresConnection) throws(PostgresError) {
        guard dedupe else {
            try connection.copy("COPY \"\(table)\" \(Self.readingColumns) FROM STDIN (FORMAT \(format.rawValue))",
                                data: data)
            return
        }
        try connection.copy("COPY \(Self.stagingTable) \(Self.readingColumns) FROM STDIN (FORMAT \(format.rawValue))",
                            data: data)
        try connection.execute("""
            INSERT INTO "\(table)" \(Self.readingColumns) SELECT time, device_id, metric, value \
            FROM \(Self.stagingTable) ON CONFLICT DO NOTHING
            """)
        try connection.execute("DELETE FROM \(Self.stagingTable)")
    }

    /// COPYs rejects into `ingest_rejects`.
    func copyRejects(_ data: [UInt8], format: Format, on connection: PostgresConnection) throws(PostgresError) {
        try connection.copy("COPY ingest_rejects \(Self.rejectColumns) FROM STDIN (FORMAT \(format.rawValue))",
                            data: data)
    }
}
