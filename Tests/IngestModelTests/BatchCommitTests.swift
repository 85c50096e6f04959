import IngestModel
import Testing

/// One latency sample per message of a committed batch, whichever tables its rows went to.
@Suite struct BatchCommitTests {
    func message(_ receivedAt: Int64) -> Message { Message(topic: "t", payload: [], receivedAt: receivedAt) }

    func readings(_ times: [Int64]) -> [Reading] {
        times.map { Reading(time: 0, deviceID: "d", metric: "m", value: 1, source: message($0)) }
    }

    func texts(_ times: [Int64]) -> [TextReading] {
        times.map { TextReading(time: 0, deviceID: "d", metric: "s", value: "x", source: message($0)) }
    }

    @Test func eachMessageIsCountedOnceAcrossBothTables() {
        // Messages 10 and 20 have numeric rows; 20 and 30 text rows; 40 text rows only.
        let times = BatchCommit.messages(readings([10, 10, 20, 20, 20]), texts([20, 30, 30, 40]))
        #expect(times == [10, 20, 30, 40])
    }

    @Test func numericOnlyAndTextOnlyBatches() {
        #expect(BatchCommit.messages(readings([5, 5, 6]), texts([])) == [5, 6])
        #expect(BatchCommit.messages(readings([]), texts([7, 7, 8])) == [7, 8])
        #expect(BatchCommit.messages(readings([]), texts([])).isEmpty)
    }
}
