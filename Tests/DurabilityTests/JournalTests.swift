import Concurrency
@testable import Durability
import Foundation
import IngestCore
import IngestModel
import Logging
import PayloadFormats
import Synchronization
import TestSupport
import Testing

@Suite("Journal: append, reopen, recycle, damage")
struct JournalTests {
    let dir: String
    let log = EventLog()

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)").path
    }

    func open(maxBytes: Int = 64 << 20, fsync: Int = 1000) throws -> Journal {
        try Journal(settings: .init(directory: dir, maxBytes: maxBytes, fsyncIntervalMs: fsync), logger: log.logger)
    }

    @discardableResult
    func append(_ journal: Journal, _ topic: String, _ payload: [UInt8], at time: Int64 = 7) -> UInt64? {
        var t = topic
        return t.withUTF8 { tb in
            payload.withUnsafeBytes { journal.append(topic: UnsafeRawBufferPointer(tb), payload: $0, receivedAt: time) }
        }
    }

    func segments() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted()
    }

    @Test func whatWasAppendedIsReadBackAfterReopeningAndSequencesGoOn() throws {
        let payloads: [[UInt8]] = [Array("{\"t\":1}".utf8), [], Array(repeating: 0xFF, count: 10_000)]
        do {
            let journal = try open()
            for (i, p) in payloads.enumerated() { #expect(append(journal, "a/\(i)", p, at: Int64(100 + i)) == UInt64(i + 1)) }
            // No close(): what a killed process leaves (the mapping's pages are in the page cache).
            journal.abandon()  // the process dies: its lock goes now, not when ARC gets to it
        }
        let again = try open()
        let recovered = again.takeRecovered()
        #expect(recovered.map(\.journalSeq) == [1, 2, 3])
        #expect(recovered.map(\.payload) == payloads)
        #expect(recovered.map(\.topic) == ["a/0", "a/1", "a/2"])
        #expect(recovered.map(\.receivedAt) == [100, 101, 102])
        #expect(append(again, "b", [1]) == 4, "sequence numbers never restart")
        #expect(again.takeRecovered().isEmpty, "handed out once")
    }

    /// An oversized message keeps only the start of its payload; its published size is
    /// journaled with it, so a replayed `too_large` reject still says how large it was.
    @Test func aCutPayloadComesBackWithItsPublishedSize() throws {
        do {
            let journal = try open()
            #expect(journal.append(Message(topic: "a/b", payload: [1, 2, 3], receivedAt: 5, size: 40 << 20)) == 1)
            #expect(journal.append(Message(topic: "a/c", payload: [4, 5], receivedAt: 6)) == 2)
            journal.abandon()  // the process dies: its lock goes now, not when ARC gets to it
        }
        let recovered = try open().takeRecovered()
        #expect(recovered.map(\.payload) == [[1, 2, 3], [4, 5]])
        #expect(recovered.map(\.size) == [40 << 20, 2])
        #expect(recovered.map(\.topic) == ["a/b", "a/c"])
    }

    @Test func anEmptyNewestSegmentDoesNotBlockTheNextOne() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // What a kill between creating a segment and its first append leaves.
        let empty = dir + "/" + JournalSegment.name(firstSeq: 1)
        var header = Array("IOTJRNL1".utf8) + [UInt8](repeating: 0, count: 1 << 20 - 8)
        _ = header.withUnsafeMutableBytes { FileManager.default.createFile(atPath: empty, contents: Data($0)) }
        let journal = try open()
        #expect(journal.takeRecovered().isEmpty)
        #expect(append(journal, "t", [1]) != nil, "a new segment, not a name clash")
        #expect(!log.names.contains("journal_write_failed"))
    }

    /// A second SIGTERM forces the spool while the orderly path is closing the pool: both
    /// close the journal at once (this crashed on a double pthread_join before).
    @Test(.timeLimit(.minutes(1))) func closingFromTwoThreadsAtOnceIsSafe() async throws {
        for i in 0..<20 {
            // A directory each: a closed journal keeps its unfinished entries for the next run.
            let settings = Journal.Settings(directory: "\(dir)-\(i)", maxBytes: 64 << 20, fsyncIntervalMs: 1)
            let journal = try Journal(settings: settings, logger: log.logger)
            journal.startSyncing()
            append(journal, "t", [1])
            let a = DedicatedThread { journal.close() }
            let b = DedicatedThread { journal.close() }
            a.join()
            b.join()
            #expect(append(journal, "t", [2]) == nil, "closed")
            journal.close()  // and a third time, later
        }
    }

    @Test func aSecondProcessIsLockedOut() throws {
        let first = try open()
        let error = #expect(throws: Journal.OpenError.self) { _ = try open() }
        #expect(error?.code == .lockedByAnother)
        first.close()
        first.abandon()
    }

    @Test func doneSegmentsAreDeletedAndAFullJournalBlocksUntilOneIs() async throws {
        let journal = try open(maxBytes: 2 << 20)  // two 1 MiB segments
        defer { journal.close(); journal.abandon() }  // close() also wakes an append still blocked
        let payload = [UInt8](repeating: 0x41, count: 100_000)
        let appended = Locked<[UInt64]>([])
        let writer = Task {
            try await DedicatedThread.run {
                for _ in 0..<40 {
                    if let seq = append(journal, "t", payload) { appended.withLock { $0.append(seq) } }
                }
            }
        }
        try await waitUntil(10, "the journal to fill and block") { journal.blockedAppends.load(ordering: .relaxed) > 0 }
        let stuck = appended.withLock { $0.count }
        #expect(stuck < 40 && stuck >= 15, "blocked after two segments' worth: \(stuck)")
        #expect(journal.bytes <= 2 << 20)
        // Marking entries done frees sealed segments, and the blocked appends go on.
        var marked = 0
        try await waitUntil(20, "all 40 appended") {
            let seqs = appended.withLock { $0 }
            journal.markDone(Array(seqs[marked...]))
            marked = seqs.count
            #expect(journal.bytes <= 2 << 20, "never past journal.max_bytes")
            return seqs.count == 40
        }
        try await writer.value
    }

    /// SPEC 8a on a full disk: a segment's blocks are reserved when it is made, so a full
    /// tmpfs is an ENOSPC at creation (it used to be a SIGBUS on a store into a sparse
    /// mapping, which killed the process). The append waits, `writeFailure` says why, and it
    /// goes on by itself once the disk has room; every entry is there after a reopen.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs"), .timeLimit(.minutes(1)))
    func aFullDiskBlocksAppendsUntilItHasRoomAgain() async throws {
        try await withSmallDisk("journal-disk-\(UUID().uuidString.prefix(6))", megabytes: 8) { disk in
            let dir = disk.path + "/journal"
            let open = { try Journal(settings: .init(directory: dir, maxBytes: 8 << 20, fsyncIntervalMs: 1000),
                                     logger: self.log.logger) }  // 1 MiB segments
            let journal = try open()
            let payload = [UInt8](repeating: 0x41, count: 100_000)
            #expect(append(journal, "t", payload) == 1)  // the first segment exists
            try disk.fill()
            let appended = Locked<[UInt64]>([])
            let writer = Task {
                try await DedicatedThread.run {
                    for _ in 0..<30 {
                        if let seq = append(journal, "t", payload) { appended.withLock { $0.append(seq) } }
                    }
                }
            }
            do {
                try await waitUntil(10, "the full disk to block an append") { journal.writeFailure != nil }
                let stuck = appended.withLock { $0.count }
                #expect(stuck < 30, "blocked once the first segment was full: \(stuck)")
                #expect(journal.writeFailure?.contains("No space left") == true, "\(journal.writeFailure ?? "")")
                #expect(journal.failedCreations.load(ordering: .relaxed) >= 1)
                #expect(log.names.contains("journal_write_blocked"))
                disk.free()
                try await waitUntil(10, "all 30 appended once the disk has room") { appended.withLock { $0.count } == 30 }
                try await writer.value
            } catch {
                // A failed wait must not leave the writer thread retrying for ever.
                journal.stopWaiting()
                disk.free()
                _ = try? await writer.value
                journal.abandon()
                throw error
            }
            #expect(journal.writeFailure == nil)
            #expect(log.names.contains("journal_write_resumed"))
            journal.abandon()
            let again = try open()
            defer { again.close(); again.abandon() }
            #expect(again.takeRecovered().map(\.journalSeq) == Array(1...31), "nothing skipped while blocked")
        }
    }

    @Test func aTornLastEntryIsIgnoredAndDamageElsewhereIsQuarantined() throws {
        do {
            let journal = try open(maxBytes: 8 << 20)  // 1 MiB segments
            for i in 0..<30 { append(journal, "t/\(i)", [UInt8](repeating: UInt8(i), count: 100_000)) }
            journal.abandon()  // the process dies: its lock goes now, not when ARC gets to it
        }
        let names = try segments()
        #expect(names.count >= 3)
        // Damage the last byte of the newest segment's last entry: a torn append.
        let newest = dir + "/" + names.last!
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: newest))
        let data = try handle.readToEnd() ?? Data()
        let lastNonZero = data.lastIndex { $0 != 0 }!
        try handle.seek(toOffset: UInt64(lastNonZero))
        handle.write(Data([data[lastNonZero] ^ 0xFF]))
        try handle.close()
        // Damage the first entry's payload of the oldest segment.
        let oldest = URL(fileURLWithPath: dir + "/" + names.first!)
        let h2 = try FileHandle(forUpdating: oldest)
        try h2.seek(toOffset: 100)
        h2.write(Data([0x00, 0x01, 0x02]))
        try h2.close()

        let again = try open(maxBytes: 8 << 20)
        let seqs = again.takeRecovered().map(\.journalSeq)
        #expect(!seqs.contains(30), "the torn last entry is ignored")
        #expect(seqs.contains(29))
        #expect(!seqs.contains(1), "the damaged entry is not replayed")
        #expect(FileManager.default.fileExists(atPath: dir + "/corrupt/" + names.first!), "moved aside, not deleted")
        #expect(log.names.contains("journal_segment_corrupt"))
        #expect(log.names.contains("journal_torn_entry_ignored"))
    }

    @Test func aRestartReplaysWhatWasNotDoneThroughThePipelineOnce() async throws {
        do {
            let journal = try open()
            for i in 0..<10 {
                append(journal, "devices/d\(i)/telemetry", Array(#"{"ts": \#(1_700_000_000 + i), "v": \#(i)}"#.utf8))
            }
            journal.abandon()  // the process dies: its lock goes now, not when ARC gets to it
        }
        let journal = try open()
        let source = FakeSource(), sink = FakeSink()
        let spool = FakeSpool()
        let ledger = FakeLedger(done: [1...3, 7...7])
        let p = IngestPipeline(
            settings: .init(queueCapacity: 100, workers: 1,
                            tuning: PipelineTuning(fullPolicy: .block, maxRetries: 0, batchLimits: .init(maxRows: 4, flushInterval: 0.05))),
            source: source, sink: sink,
            decoder: PayloadDecoder(template: try TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1024),
            spool: spool, journal: journal, ledger: ledger, logger: log.logger)
        try await p.start()
        #expect(log.fields("journal_replayed")?["entries"] == "6" && log.fields("journal_replayed")?["skipped_done"] == "4")
        #expect(await ShutdownCoordinator(steps: PipelineShutdown(p), logger: log.logger, drainTimeout: { 5 }, hardTimeout: { 20 }).run() == 0)
        #expect(Set(sink.state.withLock { $0.readings.map(\.value) }) == [3, 4, 5, 7, 8, 9])
        #expect(sink.state.withLock { $0.entries }.sorted() == [4, 5, 6, 8, 9, 10], "each commit carries its entries")
        #expect(try segments().count == 1, "all done, and kept only as the newest: it carries the sequence on")
        #expect(journal.oldestSeq == 1)
    }
}
