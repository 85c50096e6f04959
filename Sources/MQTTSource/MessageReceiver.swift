#if canImport(Glibc)
import Glibc
#endif
import IngestModel

/// What the message callback does with each message once libmosquitto has parsed it: copies
/// topic and payload out of libmosquitto's buffers (freed when the callback returns; the
/// topic through a cache of recent topics, so it is not allocated again per message), stamps
/// the receive time and hands the message to the pipeline's inlet.
///
/// A type of its own, apart from the C callback, so `iot-loadgen --hot-path` can run exactly
/// this code without a broker (the callgrind benchmark counts its instructions).
public final class MessageReceiver: Sendable {
    let inlet: any MessageInlet
    let topics = TopicCache()

    /// Delivers to `inlet`, copying at most its `payloadCopyLimit` bytes of each payload.
    public init(inlet: any MessageInlet) {
        self.inlet = inlet
        routed = inlet.routed
    }

    /// `inlet.routed`, read once: with one route there is nothing to look up per topic.
    let routed: Bool

    /// One message. libmosquitto 2.0 has already acknowledged a QoS 1 message by now, so
    /// this never discards: it blocks for room under the `block` policy. Call it from one
    /// thread only (the cache is that thread's).
    public func receive(topic: UnsafePointer<CChar>, payload: UnsafeRawPointer?, length: Int) {
        let receivedAt = Timestamp.now()
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(topic).assumingMemoryBound(to: UInt8.self), count: strlen(topic))
        let topic: String
        var route = Message.unrouted
        if routed {
            (topic, route) = topics.routed(bytes, route: inlet.route(for:))
        } else {
            topic = topics.string(bytes)
        }
        let copied: [UInt8]
        if length > 0, let payload {
            copied = Array(UnsafeRawBufferPointer(start: payload, count: min(length, inlet.payloadCopyLimit)))
        } else {
            copied = []
        }
        var message = Message(topic: topic, payload: copied, receivedAt: receivedAt, size: length)
        message.route = route
        inlet.deliver(message)
    }
}
