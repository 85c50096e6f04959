/// What the daemon looks like right now, gathered cheaply (no I/O) for /ready, /health and
/// the gauges of /metrics. The daemon fills it; this module only judges and renders it.
public struct HealthSnapshot: Sendable {
    /// Connected to the broker now; false while reconnecting.
    public var mqttConnected = false
    /// The subscription was acknowledged since the last connect.
    public var mqttSubscribed = false
    /// `host:port` of the broker, for the mqtt component's metadata.
    public var broker = ""
    /// The filters subscribed, `$share/` prefix included.
    public var subscriptions: [String] = []
    /// Whether the database answered within the last check window (probe or flush).
    public var databaseReachable = false
    /// Microseconds since the epoch of the last probe or flush, 0 before the first.
    public var databaseCheckedAt: Int64 = 0
    /// The last check's error when the database is unreachable, else nil.
    public var databaseError: String?
    /// `database.pool_size`.
    public var poolSize = 0
    /// Writer connections open right now (at most `poolSize`).
    public var openConnections = 0
    /// Messages in the queue now.
    public var queueDepth = 0
    /// `queue.capacity`; the queue is `degraded` above 80 % of it.
    public var queueCapacity = 1
    /// Rows decoded but not yet committed or spooled (sealed batches counted as full).
    public var pendingRows = 0
    /// Microseconds since the epoch, 0 before the first flush.
    public var lastFlushAt: Int64 = 0
    /// Spool files waiting for replay; any makes the spool `degraded`.
    public var spoolFiles = 0
    /// Their total size in bytes.
    public var spoolBytes = 0
    /// Why the spool refused the last batch (the lanes hold it and push back), nil when writable.
    public var spoolFailure: String?
    /// Segment files of the crash journal on disk, and appends that waited for room.
    public var journalBytes = 0
    /// Appends that waited for journal room (`journal_blocked_appends_total`).
    public var journalBlockedAppends = 0
    /// `journal.dir`, nil when the journal is off (no `journal` component then).
    public var journalDirectory: String?
    /// Why the journal's disk refuses new segments (appends wait), nil while it takes them.
    public var journalFailure: String?
    /// Segment creations the disk refused, and flushes it failed (the two failure counters).
    public var journalWriteFailures = 0, journalSyncFailures = 0
    /// Set once shutdown begins: /ready then answers 503 so traffic moves away.
    public var shuttingDown = false
    /// Microseconds since the epoch when the daemon started, for `uptime_seconds`.
    public var startedAt: Int64 = 0

    /// Everything down and empty, so a source that sets nothing reads as unhealthy.
    public init() {}
}

/// Supplies snapshots (implemented by the daemon's pipeline).
public protocol HealthSource: Sendable {
    func snapshot() -> HealthSnapshot
}
