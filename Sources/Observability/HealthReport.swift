import IngestModel

/// Judges a snapshot (SPEC 9): ready means "writable" — MQTT connected and subscribed, the
/// database answered recently, the spool writable when needed, not shutting down. Ready but strained (queue above 80 %,
/// spool files waiting) is `degraded`, still 200. Pure, so the rules are unit-tested.
public struct HealthReport: Sendable {
    /// SPEC 9's three states; `degraded` still answers 200 on /health.
    public enum Status: String, Sendable {
        case healthy, degraded, unhealthy

        /// The value of `iot_ingest_health_status{component}`.
        public var gaugeValue: Double {
            switch self {
            case .healthy: 1
            case .degraded: 0.5
            case .unhealthy: 0
            }
        }
    }

    /// One entry of the detailed report's `components`.
    public struct Component: Sendable {
        /// `mqtt`, `database`, `queue`, `writer`, `spool` or `journal`: its key in `components`.
        public var name: String
        /// This component's own judgement; the report's `status` is the worst of them.
        public var status: Status
        /// One line for a human: what is wrong, or `ok`.
        public var message: String
        /// The numbers behind the status (SPEC 9's fields), in output order.
        public var metadata: [(String, JSONValue)]
    }

    /// The worst component's status, or `unhealthy` while shutting down.
    public let status: Status
    /// SPEC 9's five in its order (mqtt, database, queue, writer, spool), then `journal` when
    /// the journal is on.
    public let components: [Component]
    /// Microseconds since the epoch when the snapshot was judged (`checked_at`).
    public let checkedAt: Int64
    /// Since the daemon started (`uptime_seconds`).
    public let uptimeSeconds: Double

    /// Whether /ready answers 200: `degraded` still does, `unhealthy` gets 503 and `Retry-After`.
    public var isReady: Bool { status != .unhealthy }

    /// `now` in microseconds since the epoch; tests pass a fixed one.
    public init(_ s: HealthSnapshot, now: Int64 = Timestamp.now()) {
        checkedAt = now
        uptimeSeconds = Double(now - s.startedAt) / 1e6
        let queueRatio = Double(s.queueDepth) / Double(max(1, s.queueCapacity))
        let mqtt = Component(
            name: "mqtt",
            status: s.mqttConnected && s.mqttSubscribed ? .healthy : .unhealthy,
            message: s.mqttConnected ? (s.mqttSubscribed ? "connected and subscribed" : "connected, not subscribed")
                : "not connected",
            metadata: [("connected", .bool(s.mqttConnected)), ("broker", .string(s.broker)),
                       ("subscriptions", .array(s.subscriptions.map(JSONValue.string)))])
        let database = Component(
            name: "database",
            status: s.databaseReachable ? .healthy : .unhealthy,
            message: s.databaseReachable ? "answered within the last check" : (s.databaseError ?? "not reachable"),
            metadata: [("connected", .bool(s.databaseReachable)), ("pool_size", .int(s.poolSize)),
                       ("open_connections", .int(s.openConnections))])
        let queue = Component(
            name: "queue",
            status: queueRatio > 0.8 ? .degraded : .healthy,
            message: queueRatio > 0.8 ? "above 80% of capacity" : "ok",
            metadata: [("depth", .int(s.queueDepth)), ("capacity", .int(s.queueCapacity))])
        let writer = Component(
            name: "writer", status: .healthy, message: "ok",
            metadata: [("pending_rows", .int(s.pendingRows)),
                       ("last_flush_at", s.lastFlushAt > 0 ? .string(Timestamp.iso8601Millis(s.lastFlushAt)) : .null)])
        let spool = Component(
            name: "spool",
            status: s.spoolFailure != nil ? .unhealthy : s.spoolFiles > 0 ? .degraded : .healthy,
            message: s.spoolFailure.map { "cannot be written: " + $0 }
                ?? (s.spoolFiles > 0 ? "files waiting for replay" : "empty"),
            metadata: [("files", .int(s.spoolFiles)), ("bytes", .int(s.spoolBytes))])
        components = [mqtt, database, queue, writer, spool] + (s.journalDirectory.map { dir in
            // Beyond SPEC 9's five: a journal whose disk refuses segments holds the callback,
            // so nothing new is taken in; that is not ready.
            Component(
                name: "journal",
                status: s.journalFailure != nil ? .unhealthy : .healthy,
                message: s.journalFailure.map { "journal.dir \(dir) takes no appends (waiting): " + $0 } ?? "ok",
                metadata: [("dir", .string(dir)), ("bytes", .int(s.journalBytes)),
                           ("blocked_appends", .int(s.journalBlockedAppends))])
        }.map { [$0] } ?? [])
        if s.shuttingDown || components.contains(where: { $0.status == .unhealthy }) {
            status = .unhealthy
        } else if components.contains(where: { $0.status == .degraded }) {
            status = .degraded
        } else {
            status = .healthy
        }
    }

    /// The /ready body; components filled when `detailed`.
    public func json(version: String, detailed: Bool) -> JSONValue {
        let at = JSONValue.string(Timestamp.iso8601Millis(checkedAt))
        var components: [(String, JSONValue)] = []
        if detailed {
            components = self.components.map { c in
                (c.name, .object([("name", .string(c.name)), ("status", .string(c.status.rawValue)),
                                  ("message", .string(c.message)), ("checked_at", at), ("metadata", .object(c.metadata))]))
            }
        }
        return .object([
            ("status", .string(status.rawValue)), ("service", .string("iot-ingest")), ("version", .string(version)),
            ("checked_at", at), ("uptime_seconds", .double((uptimeSeconds * 1000).rounded() / 1000)),
            ("components", .object(components)),
        ])
    }
}
