// libFuzzer entry point for InfluxLineDecoder (SPEC 4c). Built by scripts/fuzz.sh like the
// JSON one, with the line protocol's sources and the model types they use in one module.

let decoder = InfluxLineDecoder(template: try! TopicTemplate("agents/{device_id}/metrics"), deviceTag: "host",
                                precision: .nanoseconds, maxBytes: 262_144)

/// One input = one MQTT payload; the invariants are `checkInvariants` (FuzzInvariants.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let payload = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    var batch = Batch()
    var ignored = IgnoredFields()
    let reject = decoder.decode(Message(topic: "agents/a1/metrics", payload: payload, receivedAt: 1_700_000_000_000_000),
                                into: &batch, ignored: &ignored)
    checkInvariants(reject, batch, ignored, maxReadings: decoder.maxReadings)
    return 0
}
