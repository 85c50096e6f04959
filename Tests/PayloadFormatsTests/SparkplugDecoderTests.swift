import Concurrency
@testable import IngestModel
import Logging
@testable import PayloadFormats
import SparkplugB
import Testing

typealias SparkplugPayload = Org_Eclipse_Tahu_Protobuf_Payload
typealias SparkplugMetric = Org_Eclipse_Tahu_Protobuf_Payload.Metric

/// Builds Tahu metrics and payloads for the tests.
enum Tahu {
    static func metric(_ name: String? = nil, alias: UInt64? = nil, type: UInt32? = nil,
                       _ value: SparkplugMetric.OneOf_Value? = nil, timestamp: UInt64? = nil,
                       null: Bool = false, transient: Bool = false, historical: Bool = false) -> SparkplugMetric {
        var m = SparkplugMetric()
        if let name { m.name = name }
        if let alias { m.alias = alias }
        if let type { m.datatype = type }
        if let timestamp { m.timestamp = timestamp }
        m.value = value
        if null { m.isNull = true }
        if transient { m.isTransient = true }
        if historical { m.isHistorical = true }
        return m
    }

    static func payload(seq: UInt64? = nil, timestamp: UInt64? = nil, _ metrics: [SparkplugMetric]) -> [UInt8] {
        var p = SparkplugPayload()
        if let seq { p.seq = seq }
        if let timestamp { p.timestamp = timestamp }
        p.metrics = metrics
        return try! p.serializedBytes()
    }
}

/// Records what the decoder publishes (rebirth requests).
final class RecordingPublisher: ControlPublisher {
    let published = Locked<[(topic: String, payload: [UInt8])]>([])
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) -> Bool {
        published.withLock { $0.append((topic, payload)) }
        return true
    }
    var topics: [String] { published.withLock { $0.map(\.topic) } }
}

/// SPEC 4b: the host application's rules, message by message, without a broker.
@Suite("SparkplugDecoder: births, aliases, sequences, deaths")
struct SparkplugDecoderTests {
    static let received: Int64 = 1_700_000_000_000_000
    let publisher = RecordingPublisher()
    let stats = IngestStats()
    let sessions = SparkplugSessions()

    func decoder(rebirth: Bool = true, interval: Double = 30, storeStrings: Bool = true,
                 maxReadings: Int = 1000) -> SparkplugDecoder {
        SparkplugDecoder(maxBytes: 1 << 16, maxReadings: maxReadings, storeStrings: storeStrings, sessions: sessions,
                         rebirths: SparkplugRebirths(enabled: rebirth, interval: interval, publisher: publisher,
                                                     stats: stats, logger: Logger(label: "test")))
    }

    struct Out {
        var rows: [String]
        var definitions: [MetricDefinition]
        var ignored: IgnoredFields
        var reject: Reject?
    }

    func decode(_ topic: String, _ payload: [UInt8], at received: Int64 = received,
                with decoder: SparkplugDecoder? = nil) -> Out {
        var batch = Batch()
        var ignored = IgnoredFields()
        let reject = (decoder ?? self.decoder()).decode(Message(topic: topic, payload: payload, receivedAt: received),
                                                        into: &batch, ignored: &ignored)
        let rows = batch.readings.map { "\($0.deviceID) \($0.metric)=\($0.value) @\($0.time)" }
            + batch.texts.map { "\($0.deviceID) \($0.metric)=\"\($0.value)\" @\($0.time)" }
        return Out(rows: rows, definitions: batch.definitions, ignored: ignored, reject: reject)
    }

    static let nbirth = "spBv1.0/plant/NBIRTH/edge1"
    static let ndata = "spBv1.0/plant/NDATA/edge1"
    static let dbirth = "spBv1.0/plant/DBIRTH/edge1/pump"
    static let ddata = "spBv1.0/plant/DDATA/edge1/pump"

    /// NBIRTH: bdSeq 7, temperature (Double, alias 1), running (Boolean, alias 2), mode (String, alias 3).
    func birth(seq: UInt64 = 0, at received: Int64 = received, bdSeq: UInt64 = 7) -> Out {
        decode(Self.nbirth, Tahu.payload(seq: seq, timestamp: 1_700_000_000_000, [
            Tahu.metric("bdSeq", type: 8, .longValue(bdSeq)),
            Tahu.metric("temperature", alias: 1, type: 10, .doubleValue(21.5)),
            Tahu.metric("running", alias: 2, type: 11, .booleanValue(true)),
            Tahu.metric("mode", alias: 3, type: 12, .stringValue("auto")),
        ]), at: received)
    }

