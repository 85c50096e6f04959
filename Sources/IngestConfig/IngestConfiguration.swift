import IngestModel
import PayloadFormats

/// The daemon's effective configuration (SPEC 3), typed and validated. Built only by
/// `ConfigurationLoader`, so every instance has passed validation.
public struct IngestConfiguration: Sendable, Equatable {
    /// `mqtt.tls.*`: TLS to the broker, used only when `caFile` is set.
    public struct TLS: Sendable, Equatable {
        /// `mqtt.tls.ca_file` (default none): CA file for the broker's certificate; setting it turns TLS on.
        public var caFile: String?
        /// `mqtt.tls.cert_file` (default none): client certificate; the loader requires `keyFile` with it.
        public var certFile: String?
        /// `mqtt.tls.key_file` (default none): the client certificate's private key; goes with `certFile`.
        public var keyFile: String?
        /// `mqtt.tls.insecure` (default false): skip the check of the broker's host name against its
        /// certificate (`mosquitto_tls_insecure_set`); for tests, never production.
        public var insecure: Bool
    }

    /// The `mqtt.*` keys: broker connection and subscription. None is reloadable.
    public struct MQTT: Sendable, Equatable {
        /// `mqtt.host` (default `localhost`): the broker's host name or address.
        public var host: String
        /// `mqtt.port` (default 1883): the broker's port, 1-65535.
        public var port: Int
        /// `mqtt.client_id` (default `iot-ingest-<hostname>`): must stay stable across restarts, or the
        /// broker forgets our persistent session; also the `instance` field of every log line.
        public var clientID: String
        /// `mqtt.topics` (default `["devices/+/telemetry"]`): topic filters, validated at load;
        /// comma-separated in env and `--set`.
        public var topics: [String]
        /// `mqtt.qos` (default 1): the subscription's QoS, 0-2.
        public var qos: Int
        /// `mqtt.clean_session` (default false): false lets the broker queue our messages while we are down.
        public var cleanSession: Bool
        /// `mqtt.shared_group` (default none): shared-subscription group for scaling out over replicas;
        /// never contains `/`, `+` or `#`.
        public var sharedGroup: String?
        /// `mqtt.keepalive_s` (default 30): MQTT keepalive in seconds.
        public var keepaliveSeconds: Int
        /// `mqtt.username` (default none): without it no credentials are sent, not even a password.
        public var username: String?
        /// From `mqtt.password`, or read from `mqtt.password_file` at load time.
        public var password: String?
        /// `mqtt.tls.*`: ignored unless `tls.caFile` is set.
        public var tls: TLS
        /// `mqtt.reconnect_min_s` (default 1): first reconnect delay in seconds; it grows exponentially
        /// up to `reconnectMaxSeconds`.
        public var reconnectMinSeconds: Int
        /// `mqtt.reconnect_max_s` (default 30): cap of the reconnect delay in seconds; the loader
        /// refuses a value below `reconnectMinSeconds`.
        public var reconnectMaxSeconds: Int
    }

    /// The `payload.*` keys: how a topic and a JSON payload become readings (SPEC 4). None is reloadable.
    public struct Payload: Sendable, Equatable {
        /// `payload.topic_template` (default `devices/{device_id}/telemetry`): where the device id and
        /// the optional metric sit in the topic.
        public var topicTemplate: TopicTemplate
        /// `payload.max_bytes` (default 262144): larger payloads are rejected (`too_large`), not decoded.
        public var maxBytes: Int
        /// `payload.max_readings` (default 1000): more rows (numeric + text) from one message
        /// rejects it whole (`too_many_readings`).
        public var maxReadings: Int = 1000
        /// `payload.store_strings` (default true): string leaves go to the text table; false
        /// counts them in `fields_ignored_total{kind="string"}`.
        public var storeStrings: Bool = true
        /// `payload.influx_precision` (default `ns`): the unit of line protocol timestamps.
        public var influxPrecision: InfluxLineDecoder.Precision = .nanoseconds
    }

    /// The `database.*` keys (SPEC 5). None is reloadable.
    public struct Database: Sendable, Equatable {
        /// `database.url` (default `postgresql://postgres@localhost:5432/iot`): libpq URI or key=value
        /// string; its password is masked wherever it is printed (`Redaction.databaseURL`).
        public var url: String
        /// `database.pool_size` (default 2): connections the writer uses, 1-64.
        public var poolSize: Int
        /// `database.table` (default `readings`): checked to be a plain SQL identifier, so SQL text may
        /// name it unquoted.
        public var table: String
        /// `database.create_schema` (default true): run the `migrate` steps at start-up.
        public var createSchema: Bool
        /// `database.dedupe` (default false): a unique index and a staging table, so a QoS 1
        /// redelivery is stored once (SPEC 5).
        public var dedupe: Bool
    }

