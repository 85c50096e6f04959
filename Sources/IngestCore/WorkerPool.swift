import Concurrency
import IngestModel

/// N decode tasks between the message queue and the batch queue.
///
/// Each worker takes messages in batches (one hand-off per up to `takeSize` messages, not per
/// message), decodes them, and appends the rows to the shared `Batcher`; when that seals a
/// batch the worker carries it to the writers' queue, waiting there if the writers are
/// behind — which, through the full message queue, is what pushes back on the broker.
///
/// An ordered format's messages (Sparkplug B) are decoded in the order they left the queue:
/// each take is numbered, and its ordered messages wait for the turn of its number
/// (`Turnstile`) while the rest of the take is decoded at once.
struct WorkerPool: Sendable {
    let messages: BoundedQueue<Message>
    let batcher: Batcher
    let decoder: BatchDecoder
    let forwarder: BatchForwarder
    /// Messages a worker has taken and not yet handed on: the forced shutdown waits for it.
    let carried: InFlight
    /// Puts the ordered messages (Sparkplug B) of each take in queue order.
    let turnstile: Turnstile
    var takeSize = 256

    /// Runs `count` workers until the message queue is closed and empty.
    func run(count: Int) async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<count {
                group.addTask { await self.work() }
            }
        }
    }

    private func work() async {
        var decoded = Batch()
        let ordered = decoder.decoder.ordered
        while true {
            carried.add()
            defer { carried.remove() }
            let taken = await messages.takeNumbered(max: takeSize)
            if taken.items.isEmpty { return }
            decoded.readings.removeAll(keepingCapacity: true)
            decoded.texts.removeAll(keepingCapacity: true)
            decoded.rejects.removeAll(keepingCapacity: true)
            decoded.definitions.removeAll(keepingCapacity: true)
            decoded.entries.removeAll(keepingCapacity: true)
            decoded.payloadBytes = 0
            if ordered {
                await decoder.decode(taken.items, ticket: taken.ticket, turnstile: turnstile, into: &decoded)
            } else {
                decoder.decode(taken.items, into: &decoded)
            }
            if let sealed = batcher.add(decoded) {
                await forwarder.send(sealed)
            }
        }
    }
}
