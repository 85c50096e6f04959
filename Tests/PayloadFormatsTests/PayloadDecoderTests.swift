@testable import IngestModel
@testable import PayloadFormats
import Testing

@Suite("PayloadDecoder: SPEC 4 forms and reject reasons")
struct PayloadDecoderTests {
    static let received: Int64 = 1_700_000_000_000_000
    let telemetry = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1024)
    let perMetric = PayloadDecoder(template: try! TopicTemplate("sensors/{device_id}/{metric}"), maxBytes: 1024)
    let noDevice = PayloadDecoder(template: try! TopicTemplate("plant/telemetry"), maxBytes: 1024)

    func decode(_ decoder: PayloadDecoder, _ topic: String, _ payload: String) -> ([Reading], Reject?) {
        decode(decoder, topic, Array(payload.utf8))
    }

    func decode(_ decoder: PayloadDecoder, _ topic: String, _ payload: [UInt8]) -> ([Reading], Reject?) {
        let (rows, _, reject) = decodeAll(decoder, topic, payload)
        return (rows.readings, reject)
    }

    /// Both row kinds and the ignored leaves.
    func decodeAll(_ decoder: PayloadDecoder, _ topic: String, _ payload: [UInt8]) -> (Batch, IgnoredFields, Reject?) {
        var rows = Batch()
        var ignored = IgnoredFields()
        let reject = decoder.decode(Message(topic: topic, payload: payload, receivedAt: Self.received), into: &rows,
                                    ignored: &ignored)
        return (rows, ignored, reject)
    }

    func summary(_ rows: [Reading]) -> [String] {
        rows.map { "\($0.deviceID) \($0.metric)=\($0.value) @\($0.time)" }
    }

    @Test func everyNumericFieldBecomesARowAndBooleansAreOneOrZero() {
        let (rows, reject) = decode(telemetry, "devices/d1/telemetry",
                                    #"{"ts": 1700000001, "temperature": 21.5, "on": true, "off": false, "name": "x", "n": null}"#)
        #expect(reject == nil)
        #expect(summary(rows) == [
            "d1 temperature=21.5 @1700000001000000", "d1 on=1.0 @1700000001000000", "d1 off=0.0 @1700000001000000",
        ])
    }

    @Test func nestedObjectsAreFlattenedWithDotsAndArraysWithTheirIndex() {
        let (rows, reject) = decode(telemetry, "devices/d1/telemetry",
                                    #"{"env": {"t": 1, "deep": {"h": 2}}, "list": [1, 2, {"x": 3}, [4]], "v": -0.5e1}"#)
        #expect(reject == nil)
        #expect(rows.map(\.metric) == ["env.t", "env.deep.h", "list.0", "list.1", "list.2.x", "list.3.0", "v"])
        #expect(rows.map(\.value) == [1, 2, 1, 2, 3, 4, -5])
        #expect(rows.allSatisfy { $0.time == Self.received })
    }

    /// SPEC 4 v4: every leaf is a row, a reject or a count.
    @Test func stringsAreTextRowsAndNullsAndEmptiesAreCounted() {
        let payload = #"{"ts": 1700000001, "temp": 21.5, "status": "charging", "fw": "2.1.0", "accel": [0.1, 0.0, 9.8], "#
            + #""note": "", "esc": "a\tb\u00e9", "cells": [{"v": 3.9, "id": "c1"}], "n": null, "o": {}, "a": [], "#
            + #""deep": {"x": null, "y": [[]]}}"#
        let (rows, ignored, reject) = decodeAll(telemetry, "devices/d1/telemetry", Array(payload.utf8))
        #expect(reject == nil)
        #expect(rows.readings.map(\.metric) == ["temp", "accel.0", "accel.1", "accel.2", "cells.0.v"])
        #expect(rows.texts.map { "\($0.metric)=\($0.value)" } == [
            "status=charging", "fw=2.1.0", "note=", "esc=a\tbé", "cells.0.id=c1",
        ])
        #expect(rows.texts.allSatisfy { $0.deviceID == "d1" && $0.time == 1_700_000_001_000_000 })
        #expect(ignored[.null] == 2 && ignored[.empty] == 3 && ignored[.string] == 0 && ignored[.besideValue] == 0)
    }

    @Test func withoutStoreStringsTheStringsAreCountedAndAloneAreNoReadings() {
        let off = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1024,
                                 storeStrings: false)
        let (rows, ignored, reject) = decodeAll(off, "devices/d/telemetry", Array(#"{"t": 1, "s": "x", "l": ["a", "b"]}"#.utf8))
        #expect(reject == nil && rows.readings.count == 1 && rows.texts.isEmpty)
        #expect(ignored[.string] == 3)
        let (_, none, alone) = decodeAll(off, "devices/d/telemetry", Array(#"{"s": "x", "n": null}"#.utf8))
        #expect(alone?.reason == .noReadings && none.isEmpty)
        let (_, _, value) = decodeAll(off, "devices/d/telemetry", Array(#"{"metric": "m", "value": "hot"}"#.utf8))
        #expect(value?.reason == .noReadings)
    }

    @Test func theMetricValueFormTakesAStringAndCountsEverythingBesideIt() {
        let payload = #"{"metric": "state", "value": "open", "battery": 90, "tags": ["a", null], "site": {"id": "s1"}, "x": null}"#
        let (rows, ignored, reject) = decodeAll(telemetry, "devices/d/telemetry", Array(payload.utf8))
        #expect(reject == nil && rows.readings.isEmpty)
        #expect(rows.texts.map { "\($0.metric)=\($0.value)" } == ["state=open"])
        #expect(ignored[.besideValue] == 5 && ignored[.null] == 0, "battery, tags.0, tags.1, site.id, x")
        let (numeric, _, _) = decodeAll(telemetry, "devices/d/telemetry", Array(#"{"metric": "m", "value": true, "s": "x"}"#.utf8))
        #expect(numeric.readings.map(\.value) == [1] && numeric.texts.isEmpty)
    }

    @Test func maxReadingsIsAllOrNothing() {
        let three = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1024, maxReadings: 3)
        let (atLimit, _, ok) = decodeAll(three, "devices/d/telemetry", Array(#"{"a": 1, "s": "x", "l": [2]}"#.utf8))
        #expect(ok == nil && atLimit.readings.count + atLimit.texts.count == 3)
        let (over, ignored, reject) = decodeAll(three, "devices/d/telemetry", Array(#"{"a": 1, "s": "x", "l": [2, 3], "n": null}"#.utf8))
        #expect(reject?.reason == .tooManyReadings && reject?.detail == "4 readings, payload.max_readings is 3")
        #expect(over.readings.isEmpty && over.texts.isEmpty && ignored.isEmpty)
        let (form, _, metadata) = decodeAll(three, "devices/d/telemetry",
                                            Array(#"{"metric": "m", "value": 1, "a": 1, "b": 2, "c": 3, "d": 4}"#.utf8))
        #expect(metadata == nil && form.readings.count == 1, "fields beside value are not readings")
    }

    @Test func roleFieldsThatAreNotStringsAreCountedOrStored() {
        let (rows, ignored, reject) = decodeAll(telemetry, "devices/d/telemetry",
                                                Array(#"{"ts": null, "device_id": null, "metric": 5, "t": 1}"#.utf8))
        #expect(reject == nil)
        #expect(rows.readings.map(\.metric) == ["metric", "t"])
        #expect(ignored[.null] == 2, "a null timestamp and a null device_id")
    }

    @Test func aTextValueHoldingNULIsAnInvalidField() {
        let (rows, _, reject) = decodeAll(telemetry, "devices/d/telemetry", Array(#"{"t": 1, "s": "a\u0000b"}"#.utf8))
        #expect(reject?.reason == .invalidField && reject?.detail == "text value of s holds U+0000")
        #expect(rows.readings.isEmpty && rows.texts.isEmpty)
    }

    @Test func metricAndValueFormIsOneRowAndIgnoresOtherNumbers() {
        let (rows, reject) = decode(telemetry, "devices/d1/telemetry",
                                    #"{"metric": "temperature", "value": 21.5, "battery": 90, "time": "2026-11-21T12:00:00Z"}"#)
        #expect(reject == nil)
        #expect(summary(rows) == ["d1 temperature=21.5 @1795262400000000"])
    }

    @Test(arguments: [
        ("1700000000", Int64(1_700_000_000_000_000)),          // seconds
        ("1700000000.25", Int64(1_700_000_000_250_000)),       // fractional seconds
        ("1700000000123", Int64(1_700_000_000_123_000)),       // milliseconds
        ("1700000000123456", Int64(1_700_000_000_123_456)),    // microseconds
        ("\"2023-11-14T22:13:20Z\"", Int64(1_700_000_000_000_000)),
        ("\"2023-11-14T23:13:20.5+01:00\"", Int64(1_700_000_000_500_000)),
        ("\"2023-11-14 22:13:20.000001z\"", Int64(1_700_000_000_000_001)),
    ])
    func timestampForms(_ literal: String, _ expected: Int64) {
        for key in ["ts", "time", "timestamp"] {
            let (rows, reject) = decode(telemetry, "devices/d/telemetry", "{\"\(key)\": \(literal), \"x\": 1}")
            #expect(reject == nil)
            #expect(rows.map(\.time) == [expected], "\(key): \(literal)")
            #expect(!rows.contains { $0.metric == key }, "timestamp never stored as a metric")
        }
    }

    @Test func bareNumberUsesTopicMetricOrValue() {
        let (rows, reject) = decode(perMetric, "sensors/d7/temperature", " 21.5\n")
        #expect(reject == nil)
        #expect(summary(rows) == ["d7 temperature=21.5 @\(Self.received)"])
        let (plain, _) = decode(telemetry, "devices/d7/telemetry", "42")
        #expect(summary(plain) == ["d7 value=42.0 @\(Self.received)"])
    }

    @Test func valueObjectUnderMetricTemplateIsOneRow() {
        let (rows, reject) = decode(perMetric, "sensors/d7/humidity", #"{"value": 40, "ts": 1700000000, "other": 1}"#)
        #expect(reject == nil)
        #expect(summary(rows) == ["d7 humidity=40.0 @1700000000000000"])
    }

    @Test func deviceFromPayloadWhenTemplateHasNoneAndTopicWins() {
        let (rows, reject) = decode(noDevice, "plant/telemetry", #"{"device_id": "p9", "t": 1}"#)
        #expect(reject == nil)
        #expect(summary(rows) == ["p9 t=1.0 @\(Self.received)"])
        let (topicWins, _) = decode(telemetry, "devices/d1/telemetry", #"{"device_id": "other", "t": 1}"#)
        #expect(topicWins.map(\.deviceID) == ["d1"])
        #expect(!topicWins.contains { $0.metric == "device_id" })
    }

    @Test func escapedKeysAndUnicodeAreDecoded() {
        let (rows, reject) = decode(telemetry, "devices/d/telemetry", #"{"t\u00e9mp\"x": 1, "caf\u00e9": 2}"#)
        #expect(reject == nil)
        #expect(rows.map(\.metric) == ["témp\"x", "café"])
    }

    @Test func numbersParseExactly() {
        let (rows, _) = decode(telemetry, "devices/d/telemetry",
                               #"{"a": 0.1, "b": 123456789.123456789, "c": 1e-300, "d": -0, "e": 9007199254740993}"#)
        #expect(rows.map(\.value) == [0.1, 123456789.123456789, 1e-300, -0.0, 9007199254740992])
    }

    struct RejectCase: Sendable, CustomTestStringConvertible {
        let payload: [UInt8]
        let topic: String
        let reason: RejectReason
        var testDescription: String { "\(reason.rawValue): \(String(decoding: payload, as: UTF8.self))" }
        init(_ payload: String, _ reason: RejectReason, topic: String = "devices/d/telemetry") {
            self.payload = Array(payload.utf8)
            self.reason = reason
            self.topic = topic
        }
        init(bytes: [UInt8], _ reason: RejectReason) {
            payload = bytes
            self.reason = reason
            topic = "devices/d/telemetry"
        }
    }

    @Test func aMillisecondEpochJustBelow1e14IsExactToTheMicrosecond() {
        let (rows, reject) = decode(telemetry, "devices/d/telemetry", #"{"ts": 99999999999999, "t": 1}"#)
        #expect(reject == nil)
        #expect(rows.first?.time == 99_999_999_999_999_000, "5138-11-16 09:46:39.999000, not ...999008")
    }

    @Test(arguments: [
        RejectCase("{\"t\": 1", .invalidJSON),
        RejectCase("hello", .invalidJSON),
        RejectCase("", .invalidJSON),
        RejectCase("{\"t\": 01}", .invalidJSON),
        RejectCase("{\"t\": 1} x", .invalidJSON),
        RejectCase(bytes: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], .notUTF8),
        RejectCase("{\"n\": null, \"e\": {}, \"a\": []}", .noReadings),
        RejectCase("[1, 2]", .noReadings),
        RejectCase("{}", .noReadings),
        RejectCase("{\"metric\": \"t\", \"value\": null}", .noReadings),
        RejectCase("{\"ts\": \"yesterday\", \"t\": 1}", .badTimestamp),
        RejectCase("{\"ts\": -5, \"t\": 1}", .badTimestamp),
        RejectCase("{\"ts\": 1e20, \"t\": 1}", .badTimestamp),
        RejectCase("{\"ts\": \"2023-02-30T00:00:00Z\", \"t\": 1}", .badTimestamp),
        RejectCase("{\"t\": NaN}", .nonFinite),
        RejectCase("{\"t\": 1e999}", .nonFinite),
        RejectCase("-Infinity", .nonFinite),
        RejectCase("{\"t\": 1}", .topicMismatch, topic: "devices/d/status"),
        RejectCase("{\"t\": 1}", .topicMismatch, topic: "devices//telemetry"),
        RejectCase("{\"a\\u0000b\": 1}", .invalidField),
        RejectCase("{\"\": 1}", .invalidField),
        RejectCase("{\"" + String(repeating: "k", count: 256) + "\": 1}", .invalidField),
        RejectCase("{\"metric\": \"\", \"value\": 1}", .invalidField),
        RejectCase("{\"ts\": \"1969-12-31T23:59:59Z\", \"t\": 1}", .badTimestamp),
    ])
    func rejectReasons(_ c: RejectCase) {
        let (rows, reject) = decode(telemetry, c.topic, c.payload)
        #expect(rows.isEmpty)
        #expect(reject?.reason == c.reason)
        #expect(reject?.payload == c.payload, "the reject keeps the original payload")
        #expect(reject?.topic == c.topic)
    }

    @Test func tooLargeIsCutToMaxBytesWithTheOriginalSizeInDetail() {
        let small = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 8)
        let (rows, reject) = decode(small, "devices/d/telemetry", #"{"temperature": 21.5}"#)
        #expect(rows.isEmpty)
        #expect(reject?.reason == .tooLarge)
        #expect(reject?.payload.count == 8)
        #expect(reject?.detail == "21 bytes")
    }

    @Test func aPayloadCutInTheCallbackIsTooLargeWithItsPublishedSize() {
        let small = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 8)
        let cut = Message(topic: "devices/d/telemetry", payload: Array("123456789".utf8), receivedAt: 1, size: 5_000_000)
        var rows = Batch()
        var ignored = IgnoredFields()
        let reject = small.decode(cut, into: &rows, ignored: &ignored)
        #expect(reject?.reason == .tooLarge)
        #expect(reject?.payload == Array("12345678".utf8))
        #expect(reject?.detail == "5000000 bytes")
    }

    @Test func missingDeviceIsATopicMismatch() {
        let (_, reject) = decode(noDevice, "plant/telemetry", #"{"t": 1}"#)
        #expect(reject?.reason == .topicMismatch)
    }

    @Test func aRejectLeavesEarlierRowsOfTheBatchAlone() {
        var rows = Batch()
        var ignored = IgnoredFields()
        _ = telemetry.decode(Message(topic: "devices/a/telemetry", payload: Array(#"{"x": 1, "s": "on"}"#.utf8),
                                     receivedAt: 0), into: &rows, ignored: &ignored)
        let reject = telemetry.decode(Message(topic: "devices/b/telemetry",
                                              payload: Array(#"{"x": 1, "t": "up", "n": null, "y": NaN}"#.utf8),
                                              receivedAt: 0), into: &rows, ignored: &ignored)
        #expect(reject?.reason == .nonFinite)
        #expect(rows.readings.map(\.deviceID) == ["a"] && rows.texts.map(\.deviceID) == ["a"])
        #expect(ignored.isEmpty, "a rejected message counts nothing")
    }
}

@Suite("Decoder and template errors carry a code")
struct DecoderErrorCodeTests {
    func skipError(_ text: String) -> JSONScanner.Malformed.Code? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            do throws(JSONScanner.Malformed) {
                try scanner.skipValue()
                return nil
            } catch {
                return error.code
            }
        }
    }

    func stringError(_ text: String) -> JSONScanner.Malformed.Code? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            do throws(JSONScanner.Malformed) {
                _ = try scanner.string(try scanner.scanString())
                return nil
            } catch {
                return error.code
            }
        }
    }

    @Test func eachKindOfMalformedJSONHasItsCode() {
        #expect(skipError(#"{"a": 1}"#) == nil)
        #expect(skipError(#"{"a" 1}"#) == .syntax)
        #expect(skipError("\"a\u{01}b\"") == .string)
        #expect(stringError(#""\x""#) == .escape, "escapes are checked when a string is read, not skipped")
        #expect(skipError("01") == .number)
        #expect(skipError(String(repeating: "[", count: 10_000)) == .depth)
        #expect(skipError("") == .truncated)
    }

    @Test func aTopicTemplateErrorSaysWhichRuleItBroke() {
        #expect(throws: TopicTemplate.Invalid.self) { try TopicTemplate("a/+/b") }
        do {
            _ = try TopicTemplate("a/{device_id}/{device_id}")
            Issue.record("accepted a repeated placeholder")
        } catch {
            #expect(error.code == .repeatedPlaceholder)
        }
        do {
            _ = try TopicTemplate("a/{devce}")
            Issue.record("accepted a misspelt placeholder")
        } catch {
            #expect(error.code == .badSegment)
        }
    }
}
