/// The pipeline's entrance as a source sees it: the source calls `deliver` on its own thread
/// for every message, and may be held there while the queue is full (the back-pressure).
/// A protocol so that sources (MQTT, the hot-path harness, the tests' fake) do not depend on
/// the pipeline that implements it. Class-bound: called for every message on the source's
/// thread, where a plain reference is cheaper than an existential box.
public protocol MessageInlet: AnyObject, Sendable {
    /// The most payload bytes worth copying out of the source's buffer: one past the
    /// payload limit, enough for the decoder to reject the message as `too_large`.
    var payloadCopyLimit: Int { get }
    /// Hands one message to the pipeline; returns once it is journaled and queued (or
    /// dropped and counted, or spooled).
    func deliver(_ message: Message)
    /// Whether messages need a route (SPEC 4a: more than one route is configured). When
    /// false, a source leaves `Message.route` unresolved and saves the lookup.
    var routed: Bool { get }
    /// The route of `topic` (`Message.route`); the source calls it once per topic and
    /// caches the answer with the topic's string.
    func route(for topic: String) -> Int32
}

extension MessageInlet {
    /// One route, or none to choose between.
    public var routed: Bool { false }
    /// Unresolved: the decoder resolves it if it must.
    public func route(for topic: String) -> Int32 { Message.unrouted }
}
