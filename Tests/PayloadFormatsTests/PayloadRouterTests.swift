@testable import IngestModel
@testable import PayloadFormats
import Testing

/// Several routes behind one format (SPEC 4a): the first matching route decodes, no match
/// is `topic_mismatch`, and a message the source already routed is not routed again.
@Suite struct PayloadRouterTests {
    let router = PayloadRouter(routes: [
        .init(filters: [TopicFilter("devices/+/telemetry")!],
              format: PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1024)),
        .init(filters: [TopicFilter("agents/+/metrics")!, TopicFilter("gw/#")!],
              format: InfluxLineDecoder(template: nil, deviceTag: "host", maxBytes: 4096)),
    ])

    func decode(_ topic: String, _ payload: String, route: Int32 = Message.unrouted) -> (Batch, Reject?) {
        var batch = Batch(), ignored = IgnoredFields()
        var message = Message(topic: topic, payload: Array(payload.utf8), receivedAt: 1_700_000_000_000_000)
        message.route = route
        let reject = router.decode(message, into: &batch, ignored: &ignored)
        return (batch, reject)
    }

    @Test func eachTopicGoesToItsRoutesFormat() {
        #expect(router.route(for: "devices/d1/telemetry") == 0)
        #expect(router.route(for: "gw/x/y") == 1)
        #expect(router.route(for: "other") == 2, "routes.count: none")
        #expect(router.maxBytes == 4096)
        let (json, r1) = decode("devices/d1/telemetry", #"{"t": 1}"#)
        #expect(r1 == nil && json.readings.map(\.metric) == ["t"])
        let (line, r2) = decode("gw/x/y", "cpu,host=h1 usage=2")
        #expect(r2 == nil && line.readings.map(\.deviceID) == ["h1"])
        #expect(decode("other/topic", "1").1?.reason == .topicMismatch)
    }

    @Test func aRoutedMessageIsDecodedByTheRouteItCarries() {
        // The source said route 1 (line protocol): a JSON payload is then a bad line.
        #expect(decode("devices/d1/telemetry", #"{"t": 1}"#, route: 1).1?.reason == .invalidLineProtocol)
        #expect(decode("devices/d1/telemetry", "x", route: 2).1?.reason == .topicMismatch)
    }
}
