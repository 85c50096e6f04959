import Concurrency
import Foundation
import IngestModel

/// Runs a program to completion with a time limit, collecting its output.
public enum ChildProcess {
    public struct Result: Sendable {
        public let code: Int32
        public let output: String
        public let errorOutput: String
    }

    /// Runs the program on a thread of its own (the wait blocks) and suspends until it ends.
    /// Cancelling the calling task kills the program (a test that threw must not leave a
    /// publisher flooding the broker for the next one).
    public static func run(_ path: String, _ arguments: [String], environment: [String: String]? = nil,
                           timeout: Double) async throws -> Result {
        let pid = Locked<Int32>(0)
        return try await withTaskCancellationHandler {
            try await DedicatedThread.run {
                try runBlocking(path, arguments, environment: environment, timeout: timeout, pid: pid)
            }
        } onCancel: {
            pid.withLock { if $0 > 0 { kill($0, SIGKILL) } else { $0 = -1 } }
        }
    }

    static func runBlocking(_ path: String, _ arguments: [String], environment: [String: String]?,
                            timeout: Double, pid: Locked<Int32>) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let cancelled = pid.withLock { box -> Bool in
            defer { box = process.processIdentifier }
            return box == -1
        }
        if cancelled { kill(process.processIdentifier, SIGKILL) }
        defer { pid.withLock { $0 = -2 } }  // ended: never signal a pid the kernel may reuse
        let end = Timestamp.monotonicSeconds() + timeout
        while process.isRunning && Timestamp.monotonicSeconds() < end { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw Failure("\(path) \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        return Result(code: process.terminationStatus,
                      output: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      errorOutput: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// `iot-loadgen` with the given flags against the test broker; returns its summary.
    public static func loadgen(_ arguments: [String], timeout: Double = 180) async throws -> [String: Double] {
        let port = try TestServices.mqttPort()
        let result = try await run(TestServices.binDirectory.appendingPathComponent("iot-loadgen").path,
                             ["--host", "127.0.0.1", "--port", String(port), "--quiet"] + arguments, timeout: timeout)
        guard result.code == 0,
              let line = result.output.split(separator: "\n").last,
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Failure("iot-loadgen failed (\(result.code)): \(result.output) \(result.errorOutput)")
        }
        return json.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
}
