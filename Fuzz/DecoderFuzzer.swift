// libFuzzer entry point for PayloadDecoder (issue 12). Built by scripts/fuzz.sh together with
// the decoder's own source files and the model types they use into one module, with
// `-sanitize=fuzzer,address`, so coverage guidance and AddressSanitizer reach the scanner's
// byte loops. Not part of the package: SwiftPM would want a `main`, which libFuzzer provides.

let decoder = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 262_144)

/// One input = one MQTT payload; the invariants are `checkInvariants` (FuzzInvariants.swift).
/// Bounded decode time is libFuzzer's `-timeout` (scripts/fuzz.sh sets it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let payload = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    var batch = Batch()
    var ignored = IgnoredFields()
    let reject = decoder.decode(Message(topic: "devices/d1/telemetry", payload: payload, receivedAt: 1_700_000_000_000_000),
                                into: &batch, ignored: &ignored)
    checkInvariants(reject, batch, ignored, maxReadings: decoder.maxReadings)
    return 0
}
