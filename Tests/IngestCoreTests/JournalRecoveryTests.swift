@testable import IngestCore
import IngestModel
import PayloadFormats
import TestSupport
import Testing

@Suite("Journal recovery over a fake ledger, spool and journal")
struct JournalRecoveryTests {
    let log = EventLog()

    func message(_ i: Int) -> Message {
        Message(topic: "devices/d\(i)/telemetry", payload: Array(#"{"ts": \#(1_700_000_000 + i), "v": \#(i)}"#.utf8),
                receivedAt: 1)
    }

    func pipeline(_ source: FakeSource, _ sink: FakeSink, journal: MemoryJournal, ledger: FakeLedger,
                  spool: FakeSpool, maxBytes: Int = 16 << 20) throws -> IngestPipeline {
        IngestPipeline(
            settings: .init(queueCapacity: 100, queueMaxBytes: maxBytes, workers: 1,
                            tuning: PipelineTuning(fullPolicy: .block, maxRetries: 0,
                                                   batchLimits: .init(maxRows: 3, flushInterval: 0.05))),
            source: source, sink: sink,
            decoder: PayloadDecoder(template: try TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1024),
            spool: spool, journal: journal, ledger: ledger, logger: log.logger)
    }

    @Test func doneIsTheLedgersRecordsAndTheSpoolsAndOldRecordsAreForgotten() throws {
        let journal = MemoryJournal(id: "j1", recovered: (0..<10).map(message))
        let spool = FakeSpool()
        _ = try spool.write(Batch(entries: [5, 6]), journal: "j1")
        let ledger = FakeLedger(done: [1...2, 9...9])
        let done = try JournalRecovery(journal: journal, ledger: ledger, spool: spool).doneEntries()
        #expect(done == SeqRanges([1...2, 5...6, 9...9]))
        #expect(ledger.forgotten.withLock { $0.map(\.below) } == [1], "below the oldest entry still held")
    }

    @Test func aLedgerThatCannotAnswerFailsTheStartAndReplaysNothing() async throws {
        let journal = MemoryJournal(recovered: (0..<4).map(message))
        let source = FakeSource(), sink = FakeSink()
        let p = try pipeline(source, sink, journal: journal, ledger: FakeLedger(failing: true), spool: FakeSpool())
        await #expect(throws: FakeLedger.Unreachable.self) { try await p.start() }
        #expect(source.inlet.withLock { $0 } == nil, "the source never starts without knowing what is done")
        #expect(journal.state.withLock { $0.recovered.count } == 4, "nothing taken: the next start tries again")
        _ = await ShutdownCoordinator(steps: PipelineShutdown(p), logger: log.logger, drainTimeout: { 2 },
                                      hardTimeout: { 10 }).run()
    }

    /// A journal far larger than `queue.max_bytes` is replayed a chunk at a time, each chunk's
    /// bytes taken from the budget before it is decoded and given back as it commits: the
    /// replay ends (no chunk waits for bytes nobody will release), every entry is written
    /// once, and the budget is empty afterwards.
    @Test(.timeLimit(.minutes(1))) func aJournalLargerThanTheByteBudgetIsReplayedInChunks() async throws {
        let journal = MemoryJournal(recovered: (0..<500).map(message))  // ~17 KB of payload
        let source = FakeSource(), sink = FakeSink()
        let p = try pipeline(source, sink, journal: journal, ledger: FakeLedger(done: []), spool: FakeSpool(),
                             maxBytes: 1_000)
        try await p.start()
        #expect(log.fields("journal_replayed")?["entries"] == "500")
        #expect(await ShutdownCoordinator(steps: PipelineShutdown(p), logger: log.logger, drainTimeout: { 5 },
                                          hardTimeout: { 20 }).run() == 0)
        #expect(sink.state.withLock { $0.readings.map(\.value) }.sorted() == Array(0..<500).map(Double.init))
        #expect(p.payloadBytes.held == 0)
    }

    @Test func whatIsNotDoneIsWrittenOnceWithItsEntriesAndTheRestMarkedDone() async throws {
        let journal = MemoryJournal(recovered: (0..<10).map(message))
        let source = FakeSource(), sink = FakeSink()
        let p = try pipeline(source, sink, journal: journal, ledger: FakeLedger(done: [1...3, 7...7]),
                             spool: FakeSpool())
        try await p.start()
        #expect(log.fields("journal_replayed") == ["entries": "6", "rows": "6", "skipped_done": "4"])
        #expect(journal.state.withLock { $0.done }.isSuperset(of: [1, 2, 3, 7]), "skipped entries marked done at once")
        #expect(await ShutdownCoordinator(steps: PipelineShutdown(p), logger: log.logger, drainTimeout: { 5 },
                                          hardTimeout: { 20 }).run() == 0)
        #expect(sink.state.withLock { $0.readings.map(\.value) }.sorted() == [3, 4, 5, 7, 8, 9])
        #expect(sink.state.withLock { $0.entries }.sorted() == [4, 5, 6, 8, 9, 10], "each commit carries its entries")
        #expect(p.stats.journalReplayed.load(ordering: .relaxed) == 6)
        #expect(journal.state.withLock { $0.done } == Set(1...10), "and the replayed ones once committed")
    }
}
