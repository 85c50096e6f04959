import IngestConfig
import IngestModel
import Logging

/// Creates or upgrades the schema of SPEC 5: the readings table and its text table (both
/// hypertables with TimescaleDB), the rejects and the bookkeeping tables. Idempotent, and safe when several replicas start
/// at once: everything runs in one transaction holding a transaction-level advisory lock, so
/// a second migrator waits and then finds nothing to do.
public struct SchemaMigrator {
    /// Arbitrary but fixed: "iot-ingest" folded into 63 bits.
    static let advisoryLockKey: Int64 = 0x696F_745F_696E_6765

    /// `database.table`, a plain identifier; quoted in the SQL so its case is kept.
    public let table: String
    /// `database.dedupe`: also creates the unique index on (device_id, metric, time).
    public let dedupe: Bool

    /// `timescale.*`: applied when the extension is there (SPEC 5a).
    public let timescale: IngestConfiguration.Timescale

    /// Nothing touches the database until `migrate(_:)`.
    public init(table: String, dedupe: Bool, timescale: IngestConfiguration.Timescale) {
        self.table = table
        self.dedupe = dedupe
        self.timescale = timescale
    }

    /// Whether the TimescaleDB extension was there, so `readings` became a hypertable.
    public struct Outcome: Sendable {
        /// True when the table became (or already was) a hypertable; false: plain PostgreSQL.
        public var timescale: Bool
        /// Why not, when not: an operator who expected hypertables reads this in `schema_ready`.
        public var timescaleUnavailable: String? = nil
        /// What the lifecycle changed (SPEC 5a), when TimescaleDB is there and it succeeded.
        public var lifecycle: TimescaleLifecycle.Report? = nil
        /// Why the lifecycle could not be applied: the tables are ready and ingest goes on,
        /// but `migrate` fails and start-up logs `timescale_failed`.
        public var lifecycleError: PostgresError? = nil
    }

    /// A table name as SQL and `regclass` read it: quoted, or a mixed-case name would be
    /// folded to lower case and not found.
    static func quoted(_ table: String) -> String { "\"\(table)\"" }

    /// The text table beside `table` (SPEC 5 v4: `<table>_text`).
    public var textTable: String { TextReading.table(for: table) }

    /// Whether TimescaleDB can be used on a server (`check-config` asks too).
    public enum TimescaleAvailability: Sendable, Equatable {
        /// Installed and preloaded: the extension's default version.
        case available(String)
        /// Why not: not installed, or installed but not preloaded.
        case unavailable(String)
    }

    /// Asks the server whether TimescaleDB can be used. Blocking.
    public static func timescaleAvailability(_ connection: PostgresConnection) throws(PostgresError) -> TimescaleAvailability {
        let version = try connection.scalar(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
        guard let version else { return .unavailable("extension not installed") }
        // Installed but not preloaded is a common misconfiguration, and CREATE EXTENSION
        // then ends the session with FATAL: plain PostgreSQL with a reason, not an outage.
        // The preloaded library defines its settings, which pg_settings shows to any role
        // (shared_preload_libraries itself is readable by superusers only); a placeholder
        // set in postgresql.conf without the library is not shown.
        let preloaded = try connection.scalar(
            "SELECT count(*) FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time'") == "1"
        return preloaded ? .available(version) : .unavailable("installed but not in shared_preload_libraries")
    }

    /// Runs on the caller's thread (blocking): call it from a dedicated thread.
    public func migrate(_ connection: PostgresConnection) throws(PostgresError) -> Outcome {
        // `table` has passed the plain-identifier check; quoting keeps case as written.
        let t = Self.quoted(table)
        return try connection.transaction { () throws(PostgresError) -> Outcome in
            try connection.execute("SELECT pg_advisory_xact_lock(\(Self.advisoryLockKey))")
            let found = try Self.timescaleAvailability(connection)
            var unavailable: String? = nil
            if case .unavailable(let why) = found { unavailable = why }
            let available = unavailable == nil
            if available {
                try connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            }
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS \(t) (
                  time      timestamptz      NOT NULL,
                  device_id text             NOT NULL,
                  metric    text             NOT NULL,
                  value     double precision NOT NULL
                )
                """)
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS ingest_rejects (
                  received_at timestamptz NOT NULL, topic text NOT NULL, payload bytea NOT NULL,
                  reason text NOT NULL, detail text
                )
                """)
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS ingest_spool_applied (
                  file text PRIMARY KEY, applied_at timestamptz NOT NULL
                )
                """)
            // Which content a name stood for: names can repeat (replicas sharing a database,
            // a clock stepped back), and replay must never skip a file it did not apply.
            try connection.execute("ALTER TABLE ingest_spool_applied ADD COLUMN IF NOT EXISTS checksum bigint")
            try connection.execute(SparkplugCatalog.create)
            try connection.execute(JournalDoneTable.create)
            try connection.execute(JournalDoneTable.index)
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS \(Self.quoted(textTable)) (
                  time timestamptz NOT NULL, device_id text NOT NULL, metric text NOT NULL, value text NOT NULL
                )
                """)
            for name in [table, textTable] {
                if available {
                    _ = try connection.scalar(
                        "SELECT create_hypertable($1::regclass, 'time', if_not_exists => TRUE, migrate_data => TRUE)",
                        [Self.quoted(name)])
                }
                try connection.execute(
                    "CREATE INDEX IF NOT EXISTS \"\(name)_device_time_idx\" ON \(Self.quoted(name)) (device_id, time DESC)")
                if dedupe {
                    try connection.execute(
                        "CREATE UNIQUE INDEX IF NOT EXISTS \"\(name)_dedupe_idx\" ON \(Self.quoted(name)) (device_id, metric, time)")
                }
            }
            var outcome = Outcome(timescale: available, timescaleUnavailable: unavailable)
            if available {
                // Under a savepoint: a lifecycle the server refuses (an operator's own index
                // that compression cannot cover, say) must not take the tables with it.
                try connection.execute("SAVEPOINT timescale_lifecycle")
                do throws(PostgresError) {
                    outcome.lifecycle = try TimescaleLifecycle(table: table, textTable: textTable, settings: timescale)
                        .apply(connection)
                    try connection.execute("RELEASE SAVEPOINT timescale_lifecycle")
                } catch {
                    if error.connectionLost { throw error }
                    try connection.execute("ROLLBACK TO SAVEPOINT timescale_lifecycle")
                    outcome.lifecycleError = error
                }
            }
            return outcome
        }
    }
}
