@testable import IngestModel
@testable import PayloadFormats
import Testing

/// The row invariants every fuzz replay checks (as Fuzz/FuzzInvariants.swift does for
/// libFuzzer): every name storable, every text free of U+0000, every value finite, every time
/// between 1970 and 9999.
func expectStorableRows(_ batch: Batch) {
    for text in batch.texts {
        #expect(PayloadChecks.unstorable(text.deviceID) == nil && PayloadChecks.unstorable(text.metric) == nil)
        #expect(!PayloadChecks.holdsNUL(text.value))
        #expect(text.time >= 0 && text.time < Timestamp.endOfYear9999)
    }
    for row in batch.readings {
        #expect(PayloadChecks.unstorable(row.deviceID) == nil && PayloadChecks.unstorable(row.metric) == nil)
        #expect(row.value.isFinite)
        #expect(row.time >= 0 && row.time < Timestamp.endOfYear9999)
    }
}

/// Deterministic mutations of a seed corpus, for the decoders' fuzz replays: each input is a
/// seed with one to four bytes inserted, removed or replaced from `alphabet`. Async and
/// yielding every 100 inputs: seconds of CPU on one of the cooperative pool's two threads
/// starved the timers of the shutdown tests running beside it.
func forEachMutation(of seeds: [[UInt8]], alphabet: [UInt8], count: Int, seed: UInt64,
                     _ check: ([UInt8]) -> Void) async {
    var rng = SplitMix64(seed: seed)
    for n in 0..<count {
        if n % 100 == 0 { await Task.yield() }
        var input = seeds[Int(rng.next() % UInt64(seeds.count))]
        for _ in 0..<(1 + rng.next() % 4) {
            let at = input.isEmpty ? 0 : Int(rng.next() % UInt64(input.count + 1))
            switch rng.next() % 3 {
            case 0: input.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
            case 1: if at < input.count { input.remove(at: at) }
            default: if at < input.count { input[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
        }
        check(input)
    }
}

/// A small deterministic generator, so a failing input can be reproduced from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
