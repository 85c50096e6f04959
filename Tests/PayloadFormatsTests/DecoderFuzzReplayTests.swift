import Foundation
@testable import IngestModel
@testable import PayloadFormats
import Testing

/// The decoder against hostile input, in the normal suite (issue 12): a seed corpus of every
/// SPEC 4 form plus known-nasty payloads, and 200,000 deterministic mutations of it. For
/// every input the invariants hold: no trap, either rows or exactly one reject, every row's
/// device id and metric storable, and bounded time (a quadratic path would show at 100 kB).
@Suite struct DecoderFuzzReplayTests {
    let decoder = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 262_144)

    static let seeds: [[UInt8]] = {
        var s: [String] = [
            #"{"ts": 1700000000, "temperature": 21.5, "on": true, "off": false, "name": "x", "n": null}"#,
            #"{"ts": "2023-11-14T22:13:20.5Z", "env": {"t": 1, "h": {"x": 2}}, "tags": [1, 2]}"#,
            #"{"timestamp": 1700000000123, "metric": "co2", "value": 415, "battery": 3}"#,
            #"{"time": 1700000000123456, "door": true, "device_id": "ignored"}"#,
            "17.25", "-0", "1e-7", #"{"ts": "2023-11-14T22:13:20+01:00", "v": 1}"#,
            #"{"a\u0000b": 1}"#, #"{"\ud800": 1}"#, #"{"k": "\udc00\ud800"}"#, #"{"": 1}"#,
            #"{"t": NaN}"#, #"{"t": 1e400}"#, #"{"ts": -1, "t": 1}"#, "[1, 2, 3]", "{}", "", " ",
            String(repeating: "9", count: 5000), "{\"t\": " + String(repeating: "9", count: 5000) + "}",
            String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 100_000) + "1",
            "{" + (0..<20_000).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}",
            "{\"" + String(repeating: "k", count: 100_000) + "\": 1}",
            "{\"s\": \"" + String(repeating: "\\\\", count: 50_000) + "\"}",
        ]
        s.append(#"{"metric": "m", "value": 1, "ts": "9999-12-31T23:59:59.999999Z"}"#)
        return s.map { Array($0.utf8) } + [[0xFF, 0xFE], [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], [0xED, 0xA0, 0x80]]
    }()

    func check(_ payload: [UInt8], topic: String = "devices/d1/telemetry") {
        var batch = Batch()
        var ignored = IgnoredFields()
        let started = Timestamp.monotonicSeconds()
        let reject = decoder.decode(Message(topic: topic, payload: payload, receivedAt: 1_700_000_000_000_000),
                                    into: &batch, ignored: &ignored)
        let seconds = Timestamp.monotonicSeconds() - started
        #expect(seconds < 0.5, "decode took \(seconds) s for \(payload.count) bytes")
        let rows = batch.readings
        if let reject {
            #expect(rows.isEmpty && batch.texts.isEmpty && ignored.isEmpty,
                    "a reject and rows or counts for one message (\(reject.reason))")
        } else {
            #expect(!rows.isEmpty || !batch.texts.isEmpty, "neither rows nor a reject")
            #expect(rows.count + batch.texts.count <= decoder.maxReadings)
        }
        for text in batch.texts {
            #expect(PayloadChecks.unstorable(text.deviceID) == nil && PayloadChecks.unstorable(text.metric) == nil)
            #expect(!PayloadChecks.holdsNUL(text.value), "a text value holding U+0000")
            #expect(text.time >= 0 && text.time < Timestamp.endOfYear9999)
        }
        for row in rows {
            #expect(PayloadChecks.unstorable(row.deviceID) == nil && PayloadChecks.unstorable(row.metric) == nil,
                    "unstorable name in \(String(decoding: payload.prefix(80), as: UTF8.self))")
            #expect(row.value.isFinite)
            #expect(row.time >= 0 && row.time < Timestamp.endOfYear9999)
        }
    }

    @Test func everySeedKeepsTheInvariants() {
        for seed in Self.seeds { check(seed) }
    }

    /// libFuzzer's seeds (scripts/fuzz.sh), and any input it found that was fixed and added.
    @Test func everyFileOfTheLibFuzzerCorpusKeepsTheInvariants() async throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/corpus").standardized
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()
        #expect(names.count >= 30, "the corpus is where scripts/fuzz.sh expects it")
        for name in names {
            check(Array(try Data(contentsOf: corpus.appendingPathComponent(name))))
            await Task.yield()  // CPU-bound: let timers of tests running beside this one fire
        }
    }

    @Test func twoHundredThousandMutationsKeepTheInvariants() async {
        let alphabet = Array("{}[]\":,.-+eE0123456789tfnul \\u\u{0}".utf8) + [0xFF, 0xC3, 0xED]
        await forEachMutation(of: Self.seeds.filter { $0.count < 2000 }, alphabet: alphabet, count: 200_000,
                              seed: 0x10_7_1A6E) { check($0) }
    }
}
