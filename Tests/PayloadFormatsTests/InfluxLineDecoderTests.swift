@testable import IngestModel
@testable import PayloadFormats
import Testing

/// SPEC 4c: Influx line protocol, with the examples and edge cases of InfluxDB's own
/// line protocol documentation (special characters, field types, precision, comments).
@Suite("InfluxLineDecoder: line protocol to rows")
struct InfluxLineDecoderTests {
    static let received: Int64 = 1_700_000_000_000_000
    static let template = try! TopicTemplate("agents/{device_id}/metrics")

    func decoder(tag: String? = "host", precision: InfluxLineDecoder.Precision = .nanoseconds, maxReadings: Int = 1000,
                 storeStrings: Bool = true, template: TopicTemplate? = template) -> InfluxLineDecoder {
        InfluxLineDecoder(template: template, deviceTag: tag, precision: precision, maxBytes: 1 << 16,
                          maxReadings: maxReadings, storeStrings: storeStrings)
    }

    /// `device metric=value @time` per numeric row, then `device metric="text" @time` per text row.
    func decode(_ payload: String, with decoder: InfluxLineDecoder? = nil,
                topic: String = "agents/a1/metrics") -> (rows: [String], ignored: IgnoredFields, reject: Reject?) {
        var batch = Batch()
        var ignored = IgnoredFields()
        let reject = (decoder ?? self.decoder()).decode(
            Message(topic: topic, payload: Array(payload.utf8), receivedAt: Self.received), into: &batch, ignored: &ignored)
        let rows = batch.readings.map { "\($0.deviceID) \($0.metric)=\($0.value) @\($0.time)" }
            + batch.texts.map { "\($0.deviceID) \($0.metric)=\"\($0.value)\" @\($0.time)" }
        return (rows, ignored, reject)
    }

