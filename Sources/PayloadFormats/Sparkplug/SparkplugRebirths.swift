import IngestModel
import Logging
import SparkplugB

/// Asks edge nodes to be born again (SPEC 4b): on a sequence gap or an alias no known birth
/// defines, publishes `spBv1.0/<group>/NCMD/<edge_node>` with the boolean metric
/// `Node Control/Rebirth` = true, at most once per node per `sparkplug.rebirth_interval_s`
/// (the throttle is kept in `SparkplugSessions`, under its lock).
public final class SparkplugRebirths: Sendable {
    /// `sparkplug.request_rebirth`.
    public let enabled: Bool
    /// `sparkplug.rebirth_interval_s`.
    public let interval: Double
    let publisher: (any ControlPublisher)?
    let stats: IngestStats
    let logger: Logger

    /// `publisher` nil (or `enabled` false): requests are never sent.
    public init(enabled: Bool, interval: Double, publisher: (any ControlPublisher)?, stats: IngestStats, logger: Logger) {
        self.enabled = enabled && publisher != nil
        self.interval = interval
        self.publisher = publisher
        self.stats = stats
        self.logger = logger
    }

    /// The NCMD payload: one Boolean metric `Node Control/Rebirth` = true, stamped `now` (ms).
    public static func command(now milliseconds: UInt64) -> [UInt8] {
        var metric = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
        metric.name = "Node Control/Rebirth"
        metric.datatype = SparkplugDataType.boolean
        metric.booleanValue = true
        var payload = Org_Eclipse_Tahu_Protobuf_Payload()
        payload.timestamp = milliseconds
        payload.metrics = [metric]
        // Serialising a message built here cannot fail (no required fields, no unknown extensions).
        return (try? payload.serializedBytes()) ?? []
    }

    /// Publishes the request for `topic`'s edge node (the caller has checked the throttle).
    /// Called on a worker task: the publish only queues the packet for libmosquitto's own
    /// network thread (threaded mode), it never waits for the socket or the broker.
    func request(_ topic: SparkplugTopic, reason: String) {
        guard let publisher else { return }
        let target = "\(SparkplugTopic.namespace)/\(topic.group)/NCMD/\(topic.node)"
        let sent = publisher.publish(topic: target, payload: Self.command(now: UInt64(Timestamp.now() / 1000)),
                                     qos: 0, retain: false)
        if sent { stats.sparkplugRebirths.add(1, ordering: .relaxed) }
        logger.notice("sparkplug_rebirth_requested", metadata: [
            "edge_node": .string(topic.nodeID), "reason": .string(reason), "topic": .string(target),
            "sent": .stringConvertible(sent),
        ])
    }
}
