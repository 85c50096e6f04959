import Foundation

/// Publishes exact payloads with the broker's own client (`mosquitto_pub -l`: one message
/// per line, QoS 1), for tests that need specific payload shapes.
public enum Publish {
    public static func lines(_ payloads: [String], topic: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pub-\(UUID().uuidString)")
        try (payloads.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ChildProcess.run("/bin/sh", [
            "-c", "mosquitto_pub -h 127.0.0.1 -p \(try TestServices.mqttPort()) -q 1 -t '\(topic)' -l < '\(file.path)'",
        ], timeout: 60)
        guard result.code == 0 else { throw Failure("mosquitto_pub failed: \(result.errorOutput)") }
    }

    /// One message whose payload is `bytes` (`mosquitto_pub -f`, QoS 1).
    public static func payload(_ bytes: [UInt8], topic: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pub-\(UUID().uuidString)")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ChildProcess.run("/usr/bin/mosquitto_pub", [
            "-h", "127.0.0.1", "-p", String(try TestServices.mqttPort()), "-q", "1", "-t", topic, "-f", file.path,
        ], timeout: 60)
        guard result.code == 0 else { throw Failure("mosquitto_pub failed: \(result.errorOutput)") }
    }
}
