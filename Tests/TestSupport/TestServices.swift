import Foundation
import IngestModel
import PostgresSink

/// The broker and database started by `scripts/test.sh` (scripts/services.sh), found through
/// the environment it exports. Missing services are a failure under CI, a skip elsewhere.
public enum TestServices {
    static var env: [String: String] { ProcessInfo.processInfo.environment }

    /// True when the integration tests can run: services exported, or CI (then a missing
    /// service fails loudly instead of skipping).
    public static var available: Bool { env["INGEST_TEST_MQTT_PORT"] != nil || env["CI"] != nil }

    public struct Missing: Error, CustomStringConvertible {
        public let description = "broker/database not running: run the tests through scripts/test.sh"
    }

    /// A variable scripts/services.sh exports, or `Missing`.
    static func exported(_ name: String) throws -> String {
        guard let value = env[name] else { throw Missing() }
        return value
    }

    public static func mqttPort() throws -> Int {
        guard let p = Int(try exported("INGEST_TEST_MQTT_PORT")) else { throw Missing() }
        return p
    }

    public static func adminURL() throws -> String { try exported("INGEST_TEST_ADMIN_URL") }

    public static func pgPort() throws -> Int {
        guard let p = Int(try exported("INGEST_TEST_PG_PORT")) else { throw Missing() }
        return p
    }

    /// The CA that signed the test PostgreSQL server's certificate (scripts/services.sh).
    public static func pgCA() throws -> String { try exported("INGEST_TEST_PG_CA") }
    /// The password of role `ingest_pw`, the one role the test server asks for a password.
    public static func pgPassword() throws -> String { try exported("INGEST_TEST_PG_PASSWORD") }

    /// True when the test server preloads TimescaleDB (scripts/services.sh): `migrate` must then
    /// make hypertables. False on plain PostgreSQL (`INGEST_TEST_TIMESCALEDB=off`), the other
    /// supported server.
    public static var timescaleDB: Bool { env["INGEST_TEST_TIMESCALEDB"] == "1" }

    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static var binDirectory: URL {
        if let dir = env["INGEST_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    /// Runs `scripts/services.sh <command>` on the test services (stop-mqtt, start-mqtt,
    /// stop-pg, start-pg).
    public static func control(_ command: String) async throws {
        guard let dir = env["INGEST_TEST_SERVICES_DIR"] else { throw Missing() }
        let status = try await ChildProcess.run(
            "/bin/bash", [packageRoot.appendingPathComponent("scripts/services.sh").path, command, dir], timeout: 60)
        guard status.code == 0 else { throw Failure("services.sh \(command) failed: \(status.output)") }
    }
}

public struct Failure: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Runs `body` with `resource`, then awaits `cleanup`, also when `body` throws: cleanup that
/// is awaited, unlike a `defer` that could only start a task. What `dropping`,
/// `withSmallDisk` and `withNetworkFault` are made of.
public func withCleanup<R, T>(_ resource: R, _ cleanup: (R) async -> Void,
                              _ body: (R) async throws -> T) async throws -> T {
    do {
        let result = try await body(resource)
        await cleanup(resource)
        return result
    } catch {
        await cleanup(resource)
        throw error
    }
}

/// Polls `condition` until it holds or `timeout` passes. Every wait in the tests is bounded.
public func waitUntil(_ timeout: Double, poll: Double = 0.1, _ what: String,
                      _ condition: () async throws -> Bool) async throws {
    let end = Timestamp.monotonicSeconds() + timeout
    while Timestamp.monotonicSeconds() < end {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(Int(poll * 1000)))
    }
    if try await condition() { return }
    throw Failure("timed out after \(timeout) s waiting for \(what)")
}
