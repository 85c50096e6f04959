import IngestConfig

/// Keeps the hypertables manageable for months (SPEC 5a): chunk interval, compression and its
/// policy, retention, and one continuous aggregate per roll-up length. Each step first reads
/// TimescaleDB's catalog views and changes only what differs from the configuration, so a
/// second run (or a second replica, serialised behind the migrator's advisory lock) changes
/// nothing, and a changed setting is applied on the next `migrate` or start.
///
/// What it never does: drop a roll-up (one removed from the list is reported and left, with
/// its data), turn compression off (chunks already compressed would have to be decompressed),
/// change segment-by or order-by settings an operator chose before us, or widen how far back
/// a roll-up's refresh reaches once it is bounded (see `refreshPolicy`).
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
        /// What was kept as it is on purpose though the configuration asks otherwise.
        public var notes: [String] = []
    }

    /// A policy TimescaleDB runs on a hypertable, by the names its catalog and API use.
    enum Policy {
        case compression, retention

        var name: String { self == .compression ? "compression" : "retention" }
        var proc: String { self == .compression ? "policy_compression" : "policy_retention" }
        /// The `jobs.config` key of the interval we set (an operator's `*_created_before`
        /// policy has none, and is replaced like any other that differs).
        var key: String { self == .compression ? "compress_after" : "drop_after" }
        var add: String { self == .compression ? "add_compression_policy" : "add_retention_policy" }
        var remove: String { self == .compression ? "remove_compression_policy" : "remove_retention_policy" }
    }

    /// Rows of `timescaledb_information.*` that belong to the relation in `$1`: matched on the
    /// schema and name `$1::regclass` resolves to, so case and search path are those the table
    /// was created with, and rows without a hypertable (jobs of TimescaleDB's own) never
    /// reach a cast.
    private static let owns = """
        (hypertable_schema, hypertable_name) = (SELECT n.nspname, c.relname FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass)
        """

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
            if settings.compressAfter != nil { try enableCompression(name, c, &report) }
            try policy(.compression, on: name, after: settings.compressAfter, c, &report)
            try policy(.retention, on: name, after: settings.retainFor, c, &report)
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

    private func enableCompression(_ name: String, _ c: PostgresConnection, _ report: inout Report) throws(PostgresError) {
        let enabled = try c.scalar(
            "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE \(Self.owns)",
            [SchemaMigrator.quoted(name)])
        guard enabled == "f" else { return }
        // Segments per series, newest first: a device's metric over a chunk compresses as one
        // run, and the dedupe index (device_id, metric, time) is covered by segment-by plus
        // order-by, as TimescaleDB wants of a unique index.
        try c.execute("""
            ALTER TABLE \(SchemaMigrator.quoted(name)) SET (timescaledb.compress,
              timescaledb.compress_segmentby = 'device_id, metric', timescaledb.compress_orderby = 'time DESC')
            """)
        report.changes.append("compression on \(name) (segment by device_id, metric; order by time DESC)")
    }

    /// A compression or retention policy: added when missing, replaced when its interval
    /// differs, removed when the key is `off`.
    private func policy(_ policy: Policy, on name: String, after: LifecycleInterval?, _ c: PostgresConnection,
                        _ report: inout Report) throws(PostgresError) {
        let relation = SchemaMigrator.quoted(name)
        // [job, its interval, whether that is the one wanted]; nil: no such policy.
        let current = try c.row("""
            SELECT job_id, config->>'\(policy.key)', (config->>'\(policy.key)')::interval IS NOT DISTINCT FROM $2::interval
            FROM timescaledb_information.jobs WHERE proc_name = '\(policy.proc)' AND \(Self.owns)
            """, [relation, after?.sql])
        if let current, current[2] == "t" { return }
        let was = current.map { $0[1] ?? "another setting" }
        if current != nil {
            _ = try c.scalar("SELECT \(policy.remove)($1::regclass, if_exists => true)", [relation])
        }
        guard let after else {
            if let was { report.changes.append("\(policy.name) policy on \(name) removed (was \(was))") }
            return
        }
        _ = try c.scalar("SELECT \(policy.add)($1::regclass, $2::interval)", [relation, after.sql])
        report.changes.append("\(policy.name) policy on \(name): " + (was.map { "\($0) -> " } ?? "") + after.sql)
    }

    private func rollups(_ c: PostgresConnection, _ report: inout Report) throws(PostgresError) {
        let relation = SchemaMigrator.quoted(table)
        let batched = try refreshesInBatches(c)
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
            try refreshPolicy(name, bucket: interval, batched: batched, c, &report)
        }
        let configured = Set(settings.rollups.map(rollupName))
        report.leftInPlace = materializedOnly.keys.filter { !configured.contains($0) }.sorted()
        for name in report.leftInPlace {
            try boundLeftInPlace(name, batched: batched, c, &report)
        }
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

    /// Whether this TimescaleDB's refresh policies work in batches (2.20 and later: ten
    /// buckets per transaction, newest first unless told otherwise).
    ///
    /// Newest first is wrong for a roll-up with real-time aggregation: each batch commits and
    /// moves the watermark, and real-time aggregation reads raw rows only above it, so a
    /// roll-up created over a table with history would hide that history until the policy's
    /// last batch. Oldest first, every bucket under the watermark has been materialised at
    /// every moment. The parameter is looked up, not the version, so a server without it
    /// (one transaction per refresh) is left as it is.
    private func refreshesInBatches(_ c: PostgresConnection) throws(PostgresError) -> Bool {
        try c.scalar("""
            SELECT coalesce(bool_or('refresh_newest_first' = ANY(proargnames)), false)
            FROM pg_proc WHERE proname = 'add_continuous_aggregate_policy'
            """) == "t"
    }

    /// The refresh policy's current window, or nil when the roll-up has none: how far back
    /// it reaches (nil: all history), and whether the rest (end, schedule, oldest batch first
    /// where there are batches) matches.
    private func currentRefresh(_ name: String, end: String?, every: String?, batched: Bool,
                                _ c: PostgresConnection) throws(PostgresError) -> (reach: String?, rest: Bool)? {
        try c.row("""
            SELECT (config->>'start_offset')::interval::text,
                   (config->>'end_offset')::interval IS NOT DISTINCT FROM $2::interval AND schedule_interval = $3::interval
                   AND (NOT $4::boolean OR (config->>'refresh_newest_first')::boolean IS FALSE)
            FROM timescaledb_information.jobs
            WHERE proc_name = 'policy_refresh_continuous_aggregate' AND \(Self.owns)
            """, [SchemaMigrator.quoted(name), end, every, batched ? "true" : "false"]).map { ($0[0], $0[1] == "t") }
    }

    /// Adds a refresh policy, oldest batch first where the server has batches
    /// (`refreshesInBatches`).
    private func addRefreshPolicy(_ relation: String, start: String?, end: String?, every: String?, batched: Bool,
                                  _ c: PostgresConnection) throws(PostgresError) {
        _ = try c.scalar("""
            SELECT add_continuous_aggregate_policy($1::regclass, start_offset => $2::interval,
                   end_offset => $3::interval, schedule_interval => $4::interval\(batched ? ", refresh_newest_first => false" : ""))
            """, [relation, start, end, every])
    }

    /// Materialises closed buckets (the newest is left to real-time aggregation) back to
    /// `Timescale.refreshReach`, every bucket but at least every minute and at most hourly.
    ///
    /// A reach is narrowed but never widened: dropping chunks (retention) leaves their range
    /// invalidated in TimescaleDB's log, and a refresh over it would empty the roll-up there,
    /// which is its history. So a raised or removed retention keeps the old reach, said in
    /// the report's notes on every run.
    private func refreshPolicy(_ name: String, bucket: LifecycleInterval, batched: Bool, _ c: PostgresConnection,
                               _ report: inout Report) throws(PostgresError) {
        let relation = SchemaMigrator.quoted(name)
        let end = bucket.sql
        let every = LifecycleInterval(seconds: min(max(bucket.seconds, 60), 3_600)).sql
        var start = settings.refreshReach?.sql
        let current = try currentRefresh(name, end: end, every: every, batched: batched, c)
        if let bounded = current?.reach,
           try c.scalar("SELECT $1::interval IS NULL OR $1::interval > $2::interval", [start, bounded]) == "t" {
            report.notes.append("the refresh of \(name) keeps its reach of \(bounded): a longer one would empty the "
                                + "roll-up where retention dropped chunks")
            start = bounded
        }
        if let current, current.rest,
           try c.scalar("SELECT $1::interval IS NOT DISTINCT FROM $2::interval", [current.reach, start]) == "t" { return }
        if current != nil {
            _ = try c.scalar("SELECT remove_continuous_aggregate_policy($1::regclass, if_exists => true)", [relation])
        }
        try addRefreshPolicy(relation, start: start, end: end, every: every, batched: batched, c)
        report.changes.append("refresh policy of \(name): from \(start.map { "\($0) ago" } ?? "the beginning") "
                              + "to \(end) ago, every \(every)" + (current != nil ? " (changed)" : ""))
    }

    /// A roll-up no longer configured keeps its data and its refresh, but with a retention its
    /// refresh must not reach dropped chunks either: one of ours (named `<table>_<length>`)
    /// is narrowed to `refreshReach`, or, when its buckets are too long for that window, loses
    /// its refresh policy (its data stays). An operator's own aggregate is only reported.
    private func boundLeftInPlace(_ name: String, batched: Bool, _ c: PostgresConnection,
                                  _ report: inout Report) throws(PostgresError) {
        guard let reach = settings.refreshReach, name.hasPrefix(table + "_"),
              let bucket = LifecycleInterval(String(name.dropFirst(table.count + 1))),
              rollupName(bucket) == name,
              let current = try c.row("""
                  SELECT (config->>'start_offset')::interval::text, (config->>'end_offset')::interval::text,
                         schedule_interval::text, coalesce((config->>'start_offset')::interval > $2::interval, true)
                  FROM timescaledb_information.jobs
                  WHERE proc_name = 'policy_refresh_continuous_aggregate' AND \(Self.owns)
                  """, [SchemaMigrator.quoted(name), reach.sql]),
              current[3] == "t" else { return }
        let relation = SchemaMigrator.quoted(name)
        _ = try c.scalar("SELECT remove_continuous_aggregate_policy($1::regclass, if_exists => true)", [relation])
        guard reach.seconds >= 3 * bucket.seconds else {
            report.changes.append("refresh policy of \(name) removed (no longer configured, and its buckets are too "
                                  + "long for a refresh that stops short of retention; its data stays)")
            return
        }
        try addRefreshPolicy(relation, start: reach.sql, end: current[1], every: current[2], batched: batched, c)
        report.changes.append("refresh of \(name) (no longer configured) narrowed to \(reach.sql) ago, short of retention")
    }
}
