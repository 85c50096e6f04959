import Foundation
import IngestCore

/// The built `iot-ingest` binary running as a child process, its JSON log lines captured
/// to a file so tests can wait for events and check their order.
public final class DaemonProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before run() and afterwards only queried through
    // Foundation's thread-safe accessors; the log is read from its file.
    let process = Process()
    public let logFile: URL
    public let directory: URL

    /// Starts `iot-ingest run` against the test broker and `database`, with `settings` as
    /// `--set key=value` (they override the defaults below).
    public init(database: TestDatabase, settings: [String: String] = [:], arguments: [String] = ["run"],
                environment: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        logFile = directory.appendingPathComponent("log.jsonl")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        var all: [String: String] = [
            "mqtt.host": "127.0.0.1", "mqtt.port": String(try TestServices.mqttPort()),
            "database.url": database.url, "http.port": "0", "spool.dir": directory.appendingPathComponent("spool").path,
            "mqtt.client_id": "test-\(UUID().uuidString.prefix(8))", "mqtt.reconnect_min_s": "1",
            "mqtt.reconnect_max_s": "2", "batch.flush_interval_ms": "200",
        ]
        all.merge(settings) { _, new in new }
        process.executableURL = TestServices.binDirectory.appendingPathComponent("iot-ingest")
        process.arguments = arguments + all.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INGEST_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.currentDirectoryURL = directory
        let handle = try FileHandle(forWritingTo: logFile)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) {
        kill(process.processIdentifier, sig)
    }

    /// The log lines that parse as JSON objects.
    public func events() -> [[String: Any]] {
        guard let text = try? String(contentsOf: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    public func eventNames() -> [String] { events().compactMap { $0["event"] as? String } }

    public func event(_ name: String) -> [String: Any]? { events().first { $0["event"] as? String == name } }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    public func waitFor(_ event: String, timeout: Double = 30) async throws {
        try await waitUntil(timeout, "\(event) in the daemon log\n\(log)") { eventNames().contains(event) }
    }

    /// Waits for the process to end (bounded) and returns its exit code.
    public func waitForExit(timeout: Double = 30) async throws -> Int32 {
        try await waitUntil(timeout, "daemon exit\n\(log)") { !process.isRunning }
        return process.terminationStatus
    }

    /// SIGTERM and wait for a clean exit; kills it if it does not stop in time.
    public func stop(timeout: Double = 30) async throws -> Int32 {
        if !process.isRunning { return process.terminationStatus }
        signal(SIGTERM)
        do {
            return try await waitForExit(timeout: timeout)
        } catch {
            signal(SIGKILL)
            throw error
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }
}
