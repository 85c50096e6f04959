@testable import IngestCore
@testable import IngestModel
import Testing

@Suite struct BatcherTests {
    func rows(_ n: Int) -> [Reading] {
        let m = Message(topic: "t", payload: [], receivedAt: 0)
        return (0..<n).map { Reading(time: Int64($0), deviceID: "d", metric: "m", value: 1, source: m) }
    }

    @Test func sealsAtMaxRows() {
        let batcher = Batcher(limits: .init(maxRows: 5, flushInterval: 60))
        #expect(batcher.add(Batch(readings: rows(3))) == nil)
        let sealed = batcher.add(Batch(readings: rows(3)))
        #expect(sealed?.readings.count == 6)
        #expect(batcher.pendingRows == 0)
    }

    @Test func sealsByAgeOnlyWhenDue() {
        let batcher = Batcher(limits: .init(maxRows: 100, flushInterval: 0.5))
        _ = batcher.add(Batch(readings: rows(1)))
        let now = Timestamp.monotonicSeconds()
        #expect(batcher.sealIfDue(now: now) == nil)
        #expect(batcher.sealIfDue(now: now + 1)?.readings.count == 1)
        #expect(batcher.sealIfDue(now: now + 2) == nil, "an empty batch is never sealed")
    }

    @Test func newLimitsApplyToTheOpenBatch() {
        let batcher = Batcher(limits: .init(maxRows: 100, flushInterval: 60))
        _ = batcher.add(Batch(readings: rows(10)))
        batcher.update(.init(maxRows: 5, flushInterval: 60))
        #expect(batcher.add(Batch(readings: rows(1)))?.readings.count == 11)
    }
}

extension Batch: Equatable {
    public static func == (a: Batch, b: Batch) -> Bool {
        a.readings.map(\.time) == b.readings.map(\.time) && a.rejects.count == b.rejects.count
    }
}
