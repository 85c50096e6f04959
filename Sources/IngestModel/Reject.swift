/// Why a message (or one of its rows) could not be stored as readings. The raw values are the
/// `reason` column of `ingest_rejects` and the `reason` label of the rejects counter: stable.
public enum RejectReason: String, Sendable, CaseIterable {
    case invalidJSON = "invalid_json"
    case notUTF8 = "not_utf8"
    case noReadings = "no_readings"
    case badTimestamp = "bad_timestamp"
    case nonFinite = "non_finite"
    case tooLarge = "too_large"
    case topicMismatch = "topic_mismatch"
    case invalidField = "invalid_field"
    /// More than `payload.max_readings` readings in one message (never stored in part).
    case tooManyReadings = "too_many_readings"
    /// An Influx line protocol payload with a line that does not parse (SPEC 4c).
    case invalidLineProtocol = "invalid_line_protocol"
    /// A Sparkplug B payload that is not a valid Tahu protobuf, or a metric that contradicts its datatype (SPEC 4b).
    case invalidSparkplug = "invalid_sparkplug"
    /// A Sparkplug B metric whose alias no known birth defines (SPEC 4b): kept whole, a rebirth asked for.
    case unknownAlias = "unknown_alias"
    case refusedByDB = "refused_by_db"
}

/// A row of `ingest_rejects`: a message kept verbatim (cut to `payload.max_bytes`) with the
/// reason it was not stored, so nothing is silently dropped.
public struct Reject: Sendable {
    /// Microseconds since the Unix epoch, the message's receive time.
    public var receivedAt: Int64
    /// The topic as received.
    public var topic: String
    /// The payload verbatim, at most `payload.max_bytes` of it.
    public var payload: [UInt8]
    /// Stable: the `reason` column and metric label.
    public var reason: RejectReason
    /// What exactly was wrong, for a human reading `ingest_rejects` (the field, the byte offset).
    public var detail: String?

    /// For a reject with no `Message` at hand (tests); the decoders use `init(_:reason:detail:)`.
    public init(receivedAt: Int64, topic: String, payload: [UInt8], reason: RejectReason, detail: String?) {
        self.receivedAt = receivedAt
        self.topic = topic
        self.payload = payload
        self.reason = reason
        self.detail = detail
    }

    /// Keeps the message's receive time, topic and payload as they are.
    public init(_ message: Message, reason: RejectReason, detail: String? = nil) {
        self.init(receivedAt: message.receivedAt, topic: message.topic, payload: message.payload,
                  reason: reason, detail: detail)
    }
}
