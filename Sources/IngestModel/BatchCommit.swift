/// What one committed batch tells the metrics (SPEC 10: `batch_flush_seconds`,
/// `batch_rows`, `end_to_end_latency_seconds`): numeric and text rows alike, so a message
/// of text readings only is a latency sample too.
public struct BatchCommit: Sendable, Equatable {
    /// Rows committed, numeric and text together (refused rows and rejects not counted).
    public var rows: Int
    /// From BEGIN to COMMIT of the batch's transaction.
    public var seconds: Double
    /// One receive time per message with a row committed, in batch order.
    public var receivedAt: [Int64]

    /// Memberwise.
    public init(rows: Int, seconds: Double, receivedAt: [Int64]) {
        self.rows = rows
        self.seconds = seconds
        self.receivedAt = receivedAt
    }

    /// The receive times of the messages behind `readings` and `texts`: one per message.
    /// Rows of one message are adjacent in each list, so numeric rows need no set; a
    /// message with rows in both lists is counted once, at the cost of a set only when the
    /// batch has text rows.
    public static func messages(_ readings: some Sequence<Reading>, _ texts: some Sequence<TextReading>) -> [Int64] {
        var times: [Int64] = []
        var previous = Int64.min
        for r in readings where r.source.receivedAt != previous {
            previous = r.source.receivedAt
            times.append(previous)
        }
        var seen: Set<Int64>? = nil
        previous = Int64.min
        for t in texts where t.source.receivedAt != previous {
            previous = t.source.receivedAt
            if seen == nil { seen = Set(times) }
            if seen!.insert(previous).inserted { times.append(previous) }
        }
        return times
    }
}
