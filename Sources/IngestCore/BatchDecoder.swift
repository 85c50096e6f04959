import Concurrency
import IngestModel
import PayloadFormats

/// Decodes messages into a batch: readings for the good ones, one reject for each bad one,
/// every reject counted and (rate-limited) logged.
///
/// The one decode path: the workers use it, and so do the drain time-out, the forced
/// shutdown and a message stranded by a closed queue, so a reject is accounted the same
/// way whichever route its message took.
public struct BatchDecoder: Sendable {
    /// Turns one message into readings or a reject (the configured payload format).
    public let decoder: any PayloadFormat
    /// Where each reject is counted, by reason.
    public let stats: IngestStats
    /// Where each reject is logged, at most once a second per reason.
    public let rejectLog: RejectLog

    /// Shared by every route to the spool or the lanes, so a reject is counted and logged once.
    public init(decoder: any PayloadFormat, stats: IngestStats, rejectLog: RejectLog) {
        self.decoder = decoder
        self.stats = stats
        self.rejectLog = rejectLog
    }

    /// Appends each message's rows, or its reject, to `batch`; counts the leaves stored
    /// nowhere (`fields_ignored_total{kind}`) once for all of them.
    public func decode(_ messages: some Sequence<Message>, into batch: inout Batch) {
        var ignored = IgnoredFields()
        for message in messages { decode(message, into: &batch, ignored: &ignored) }
        stats.ignored(ignored)
    }

    /// As `decode(_:into:)` for a worker's take numbered `ticket`, when the format is
    /// `ordered`: the messages that need delivery order are decoded on `turnstile`'s turn
    /// for `ticket` (after every earlier take's), the rest at once, in parallel with the
    /// other workers.
    func decode(_ messages: [Message], ticket: UInt64, turnstile: Turnstile, into batch: inout Batch) async {
        var ignored = IgnoredFields()
        var inOrder: [Int] = []
        for i in messages.indices {
            if decoder.isOrdered(messages[i]) {
                inOrder.append(i)
            } else {
                decode(messages[i], into: &batch, ignored: &ignored)
            }
        }
        if !inOrder.isEmpty {
            await turnstile.turn(ticket)
            for i in inOrder { decode(messages[i], into: &batch, ignored: &ignored) }
        }
        turnstile.done(ticket)
        stats.ignored(ignored)
    }

    private func decode(_ message: Message, into batch: inout Batch, ignored: inout IgnoredFields) {
        if message.journalSeq != 0 { batch.entries.append(message.journalSeq) }
        batch.payloadBytes += message.payload.count
        if let reject = decoder.decode(message, into: &batch, ignored: &ignored) {
            batch.rejects.append(reject)
            stats.rejected(reject.reason)
            rejectLog.record(reject)
        }
    }

    /// The messages as a fresh batch, their journal sequence numbers included.
    public func decode(_ messages: some Sequence<Message>) -> Batch {
        var batch = Batch()
        decode(messages, into: &batch)
        return batch
    }
}
