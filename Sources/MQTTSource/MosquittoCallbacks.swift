import CMosquitto

// libmosquitto's callbacks, called on libmosquitto's own network thread. They are free
// @convention(c) functions (a closure literal in an actor-isolated context would inherit that
// isolation and trap when a foreign thread calls it). `userdata` is the client's EventsBox,
// kept alive by the MosquittoClient until its handle is destroyed (after the loop is joined).

private func events(_ userdata: UnsafeMutableRawPointer?) -> any MQTTClientEvents {
    Unmanaged<EventsBox>.fromOpaque(userdata!).takeUnretainedValue().events
}

func mosquittoOnConnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    events(userdata).connected(code: rc)
}

func mosquittoOnDisconnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    events(userdata).disconnected(code: rc)
}

func mosquittoOnSubscribe(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ mid: Int32,
                          _ count: Int32, _ granted: UnsafePointer<Int32>?) {
    let codes = (0..<Int(count)).map { granted![$0] }
    events(userdata).subscribed(granted: codes)
}

func mosquittoOnPublish(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ mid: Int32) {
    events(userdata).published(mid: mid)
}

/// Hands the message on; the receiver copies what it needs before this returns
/// (libmosquitto frees its buffers then).
func mosquittoOnMessage(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?,
                        _ message: UnsafePointer<mosquitto_message>?) {
    guard let message else { return }
    let m = message.pointee
    events(userdata).received(topic: m.topic, payload: m.payload, length: Int(m.payloadlen))
}
