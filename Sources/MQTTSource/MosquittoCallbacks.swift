#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import IngestCore

// libmosquitto's callbacks, called on libmosquitto's own network thread. They are free
// @convention(c) functions (a closure literal in an actor-isolated context would inherit that
// isolation and trap when a foreign thread calls it). `userdata` is the subscriber's
// Context, kept alive by the subscriber until after mosquitto_loop_stop has joined the thread.

func context(_ userdata: UnsafeMutableRawPointer?) -> MQTTSubscriber.Context {
    Unmanaged<MQTTSubscriber.Context>.fromOpaque(userdata!).takeUnretainedValue()
}

func subscriber(_ userdata: UnsafeMutableRawPointer?) -> MQTTSubscriber {
    context(userdata).subscriber
}

func mosquittoOnConnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    subscriber(userdata).didConnect(code: rc)
}

func mosquittoOnDisconnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    subscriber(userdata).didDisconnect(code: rc)
}

func mosquittoOnSubscribe(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ mid: Int32,
                          _ count: Int32, _ granted: UnsafePointer<Int32>?) {
    let codes = (0..<Int(count)).map { granted![$0] }
    subscriber(userdata).didSubscribe(granted: codes)
}

/// Copies topic and payload out of libmosquitto's buffers (freed when we return; the topic
/// through a cache of recent topics, so it is not allocated again per message) and hands
/// the message to the pipeline's inlet. libmosquitto 2.0 has already acknowledged a QoS 1 message by
/// now, so this never discards: it blocks for room under the `block` policy.
func mosquittoOnMessage(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?,
                        _ message: UnsafePointer<mosquitto_message>?) {
    guard let message else { return }
    let receivedAt = Timestamp.now()
    let m = message.pointee
    let shared = context(userdata)
    let topic = shared.topics.string(UnsafeBufferPointer(start: UnsafeRawPointer(m.topic).assumingMemoryBound(to: UInt8.self),
                                                         count: strlen(m.topic)))
    let count = Int(m.payloadlen)
    let inlet = shared.inlet
    let payload: [UInt8]
    if count > 0, let bytes = m.payload {
        payload = Array(UnsafeRawBufferPointer(start: bytes, count: min(count, inlet.payloadCopyLimit)))
    } else {
        payload = []
    }
    inlet.deliver(Message(topic: topic, payload: payload, receivedAt: receivedAt, size: count))
}
