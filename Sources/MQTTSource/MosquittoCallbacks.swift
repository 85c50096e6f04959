import CMosquitto

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

/// Hands the message to the subscriber's `MessageReceiver`, which copies what it needs
/// before this returns (libmosquitto frees its buffers then).
func mosquittoOnMessage(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?,
                        _ message: UnsafePointer<mosquitto_message>?) {
    guard let message else { return }
    let m = message.pointee
    context(userdata).receiver.receive(topic: m.topic, payload: m.payload, length: Int(m.payloadlen))
}
