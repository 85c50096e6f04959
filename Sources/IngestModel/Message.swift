/// One MQTT message as it left libmosquitto's callback: copied bytes, so the C buffers can be
/// freed at once, and the receive time, which is the reading time when the payload has none
/// and the start of the end-to-end latency measure.
public struct Message: Sendable {
    /// The topic the message was published on (a shared subscription does not change it).
    public var topic: String
    /// The bytes as published (or cut, see `size`); not assumed to be UTF-8.
    public var payload: [UInt8]
    /// Microseconds since the Unix epoch, taken in the MQTT callback.
    public var receivedAt: Int64
    /// Its entry in the crash journal, 0 when it has none (journal off).
    public var journalSeq: UInt64 = 0
    /// The payload's size as published. Larger than `payload.count` when the callback kept
    /// only the first `payload.max_bytes + 1` bytes of an oversized payload (it is rejected
    /// as `too_large` anyway, and a few 200 MB publishes must not cost 200 MB each).
    public var size: Int {
        get { Int(truncatingIfNeeded: sizeAndRoute & 0xFFFF_FFFF) }
        set { sizeAndRoute = (sizeAndRoute & ~0xFFFF_FFFF) | UInt64(UInt32(clamping: newValue)) }
    }
    /// Which route's format decodes it (SPEC 4a), found once per topic by the source;
    /// `unrouted` when nobody has looked (one route, or a message replayed from the journal).
    public var route: Int32 {
        get { Int32(truncatingIfNeeded: sizeAndRoute >> 32) }
        set { sizeAndRoute = (sizeAndRoute & 0xFFFF_FFFF) | (UInt64(UInt32(bitPattern: newValue)) << 32) }
    }
    /// `size` (32 bits: MQTT caps a payload at 268,435,455 bytes) and `route` in one word.
    /// Two fields would make the struct seven scalars, past what Swift copies inline: every
    /// copy of a message (four a message on the hot path, one into each reading) would go
    /// through an outlined value witness (callgrind: ~180 instructions a message more).
    private var sizeAndRoute: UInt64

    /// `route` of a message nobody has routed yet.
    public static let unrouted: Int32 = -1

    /// `size` is the published size when `payload` was cut; nil means `payload.count`.
    public init(topic: String, payload: [UInt8], receivedAt: Int64, size: Int? = nil) {
        self.topic = topic
        self.payload = payload
        self.receivedAt = receivedAt
        sizeAndRoute = UInt64(UInt32(clamping: size ?? payload.count)) | (UInt64(UInt32(bitPattern: Message.unrouted)) << 32)
    }
}