    /// The `timescale.*` keys (SPEC 5a): how the hypertables are kept for months. Applied by
    /// `migrate` and at start-up; skipped on plain PostgreSQL. None is reloadable.
    public struct Timescale: Sendable, Equatable {
        /// `timescale.chunk_interval` (default `1 day`, at least 1 minute): the span of one chunk
        /// of both hypertables; a change applies to chunks created after it.
        public var chunkInterval: LifecycleInterval
        /// `timescale.compress_after` (default `7 days`; nil: `off`): chunks older than this are
        /// compressed by TimescaleDB's policy.
        public var compressAfter: LifecycleInterval?
        /// `timescale.retain_for` (default `off`, nil): chunks older than this are dropped.
        public var retainFor: LifecycleInterval?
        /// `timescale.rollups` (default `1 minute`, `1 hour`): one continuous aggregate per length,
        /// shortest first.
        public var rollups: [LifecycleInterval]

        /// The built-in defaults (SPEC 3), for callers that build settings by hand.
        public static let defaults = Timescale(chunkInterval: LifecycleInterval(seconds: 86_400),
                                               compressAfter: LifecycleInterval(seconds: 7 * 86_400),
                                               retainFor: nil,
                                               rollups: [LifecycleInterval(seconds: 60), LifecycleInterval(seconds: 3_600)])

        /// How far back a roll-up's refresh reaches: all of history without retention (late
        /// data of any age reaches the roll-ups), else the retention less one chunk, because a
        /// refresh over a range whose chunks were dropped would empty the roll-up there too.
        public var refreshReach: LifecycleInterval? {
            guard let retain = retainFor else { return nil }
            return retain.seconds > chunkInterval.seconds ? LifecycleInterval(seconds: retain.seconds - chunkInterval.seconds) : nil
        }

        /// The shortest retention the roll-ups allow: a chunk, plus three of the longest
        /// roll-up's buckets (the newest bucket is left to real-time aggregation, and a
        /// refresh window must span two buckets).
        public var shortestRetention: LifecycleInterval? {
            guard let longest = rollups.max() else { return nil }
            return LifecycleInterval(seconds: chunkInterval.seconds + 3 * longest.seconds)
        }

        /// Memberwise.
        public init(chunkInterval: LifecycleInterval, compressAfter: LifecycleInterval?,
                    retainFor: LifecycleInterval?, rollups: [LifecycleInterval]) {
            self.chunkInterval = chunkInterval
            self.compressAfter = compressAfter
            self.retainFor = retainFor
            self.rollups = rollups
        }
    }

    /// The `queue.*` keys: the queue between the MQTT thread and the workers (SPEC 6).
    public struct Queue: Sendable, Equatable {
        /// `queue.full_policy`: what the MQTT thread does when the queue is full.
        public enum FullPolicy: String, Sendable, CaseIterable {
            /// Wait for room: back-pressure reaches the broker.
            case block
            /// Refuse the new message at once; it is counted as dropped.
            case dropNewest = "drop_newest"
        }

        /// `queue.capacity` (default 50000): messages held between MQTT and the workers; fixed at start-up.
        public var capacity: Int
        /// `queue.full_policy` (default `block`), reloadable.
        public var fullPolicy: FullPolicy
        /// `queue.max_bytes` (default 16777216, 16 MiB): payload bytes held from the MQTT callback
        /// to the commit (queue, batches, writers), under `full_policy` like the capacity; fixed
        /// at start-up. Sized so the shipped memory limits hold with large payloads (README).
        public var maxBytes: Int = 16 << 20
    }

    /// The `batch.*` keys, all reloadable: when the writer flushes a batch and how often it retries.
    public struct BatchSettings: Sendable, Equatable {
        /// `batch.max_rows` (default 500), reloadable: a batch is flushed when it has this many rows...
        public var maxRows: Int
        /// `batch.flush_interval_ms` (default 1000), reloadable: ...or when its oldest row is this many
        /// milliseconds old.
        public var flushIntervalMs: Int
        /// `batch.max_retries` (default 5), reloadable: retries after a batch's first failed write, with
        /// backoff capped at 5 s; then the batch goes to the spool.
        public var maxRetries: Int
    }

    /// The `journal.*` keys: the crash journal (SPEC 8a). None is reloadable.
    public struct Journal: Sendable, Equatable {
        /// `journal.enabled` (default true): false means messages not yet committed die with the process.
        public var enabled: Bool
        /// `journal.dir`, defaulting to `<spool.dir>/journal`.
        public var directory: String
        /// `journal.max_bytes` (default 1073741824, at least 1 MiB): disk the journal may hold; when it
        /// is full the MQTT callback blocks, it never drops.
        public var maxBytes: Int
        /// `journal.fsync_interval_ms` (default 1000): bounds what a power loss can take; 0 fsyncs on
        /// every append (slow).
        public var fsyncIntervalMs: Int
    }

