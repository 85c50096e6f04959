/// One row of the readings table: `(time, device_id, metric, value)`.
///
/// It keeps the message it came from so that, if the database refuses this one row (a CHECK
/// constraint or trigger), the original topic and payload can go to `ingest_rejects`.
public struct Reading: Sendable {
    /// Microseconds since the Unix epoch.
    public var time: Int64
    public var deviceID: String
    public var metric: String
    public var value: Double
    public var source: Message

    public init(time: Int64, deviceID: String, metric: String, value: Double, source: Message) {
        self.time = time
        self.deviceID = deviceID
        self.metric = metric
        self.value = value
        self.source = source
    }
}
