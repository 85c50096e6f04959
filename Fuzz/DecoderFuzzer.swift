// libFuzzer entry point for PayloadDecoder (issue 12). Built by scripts/fuzz.sh together with
// the decoder's own source files and the model types they use into one module, with
// `-sanitize=fuzzer,address`, so coverage guidance and AddressSanitizer reach the scanner's
// byte loops. Not part of the package: SwiftPM would want a `main`, which libFuzzer provides.

let decoder = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 262_144)

/// One input = one MQTT payload. The invariants are those of DecoderFuzzReplayTests:
/// no trap, either rows (numeric or text) or exactly one reject, every row storable and
/// finite, no more rows than `payload.max_readings`. Bounded
/// decode time is libFuzzer's `-timeout` (scripts/fuzz.sh sets it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let payload = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let message = Message(topic: "devices/d1/telemetry", payload: payload, receivedAt: 1_700_000_000_000_000)
    var batch = Batch()
    var ignored = IgnoredFields()
    let reject = decoder.decode(message, into: &batch, ignored: &ignored)
    let rows = batch.readings
    let produced = rows.count + batch.texts.count
    precondition((reject == nil) != (produced == 0), "a message is rows or exactly one reject")
    precondition(reject == nil || ignored.isEmpty, "a rejected message counts no ignored leaf")
    precondition(produced <= decoder.maxReadings, "more rows than payload.max_readings")
    for text in batch.texts {
        precondition(PayloadDecoder.unstorable(text.deviceID) == nil, "unstorable device id")
        precondition(PayloadDecoder.unstorable(text.metric) == nil, "unstorable metric")
        precondition(!PayloadDecoder.holdsNUL(text.value), "text value holding U+0000")
        precondition(text.time >= 0 && text.time < Timestamp.endOfYear9999, "time out of range")
    }
    for row in rows {
        precondition(PayloadDecoder.unstorable(row.deviceID) == nil, "unstorable device id")
        precondition(PayloadDecoder.unstorable(row.metric) == nil, "unstorable metric")
        precondition(row.value.isFinite, "non-finite value")
        precondition(row.time >= 0 && row.time < Timestamp.endOfYear9999, "time out of range")
    }
    return 0
}
