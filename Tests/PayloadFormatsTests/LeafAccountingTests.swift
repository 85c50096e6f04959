import IngestModel
@testable import PayloadFormats
import Testing

/// SPEC 4 v4's promise as a property over generated payloads: every leaf of a valid payload is
/// a row (numeric or text) or a count in `fields_ignored_total`; leaves = rows + ignored.
@Suite struct LeafAccountingTests {
    /// What a generated payload holds, counted as it is written.
    struct Leaves {
        var numbers = 0
        var strings = 0
        var nulls = 0
        var empties = 0
        var total: Int { numbers + strings + nulls + empties }
    }

    /// A value at `depth`; nested containers below the top are never the payload itself.
    static func value(_ rng: inout SplitMix64, depth: Int, into leaves: inout Leaves) -> String {
        let pick = Int.random(in: 0..<(depth < 3 ? 9 : 6), using: &rng)
        switch pick {
        case 0, 1:
            leaves.numbers += 1
            return String(Double(Int.random(in: -1000...1000, using: &rng)) / 8)
        case 2:
            leaves.numbers += 1
            return Bool.random(using: &rng) ? "true" : "false"
        case 3:
            leaves.strings += 1
            let letters = (0..<Int.random(in: 0...6, using: &rng)).map { _ in "abcé\\t".randomElement(using: &rng)! }
            return "\"" + String(letters).replacingOccurrences(of: "\\", with: "\\\\") + "\""
        case 4:
            leaves.nulls += 1
            return "null"
        case 5:
            leaves.empties += 1
            return Bool.random(using: &rng) ? "{}" : "[]"
        case 6, 7:
            let n = Int.random(in: 1...4, using: &rng)
            return "{" + (0..<n).map { "\"k\($0)\": " + value(&rng, depth: depth + 1, into: &leaves) }
                .joined(separator: ", ") + "}"
        default:
            let n = Int.random(in: 1...4, using: &rng)
            return "[" + (0..<n).map { _ in value(&rng, depth: depth + 1, into: &leaves) }.joined(separator: ", ") + "]"
        }
    }

    /// Deterministic (`SplitMix64`): a failure names its seed and replays.
    @Test(arguments: [true, false])
    func leavesAreRowsPlusIgnored(storeStrings: Bool) async {
        let decoder = PayloadDecoder(template: try! TopicTemplate("devices/{device_id}/telemetry"), maxBytes: 1 << 20,
                                     maxReadings: 100_000, storeStrings: storeStrings)
        for seed in UInt64(1)...2000 {
            if seed % 200 == 0 { await Task.yield() }  // CPU-bound: let other tests' timers fire
            var rng = SplitMix64(seed: seed)
            var leaves = Leaves()
            let fields = (0..<Int.random(in: 1...6, using: &rng)).map {
                "\"f\($0)\": " + Self.value(&rng, depth: 1, into: &leaves)
            }
            let payload = "{\"ts\": 1700000000, " + fields.joined(separator: ", ") + "}"
            var rows = Batch()
            var ignored = IgnoredFields()
            let reject = decoder.decode(Message(topic: "devices/d/telemetry", payload: Array(payload.utf8), receivedAt: 1),
                                        into: &rows, ignored: &ignored)
            let storable = leaves.numbers + (storeStrings ? leaves.strings : 0)
            if storable == 0 {
                #expect(reject?.reason == .noReadings, "seed \(seed): \(payload)")
                continue
            }
            #expect(reject == nil, "seed \(seed): \(payload) -> \(String(describing: reject?.detail))")
            let counted = IgnoredKind.allCases.reduce(0) { $0 + ignored[$1] }
            #expect(rows.readings.count + rows.texts.count + counted == leaves.total, "seed \(seed): \(payload)")
            #expect(rows.readings.count == leaves.numbers && ignored[.null] == leaves.nulls
                        && ignored[.empty] == leaves.empties, "seed \(seed): \(payload)")
            #expect(storeStrings ? rows.texts.count == leaves.strings : ignored[.string] == leaves.strings)
        }
    }
}
