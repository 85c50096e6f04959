import Concurrency
@testable import IngestCore
@testable import IngestModel
import Logging
@testable import PayloadFormats
import SparkplugB
import TestSupport
import Testing

/// SPEC 4b's order rule through the real pipeline: four workers take chunks of a flood in
/// parallel, and every Sparkplug data message must still resolve through the birth that
/// came before it on the wire.
@Suite("Ordered decoding: Sparkplug births and data across workers")
struct OrderedDecodingTests {
    final class Publisher: ControlPublisher {
        let topics = Locked<[String]>([])
        func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) -> Bool {
            topics.withLock { $0.append(topic) }
            return true
        }
    }

    static func payload(seq: UInt64, _ metrics: [Org_Eclipse_Tahu_Protobuf_Payload.Metric]) -> [UInt8] {
        var p = Org_Eclipse_Tahu_Protobuf_Payload()
        p.seq = seq
        p.metrics = metrics
        return try! p.serializedBytes()
    }

    /// Node n's birth k maps alias a to metric `m<(a + k) % 4>`; its data carry value
    /// k * 100 + a, so a stored reading names the birth it was resolved through.
    static func flood(nodes: Int, births: Int, dataPerBirth: Int) -> [Message] {
        var perNode: [[Message]] = Array(repeating: [], count: nodes)
        var clock: Int64 = 1_700_000_000_000_000
        for n in 0..<nodes {
            for k in 0..<births {
                let birth = (0..<4).map { a in
                    var m = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
                    m.name = "m\((a + k) % 4)"
                    m.alias = UInt64(a)
                    m.datatype = 10
                    m.doubleValue = 1e6
                    return m
                }
                perNode[n].append(Message(topic: "spBv1.0/g/NBIRTH/n\(n)", payload: payload(seq: 0, birth), receivedAt: 0))
                for d in 1...dataPerBirth {
                    let data = (0..<4).map { a in
                        var m = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
                        m.alias = UInt64(a)
                        m.doubleValue = Double(k * 100 + a)
                        return m
                    }
                    perNode[n].append(Message(topic: "spBv1.0/g/NDATA/n\(n)", payload: payload(seq: UInt64(d % 256), data),
                                              receivedAt: 0))
                }
            }
        }
        // Round-robin over the nodes, receive times strictly increasing (as the wire's).
        var out: [Message] = []
        for i in 0..<perNode[0].count {
            for n in 0..<nodes {
                var m = perNode[n][i]
                clock += 1
                m.receivedAt = clock
                out.append(m)
            }
        }
        return out
    }

    @Test func everyDataMessageResolvesThroughTheBirthBeforeIt() async throws {
        let log = EventLog()
        let publisher = Publisher()
        let decoder = SparkplugDecoder(maxBytes: 1 << 16, sessions: SparkplugSessions(),
                                       rebirths: SparkplugRebirths(enabled: true, interval: 0, publisher: publisher,
                                                                   stats: IngestStats(), logger: log.logger))
        let source = FakeSource(), sink = FakeSink()
        let tuning = PipelineTuning(fullPolicy: .block, maxRetries: 0, batchLimits: .init(maxRows: 500, flushInterval: 0.05))
        let p = IngestPipeline(settings: .init(queueCapacity: 100_000, workers: 4, tuning: tuning), source: source,
                               sink: sink, decoder: decoder, spool: FakeSpool(), logger: log.logger)
        try await p.start()
        let messages = Self.flood(nodes: 8, births: 25, dataPerBirth: 30)
        try await source.send(messages)
        let coordinator = ShutdownCoordinator(steps: PipelineShutdown(p), logger: log.logger,
                                              drainTimeout: { 20 }, hardTimeout: { 40 })
        #expect(await coordinator.run() == 0)
        let (readings, rejects, definitions) = sink.state.withLock { ($0.readings, $0.rejects, $0.definitions) }
        #expect(rejects.isEmpty, "\(rejects.prefix(3).map { "\($0.reason) \($0.detail ?? "")" })")
        #expect(publisher.topics.withLock { $0 }.isEmpty, "no sequence gap, no unknown alias")
        #expect(definitions == 8 * 25 * 4)
        let data = readings.filter { $0.value < 1e6 && $0.metric != "sparkplug.online" }
        #expect(data.count == 8 * 25 * 30 * 4)
        let wrong = data.filter { r in
            let (k, a) = (Int(r.value) / 100, Int(r.value) % 100)
            return r.metric != "m\((a + k) % 4)"
        }
        #expect(wrong.isEmpty, "\(wrong.count) readings resolved through the wrong birth")
        #expect(readings.filter { $0.metric == "sparkplug.online" }.count == 8 * 25)
    }
}
