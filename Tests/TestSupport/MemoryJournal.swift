import Concurrency
import IngestModel

/// The crash journal in memory (the `MessageJournal` the unit tests give the pipeline): what
/// an earlier run "left" is set up front, appends and done-marks are recorded for asserting.
public final class MemoryJournal: MessageJournal {
    public struct State: Sendable {
        public var appended: [Message] = []
        public var done: Set<UInt64> = []
        public var recovered: [Message] = []
        public var nextSeq: UInt64 = 1
        public var closed = false
        public var syncing = false
    }

    public let id: String
    public let state = Locked(State())

    /// A journal whose earlier run left `recovered` (their `journalSeq` set from 1 on).
    public init(id: String = "memory", recovered: [Message] = []) {
        self.id = id
        state.withLock { s in
            for var message in recovered {
                message.journalSeq = s.nextSeq
                s.nextSeq += 1
                s.recovered.append(message)
            }
        }
    }

    public var oldestSeq: UInt64 { state.withLock { $0.recovered.first?.journalSeq ?? $0.nextSeq } }

    public func append(_ message: Message) -> UInt64? {
        state.withLock { s in
            guard !s.closed else { return nil }
            defer { s.nextSeq += 1 }
            s.appended.append(message)
            return s.nextSeq
        }
    }

    public func markDone(_ seqs: [UInt64]) { state.withLock { $0.done.formUnion(seqs) } }

    /// Hands out the recovered messages in chunks of about `maxBytes` of payload (at least one).
    public func takeRecovered(maxBytes: Int) -> [Message] {
        state.withLock { s in
            var bytes = 0, n = 0
            while n < s.recovered.count, n == 0 || bytes < maxBytes {
                bytes += s.recovered[n].payload.count
                n += 1
            }
            defer { s.recovered.removeFirst(n) }
            return Array(s.recovered.prefix(n))
        }
    }

    public func startSyncing() { state.withLock { $0.syncing = true } }

    public func stopWaiting() {}

    public func close() { state.withLock { $0.closed = true } }
}

/// A journal ledger in memory: answers `done`, records what it was told to forget, or fails
/// like a database that never comes up.
public final class FakeLedger: JournalLedger {
    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String { "connection refused" }
    }

    public let done: [ClosedRange<UInt64>]
    public let failing: Bool
    public let forgotten = Locked<[(journal: String, below: UInt64)]>([])

    public init(done: [ClosedRange<UInt64>] = [], failing: Bool = false) {
        self.done = done
        self.failing = failing
    }

    public func doneEntries(journal: String, since: UInt64) throws -> [ClosedRange<UInt64>] {
        if failing { throw Unreachable() }
        return done.filter { $0.upperBound >= since }
    }

    public func forgetDone(journal: String, below seq: UInt64) throws {
        if failing { throw Unreachable() }
        forgotten.withLock { $0.append((journal, seq)) }
    }
}
