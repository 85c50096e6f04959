import Benchmark
import Durability
import Foundation
import IngestCore
import IngestModel
import Logging
import PayloadFormats
import PostgresSink

// Per-operation time and allocations of the four things every message goes through.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
                                           maxDuration: .seconds(3))

    // The harness's own allocations per sample, to subtract from the others.
    Benchmark("baseline: empty loop") { benchmark in
        for i in benchmark.scaledIterations { blackHole(i) }
    }

    let template = try! TopicTemplate("devices/{device_id}/telemetry")
    let decoder = PayloadDecoder(template: template, maxBytes: 262_144)
    let message = Message(topic: "devices/dev-00042/telemetry",
                          payload: Array(#"{"ts":1795262400123,"temperature":21.53,"humidity":40.10}"#.utf8),
                          receivedAt: 1_795_262_400_200_000)

    Benchmark("decode one message (2 readings), x1000", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var rows = Batch()
        var ignored = IgnoredFields()
        rows.readings.reserveCapacity(4)
        for _ in benchmark.scaledIterations {
            rows.readings.removeAll(keepingCapacity: true)
            blackHole(decoder.decode(message, into: &rows, ignored: &ignored))
        }
    }

    var rows = Batch()
    var ignored = IgnoredFields()
    _ = decoder.decode(message, into: &rows, ignored: &ignored)
    let batch = Array(repeating: rows.readings[0], count: 500)
    Benchmark("COPY binary encode, 500 rows", configuration: .init(scalingFactor: .one)) { benchmark in
        var encoder = CopyEncoder()
        for _ in benchmark.scaledIterations {
            encoder.encode(readings: batch)
            blackHole(encoder.buffer.count)
        }
    }

    let queue = BoundedQueue<Message>(capacity: 1024)
    Benchmark("queue put + take (blocking, batches of 64)") { benchmark in
        for _ in benchmark.scaledIterations {
            for _ in 0..<64 { _ = queue.put(message, policy: .block) }
            blackHole(queue.takeBlocking(max: 64))
        }
    }

    // What the MQTT callback does per message with the journal on: one append (a copy into
    // the mapped segment), and, as the writers commit, done-marks in batches of 500 (so
    // segments are recycled and the journal never fills up).
    let journalDir = NSTemporaryDirectory() + "hotpath-journal-\(getpid())"
    let journal = try! Journal(settings: .init(directory: journalDir, maxBytes: 256 << 20, fsyncIntervalMs: 1000),
                               logger: Logger(label: "bench"))
    Benchmark("journal append, done-marked in batches of 500, x1000", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var done: [UInt64] = []
        done.reserveCapacity(500)
        for _ in benchmark.scaledIterations {
            if let seq = journal.append(message) { done.append(seq) }
            if done.count == 500 {
                journal.markDone(done)
                done.removeAll(keepingCapacity: true)
            }
        }
        journal.markDone(done)
    }
}
