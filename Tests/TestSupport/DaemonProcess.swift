import Foundation
import IngestModel

/// The built `iot-ingest` binary running as a child process, its JSON log lines captured
/// to a file so tests can wait for events and check their order.
public final class DaemonProcess: @unchecked Sendable {
    // @unchecked: `process` is configured before run() and afterwards only queried through
    // Foundation's thread-safe accessors; the log is read from its file.
    let process = Process()
    public let logFile: URL
    public let directory: URL
    let usesLauncher: Bool
    /// The spool directory the daemon was given (unless a test overrode spool.dir).
    public var spoolDirectory: URL { directory.appendingPathComponent("spool") }

    /// Starts `iot-ingest run` against the test broker and `database`, with `settings` as
    /// `--set key=value` (they override the defaults below).
    /// - Parameter launcher: a command to run the daemon under (e.g. `unshare --pid --fork
    ///   --mount-proc`, to make it PID 1); signals then go to the daemon, not the launcher.
    public init(database: TestDatabase, settings: [String: String] = [:], arguments: [String] = ["run"],
                environment: [String: String] = [:], launcher: [String] = []) throws {
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
        let binary = TestServices.binDirectory.appendingPathComponent("iot-ingest").path
        let daemonArguments = arguments + all.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [binary] + daemonArguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = daemonArguments
        }
        usesLauncher = !launcher.isEmpty
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

    /// The daemon's PID as seen from here: the launcher's child when there is a launcher.
    public var daemonPID: Int32 {
        guard usesLauncher else { return process.processIdentifier }
        let children = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
                                    encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { Int32($0) } ?? process.processIdentifier
    }

    /// The daemon's peak resident memory so far (`VmHWM`), in MB; 0 if it cannot be read.
    public var peakResidentMegabytes: Double {
        let status = (try? String(contentsOfFile: "/proc/\(daemonPID)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        let kB = line?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) } ?? 0
        return kB / 1024
    }

    public func signal(_ sig: Int32) {
        Foundation.kill(daemonPID, sig)
    }

    /// Spool files (`*.copy`) waiting in the daemon's spool directory.
    public func spoolFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spoolDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".copy") && !$0.hasPrefix(".") }
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

    /// Milliseconds between the `signal_received` and `shutdown_complete` log lines.
    public var shutdownMilliseconds: Int? {
        guard let a = event("signal_received")?["ts"] as? String, let b = event("shutdown_complete")?["ts"] as? String,
              let start = Self.parse(a), let end = Self.parse(b) else { return nil }
        return Int((end - start) / 1000)
    }

    static func parse(_ ts: String) -> Int64? {
        var s = ts
        return s.withUTF8 { Timestamp.parseRFC3339($0) }
    }

    public func waitFor(_ event: String, timeout: Double = 30) async throws {
        do {
            try await waitUntil(timeout, "\(event) in the daemon log") { eventNames().contains(event) }
        } catch {
            throw Failure("\(error)\n--- daemon log ---\n\(log)")
        }
    }

    /// Waits for the process to end (bounded) and returns its exit code.
    public func waitForExit(timeout: Double = 30) async throws -> Int32 {
        do {
            try await waitUntil(timeout, "daemon exit") { !process.isRunning }
        } catch {
            throw Failure("\(error)\n--- daemon log ---\n\(log)")
        }
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

    /// SIGKILL to the daemon (and to its launcher, if any), waiting until it is gone: its
    /// locks, ports and connections are free when this returns. Blocking, bounded by the kernel.
    public func kill() {
        guard process.isRunning else { return }
        if usesLauncher { Foundation.kill(daemonPID, SIGKILL) }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The safety net for a test that threw before `stop()`: the daemon must not outlive it
    /// (holding the broker session, a database connection and the directory removed here).
    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }
}
