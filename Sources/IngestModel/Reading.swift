/// One row of the readings table: `(time, device_id, metric, value)`.
///
/// It keeps the message it came from so that, if the database refuses this one row (a CHECK
/// constraint or trigger), the original topic and payload can go to `ingest_rejects`.
public struct Reading: Sendable {
    /// Microseconds since the Unix epoch.
    public var time: Int64
    /// From the topic's `{device_id}` segment, else the payload's `device_id` field; never empty,
    /// at most 255 bytes.
    public var deviceID: String
    /// The field's name (nested ones joined with dots), the `metric` field, the topic's
    /// `{metric}` segment, or `value` for a bare number; same limits as `deviceID`.
    public var metric: String
    /// Always finite (non-finite values are rejected); booleans are stored as 1 and 0.
    public var value: Double
    /// The message it came from, for `ingest_rejects` if the database refuses this row; the
    /// readings of one message share its payload buffer.
    public var source: Message

    /// `time` in microseconds since the Unix epoch.
    public init(time: Int64, deviceID: String, metric: String, value: Double, source: Message) {
        self.time = time
        self.deviceID = deviceID
        self.metric = metric
        self.value = value
        self.source = source
    }
}
