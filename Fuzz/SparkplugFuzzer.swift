// libFuzzer entry point for SparkplugDecoder (SPEC 4b). Built by scripts/fuzz.sh with the
// Sparkplug sources and the model types they use in one module, over separately built
// SwiftProtobuf, SparkplugB (the generated code), Logging and Concurrency modules.
//
// The first byte of an input picks the message type, the rest is the protobuf payload; each
// input starts from the same state (one node born with aliases 1-3), so a crash reproduces.

import Logging

let kinds = ["NBIRTH/e1", "NDATA/e1", "NDEATH/e1", "DBIRTH/e1/d1", "DDATA/e1/d1", "DDEATH/e1/d1"]
let birth: [MetricDefinition] = [
    MetricDefinition(deviceID: "g/e1", name: "t", alias: 1, datatype: 10, bornAt: 0),
    MetricDefinition(deviceID: "g/e1", name: "b", alias: 2, datatype: 11, bornAt: 0),
    MetricDefinition(deviceID: "g/e1", name: "s", alias: 3, datatype: 12, bornAt: 0),
]

/// One input = one MQTT message; the invariants are `checkInvariants` (FuzzInvariants.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let kind = kinds[Int(bytes.first ?? 0) % kinds.count]
    let sessions = SparkplugSessions()
    sessions.seed(birth)
    let decoder = SparkplugDecoder(maxBytes: 262_144, sessions: sessions, rebirths: rebirths)
    var batch = Batch()
    var ignored = IgnoredFields()
    let reject = decoder.decode(Message(topic: "spBv1.0/g/\(kind)", payload: Array(bytes.dropFirst()),
                                        receivedAt: 1_700_000_000_000_000),
                                into: &batch, ignored: &ignored)
    checkInvariants(reject, batch, ignored, maxReadings: decoder.maxReadings)
    return 0
}

let rebirths = SparkplugRebirths(enabled: false, interval: 30, publisher: nil, stats: IngestStats(),
                                 logger: Logger(label: "fuzz"))