    @Test func aBirthStoresItsValuesItsDefinitionsAndOnline() {
        let out = birth()
        #expect(out.reject == nil)
        #expect(out.rows == [
            "plant/edge1 bdSeq=7.0 @1700000000000000", "plant/edge1 temperature=21.5 @1700000000000000",
            "plant/edge1 running=1.0 @1700000000000000", "plant/edge1 sparkplug.online=1.0 @1700000000000000",
            #"plant/edge1 mode="auto" @1700000000000000"#,
        ])
        #expect(out.definitions.map { "\($0.deviceID) \($0.name) \($0.alias.map(String.init) ?? "-") \($0.datatype)" } == [
            "plant/edge1 bdSeq - 8", "plant/edge1 temperature 1 10", "plant/edge1 running 2 11", "plant/edge1 mode 3 12",
        ])
        #expect(out.definitions.allSatisfy { $0.bornAt == Self.received })
    }

    @Test func dataResolvesAliasesThroughTheLastBirth() {
        _ = birth()
        let out = decode(Self.ndata, Tahu.payload(seq: 1, timestamp: 1_700_000_001_000, [
            Tahu.metric(alias: 1, .doubleValue(22.25)),
            Tahu.metric(alias: 2, .booleanValue(false)),
            Tahu.metric(alias: 3, .stringValue("manual")),
        ]), at: Self.received + 1_000_000)
        #expect(out.reject == nil)
        #expect(out.rows == ["plant/edge1 temperature=22.25 @1700000001000000", "plant/edge1 running=0.0 @1700000001000000",
                             #"plant/edge1 mode="manual" @1700000001000000"#])
        #expect(out.definitions.isEmpty)
        #expect(publisher.topics.isEmpty)
    }

    @Test func anUnknownAliasRejectsTheWholeMessageAndAsksForARebirthOnce() throws {
        _ = birth()
        let out = decode(Self.ndata, Tahu.payload(seq: 1, [Tahu.metric(alias: 1, .doubleValue(1)),
                                                          Tahu.metric(alias: 99, .doubleValue(2))]))
        #expect(out.reject?.reason == .unknownAlias)
        #expect(out.reject?.detail == "alias 99: not in the last birth of plant/edge1")
        #expect(out.reject?.payload.isEmpty == false)
        #expect(out.rows.isEmpty)
        #expect(publisher.topics == ["spBv1.0/plant/NCMD/edge1"])
        let command = try SparkplugPayload(serializedBytes: publisher.published.withLock { $0[0].payload })
        #expect(command.metrics.count == 1)
        #expect(command.metrics[0].name == "Node Control/Rebirth" && command.metrics[0].booleanValue
                && command.metrics[0].datatype == 11)
        #expect(stats.sparkplugRebirths.load(ordering: .relaxed) == 1)
        // Within the interval: rejected again, not asked again.
        _ = decode(Self.ndata, Tahu.payload(seq: 2, [Tahu.metric(alias: 98, .doubleValue(2))]))
        #expect(publisher.topics.count == 1)
    }

    @Test func noBirthAtAllIsAnUnknownAliasToo() {
        let out = decode(Self.ddata, Tahu.payload(seq: 5, [Tahu.metric(alias: 4, .doubleValue(1))]))
        #expect(out.reject?.reason == .unknownAlias)
        #expect(out.reject?.detail == "alias 4: no birth of plant/edge1/pump is known")
        #expect(publisher.topics == ["spBv1.0/plant/NCMD/edge1"])
    }

    @Test func aSequenceGapAsksForARebirthButStoresTheMessage() {
        _ = birth(seq: 254)
        #expect(decode(Self.ndata, Tahu.payload(seq: 255, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil)
        #expect(decode(Self.ndata, Tahu.payload(seq: 0, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil)
        #expect(publisher.topics.isEmpty, "255 -> 0 wraps, no gap")
        let out = decode(Self.ndata, Tahu.payload(seq: 5, [Tahu.metric(alias: 1, .doubleValue(3))]))
        #expect(out.reject == nil && out.rows.count == 1)
        #expect(publisher.topics == ["spBv1.0/plant/NCMD/edge1"])
    }

    @Test func rebirthRequestsCanBeTurnedOff() {
        let d = decoder(rebirth: false)
        _ = decode(Self.ndata, Tahu.payload(seq: 5, [Tahu.metric(alias: 4, .doubleValue(1))]), with: d)
        #expect(publisher.topics.isEmpty)
    }

    @Test func everyDatatype() {
        let out = decode(Self.dbirth, Tahu.payload(seq: 0, timestamp: 1000, [
            Tahu.metric("i8", type: 1, .intValue(0xFFFF_FFFF)),
            Tahu.metric("i16", type: 2, .intValue(0xFFFF_8000)),
            Tahu.metric("i32", type: 3, .intValue(0x8000_0000)),
            Tahu.metric("i64", type: 4, .longValue(UInt64(bitPattern: -5))),
            Tahu.metric("u8", type: 5, .intValue(255)),
            Tahu.metric("u16", type: 6, .intValue(65535)),
            Tahu.metric("u32", type: 7, .intValue(4_294_967_295)),
            Tahu.metric("u64", type: 8, .longValue(1 << 40)),
            Tahu.metric("f", type: 9, .floatValue(0.5)),
            Tahu.metric("d", type: 10, .doubleValue(-1.25)),
            Tahu.metric("b", type: 11, .booleanValue(false)),
            Tahu.metric("s", type: 12, .stringValue("")),
            Tahu.metric("when", type: 13, .longValue(1_700_000_000_123)),
            Tahu.metric("t", type: 14, .stringValue("text")),
            Tahu.metric("id", type: 15, .stringValue("6ba7b810-9dad-11d1-80b4-00c04fd430c8")),
            Tahu.metric("ds", type: 16, .datasetValue(.init())),
            Tahu.metric("raw", type: 17, .bytesValue(.init([1, 2]))),
            Tahu.metric("file", type: 18, .bytesValue(.init([3]))),
            Tahu.metric("tpl", type: 19, .templateValue(.init())),
            Tahu.metric("props", type: 20),
            Tahu.metric("arr", type: 22, .bytesValue(.init([1]))),
            Tahu.metric("future", type: 99, .intValue(1)),
        ]))
        #expect(out.reject == nil)
        #expect(out.rows == [
            "plant/edge1/pump i8=-1.0 @1000000", "plant/edge1/pump i16=-32768.0 @1000000",
            "plant/edge1/pump i32=-2147483648.0 @1000000", "plant/edge1/pump i64=-5.0 @1000000",
            "plant/edge1/pump u8=255.0 @1000000", "plant/edge1/pump u16=65535.0 @1000000",
            "plant/edge1/pump u32=4294967295.0 @1000000", "plant/edge1/pump u64=1099511627776.0 @1000000",
            "plant/edge1/pump f=0.5 @1000000", "plant/edge1/pump d=-1.25 @1000000", "plant/edge1/pump b=0.0 @1000000",
            "plant/edge1/pump when=1700000000123.0 @1000000", "plant/edge1/pump sparkplug.online=1.0 @1000000",
            #"plant/edge1/pump s="" @1000000"#, #"plant/edge1/pump t="text" @1000000"#,
            #"plant/edge1/pump id="6ba7b810-9dad-11d1-80b4-00c04fd430c8" @1000000"#,
        ])
        #expect(out.ignored[.sparkplugDataSet] == 1 && out.ignored[.sparkplugBytes] == 1 && out.ignored[.sparkplugFile] == 1)
        #expect(out.ignored[.sparkplugTemplate] == 1 && out.ignored[.sparkplugArray] == 1)
        #expect(out.ignored[.sparkplugUnknown] == 1)
        #expect(out.ignored[.sparkplugPropertySet] == 1, "counted by its datatype, with or without a value")
        #expect(out.ignored[.null] == 0)
        #expect(out.definitions.count == 22)
    }

    @Test func nullTransientHistoricalAndTimestamps() {
        _ = birth()
        let out = decode(Self.ndata, Tahu.payload(seq: 1, timestamp: 5_000, [
            Tahu.metric(alias: 1, .doubleValue(1), timestamp: 4_000, historical: true),
            Tahu.metric(alias: 1, .doubleValue(2)),
            Tahu.metric(alias: 1, null: true),
            Tahu.metric(alias: 2, .booleanValue(true), transient: true),
        ]))
        #expect(out.reject == nil)
        #expect(out.rows == ["plant/edge1 temperature=1.0 @4000000", "plant/edge1 temperature=2.0 @5000000"])
        #expect(out.ignored[.null] == 1 && out.ignored[.transient] == 1)
        let bare = decode(Self.ndata, Tahu.payload(seq: 2, [Tahu.metric(alias: 1, .doubleValue(3))]))
        #expect(bare.rows == ["plant/edge1 temperature=3.0 @\(Self.received)"], "no timestamp at all: the receive time")
    }

    @Test func deathsTakeTheNodeOrDeviceOffline() {
        _ = birth(bdSeq: 7)
        let stale = decode("spBv1.0/plant/NDEATH/edge1", Tahu.payload([Tahu.metric("bdSeq", type: 8, .longValue(6))]),
                           at: Self.received + 5)
        #expect(stale.reject == nil && stale.rows.isEmpty && stale.ignored[.staleDeath] == 1)
        let device = decode("spBv1.0/plant/DDEATH/edge1/pump", Tahu.payload(seq: 1, timestamp: 1, []), at: Self.received + 6)
        #expect(device.rows == ["plant/edge1/pump sparkplug.online=0.0 @\(Self.received + 6)"])
        let death = decode("spBv1.0/plant/NDEATH/edge1", Tahu.payload(timestamp: 1, [Tahu.metric("bdSeq", type: 8, .longValue(7))]),
                           at: Self.received + 7)
        #expect(death.reject == nil)
        #expect(death.rows == ["plant/edge1 sparkplug.online=0.0 @\(Self.received + 7)"], "receive time; bdSeq not a reading")
        // After a death the next birth starts the sequence again: no gap.
        _ = birth(seq: 9, at: Self.received + 8)
        #expect(decode(Self.ndata, Tahu.payload(seq: 10, [Tahu.metric(alias: 1, .doubleValue(1))]),
                       at: Self.received + 9).reject == nil)
        #expect(publisher.topics.isEmpty)
    }

    @Test func whatIsNotTelemetryIsCountedAndWhatIsBrokenIsRejected() {
        let state = decode("spBv1.0/STATE/host1", Array(#"{"online":true,"timestamp":1}"#.utf8))
        #expect(state.reject == nil && state.ignored[.sparkplugControl] == 1)
        let command = decode("spBv1.0/plant/NCMD/edge1", Tahu.payload([]))
        #expect(command.reject == nil && command.ignored[.sparkplugControl] == 1)
        #expect(decode("spBv1.0/plant/NDATA", []).reject?.reason == .topicMismatch)
        #expect(decode("spBv1.0/plant/BOGUS/edge1", []).reject?.reason == .topicMismatch)
        #expect(decode("spBv1.0/plant/DDATA/edge1", []).reject?.reason == .topicMismatch)
        #expect(decode("other/plant/NDATA/edge1", []).reject?.reason == .topicMismatch)
        #expect(decode(Self.ndata, [0xFF, 0xFF, 0xFF]).reject?.reason == .invalidSparkplug)
        let mismatch = decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("x", type: 9, .stringValue("no"))]))
        #expect(mismatch.reject?.reason == .invalidSparkplug)
        #expect(decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("x", .doubleValue(1))])).reject?.reason == .invalidSparkplug)
        #expect(decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("x", alias: UInt64.max, type: 10, .doubleValue(1))]))
            .reject?.reason == .invalidSparkplug)
        #expect(decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("", type: 10, .doubleValue(1))])).reject?.reason
            == .invalidField)
        #expect(decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("x", type: 10, .doubleValue(.nan))])).reject?.reason
            == .nonFinite)
        #expect(decode(Self.nbirth, Tahu.payload(seq: 0, timestamp: UInt64.max, [])).reject?.reason == .badTimestamp)
        #expect(decode(Self.ndata, Tahu.payload(seq: 0, [])).reject?.reason == .noReadings)
        #expect(decode(Self.ndata, Tahu.payload(seq: 0, [Tahu.metric(type: 10, .doubleValue(1))])).reject?.reason
            == .invalidSparkplug)
    }

    /// The node has moved on to aliases the daemon refused: its data must not resolve through
    /// the previous birth (they could be named wrongly), and the node is asked again.
    @Test func aRefusedBirthForgetsThePreviousOneAndAsksAgain() {
        _ = birth(bdSeq: 7)
        let refused = decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("bdSeq", type: 8, .longValue(8)),
                                                               Tahu.metric("pressure", alias: 1, type: 10, .doubleValue(.nan))]))
        #expect(refused.reject?.reason == .nonFinite)
        #expect(sessions.latestBirth(of: "plant/edge1") == nil)
        #expect(publisher.topics == ["spBv1.0/plant/NCMD/edge1"])
        let data = decode(Self.ndata, Tahu.payload(seq: 1, [Tahu.metric(alias: 1, .doubleValue(5))]))
        #expect(data.reject?.reason == .unknownAlias, "never stored as temperature")
        let death = decode("spBv1.0/plant/NDEATH/edge1", Tahu.payload([Tahu.metric("bdSeq", type: 8, .longValue(8))]))
        #expect(death.rows.count == 1, "the refused birth's bdSeq is unknown, not the old one: the death is stored")
    }

    @Test func aHostileSequenceNumberIsAGapNotACrash() {
        _ = birth()
        #expect(decode(Self.ndata, Tahu.payload(seq: UInt64.max, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil)
        #expect(decode(Self.ndata, Tahu.payload(seq: 0, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil,
                "2^64 - 1 is 255 mod 256: 0 follows")
        #expect(decode(Self.ndata, Tahu.payload(seq: 300, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil)
        #expect(publisher.topics == ["spBv1.0/plant/NCMD/edge1"], "2^64 - 1 after 0 was the gap")
    }

    @Test func aNameGivenTwiceInABirthIsDefinedOnceTheLastWay() {
        let out = decode(Self.dbirth, Tahu.payload(seq: 0, [Tahu.metric("x", alias: 1, type: 10, .doubleValue(1)),
                                                           Tahu.metric("x", alias: 2, type: 3, .intValue(2))]))
        #expect(out.reject == nil)
        #expect(out.definitions.map { "\($0.name) \($0.alias ?? 0) \($0.datatype)" } == ["x 2 3"])
        #expect(sessions.latestBirth(of: "plant/edge1/pump")?.byName["x"] == 3)
    }

    @Test func aBirthDefinesAtMostMaxReadingsMetrics() {
        let many = (0..<5).map { Tahu.metric("m\($0)", type: 10, null: true) }
        let out = decode(Self.nbirth, Tahu.payload(seq: 0, many), with: decoder(maxReadings: 4))
        #expect(out.reject?.reason == .tooManyReadings, "null values make no reading, but five definitions")
    }

    /// Live, the last birth delivered wins, even if the wall clock stepped back before it.
    @Test func liveTheLastBirthDeliveredWinsWhateverTheClock() {
        _ = birth(at: Self.received)
        _ = decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("pressure", alias: 1, type: 10, .doubleValue(1))]),
                   at: Self.received - 60_000_000)
        let out = decode(Self.ndata, Tahu.payload(seq: 1, [Tahu.metric(alias: 1, .doubleValue(2))]), at: Self.received - 59_000_000)
        #expect(out.rows == ["plant/edge1 pressure=2.0 @\(Self.received - 59_000_000)"])
    }

    @Test func tooManyReadingsIsWhole() {
        let out = decode(Self.nbirth, Tahu.payload(seq: 0, (0..<3).map { Tahu.metric("m\($0)", type: 10, .doubleValue(1)) }),
                         with: decoder(maxReadings: 3))
        #expect(out.reject?.reason == .tooManyReadings, "three metrics and sparkplug.online")
    }

    @Test func aSeededCatalogResolvesOnlyMessagesReceivedAfterItsBirth() {
        sessions.seed([
            MetricDefinition(deviceID: "plant/edge1", name: "old", alias: 1, datatype: 10, bornAt: 100),
            MetricDefinition(deviceID: "plant/edge1", name: "temperature", alias: 1, datatype: 10, bornAt: 200),
            MetricDefinition(deviceID: "plant/edge1", name: "running", alias: 2, datatype: 11, bornAt: 200),
        ])
        #expect(sessions.latestBirth(of: "plant/edge1")?.count == 2, "only the newest birth's rows")
        let after = decode(Self.ndata, Tahu.payload(seq: 3, [Tahu.metric(alias: 1, .doubleValue(5))]), at: 200)
        #expect(after.rows == ["plant/edge1 temperature=5.0 @200"])
        let before = decode(Self.ndata, Tahu.payload(seq: 4, [Tahu.metric(alias: 1, .doubleValue(5))]), at: 199)
        #expect(before.reject?.reason == .unknownAlias, "received before the only birth known: never the wrong one")
    }

    @Test func replayNeitherChecksSequencesNorAsksForRebirths() {
        _ = birth(seq: 0)
        sessions.replaying(true)
        #expect(decode(Self.ndata, Tahu.payload(seq: 9, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil)
        #expect(decode(Self.ndata, Tahu.payload(seq: 9, [Tahu.metric(alias: 7, .doubleValue(1))])).reject?.reason
            == .unknownAlias)
        sessions.replaying(false)
        #expect(publisher.topics.isEmpty)
        // The first live message after replay sets the sequence again.
        #expect(decode(Self.ndata, Tahu.payload(seq: 40, [Tahu.metric(alias: 1, .doubleValue(1))])).reject == nil)
        #expect(publisher.topics.isEmpty)
    }

    @Test func storeStringsFalseCountsTexts() {
        let out = decode(Self.nbirth, Tahu.payload(seq: 0, [Tahu.metric("s", type: 12, .stringValue("x"))]),
                         with: decoder(storeStrings: false))
        #expect(out.reject == nil && out.ignored[.string] == 1 && out.rows == ["plant/edge1 sparkplug.online=1.0 @\(Self.received)"])
    }
}
