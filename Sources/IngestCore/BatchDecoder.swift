import IngestModel
import PayloadFormats

/// Decodes messages into a batch: readings for the good ones, one reject for each bad one,
/// every reject counted and (rate-limited) logged.
///
/// The one decode path: the workers use it, and so do the drain time-out, the forced
/// shutdown and a message stranded by a closed queue, so a reject is accounted the same
/// way whichever route its message took.
public struct BatchDecoder: Sendable {
    public let decoder: any PayloadFormat
    public let stats: IngestStats
    public let rejectLog: RejectLog

    public init(decoder: any PayloadFormat, stats: IngestStats, rejectLog: RejectLog) {
        self.decoder = decoder
        self.stats = stats
        self.rejectLog = rejectLog
    }

    /// Appends each message's readings, or its reject, to `batch`.
    public func decode(_ messages: some Sequence<Message>, into batch: inout Batch) {
        for message in messages {
            if message.journalSeq != 0 { batch.entries.append(message.journalSeq) }
            if let reject = decoder.decode(message, into: &batch.readings) {
                batch.rejects.append(reject)
                stats.rejected(reject.reason)
                rejectLog.record(reject)
            }
        }
    }

    public func decode(_ messages: some Sequence<Message>) -> Batch {
        var batch = Batch()
        decode(messages, into: &batch)
        return batch
    }
}
