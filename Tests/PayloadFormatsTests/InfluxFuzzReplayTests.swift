import Foundation
@testable import IngestModel
@testable import PayloadFormats
import Testing

/// The line protocol decoder against hostile input in the normal suite, as the JSON one:
/// libFuzzer's seed corpus (`Fuzz/corpus-influx`, InfluxDB's examples and edge cases) and
/// 100,000 deterministic mutations of it keep the invariants: no trap, rows or exactly one
/// reject, every row storable, finite and in range, and bounded time.
@Suite struct InfluxFuzzReplayTests {
    let decoder = InfluxLineDecoder(template: try! TopicTemplate("agents/{device_id}/metrics"), deviceTag: "host",
                                    precision: .nanoseconds, maxBytes: 262_144)

    static let corpus: [[UInt8]] = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/corpus-influx").standardized
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()) ?? []
        return names.compactMap { try? Array(Data(contentsOf: dir.appendingPathComponent($0))) }
    }()

    func check(_ payload: [UInt8]) {
        var batch = Batch()
        var ignored = IgnoredFields()
        let started = Timestamp.monotonicSeconds()
        let reject = decoder.decode(Message(topic: "agents/a1/metrics", payload: payload, receivedAt: 1_700_000_000_000_000),
                                    into: &batch, ignored: &ignored)
        let seconds = Timestamp.monotonicSeconds() - started
        #expect(seconds < 0.5, "decode took \(seconds) s for \(payload.count) bytes")
        let produced = batch.readings.count + batch.texts.count
        #expect((reject == nil) != (produced == 0), "rows and a reject, or neither")
        #expect(reject == nil || ignored.isEmpty)
        #expect(produced <= decoder.maxReadings)
        expectStorableRows(batch)
    }

    @Test func everyFileOfTheCorpusKeepsTheInvariants() {
        #expect(Self.corpus.count >= 30, "the corpus is where scripts/fuzz.sh expects it")
        for input in Self.corpus { check(input) }
    }

    @Test func oneHundredThousandMutationsKeepTheInvariants() async {
        let alphabet = Array(" ,=\"\\\n\r#.-+eEiutfTF0123456789mhost\u{0}".utf8) + [0xFF, 0xC3]
        await forEachMutation(of: Self.corpus.filter { $0.count < 2000 }, alphabet: alphabet, count: 100_000,
                              seed: 0x1F_1E_0C) { check($0) }
    }
}
