import IngestConfig

/// Keeps the hypertables manageable for months (SPEC 5a): chunk interval, compression and its
/// policy, retention, and one continuous aggregate per roll-up length. Each step first reads
/// TimescaleDB's catalog views and changes only what differs from the configuration, so a
/// second run (or a second replica, serialised behind the migrator's advisory lock) changes
/// nothing, and a changed setting is applied on the next `migrate` or start.
///
/// What it never does: drop a roll-up (one removed from the list is reported and left, with
/// its data), turn compression off (chunks already compressed would have to be decompressed),
/// or change segment-by or order-by settings an operator chose before us.
public struct TimescaleLifecycle: Sendable {
    /// The numeric table (`database.table`); the roll-ups read it.
    public let table: String
    /// Its text table, kept with the same chunk interval, compression and retention.
    public let textTable: String
    /// The `timescale.*` keys.
    public let settings: IngestConfiguration.Timescale

    /// What a run found to do: the `timescale_configured` event's fields.
    public struct Report: Sendable, Equatable {
        /// One phrase per change, in the order made (`compression policy on readings: 7 days`).
        public var changes: [String] = []
        /// Continuous aggregates over the table that the configuration does not list: left in
        /// place, never dropped.
        public var leftInPlace: [String] = []
    }

    /// Rows of `timescaledb_information.*` that belong to the relation in `$1`: compared as
    /// regclass, so schema and case are those the table was created with.
    private static let owns = "format('%I.%I', hypertable_schema, hypertable_name)::regclass = $1::regclass"

    /// The roll-up view for one length (`readings_1m`).
    public func rollupName(_ interval: LifecycleInterval) -> String { "\(table)_\(interval.suffix)" }

    /// Nothing touches the database until `apply(_:)`.
    public init(table: String, textTable: String, settings: IngestConfiguration.Timescale) {
        self.table = table
        self.textTable = textTable
        self.settings = settings
    }

    /// Runs inside the migrator's transaction, after both hypertables exist. Blocking.
    public func apply(_ c: PostgresConnection) throws(PostgresError) -> Report {
        var report = Report()
        for name in [table, textTable] {
            try chunkInterval(name, c, &report)
            try compression(name, c, &report)
            try policy(name, kind: "retention", proc: "policy_retention", key: "drop_after",
                       add: "add_retention_policy", remove: "remove_retention_policy",
                       after: settings.retainFor, c, &report)
        }
        try rollups(c, &report)
        return report
    }

    private func chunkInterval(_ name: String, _ c: PostgresConnection, _ report: inout Report) throws(PostgresError) {
        let wanted = settings.chunkInterval.sql
        let current = try c.scalar("""
            SELECT time_interval::text FROM timescaledb_information.dimensions
            WHERE \(Self.owns) AND column_name = 'time' AND time_interval IS DISTINCT FROM $2::interval
            """, [SchemaMigrator.quoted(name), wanted])
        guard let current else { return }
        _ = try c.scalar("SELECT set_chunk_time_interval($1::regclass, $2::interval)", [SchemaMigrator.quoted(name), wanted])
        report.changes.append("chunk interval of \(name): \(current) -> \(wanted) (new chunks)")
    }

    private func compression(_ name: String, _ c: PostgresConnection, _ report: inout Report) throws(PostgresError) {
        if settings.compressAfter != nil {
            let enabled = try c.scalar(
                "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE \(Self.owns)",
                [SchemaMigrator.quoted(name)])
            if enabled == "f" {
                // Segments per series, newest first: a device's metric over a chunk compresses
                // as one run, and the dedupe index (device_id, metric, time) is covered by
                // segment-by plus order-by, as TimescaleDB requires of a unique index.
                try c.execute("""
                    ALTER TABLE \(SchemaMigrator.quoted(name)) SET (timescaledb.compress,
                      timescaledb.compress_segmentby = 'device_id, metric', timescaledb.compress_orderby = 'time DESC')
                    """)
                report.changes.append("compression on \(name) (segment by device_id, metric; order by time DESC)")
            }
        }
        try policy(name, kind: "compression", proc: "policy_compression", key: "compress_after",
                   add: "add_compression_policy", remove: "remove_compression_policy",
                   after: settings.compressAfter, c, &report)
    }

