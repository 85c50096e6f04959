import IngestModel

/// A payload format: bytes in, readings or a reject out (SPEC 4). JSON (`PayloadDecoder`) and
/// line protocol are pure: no I/O and no state shared between messages, so the workers call
/// them in parallel. Sparkplug B is `ordered`: its births and sequence numbers make a
/// message's meaning depend on the messages before it, so the pipeline decodes those in
/// delivery order. Class-bound so that the pipeline's `any PayloadFormat` is a plain
/// reference on the per-message path.
public protocol PayloadFormat: AnyObject, Sendable {
    /// `payload.max_bytes`: a larger payload is rejected `too_large` without being read.
    var maxBytes: Int { get }
    /// Appends the message's rows to `rows.readings` and `rows.texts`, adds the leaves it
    /// stores nowhere to `ignored`, and returns nil; or appends and counts nothing and
    /// returns the reject: a message is stored whole or not at all.
    func decode(_ message: Message, into rows: inout Batch, ignored: inout IgnoredFields) -> Reject?
    /// Whether some messages must be decoded in delivery order (false: any order, in parallel).
    var ordered: Bool { get }
    /// Whether this message must be decoded in delivery order (only asked when `ordered`).
    func isOrdered(_ message: Message) -> Bool
    /// Journal replay starts (`true`) or ends: messages then come from the journal, not the broker.
    func replaying(_ on: Bool)
}

extension PayloadFormat {
    /// Stateless formats: any order.
    public var ordered: Bool { false }
    /// A format is ordered as a whole or not at all; the router answers per message.
    public func isOrdered(_ message: Message) -> Bool { ordered }
    /// Stateless formats do not care.
    public func replaying(_ on: Bool) {}
}

extension PayloadDecoder: PayloadFormat {}
