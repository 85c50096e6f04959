import IngestCore
import Logging

/// One attempt at one batch. It keeps its progress, so what it hands back as unwritten is
/// exactly what was not committed, and a retry never writes a part twice.
///
/// Readings go in first, then the rejects (their own COPY), so the rows the table refuses
/// while the readings are bisected join the rejects of the same batch. A COPY the table
/// refuses because of its data is split in halves until the refused rows stand alone; each
/// of those becomes a `refused_by_db` reject with the server's message, the rest is written.
struct WriteJob {
    private let settings: BatchWriter.Settings
    private var rejects: [Reject]
    /// Slices of readings still to write, next one last (a stack, for bisection).
    private var pending: [ArraySlice<Reading>]
    private var written = 0
    private var refused: [Reject] = []
    private var encoder = CopyEncoder()

    init(batch: Batch, settings: BatchWriter.Settings) {
        self.settings = settings
        rejects = batch.rejects
        pending = batch.readings.isEmpty ? [] : [batch.readings[...]]
    }

    /// What this attempt achieved; `failure` is why it stopped early, if it did.
    func outcome(failure: String?) -> SinkOutcome {
        let rest = Batch(readings: pending.reversed().flatMap { $0 }, rejects: rejects)
        return SinkOutcome(written: written, refused: refused, unwritten: rest.isEmpty ? nil : rest,
                           failure: rest.isEmpty ? nil : failure)
    }

    /// Writes everything, throwing on the first transient failure with the progress kept.
    mutating func run(on connection: PostgresConnection,
                      committed: (ArraySlice<Reading>, Double) -> Void, logger: Logger) throws(PostgresError) {
        while let slice = pending.last {
            let started = Timestamp.monotonicSeconds()
            do {
                try copy(slice, on: connection)
            } catch where error.kind == .data {
                pending.removeLast()
                if slice.count == 1 {
                    var reject = Reject(slice.first!.source, reason: .refusedByDB, detail: error.description)
                    reject.receivedAt = slice.first!.source.receivedAt
                    rejects.append(reject)
                    refused.append(reject)
                } else {
                    let middle = slice.startIndex + slice.count / 2
                    pending.append(slice[middle...])
                    pending.append(slice[..<middle])
                }
                continue
            }
            pending.removeLast()
            written += slice.count
            let seconds = Timestamp.monotonicSeconds() - started
            committed(slice, seconds)
            logger.debug("batch_committed", metadata: [
                "rows": .stringConvertible(slice.count), "ms": .stringConvertible(Int(seconds * 1000)),
            ])
        }
        if !rejects.isEmpty {
            encoder.encode(rejects: rejects)
            do {
                try connection.copy(
                    "COPY ingest_rejects (received_at, topic, payload, reason, detail) FROM STDIN (FORMAT binary)",
                    data: encoder.buffer)
            } catch where error.kind == .data {
                // A reject row the server will not take (it carries the original bytes as
                // bytea, so this means a broken table): keep the batch for the spool.
                throw PostgresError(kind: .transient, sqlState: error.sqlState, message: error.message,
                                    connectionLost: false)
            }
            rejects.removeAll()
        }
    }

    private mutating func copy(_ rows: ArraySlice<Reading>, on connection: PostgresConnection) throws(PostgresError) {
        encoder.encode(readings: rows)
        guard settings.dedupe else {
            try connection.copy("COPY \"\(settings.table)\" \(CopyEncoder.readingColumns) FROM STDIN (FORMAT binary)",
                                data: encoder.buffer)
            return
        }
        let data = encoder.buffer
        try connection.transaction { () throws(PostgresError) in
            try DedupeStaging.copy(data, format: "binary", into: settings.table, on: connection)
        }
    }
}
