/// What the daemon looks like right now, gathered cheaply (no I/O) for /ready, /health and
/// the gauges of /metrics. The daemon fills it; this module only judges and renders it.
public struct HealthSnapshot: Sendable {
    public var mqttConnected = false
    public var mqttSubscribed = false
    public var broker = ""
    public var subscriptions: [String] = []
    /// Whether the database answered within the last check window (probe or flush).
    public var databaseReachable = false
    public var databaseCheckedAt: Int64 = 0
    public var databaseError: String?
    public var poolSize = 0
    public var openConnections = 0
    public var queueDepth = 0
    public var queueCapacity = 1
    public var pendingRows = 0
    /// Microseconds since the epoch, 0 before the first flush.
    public var lastFlushAt: Int64 = 0
    public var spoolFiles = 0
    public var spoolBytes = 0
    /// Why the spool refused the last batch (the lanes hold it and push back), nil when writable.
    public var spoolFailure: String?
    /// Segment files of the crash journal on disk, and appends that waited for room.
    public var journalBytes = 0
    public var journalBlockedAppends = 0
    public var shuttingDown = false
    public var startedAt: Int64 = 0

    public init() {}
}

/// Supplies snapshots (implemented by the daemon's pipeline).
public protocol HealthSource: Sendable {
    func snapshot() -> HealthSnapshot
}
