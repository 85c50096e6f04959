/// One MQTT message as it left libmosquitto's callback: copied bytes, so the C buffers can be
/// freed at once, and the receive time, which is the reading time when the payload has none
/// and the start of the end-to-end latency measure.
public struct Message: Sendable {
    public var topic: String
    public var payload: [UInt8]
    /// Microseconds since the Unix epoch, taken in the MQTT callback.
    public var receivedAt: Int64
    /// Its entry in the crash journal, 0 when it has none (journal off).
    public var journalSeq: UInt64 = 0

    public init(topic: String, payload: [UInt8], receivedAt: Int64) {
        self.topic = topic
        self.payload = payload
        self.receivedAt = receivedAt
    }
}
