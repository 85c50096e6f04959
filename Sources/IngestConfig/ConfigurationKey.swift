/// One key of SPEC 3's table: its type, default, range and whether it is secret or reloadable.
/// The table is the single source for parsing, validation, `check-config`, env names and
/// reload, so a new key is one line here plus a field in `IngestConfiguration`.
struct ConfigurationKey: Sendable {
    enum Kind: Sendable {
        case string
        case optionalString
        case int(ClosedRange<Int>)
        /// A number strictly greater than zero.
        case positive
        case bool
        case list
        /// A mapping of names to plain values (YAML mapping, or `k=v,k=v` from env / `--set`).
        case map
        case choice([String])
        /// A `LifecycleInterval`; with `off` true, also the word `off` (none).
        case interval(off: Bool)
        /// A list of `LifecycleInterval`s, possibly empty (`[]`), none given twice.
        case intervals
        /// `routes` (SPEC 4a): a YAML list of mappings (env and `--set`: the same in YAML's
        /// flow style, `[{topics: [a/#], format: influx_line}]`).
        case routes
    }

    enum Secret: Sendable { case no, whole, urlPassword }

    let path: String
    let kind: Kind
    let defaultValue: String?
    var secret: Secret = .no
    var reloadable = false

    var environmentName: String {
        "INGEST_" + String(path.uppercased().map { $0 == "." ? "_" : $0 })
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    static let all: [ConfigurationKey] = [
        .init(path: "mqtt.host", kind: .string, defaultValue: "localhost"),
        .init(path: "mqtt.port", kind: .int(1...65535), defaultValue: "1883"),
        .init(path: "mqtt.client_id", kind: .string, defaultValue: nil),
        .init(path: "mqtt.topics", kind: .list, defaultValue: "devices/+/telemetry"),
        .init(path: "mqtt.qos", kind: .int(0...2), defaultValue: "1"),
        .init(path: "mqtt.clean_session", kind: .bool, defaultValue: "false"),
        .init(path: "mqtt.shared_group", kind: .optionalString, defaultValue: nil),
        .init(path: "mqtt.keepalive_s", kind: .int(1...65535), defaultValue: "30"),
        .init(path: "mqtt.username", kind: .optionalString, defaultValue: nil),
        .init(path: "mqtt.password", kind: .optionalString, defaultValue: nil, secret: .whole),
        .init(path: "mqtt.password_file", kind: .optionalString, defaultValue: nil),
        .init(path: "mqtt.tls.ca_file", kind: .optionalString, defaultValue: nil),
        .init(path: "mqtt.tls.cert_file", kind: .optionalString, defaultValue: nil),
        .init(path: "mqtt.tls.key_file", kind: .optionalString, defaultValue: nil),
        .init(path: "mqtt.tls.insecure", kind: .bool, defaultValue: "false"),
        .init(path: "mqtt.reconnect_min_s", kind: .int(1...3600), defaultValue: "1"),
        .init(path: "mqtt.reconnect_max_s", kind: .int(1...3600), defaultValue: "30"),
        .init(path: "payload.topic_template", kind: .string, defaultValue: "devices/{device_id}/telemetry"),
        .init(path: "payload.max_bytes", kind: .int(1...268_435_456), defaultValue: "262144"),
        .init(path: "payload.max_readings", kind: .int(1...10_000_000), defaultValue: "1000"),
        .init(path: "payload.store_strings", kind: .bool, defaultValue: "true"),
        .init(path: "payload.influx_precision", kind: .choice(["ns", "us", "ms", "s"]), defaultValue: "ns"),
        .init(path: "routes", kind: .routes, defaultValue: nil),
        .init(path: "sparkplug.request_rebirth", kind: .bool, defaultValue: "true"),
        .init(path: "sparkplug.rebirth_interval_s", kind: .positive, defaultValue: "30"),
        .init(path: "sparkplug.host_id", kind: .optionalString, defaultValue: nil),
        .init(path: "timescale.chunk_interval", kind: .interval(off: false), defaultValue: "1 day"),
        .init(path: "timescale.compress_after", kind: .interval(off: true), defaultValue: "7 days"),
        .init(path: "timescale.retain_for", kind: .interval(off: true), defaultValue: "off"),
        .init(path: "timescale.rollups", kind: .intervals, defaultValue: "1 minute,1 hour"),
        .init(path: "database.url", kind: .string, defaultValue: "postgresql://postgres@localhost:5432/iot",
              secret: .urlPassword),
        .init(path: "database.pool_size", kind: .int(1...64), defaultValue: "2"),
        .init(path: "database.table", kind: .string, defaultValue: "readings"),
        .init(path: "database.create_schema", kind: .bool, defaultValue: "true"),
        .init(path: "database.dedupe", kind: .bool, defaultValue: "false"),
        .init(path: "queue.capacity", kind: .int(1...10_000_000), defaultValue: "50000"),
        .init(path: "queue.max_bytes", kind: .int(1 << 16...1 << 40), defaultValue: "16777216"),
        .init(path: "queue.full_policy", kind: .choice(["block", "drop_newest"]), defaultValue: "block",
              reloadable: true),
        .init(path: "workers", kind: .int(1...256), defaultValue: "2"),
        .init(path: "batch.max_rows", kind: .int(1...1_000_000), defaultValue: "500", reloadable: true),
        .init(path: "batch.flush_interval_ms", kind: .int(1...3_600_000), defaultValue: "1000", reloadable: true),
        .init(path: "batch.max_retries", kind: .int(0...100), defaultValue: "5", reloadable: true),
        .init(path: "shutdown.drain_timeout_s", kind: .positive, defaultValue: "10", reloadable: true),
        .init(path: "shutdown.timeout_s", kind: .positive, defaultValue: "25", reloadable: true),
        .init(path: "spool.dir", kind: .string, defaultValue: "./spool"),
        .init(path: "journal.enabled", kind: .bool, defaultValue: "true"),
        .init(path: "journal.dir", kind: .optionalString, defaultValue: nil),
        .init(path: "journal.max_bytes", kind: .int(1 << 20...1 << 50), defaultValue: "1073741824"),
        .init(path: "journal.fsync_interval_ms", kind: .int(0...3_600_000), defaultValue: "1000"),
        .init(path: "http.host", kind: .string, defaultValue: "0.0.0.0"),
        .init(path: "http.port", kind: .int(0...65535), defaultValue: "8080"),
        .init(path: "http.admin_token", kind: .optionalString, defaultValue: nil, secret: .whole),
        .init(path: "http.admin_token_file", kind: .optionalString, defaultValue: nil),
        .init(path: "log.level", kind: .choice(logLevels), defaultValue: "info", reloadable: true),
        .init(path: "log.format", kind: .choice(["json", "text"]), defaultValue: "json", reloadable: true),
        .init(path: "log.fields", kind: .map, defaultValue: nil),
    ]

    static let byPath: [String: ConfigurationKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.path, $0) })
}
