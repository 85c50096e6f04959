import IngestModel

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
    static let textStagingTable = "ingest_staging_text"
    static let catalogStagingTable = "ingest_staging_catalog"
    static let definitionColumns = CopyEncoder.definitionColumns

    /// The text table (`<table>_text`).
    var textTable: String { TextReading.table(for: table) }

    /// Once per connection: the staging tables when dedupe is on (emptied at every commit).
    /// The text one is spelled out rather than `LIKE` its table, so a connection can be
    /// prepared before a migration has created that table.
    func prepare(on connection: PostgresConnection) throws(PostgresError) {
        guard dedupe else { return }
        try connection.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(Self.stagingTable) (LIKE "\(table)" INCLUDING DEFAULTS) \
            ON COMMIT DELETE ROWS
            """)
        try connection.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(Self.textStagingTable) (time timestamptz NOT NULL, \
            device_id text NOT NULL, metric text NOT NULL, value text NOT NULL) ON COMMIT DELETE ROWS
            """)
    }

    /// COPYs readings. Inside a transaction, after `prepare` on this connection.
    func copyReadings(_ data: [UInt8], format: Format, on connection: PostgresConnection) throws(PostgresError) {
        try copy(data, format: format, into: table, staging: Self.stagingTable, on: connection)
    }

    /// COPYs text readings into the text table. Inside a transaction, after `prepare`.
    func copyTexts(_ data: [UInt8], format: Format, on connection: PostgresConnection) throws(PostgresError) {
        try copy(data, format: format, into: textTable, staging: Self.textStagingTable, on: connection)
    }

    private func copy(_ data: [UInt8], format: Format, into target: String, staging: String,
                      on connection: PostgresConnection) throws(PostgresError) {
        guard dedupe else {
            try connection.copy("COPY \"\(target)\" \(Self.readingColumns) FROM STDIN (FORMAT \(format.rawValue))",
                                data: data)
            return
        }
        try connection.copy("COPY \(staging) \(Self.readingColumns) FROM STDIN (FORMAT \(format.rawValue))", data: data)
        try connection.execute("""
            INSERT INTO "\(target)" \(Self.readingColumns) SELECT time, device_id, metric, value \
            FROM \(staging) ON CONFLICT DO NOTHING
            """)
        try connection.execute("DELETE FROM \(staging)")
    }

    /// Upserts Sparkplug metric definitions into `sparkplug_metrics` through a staging table:
    /// a name's row takes the newest birth's alias and datatype, never an older one's (a
    /// spool replayed late), and two births of one device in one batch keep the newer.
    /// Inside a transaction.
    func upsertDefinitions(_ data: [UInt8], format: Format, on connection: PostgresConnection) throws(PostgresError) {
        try connection.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(Self.catalogStagingTable) (device_id text NOT NULL, name text NOT NULL, \
            alias bigint, datatype int NOT NULL, born_at timestamptz NOT NULL) ON COMMIT DELETE ROWS
            """)
        try connection.copy("COPY \(Self.catalogStagingTable) \(Self.definitionColumns) FROM STDIN (FORMAT \(format.rawValue))",
                            data: data)
        try connection.execute("""
            INSERT INTO sparkplug_metrics AS m \(Self.definitionColumns) \
            SELECT DISTINCT ON (device_id, name) device_id, name, alias, datatype, born_at \
            FROM \(Self.catalogStagingTable) ORDER BY device_id, name, born_at DESC \
            ON CONFLICT (device_id, name) DO UPDATE SET alias = EXCLUDED.alias, datatype = EXCLUDED.datatype, \
            born_at = EXCLUDED.born_at WHERE m.born_at <= EXCLUDED.born_at
            """)
        try connection.execute("DELETE FROM \(Self.catalogStagingTable)")
    }

    /// COPYs rejects into `ingest_rejects`.
    func copyRejects(_ data: [UInt8], format: Format, on connection: PostgresConnection) throws(PostgresError) {
        try connection.copy("COPY ingest_rejects \(Self.rejectColumns) FROM STDIN (FORMAT \(format.rawValue))",
                            data: data)
    }
}