    /// The `shutdown.*` keys, both reloadable (SPEC 7).
    public struct Shutdown: Sendable, Equatable {
        /// `shutdown.drain_timeout_s` (default 10), reloadable: seconds the queue may take to drain after
        /// MQTT stops; kept below `timeoutSeconds` (when only the deadline was lowered, the loader caps
        /// it to half the deadline and warns).
        public var drainTimeoutSeconds: Double
        /// `shutdown.timeout_s` (default 25), reloadable: hard deadline in seconds for the whole shutdown;
        /// keep it below the orchestrator's grace period.
        public var timeoutSeconds: Double
    }

    /// The `http.*` keys: probes, metrics and the admin endpoint (SPEC 9). None is reloadable.
    public struct HTTP: Sendable, Equatable {
        /// `http.host` (default `0.0.0.0`): the address the HTTP server listens on.
        public var host: String
        /// 0 disables the server.
        public var port: Int
        /// From `http.admin_token`, or read from `http.admin_token_file` at load time; nil
        /// (the default) leaves `POST /admin/reload` answering 404.
        public var adminToken: String? = nil
    }

    /// The `log.*` keys (SPEC 11).
    public struct Log: Sendable, Equatable {
        /// The `log.format` choices: one JSON object per line, or `ts level event key=value…` text.
        public enum Format: String, Sendable { case json, text }
        /// `log.level` (default `info`), reloadable: trace, debug, info, notice, warning, error or critical.
        public var level: String
        /// `log.format` (default `json`), reloadable.
        public var format: Format
        /// `log.fields`: static fields on every line, so the lines of several replicas can be
        /// told apart in one log store (SPEC 3). Needs a restart to change.
        public var fields: [String: String] = [:]

        /// The fields the line writer puts first on every line itself (SPEC 11).
        public static let lineFields: Set<String> = ["ts", "level", "event", "service"]
        /// Names `log.fields` cannot take: the line's own, and `instance` (SPEC 3).
        public static let reservedFields: Set<String> = lineFields.union(["instance"])
    }

    /// The `sparkplug.*` keys (SPEC 4b): how the daemon acts as a Sparkplug B host application.
    /// Used only when a route has `format: sparkplug_b`; none is reloadable.
    public struct Sparkplug: Sendable, Equatable {
        /// `sparkplug.request_rebirth` (default true): publish NCMD `Node Control/Rebirth` on a
        /// sequence gap or an unknown alias.
        public var requestRebirth = true
        /// `sparkplug.rebirth_interval_s` (default 30): at most one request per edge node in this time.
        public var rebirthIntervalSeconds = 30.0
        /// `sparkplug.host_id` (default none): publish the Sparkplug 3.0 STATE birth and death
        /// as this primary host application.
        public var hostID: String?

        /// The defaults (SPEC 3).
        public init(requestRebirth: Bool = true, rebirthIntervalSeconds: Double = 30, hostID: String? = nil) {
            self.requestRebirth = requestRebirth
            self.rebirthIntervalSeconds = rebirthIntervalSeconds
            self.hostID = hostID
        }

        /// `spBv1.0/STATE/<host_id>`, when a host id is set.
        public var stateTopic: String? { hostID.map { "spBv1.0/STATE/\($0)" } }
    }

    /// `mqtt.*`: broker connection and subscription.
    public var mqtt: MQTT
    /// `payload.*`: topic template and size limit.
    public var payload: Payload
    /// `database.*`: where and how rows are written.
    public var database: Database
    /// `timescale.*`: chunk interval, compression, retention and roll-ups.
    public var timescale: Timescale = .defaults
    /// `sparkplug.*`: the Sparkplug B host application's options.
    public var sparkplug = Sparkplug()
    /// `routes` in effect (SPEC 4a), never empty: the configured ones, or the one JSON route
    /// of `mqtt.topics` and `payload.topic_template`.
    public var routes: [Route] = []
    /// `queue.*`: capacity (fixed) and full policy (reloadable).
    public var queue: Queue
    /// `workers` (default 2): decode tasks, 1-256; fixed at start-up.
    public var workers: Int
    /// `batch.*`, reloadable: flush thresholds and retries.
    public var batch: BatchSettings
    /// `shutdown.*`, reloadable: drain time and hard deadline.
    public var shutdown: Shutdown
    /// `spool.dir` (default `./spool`): where batches wait while the database is away; must be
    /// writable (checked at start-up).
    public var spoolDirectory: String
    /// `journal.*`: the crash journal.
    public var journal: Journal
    /// `http.*`: the HTTP server and the admin token.
    public var http: HTTP
    /// `log.*`: level and format (reloadable), static fields (restart).
    public var log: Log
    /// Where the file came from, if any (for reload and for `config_loaded`).
    public var filePath: String?
    /// The flat effective values, secrets masked: what `check-config` prints and
    /// `config_loaded` logs, and what reload diffs.
    public var redacted: [String: JSONValue]
    /// What the loader adjusted rather than refused (logged as `config_warning` at start-up).
    public var warnings: [String] = []
}
