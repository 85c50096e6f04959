import IngestModel
import Logging

/// One attempt at one batch, in one transaction: the readings, the text readings, the
/// rejects, the Sparkplug metric definitions and the batch's journal entries commit together or not at all, so a crash never leaves rows without their
/// done-record (which would double them on replay) or the other way round (which would lose
/// them).
///
/// Readings go in first, then the rejects (their own COPY), so the rows the table refuses
/// while the readings are bisected join the rejects of the same batch. A COPY the table
/// refuses because of its data is undone to its savepoint and split in halves until the
/// refused rows stand alone; each of those becomes a `refused_by_db` reject with the
/// server's message, the rest is written.
struct WriteJob {
    private let batch: Batch
    private let settings: BatchWriter.Settings
    private var encoder = CopyEncoder()

    init(batch: Batch, settings: BatchWriter.Settings) {
        self.batch = batch
        self.settings = settings
    }

    /// Writes the batch. On a transient failure nothing of it is committed: the caller gets
    /// the error and retries the whole batch (or spools it).
    mutating func run(on connection: PostgresConnection, committed: (BatchCommit) -> Void,
                      logger: Logger) throws(PostgresError) -> SinkOutcome {
        var written: [Range<Int>] = []
        var writtenTexts: [Range<Int>] = []
        var refused: [Reject] = []
        let (target, readings, texts) = (settings.target, batch.readings, batch.texts)
        let started = Timestamp.monotonicSeconds()
        try connection.transaction { () throws(PostgresError) in
            refused += try Self.bisect(count: readings.count, source: { readings[$0].source }, encoder: &encoder,
                                       on: connection) { (range, encoder) throws(PostgresError) in
                encoder.encode(readings: readings[range])
                try target.copyReadings(encoder.buffer, format: .binary, on: connection)
                written.append(range)
            }
            refused += try Self.bisect(count: texts.count, source: { texts[$0].source }, encoder: &encoder,
                                       on: connection) { (range, encoder) throws(PostgresError) in
                encoder.encode(texts: texts[range])
                try target.copyTexts(encoder.buffer, format: .binary, on: connection)
                writtenTexts.append(range)
            }
            let rejects = batch.rejects + refused
            if !rejects.isEmpty {
                encoder.encode(rejects: rejects)
                do throws(PostgresError) {
                    try settings.target.copyRejects(encoder.buffer, format: .binary, on: connection)
                } catch where error.code == .data {
                    // A reject row the server will not take (it carries the original bytes as
                    // bytea, so this means a broken table): keep the batch for the spool.
                    throw PostgresError(code: .transient, sqlState: error.sqlState, message: error.message,
                                        connectionLost: false)
                }
            }
            if !batch.definitions.isEmpty {
                encoder.encode(definitions: batch.definitions)
                do throws(PostgresError) {
                    try target.upsertDefinitions(encoder.buffer, format: .binary, on: connection)
                } catch where error.code == .data {
                    // The decoder checked every name and alias: this means a broken table. Spool it.
                    throw PostgresError(code: .transient, sqlState: error.sqlState, message: error.message,
                                        connectionLost: false)
                }
            }
            if let journal = settings.journalID, !batch.entries.isEmpty {
                try JournalDoneTable.record(SeqRanges(covering: batch.entries).ranges, journal: journal, on: connection)
            }
        }
        let seconds = Timestamp.monotonicSeconds() - started
        let rows = written.reduce(0) { $0 + $1.count }, writtenText = writtenTexts.reduce(0) { $0 + $1.count }
        if rows + writtenText > 0 {
            let messages = BatchCommit.messages(written.lazy.flatMap { readings[$0] }, writtenTexts.lazy.flatMap { texts[$0] })
            committed(BatchCommit(rows: rows + writtenText, seconds: seconds, receivedAt: messages))
        }
        logger.debug("batch_committed", metadata: [
            "rows": .stringConvertible(rows), "text_rows": .stringConvertible(writtenText),
            "rejects": .stringConvertible(batch.rejects.count + refused.count),
        ])
        return SinkOutcome(written: rows, writtenText: writtenText, refused: refused)
    }

    /// COPYs rows `0..<count` with `copy`, each attempt under a savepoint, bisecting what
    /// the table refuses for its data (`Bisection`); returns those rows as `refused_by_db`
    /// rejects. `copy` runs only for ranges that go in or are being tried.
    private static func bisect(count: Int, source: (Int) -> Message, encoder: inout CopyEncoder,
                               on connection: PostgresConnection,
                               copy: (Range<Int>, inout CopyEncoder) throws(PostgresError) -> Void)
        throws(PostgresError) -> [Reject] {
        let refusals = try Bisection.refusals(count: count) { (range) throws(PostgresError) -> String? in
            try connection.execute("SAVEPOINT slice")
            do throws(PostgresError) {
                try copy(range, &encoder)
            } catch where error.code == .data {
                try connection.execute("ROLLBACK TO SAVEPOINT slice")
                return error.description
            }
            return nil
        }
        return refusals.map { refusal in
            let message = source(refusal.index)
            var reject = Reject(message, reason: .refusedByDB, detail: refusal.reason)
            reject.receivedAt = message.receivedAt
            return reject
        }
    }
}
