/// Where batches the sink could not take are kept on disk (SPEC 8), as the pipeline sees it.
///
/// A protocol so the core knows no file formats: the daemon gives it the `Durability`
/// module's `Spool`; the unit tests may give it one that fails, to test back-pressure.
public protocol BatchSpool: Sendable {
    /// Writes the batch's readings and rejects durably (fsynced before it returns) and
    /// returns the rows written. With a `journal` id, the batch's journal entries are recorded
    /// as done beside the rows, in the same durable write. Blocking: call it from a thread
    /// the daemon owns.
    func write(_ batch: Batch, journal: String?) throws -> Int
    /// The ranges of `journal`'s entries recorded done beside spool files (journal recovery
    /// counts them done: their rows are safe in the spool). Blocking.
    func doneEntries(journal: String) -> [ClosedRange<UInt64>]
}
