/// What one COPY (plus its rejects) carries to the database: the unit of retry, of
/// bisection and of spooling.
public struct Batch: Sendable {
    /// Rows for the readings table (`database.table`).
    public var readings: [Reading]
    /// Rows for the text table (`<database.table>_text`), committed with the readings.
    public var texts: [TextReading] = []
    /// Rows for `ingest_rejects`, written in the same transaction as the readings.
    public var rejects: [Reject]
    /// Rows for `sparkplug_metrics` (SPEC 4b's birth catalog), committed with the readings of
    /// the births that define them, so a birth is on record exactly when its journal entry is done.
    public var definitions: [MetricDefinition] = []
    /// The journal entries of the messages whose every row (reading or reject) is in this
    /// batch: once it is committed or spooled, they are done. A message's rows never span
    /// two batches (the batcher takes a worker's output whole).
    public var entries: [UInt64] = []
    /// Payload bytes of the messages decoded into this batch: what they hold of
    /// `queue.max_bytes` until the batch is committed or spooled (`ByteBudget`).
    public var payloadBytes = 0

    /// The caller keeps each message whole: all its rows and its entry in one batch (see `entries`).
    public init(readings: [Reading] = [], texts: [TextReading] = [], rejects: [Reject] = [],
                definitions: [MetricDefinition] = [], entries: [UInt64] = []) {
        self.readings = readings
        self.texts = texts
        self.rejects = rejects
        self.definitions = definitions
        self.entries = entries
    }

    /// Appends another batch's rows and entries.
    public mutating func absorb(_ other: Batch) {
        readings += other.readings
        texts += other.texts
        rejects += other.rejects
        definitions += other.definitions
        entries += other.entries
        payloadBytes += other.payloadBytes
    }

    /// Rows, definitions or journal entries: something to write, spool or mark done.
    public var hasContent: Bool {
        !(readings.isEmpty && texts.isEmpty && rejects.isEmpty && definitions.isEmpty && entries.isEmpty)
    }

    /// True only with no content and no payload bytes held: a batch of messages that gave no
    /// row (and have no journal entry) still has to reach a writer lane to give its bytes back.
    public var isEmpty: Bool { !hasContent && payloadBytes == 0 }

    /// Readings, text readings and rejects: the rows this batch puts in the database (the
    /// catalog's definitions are bookkeeping, counted by no row metric).
    public var rowCount: Int { readings.count + texts.count + rejects.count }
}
