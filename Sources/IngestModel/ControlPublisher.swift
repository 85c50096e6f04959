/// Messages the daemon itself publishes to the broker: Sparkplug B's rebirth requests (NCMD)
/// and its host STATE (SPEC 4b). The MQTT subscriber's one connection does it, so the broker
/// sees one client; a fake in the unit tests.
public protocol ControlPublisher: AnyObject, Sendable {
    /// Queues one message for the network thread and returns at once (never waits for the
    /// broker); false when it could not be queued (not connected, say).
    @discardableResult
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) -> Bool
}
