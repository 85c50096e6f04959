import Foundation
@testable import IngestModel
import Logging
@testable import PayloadFormats
import SparkplugB
import Testing

/// The Sparkplug decoder against hostile input in the normal suite, as the JSON and line
/// protocol ones: libFuzzer's seed corpus (`Fuzz/corpus-sparkplug`: the first byte picks the
/// message type, as in Fuzz/SparkplugFuzzer.swift) and 30,000 deterministic mutations of it
/// keep the invariants (libFuzzer covers far more in `.ci/run`), each from the same starting state (one node born with aliases 1-3).
@Suite struct SparkplugFuzzReplayTests {
    static let kinds = ["NBIRTH/e1", "NDATA/e1", "NDEATH/e1", "DBIRTH/e1/d1", "DDATA/e1/d1", "DDEATH/e1/d1"]
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus-sparkplug").standardized

    static let corpus: [[UInt8]] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()) ?? []
        return names.compactMap { try? Array(Data(contentsOf: directory.appendingPathComponent($0))) }
    }()

    func check(_ input: [UInt8]) {
        let sessions = SparkplugSessions()
        sessions.seed([MetricDefinition(deviceID: "g/e1", name: "t", alias: 1, datatype: 10, bornAt: 0),
                       MetricDefinition(deviceID: "g/e1", name: "b", alias: 2, datatype: 11, bornAt: 0),
                       MetricDefinition(deviceID: "g/e1", name: "s", alias: 3, datatype: 12, bornAt: 0)])
        let decoder = SparkplugDecoder(maxBytes: 262_144, sessions: sessions,
                                       rebirths: SparkplugRebirths(enabled: false, interval: 30, publisher: nil,
                                                                   stats: IngestStats(), logger: Logger(label: "t")))
        var batch = Batch()
        var ignored = IgnoredFields()
        let topic = "spBv1.0/g/" + Self.kinds[Int(input.first ?? 0) % Self.kinds.count]
        let started = Timestamp.monotonicSeconds()
        let reject = decoder.decode(Message(topic: topic, payload: Array(input.dropFirst()), receivedAt: 1_700_000_000_000_000),
                                    into: &batch, ignored: &ignored)
        let seconds = Timestamp.monotonicSeconds() - started
        #expect(seconds < 0.5, "decode took \(seconds) s for \(input.count) bytes")
        let produced = batch.readings.count + batch.texts.count
        #expect((reject == nil) != (produced == 0) || (produced == 0 && !ignored.isEmpty))
        #expect(reject == nil || (ignored.isEmpty && batch.definitions.isEmpty))
        #expect(produced <= decoder.maxReadings)
        for d in batch.definitions {
            #expect(PayloadChecks.unstorable(d.name) == nil && (d.alias ?? 0) <= UInt64(Int64.max))
        }
        expectStorableRows(batch)
    }

    @Test func everyFileOfTheCorpusKeepsTheInvariants() {
        #expect(Self.corpus.count >= 10, "the corpus is where scripts/fuzz.sh expects it")
        for input in Self.corpus { check(input) }
    }

    @Test func thirtyThousandMutationsKeepTheInvariants() async {
        // Protobuf's own bytes: varint continuation, field tags of Metric and Payload, lengths.
        let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x08, 0x0A, 0x10, 0x12, 0x18, 0x20, 0x28, 0x50, 0x58, 0x61, 0x69,
                                 0x70, 0x7A, 0x7F, 0x80, 0xFF, 0x8A, 0x92, 0x01]
        await forEachMutation(of: Self.corpus.filter { $0.count < 2000 }, alphabet: alphabet, count: 30_000,
                              seed: 0x5B_1E_0C) { check($0) }
    }

    /// Writes the seed corpus (run with SPARKPLUG_WRITE_CORPUS=1 after changing it).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SPARKPLUG_WRITE_CORPUS"] != nil))
    func writeTheSeedCorpus() throws {
        try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
        func seed(_ name: String, _ kind: Int, _ metrics: [SparkplugMetric], seq: UInt64? = 1, timestamp: UInt64? = 1_700_000_000_000) throws {
            try Data([UInt8(kind)] + Tahu.payload(seq: seq, timestamp: timestamp, metrics))
                .write(to: Self.directory.appendingPathComponent(name))
        }
        let every: [SparkplugMetric] = [
            Tahu.metric("bdSeq", type: 8, .longValue(3)), Tahu.metric("i8", alias: 4, type: 1, .intValue(0xFFFF_FFFF)),
            Tahu.metric("i64", alias: 5, type: 4, .longValue(UInt64(bitPattern: -5))), Tahu.metric("f", alias: 6, type: 9, .floatValue(0.5)),
            Tahu.metric("d", alias: 7, type: 10, .doubleValue(2.5)), Tahu.metric("b", alias: 8, type: 11, .booleanValue(true)),
            Tahu.metric("s", alias: 9, type: 12, .stringValue("x")), Tahu.metric("when", alias: 10, type: 13, .longValue(1_700_000_000_123)),
            Tahu.metric("u", alias: 11, type: 15, .stringValue("6ba7b810-9dad-11d1-80b4-00c04fd430c8")),
            Tahu.metric("ds", alias: 12, type: 16, .datasetValue(.init())), Tahu.metric("tpl", alias: 13, type: 19, .templateValue(.init())),
            Tahu.metric("raw", alias: 14, type: 17, .bytesValue(.init([1, 2, 3]))), Tahu.metric("arr", alias: 15, type: 22, .bytesValue(.init([1]))),
        ]
        try seed("nbirth-every-datatype", 0, every, seq: 0)
        try seed("ndata-aliases", 1, [Tahu.metric(alias: 1, .doubleValue(21.5)), Tahu.metric(alias: 2, .booleanValue(false)),
                                      Tahu.metric(alias: 3, .stringValue("auto"))])
        try seed("ndata-flags", 1, [Tahu.metric(alias: 1, .doubleValue(1), timestamp: 5, historical: true),
                                    Tahu.metric(alias: 1, null: true), Tahu.metric(alias: 2, .booleanValue(true), transient: true)])
        try seed("ndata-unknown-alias", 1, [Tahu.metric(alias: 99, .doubleValue(1))])
        try seed("ndata-named", 1, [Tahu.metric("x", type: 10, .doubleValue(1)), Tahu.metric("y", type: 3, .intValue(7))])
        try seed("ndeath", 2, [Tahu.metric("bdSeq", type: 8, .longValue(3))], seq: nil)
        try seed("dbirth", 3, [Tahu.metric("flow", alias: 20, type: 10, .doubleValue(1.5)), Tahu.metric("on", alias: 21, type: 11, .booleanValue(true))], seq: 2)
        try seed("ddata-timestamps", 4, [Tahu.metric("flow", type: 10, .doubleValue(2), timestamp: 1_700_000_000_999)], seq: 3)
        try seed("ddeath", 5, [], seq: 4)
        try seed("ndata-mismatch", 1, [Tahu.metric(alias: 1, .stringValue("not a double"))])
        try seed("ndata-empty", 1, [])
        var nested = SparkplugMetric.OneOf_Value.templateValue({
            var t = SparkplugPayload.Template()
            t.metrics = [Tahu.metric("inner", type: 10, .doubleValue(1))]
            return t
        }())
        try seed("nbirth-template", 0, [Tahu.metric("tpl", type: 19, nested)], seq: 0)
        nested = .stringValue(String(repeating: "é", count: 100))
        try seed("nbirth-long-string", 0, [Tahu.metric("s", type: 14, nested)], seq: 0)
    }
}
