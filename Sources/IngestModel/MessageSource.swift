/// Where messages come from: the MQTT subscriber in the daemon, a fake in the unit tests.
///
/// The source delivers on a thread of its own (libmosquitto's network thread) by calling
/// `MessageInlet.deliver`, which may block for queue room: that is the back-pressure.
public protocol MessageSource: Sendable {
    /// Starts delivering to `inlet`. Returns at once; a broker that is not there yet is the
    /// source's business (it retries).
    func start(delivering inlet: any MessageInlet) throws
    /// Stops reading and disconnects; once it returns, `deliver` is never called again.
    /// Blocking: called from a thread the daemon owns.
    func stop()
}
