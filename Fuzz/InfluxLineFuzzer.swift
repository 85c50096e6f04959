// libFuzzer entry point for InfluxLineDecoder (SPEC 4c). Built by scripts/fuzz.sh like the
// JSON one, with the line protocol's sources and the model types they use in one module.

let decoder = InfluxLineDecoder(template: try! TopicTemplate("agents/{device_id}/metrics"), deviceTag: "host",
                                precision: .nanoseconds, maxBytes: 262_144)

/// One input = one MQTT payload; the invariants of InfluxFuzzReplayTests: no trap, rows or
/// exactly one reject, every row storable, finite and in range, at most `max_readings`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let payload = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let message = Message(topic: "agents/a1/metrics", payload: payload, receivedAt: 1_700_000_000_000_000)
    var batch = Batch()
    var ignored = IgnoredFields()
    let reject = decoder.decode(message, into: &batch, ignored: &ignored)
    let produced = batch.readings.count + batch.texts.count
    precondition((reject == nil) != (produced == 0), "a message is rows or exactly one reject")
    precondition(reject == nil || ignored.isEmpty, "a rejected message counts no ignored leaf")
    precondition(produced <= decoder.maxReadings, "more rows than payload.max_readings")
    for text in batch.texts {
        precondition(PayloadDecoder.unstorable(text.deviceID) == nil, "unstorable device id")
        precondition(PayloadDecoder.unstorable(text.metric) == nil, "unstorable metric")
        precondition(!PayloadDecoder.holdsNUL(text.value), "text value holding U+0000")
        precondition(text.time >= 0 && text.time < Timestamp.endOfYear9999, "time out of range")
    }
    for row in batch.readings {
        precondition(PayloadDecoder.unstorable(row.deviceID) == nil, "unstorable device id")
        precondition(PayloadDecoder.unstorable(row.metric) == nil, "unstorable metric")
        precondition(row.value.isFinite, "non-finite value")
        precondition(row.time >= 0 && row.time < Timestamp.endOfYear9999, "time out of range")
    }
    return 0
}