    /// A compression or retention policy: added when missing, replaced when its interval
    /// differs, removed when the key is `off`.
    private func policy(_ name: String, kind: String, proc: String, key: String, add: String, remove: String,
                        after: LifecycleInterval?, _ c: PostgresConnection, _ report: inout Report) throws(PostgresError) {
        let relation = SchemaMigrator.quoted(name)
        // '=' when it matches, the current interval when it differs, NULL when there is none.
        let current = try c.scalar("""
            SELECT CASE WHEN (config->>'\(key)')::interval = $2::interval THEN '=' ELSE config->>'\(key)' END
            FROM timescaledb_information.jobs WHERE proc_name = '\(proc)' AND \(Self.owns)
            """, [relation, after?.sql])
        if current == "=" { return }
        if current != nil {
            _ = try c.scalar("SELECT \(remove)($1::regclass, if_exists => true)", [relation])
        }
        guard let after else {
            if let current { report.changes.append("\(kind) policy on \(name) removed (was \(current))") }
            return
        }
        _ = try c.scalar("SELECT \(add)($1::regclass, $2::interval)", [relation, after.sql])
        report.changes.append("\(kind) policy on \(name): " + (current.map { "\($0) -> " } ?? "") + after.sql)
    }

    private func rollups(_ c: PostgresConnection, _ report: inout Report) throws(PostgresError) {
        let relation = SchemaMigrator.quoted(table)
        let existing = try c.scalar("""
            SELECT string_agg(view_name || ':' || materialized_only::text, ',' ORDER BY view_name)
            FROM timescaledb_information.continuous_aggregates WHERE \(Self.owns)
            """, [relation]).map { $0.split(separator: ",").map(String.init) } ?? []
        let materializedOnly = Dictionary(existing.compactMap { pair -> (String, Bool)? in
            guard let colon = pair.lastIndex(of: ":") else { return nil }
            return (String(pair[..<colon]), pair[pair.index(after: colon)...] == "true")
        }, uniquingKeysWith: { a, _ in a })
        for interval in settings.rollups {
            let name = rollupName(interval)
            switch materializedOnly[name] {
            case nil:
                try createRollup(name, bucket: interval, c)
                report.changes.append("roll-up \(name) created (\(interval) buckets)")
            case true?:
                try c.execute("ALTER MATERIALIZED VIEW \(SchemaMigrator.quoted(name)) SET (timescaledb.materialized_only = false)")
                report.changes.append("real-time aggregation on \(name)")
            case false?:
                break
            }
            try refreshPolicy(name, bucket: interval, c, &report)
        }
        let configured = Set(settings.rollups.map(rollupName))
        report.leftInPlace = materializedOnly.keys.filter { !configured.contains($0) }.sorted()
    }

    /// `bucket, device_id, metric, avg, min, max, count, last` (SPEC 5a), created empty: the
    /// refresh policy fills it in the background, and real-time aggregation answers for what
    /// is not materialised yet, so a migration over a large table returns at once.
    private func createRollup(_ name: String, bucket: LifecycleInterval, _ c: PostgresConnection) throws(PostgresError) {
        try c.execute("""
            CREATE MATERIALIZED VIEW \(SchemaMigrator.quoted(name))
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT time_bucket(INTERVAL '\(bucket.sql)', time) AS bucket, device_id, metric,
                   avg(value) AS "avg", min(value) AS "min", max(value) AS "max",
                   count(*) AS "count", last(value, time) AS "last"
            FROM \(SchemaMigrator.quoted(table))
            GROUP BY 1, device_id, metric
            WITH NO DATA
            """)
    }

    /// Materialises closed buckets (the newest is left to real-time aggregation) back to
    /// `Timescale.refreshReach`, at most hourly and at least every minute.
    private func refreshPolicy(_ name: String, bucket: LifecycleInterval, _ c: PostgresConnection,
                               _ report: inout Report) throws(PostgresError) {
        let relation = SchemaMigrator.quoted(name)
        let start = settings.refreshReach?.sql
        let end = bucket.sql
        let every = LifecycleInterval(seconds: min(max(bucket.seconds, 60), 3_600)).sql
        let matches = try c.scalar("""
            SELECT (config->>'start_offset')::interval IS NOT DISTINCT FROM $2::interval
               AND (config->>'end_offset')::interval = $3::interval AND schedule_interval = $4::interval
            FROM timescaledb_information.jobs
            WHERE proc_name = 'policy_refresh_continuous_aggregate' AND \(Self.owns)
            """, [relation, start, end, every])
        if matches == "t" { return }
        if matches != nil {
            _ = try c.scalar("SELECT remove_continuous_aggregate_policy($1::regclass, if_exists => true)", [relation])
        }
        _ = try c.scalar("""
            SELECT add_continuous_aggregate_policy($1::regclass, start_offset => $2::interval,
                   end_offset => $3::interval, schedule_interval => $4::interval)
            """, [relation, start, end, every])
        report.changes.append("refresh policy of \(name): from \(start.map { "\($0) ago" } ?? "the beginning") "
                              + "to \(end) ago, every \(every)" + (matches != nil ? " (changed)" : ""))
    }
}
