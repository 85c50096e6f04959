/// What a libmosquitto client does for its owner: the calls `MQTTSubscriber` and the load
/// generator's publisher and bare subscriber make. A protocol so the subscriber's state
/// machine (connect, subscribe, lose, reconnect, stop) is tested with a fake client; the
/// real one is `MosquittoClient`.
public protocol MQTTClient: AnyObject, Sendable {
    /// Where the client's events go (set before `startLoop`, kept while the loop runs).
    func setEvents(_ events: any MQTTClientEvents)
    /// Starts an asynchronous connect; the result arrives as `connected(code:)`.
    func connect(host: String, port: Int, keepaliveSeconds: Int) throws(MQTTError)
    /// Starts the network thread (libmosquitto's, never a Swift cooperative thread).
    func startLoop() throws(MQTTError)
    /// Asks for a subscription; the grant arrives as `subscribed(granted:)`.
    func subscribe(_ topic: String, qos: Int) throws(MQTTError)
    /// Queues one message; with QoS > 0 its acknowledgement arrives as `published(mid:)`.
    func publish(topic: String, payload: UnsafeRawBufferPointer, qos: Int, retain: Bool) throws(MQTTError)
    /// Sends DISCONNECT (the loop writes it and ends).
    func disconnect()
    /// Joins the network thread; `force` wakes one sleeping between reconnect attempts.
    /// After it returns no event is delivered. Blocking.
    func stopLoop(force: Bool)
}

/// The client's events, delivered on its network thread, one at a time.
public protocol MQTTClientEvents: AnyObject, Sendable {
    /// CONNACK (or a failed attempt): 0 is accepted, else the broker's or libmosquitto's code.
    func connected(code: Int32)
    /// The connection ended: 0 when we asked for it.
    func disconnected(code: Int32)
    /// SUBACK: the granted QoS per topic, 0x80 for a refusal.
    func subscribed(granted: [Int32])
    /// A QoS > 0 message was acknowledged (QoS 0: written to the socket).
    func published(mid: Int32)
    /// A message: the topic, and the payload in libmosquitto's buffers (freed on return).
    func received(topic: UnsafePointer<CChar>, payload: UnsafeRawPointer?, length: Int)
}

extension MQTTClientEvents {
    /// Default: ignored, for owners that need not know the connection ended (the bare subscriber).
    public func disconnected(code: Int32) {}
    /// Default: ignored, for owners that never subscribe (the publisher).
    public func subscribed(granted: [Int32]) {}
    /// Default: ignored, for owners that do not publish.
    public func published(mid: Int32) {}
    /// Default: ignored, for owners that only publish.
    public func received(topic: UnsafePointer<CChar>, payload: UnsafeRawPointer?, length: Int) {}
}
