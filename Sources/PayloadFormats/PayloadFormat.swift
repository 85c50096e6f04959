import IngestModel

/// A payload format: bytes in, readings or a reject out (SPEC 4). Pure: no I/O and no state
/// shared between messages, so the workers can call it in parallel. JSON is the one format
/// today (`PayloadDecoder`); Sparkplug B and line protocol take their place beside it.
/// Class-bound so that the pipeline's `any PayloadFormat` is a plain reference on the
/// per-message path.
public protocol PayloadFormat: AnyObject, Sendable {
    /// `payload.max_bytes`: a larger payload is rejected `too_large` without being read.
    var maxBytes: Int { get }
    /// Appends the message's rows to `rows.readings` and `rows.texts`, adds the leaves it
    /// stores nowhere to `ignored`, and returns nil; or appends and counts nothing and
    /// returns the reject: a message is stored whole or not at all.
    func decode(_ message: Message, into rows: inout Batch, ignored: inout IgnoredFields) -> Reject?
}

extension PayloadDecoder: PayloadFormat {}
