#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import IngestModel
import Observability

extension Telemetry.Format: ExpressibleByArgument {}

/// `iot-loadgen`: publishes synthetic telemetry for tests, demos and benchmarks (SPEC 2).
struct LoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iot-loadgen",
        abstract: "Publish synthetic telemetry to an MQTT broker; print a JSON summary.")

    @Option var host = "localhost"
    @Option var port = 1883
    @Option(help: "Distinct devices (device_id dev-00000 ...).") var devices = 1000
    @Option(help: "Messages to publish.") var messages = 10_000
    @Option(help: "Messages per second; 0 = as fast as possible.") var rate = 0.0
    @Option var qos = 1
    @Option(help: "QoS 1/2 messages kept unacknowledged at most, over all connections (a fleet behind a broker keeps thousands in flight).")
    var window = 1000
    @Option(help: "Publisher connections, used in turn, each keeping window/connections in flight (libmosquitto's cost per message grows with one connection's in-flight list).")
    var connections = 1
    @Option(name: .customLong("readings-per-message")) var readingsPerMessage = 2
    @Flag(help: "Mixed payloads: a string and a 3-element array beside the numbers (SPEC 4 v4).") var mixed = false
    @Option(help: "Payload format: json, sparkplug_b (each device an edge node of group <topic-prefix>: an NBIRTH, then NDATA with aliases) or influx (line protocol).")
    var format = Telemetry.Format.json
    @Option(name: .customLong("gap-fraction"), help: "sparkplug_b: share of data messages with a wrong sequence number.")
    var gapFraction = 0.0
    @Option(name: .customLong("invalid-fraction"), help: "Share of messages that are not valid payloads.") var invalidFraction = 0.0
    @Option(name: .customLong("payload-bytes"),
            help: "json: pad every payload (invalid ones too) with trailing blanks to this many bytes; the rows stay the same.")
    var payloadBytes = 0
    @Option(name: .customLong("topic-prefix")) var topicPrefix = "devices"
    @Option(name: .customLong("client-id")) var clientID: String?
    @Option(help: "MQTT user name; the password is read from $IOT_LOADGEN_PASSWORD (never from the command line).")
    var username: String?
    @Option(name: .customLong("ts-base-ms"), help: "First timestamp (Unix ms); default now.") var tsBaseMs: Int64?
    @Option(help: "Seconds to wait for the broker and for the last acknowledgements.") var timeout = 120.0
    @Flag(help: "No progress line on stderr.") var quiet = false
    @Flag(name: .customLong("count-only"),
          help: "Do not publish: subscribe to <topic-prefix>/+/telemetry (sparkplug_b: spBv1.0/<topic-prefix>/#) and count --messages arrivals (benchmark ceiling).")
    var countOnly = false
    @Flag(name: .customLong("hot-path"),
          help: "No broker, no database: run --messages messages through the daemon's own per-message code in this process and print its CPU seconds (the benchmark's floor; under valgrind --tool=callgrind, its instructions).")
    var hotPath = false

    func validate() throws {
        guard (0...2).contains(qos) else { throw ValidationError("--qos must be 0, 1 or 2") }
        guard devices >= 1, messages >= 0, readingsPerMessage >= 1, rate >= 0 else {
            throw ValidationError("--devices and --readings-per-message must be >= 1, --messages and --rate >= 0")
        }
        guard window >= 1, connections >= 1 else { throw ValidationError("--window and --connections must be >= 1") }
        guard (0...1).contains(invalidFraction), (0...1).contains(gapFraction) else {
            throw ValidationError("--invalid-fraction and --gap-fraction must be in 0...1")
        }
    }

    func run() throws {
        if countOnly { return try count() }
        var telemetry = Telemetry(devices: devices, readingsPerMessage: readingsPerMessage, topicPrefix: topicPrefix,
                                  tsBaseMs: tsBaseMs ?? Timestamp.now() / 1000)
        telemetry.mixed = mixed
        telemetry.format = format
        telemetry.gapFraction = gapFraction
        telemetry.payloadBytes = payloadBytes
        if hotPath {
            let (readings, seconds, cpu) = try HotPath(telemetry: telemetry, messages: messages).run()
            Console.out(JSONValue.object([
                ("messages", .int(messages)), ("readings", .int(readings)),
                ("seconds", .double((seconds * 1000).rounded() / 1000)),
                ("cpu_s", .double((cpu * 1000).rounded() / 1000)),
            ]).rendered)
            return
        }
        let base = clientID ?? "iot-loadgen-\(getpid())"
        let password = getenv("IOT_LOADGEN_PASSWORD").map { String(cString: $0) }
        let publishers = try (0..<connections).map { k in
            try Publisher(host: host, port: port, clientID: connections == 1 ? base : "\(base)-\(k)", qos: qos,
                          window: max(1, window / connections), username: username, password: password)
        }
        for publisher in publishers where !publisher.waitConnected(timeout: timeout) {
            Console.error("iot-loadgen: could not connect to \(host):\(port)")
            throw ExitCode(1)
        }
        let start = Timestamp.monotonicSeconds()
        let deadline = start + max(timeout, rate > 0 ? Double(messages) / rate * 2 + timeout : timeout)
        var valid = 0
        var invalid = 0
        var lastProgress = start
        for i in 0..<messages {
            if rate > 0 {
                let due = start + Double(i) / rate
                let now = Timestamp.monotonicSeconds()
                if due > now { usleep(UInt32((due - now) * 1_000_000)) }
            }
            let isInvalid = invalidFraction > 0 && Int(Double(i + 1) * invalidFraction) > Int(Double(i) * invalidFraction)
            let (topic, payload) = isInvalid ? telemetry.invalid(i) : telemetry.message(valid)
            guard publishers[i % connections].publish(topic: topic, payload: payload, deadline: deadline) else {
                Console.error("iot-loadgen: timed out publishing")
                break
            }
            if isInvalid { invalid += 1 } else { valid += 1 }
            let now = Timestamp.monotonicSeconds()
            if !quiet && now - lastProgress >= 1 {
                lastProgress = now
                Console.error("iot-loadgen: published=\(i + 1) acked=\(publishers.reduce(0) { $0 + $1.ackedCount }) "
                              + "rate=\(Int(Double(i + 1) / (now - start)))/s")
            }
        }
        for publisher in publishers { publisher.waitForAcks(timeout: timeout) }
        let seconds = Timestamp.monotonicSeconds() - start
        for publisher in publishers { publisher.close() }
        let published = publishers.reduce(0) { $0 + $1.published }
        let acked = publishers.reduce(0) { $0 + $1.ackedCount }
        let summary = JSONValue.object([
            ("published", .int(published)), ("acked", .int(acked)), ("invalid", .int(invalid)),
            ("seconds", .double((seconds * 1000).rounded() / 1000)),
            ("rate", .double((Double(published) / max(seconds, 1e-9)).rounded())),
        ])
        Console.out(summary.rendered)
        if acked < published { throw ExitCode(1) }
    }

    /// `--count-only`: the bare subscriber. Prints `{"received":..,"seconds":..,"rate":..,
    /// "cpu_s":..}`, seconds from the first to the last message, and the process's user +
    /// system CPU seconds from subscribed to the last message (the floor a libmosquitto
    /// client pays per message, for the benchmark's CPU ratio).
    func count() throws {
        let topic = format == .sparkplugB ? "spBv1.0/\(topicPrefix)/#" : "\(topicPrefix)/+/telemetry"
        let subscriber = try BareSubscriber(host: host, port: port, topic: topic, qos: qos)
        guard subscriber.waitSubscribed(timeout: timeout) else {
            Console.error("iot-loadgen: could not subscribe")
            throw ExitCode(1)
        }
        Console.error("iot-loadgen: subscribed")
        let cpu0 = Self.cpuSeconds()
        let (received, seconds) = subscriber.wait(for: messages, idle: 10)
        let cpu = Self.cpuSeconds() - cpu0
        subscriber.close()
        Console.out(JSONValue.object([
            ("received", .int(received)), ("seconds", .double((seconds * 1000).rounded() / 1000)),
            ("rate", .double((Double(received) / max(seconds, 1e-9)).rounded())),
            ("cpu_s", .double((cpu * 1000).rounded() / 1000)),
        ]).rendered)
        if received < messages { throw ExitCode(1) }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
