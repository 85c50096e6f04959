import Concurrency
import IngestModel

/// Carries sealed batches from the workers and the flush tick to the writer lanes' queue.
///
/// A batch that finds that queue closed (a forced shutdown got there first) is not dropped:
/// it goes to the spool, on a thread of its own because a spool write blocks on fsync.
struct BatchForwarder: Sendable {
    let batches: BoundedQueue<Batch>
    let spooler: SpoolWriter

    func send(_ batch: Batch) async {
        if await batches.put(batch) { return }
        let spooler = self.spooler
        _ = try? await DedicatedThread.run { spooler.keep(batch, reason: "forced shutdown") }
    }
}
