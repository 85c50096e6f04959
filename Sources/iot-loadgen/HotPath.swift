import Concurrency
import Durability
import Foundation
import IngestConfig
import IngestCore
import IngestModel
import Logging
import MQTTSource
import PostgresSink
import Synchronization

/// `iot-loadgen --hot-path`: the daemon's own per-message work, in this process, without a
/// broker or a database, so `valgrind --tool=callgrind` can count its instructions per
/// message (a count that, unlike CPU seconds, does not drift with the machine).
///
/// Messages go where libmosquitto's callback would put them (`MessageReceiver`: topic cache,
/// payload copy, receive time), then through the daemon's real pipeline with its default
/// settings: the crash journal (in a temporary directory), the bounded queue, the decoding
/// workers, the batcher and the writer lanes, into a sink that encodes each batch for COPY
/// as the PostgreSQL writer does and stops there. Not counted: libmosquitto's parsing and
/// socket I/O (the bare subscriber's share), libpq, the metrics.
struct HotPath {
    let telemetry: Telemetry
    let messages: Int

    /// Runs every message through and returns once all their readings are encoded, with the
    /// time and this process's CPU seconds (all threads) that took.
    func run() throws -> (readings: Int, seconds: Double, cpuSeconds: Double) {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var overrides = [("database.url", "postgres://unused/unused"), ("spool.dir", directory + "/spool"),
                         ("payload.topic_template", "\(telemetry.topicPrefix)/{device_id}/telemetry")]
        switch telemetry.format {
        case .json: break
        case .sparkplugB: overrides.append(("routes", #"[{topics: ["spBv1.0/#"], format: sparkplug_b}]"#))
        case .influx:
            let p = telemetry.topicPrefix
            overrides.append(("routes", #"[{topics: ["\#(p)/+/telemetry"], format: influx_line, topic_template: "\#(p)/{device_id}/telemetry"}]"#))
        }
        let configuration = try ConfigurationLoader.load(.init(environment: [:], overrides: overrides))
        let logger = Logger(label: "iot-loadgen.hot-path", factory: { _ in SwiftLogNoOpLogHandler() })
        let journal = try Journal(settings: .init(directory: directory + "/journal",
                                                  maxBytes: configuration.journal.maxBytes,
                                                  fsyncIntervalMs: configuration.journal.fsyncIntervalMs),
                                  logger: logger)
        try Spool.prepare(directory: directory + "/spool")
        let expected = telemetry.rows(messages)
        let sink = EncodingSink(lanes: configuration.database.poolSize, expected: expected)
        let source = SyntheticSource(telemetry: telemetry, messages: messages)
        // The daemon's own factory and start-up path, so what is measured is what runs.
        let pipeline = IngestPipeline(configuration: configuration, source: source, sink: sink,
                                      spool: Spool(directory: directory + "/spool"), journal: journal, logger: logger)
        let start = Timestamp.monotonicSeconds()
        let cpu0 = LoadgenCommand.cpuSeconds()
        try Self.wait { try await pipeline.start() }
        sink.waitUntilDone()
        let cpu = LoadgenCommand.cpuSeconds() - cpu0
        let seconds = Timestamp.monotonicSeconds() - start
        source.stop()
        journal.close()
        return (sink.written.load(ordering: .acquiring), seconds, cpu)
    }

    /// Runs `body` to its end from this synchronous command (the main thread, not the
    /// cooperative pool, is what waits).
    private static func wait(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Locked<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<Void, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }!.get()
    }

    private static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/iot-loadgen-hot-path.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw LoadgenError(.setup, "mkdtemp: \(String(cString: strerror(errno)))") }
        return String(cString: made)
    }
}

/// Plays libmosquitto's network thread: one thread calling `MessageReceiver.receive` with
/// C strings and payload bytes prepared beforehand (preparing them is the publisher's work).
private final class SyntheticSource: MessageSource {
    private let prepared: [(topic: [CChar], payload: [UInt8])]
    private let messages: Int
    /// Where the second and later passes over `prepared` start: after the Sparkplug births,
    /// so each device is born once (as a fleet is), whatever the run's length.
    private let repeatFrom: Int
    private let thread = Mutex<DedicatedThread?>(nil)

    init(telemetry: Telemetry, messages: Int) {
        // Up to 10,000 distinct messages, used in turn: the same preparation for every run
        // length, so the difference between two runs is the per-message work alone.
        prepared = (0..<10_000).map { i in
            let (topic, payload) = telemetry.message(i)
            return (Array(topic.utf8CString), payload)
        }
        self.messages = messages
        repeatFrom = telemetry.format == .sparkplugB ? min(telemetry.devices, prepared.count - 1) : 0
    }

    func start(delivering inlet: any MessageInlet) throws {
        let receiver = MessageReceiver(inlet: inlet)
        let prepared = prepared
        let messages = messages
        let repeatFrom = repeatFrom
        thread.withLock {
            $0 = DedicatedThread {
                for i in 0..<messages {
                    let index = i < prepared.count ? i : repeatFrom + (i - prepared.count) % (prepared.count - repeatFrom)
                    let message = prepared[index]
                    message.topic.withUnsafeBufferPointer { topic in
                        message.payload.withUnsafeBytes { payload in
                            receiver.receive(topic: topic.baseAddress!, payload: payload.baseAddress, length: payload.count)
                        }
                    }
                }
            }
        }
    }

    func stop() {
        thread.withLock { $0 }?.join()
    }
}

/// Encodes each batch for COPY, as `PostgresSink`'s writer does before it sends the bytes,
/// and counts the readings.
private final class EncodingSink: BatchSink {
    let laneCount: Int
    let written = Atomic<Int>(0)
    private let expected: Int
    private let encoders: [Locked<CopyEncoder>]
    private let done = ConditionLock()

    init(lanes: Int, expected: Int) {
        laneCount = lanes
        self.expected = expected
        encoders = (0..<lanes).map { _ in Locked(CopyEncoder()) }
    }

    func write(_ batch: Batch, lane: Int) -> SinkOutcome {
        encoders[lane].withLock { encoder in
            encoder.encode(readings: batch.readings)
            if !batch.texts.isEmpty { encoder.encode(texts: batch.texts) }
        }
        let rows = batch.readings.count + batch.texts.count
        let total = written.add(rows, ordering: .acquiringAndReleasing).newValue
        if total >= expected { done.withLock { done.broadcast() } }
        return SinkOutcome(written: batch.readings.count, writtenText: batch.texts.count)
    }

    func waitUntilDone() {
        done.withLock {
            while written.load(ordering: .acquiring) < expected { done.wait() }
        }
    }

    func cancel(lane: Int) {}
    func close() {}
}