    @Test func theDocumentationsFirstExample() {
        let out = decode(#"myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000"#)
        #expect(out.reject == nil)
        #expect(out.rows == [#"a1 myMeasurement.fieldKey="fieldValue" @1556813561098000"#,
                             #"a1 myMeasurement.tag1="value1" @1556813561098000"#,
                             #"a1 myMeasurement.tag2="value2" @1556813561098000"#])
    }

    @Test func everyFieldType() {
        let out = decode("m f=1.5,n=-2,e=1e3,i=-9223372036854775808i,j=9223372036854775807i,u=18446744073709551615u,"
                         + #"t=t,T=TRUE,F=False,x=f,s="txt" 1"#)
        #expect(out.reject == nil, "\(String(describing: out.reject))")
        #expect(out.rows == ["a1 m.f=1.5 @0", "a1 m.n=-2.0 @0", "a1 m.e=1000.0 @0", "a1 m.i=-9.223372036854776e+18 @0",
                             "a1 m.j=9.223372036854776e+18 @0", "a1 m.u=1.8446744073709552e+19 @0", "a1 m.t=1.0 @0",
                             "a1 m.T=1.0 @0", "a1 m.F=0.0 @0", "a1 m.x=0.0 @0", #"a1 m.s="txt" @0"#])
    }

    /// InfluxDB's "special characters" table: what each escape means where.
    @Test(arguments: [
        (#"my\ Measurement fieldKey="string value""#, #"a1 my Measurement.fieldKey="string value" @1700000000000000"#),
        (#"my\,Measurement f=1"#, "a1 my,Measurement.f=1.0 @1700000000000000"),
        (#"m fieldKey="\"string\" within a string""#, #"a1 m.fieldKey=""string" within a string" @1700000000000000"#),
        (#"m f="back\\slash and \n stays""#, #"a1 m.f="back\slash and \n stays" @1700000000000000"#),
        (#"m f="Launch 🚀""#, #"a1 m.f="Launch 🚀" @1700000000000000"#),
        (#"m,tag\ Key1=tag\ Value1 f\=k=1"#, "a1 m.f=k=1.0 @1700000000000000"),
        (#"m,k=a\=b\,c f=1"#, "a1 m.f=1.0 @1700000000000000"),
        (#"m\=x f=1"#, #"a1 m\=x.f=1.0 @1700000000000000"#),
    ])
    func specialCharacters(line: String, first: String) {
        let out = decode(line)
        #expect(out.reject == nil, "\(String(describing: out.reject))")
        #expect(out.rows.first == first, "\(out.rows)")
    }

    @Test func escapedTagsAreStoredUnescaped() {
        let out = decode(#"m,tag\ Key1=tag\ Value1,k=a\=b\,c f=1"#)
        #expect(out.rows.dropFirst() == [#"a1 m.tag Key1="tag Value1" @1700000000000000"#,
                                         #"a1 m.k="a=b,c" @1700000000000000"#])
    }

    @Test(arguments: [(InfluxLineDecoder.Precision.nanoseconds, "1700000000123456789", 1_700_000_000_123_456),
                      (.microseconds, "1700000000123456", 1_700_000_000_123_456),
                      (.milliseconds, "1700000000123", 1_700_000_000_123_000),
                      (.seconds, "1700000000", 1_700_000_000_000_000)])
    func eachPrecision(precision: InfluxLineDecoder.Precision, stamp: String, micros: Int64) {
        let out = decode("m f=1 \(stamp)", with: decoder(precision: precision))
        #expect(out.rows == ["a1 m.f=1.0 @\(micros)"])
    }

    @Test func severalLinesCommentsBlankLinesAndCRLF() {
        let payload = "# a comment\r\n\ncpu,host=h1 usage=0.5 1700000000000000000\r\n   \nmem,host=h2 free=3i\n"
        let out = decode(payload)
        #expect(out.reject == nil)
        #expect(out.rows == ["h1 cpu.usage=0.5 @1700000000000000", "h2 mem.free=3.0 @1700000000000000"],
                "the device tag names the device and is not stored as a row")
    }

    @Test func withoutTheDeviceTagTheTopicNamesTheDevice() {
        #expect(decode("cpu usage=1").rows == ["a1 cpu.usage=1.0 @1700000000000000"])
        let noDevice = decoder(template: try! TopicTemplate("plant/metrics"))
        #expect(decode("cpu,host=h usage=1", with: noDevice, topic: "plant/metrics").rows.first
                == "h cpu.usage=1.0 @1700000000000000")
        let out = decode("cpu usage=1", with: noDevice, topic: "plant/metrics")
        #expect(out.reject?.reason == .invalidLineProtocol && out.reject?.detail?.contains("line 1: no device id") == true)
    }

    /// A bad line rejects the whole message (never half of it), naming the line.
    @Test(arguments: [
        ("m f=1\nm f=\nm f=2", "line 2: field f has no value"),
        ("m f=1\nm\n", "line 2: no fields after the measurement"),
        ("m f=1\n\nm,t f=1", "line 3: tag key t has no '='"),
        ("m,t= f=1", "line 1: empty tag value"),
        (",t=1 f=1", "line 1: empty measurement"),
        ("m f=9223372036854775808i", "line 1: field f has the value '9223372036854775808i'"),
        ("m f=-1u", "line 1: field f has the value '-1u'"),
        ("m f=NaN", "line 1: field f has the value 'NaN'"),
        ("m f=inf", "line 1: field f has the value 'inf'"),
        ("m f=1.2.3", "line 1: field f has the value '1.2.3'"),
        ("m f=tru", "line 1: field f has the value 'tru'"),
        (#"m f="open"#, "line 1: string field f has no closing quote"),
        ("m f=1 12x", "line 1: timestamp '12x' is not an integer"),
        ("m f=1 1 2", "line 1: unexpected '2' after the fields"),
    ])
    func aBadLineRejectsTheMessageNamingTheLine(payload: String, detail: String) {
        let out = decode(payload)
        #expect(out.rows.isEmpty)
        #expect(out.reject?.reason == .invalidLineProtocol, "\(String(describing: out.reject))")
        #expect(out.reject?.detail?.hasPrefix(detail) == true, "\(out.reject?.detail ?? "nil")")
    }

    @Test func aStringFieldMaySpanLinesAndTheLineNumbersFollow() {
        let out = decode("m s=\"one\ntwo\" 1\nm f=")
        #expect(out.reject?.detail?.hasPrefix("line 3:") == true, "\(out.reject?.detail ?? "nil")")
        #expect(decode("m s=\"one\ntwo\"").rows == ["a1 m.s=\"one\ntwo\" @1700000000000000"])
    }

    @Test func timesBefore1970OrAfter9999AreBadTimestamps() {
        #expect(decode("m f=1 -1").reject?.reason == .badTimestamp)
        #expect(decode("m f=1 253402300800", with: decoder(precision: .seconds)).reject?.reason == .badTimestamp)
        #expect(decode("m f=1 9223372036854775807", with: decoder(precision: .seconds)).reject?.reason == .badTimestamp)
    }

    @Test func storeStringsOffCountsStringFieldsAndTags() {
        let out = decode(#"m,site=s1 f=1,s="x""#, with: decoder(storeStrings: false))
        #expect(out.rows == ["a1 m.f=1.0 @1700000000000000"])
        #expect(out.ignored.counts.first(where: { $0 > 0 }) == 2)
        #expect(decode(#"m s="x""#, with: decoder(storeStrings: false)).reject?.reason == .noReadings)
    }

    /// A measurement as long as the payload times many fields is refused before any name is
    /// built (it would be 256 MB of names), as is a repeated device tag counted once.
    @Test func hostileNamesAreRefusedBeforeTheyAreBuilt() {
        let long = String(repeating: "m", count: 50_000)
        let fields = (0..<1000).map { "f\($0)=1" }.joined(separator: ",")
        let out = decode(long + " " + fields)
        #expect(out.reject?.reason == .invalidField && out.reject?.detail == "line 1: a device id or metric over 255 bytes")
        let detail = decode("m f=" + String(repeating: "x", count: 5_000)).reject?.detail ?? ""
        #expect(detail.utf8.count < 200, "the detail quotes at most 64 bytes of the token")
        #expect(decode(#"m,k=a\\,b f=1"#).rows.last == #"a1 m.k="a\,b" @1700000000000000"#,
                "a backslash before an escaped comma is itself")
        #expect(decode("m f=1\r2").reject?.reason == .invalidLineProtocol, "a lone CR is not a line end")
    }

    @Test func maxReadingsCountsOnlyWhatIsStored() {
        let out = decode(#"m,host=h,host=h,a=1,b=2 f=1,s="x""#, with: decoder(maxReadings: 1, storeStrings: false))
        #expect(out.reject == nil && out.rows == ["h m.f=1.0 @1700000000000000"], "\(String(describing: out.reject))")
    }

    @Test func tooManyReadingsRejectsWhole() {
        let out = decode("m a=1,b=2\nm c=3,d=4", with: decoder(maxReadings: 3))
        #expect(out.reject?.reason == .tooManyReadings && out.rows.isEmpty)
        #expect(decode("m a=1,b=2\nm c=3", with: decoder(maxReadings: 3)).reject == nil)
    }

    @Test func otherRejectsAreThoseOfJSON() {
        #expect(decode("m f=1", topic: "other/topic").reject?.reason == .topicMismatch)
        #expect(decode("", topic: "agents/a1/metrics").reject?.reason == .noReadings)
        var bad = Batch(), ignored = IgnoredFields()
        let notUTF8 = decoder().decode(Message(topic: "agents/a1/metrics", payload: [0x6d, 0x20, 0x66, 0x3d, 0xff],
                                               receivedAt: 0), into: &bad, ignored: &ignored)
        #expect(notUTF8?.reason == .notUTF8)
        #expect(decode(#"m s="a\u{0}b""#.replacingOccurrences(of: "\\u{0}", with: "\u{0}")).reject?.reason == .invalidField)
    }
}
