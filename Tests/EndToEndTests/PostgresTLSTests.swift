import Foundation
import IngestModel
import TestSupport
import Testing

/// TLS to PostgreSQL through `database.url` (`sslmode=verify-full`), against the test server,
/// which scripts/services.sh starts with a certificate of its own CA. A wrong CA or a missing
/// CA file stops start-up at once with exit 1 and the reason, never the password.
@Suite("PostgreSQL over TLS", .serialized, .enabled(if: TestServices.available), .sharedServices)
struct PostgresTLSTests {
    static let password = "pg-s3cret-value"

    func prefix() -> String { "pt\(UUID().uuidString.prefix(6).lowercased())" }

    /// The test database over TLS, verifying the server against `ca`.
    func tlsURL(_ db: TestDatabase, ca: String) throws -> String {
        let port = try TestServices.pgPort()
        return "postgresql://postgres:\(Self.password)@localhost:\(port)/\(db.name)?sslmode=verify-full&sslrootcert=\(ca)"
    }

    func daemon(_ db: TestDatabase, url: String, _ p: String) throws -> DaemonProcess {
        try DaemonProcess(database: db, settings: [
            "database.url": url, "mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
        ])
    }

    @Test func verifyFullWritesEveryReadingOverTLSAndNeverLogsThePassword() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix()
            let daemon = try daemon(db, url: try tlsURL(db, ca: try TestServices.pgCA()), p)
            try await daemon.waitFor("ingest_started", timeout: 30)
            let summary = try await ChildProcess.loadgen(["--messages", "500", "--topic-prefix", p])
            #expect(summary["acked"] == 500)
            try await waitUntil(20, "every reading") { try await db.count("SELECT count(*) FROM readings") >= 1000 }
            let encrypted = try await db.count("""
                SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                WHERE a.application_name = 'iot-ingest' AND a.datname = '\(db.name)' AND a.pid <> pg_backend_pid() AND s.ssl
                """)
            // A backend caught while it starts can show its name before its TLS state (seen
            // once, in a loaded CI run); a plain connection would stay plain, so look again.
            var plain = -1
            try? await waitUntil(5, "no plain connection") {
                plain = try await db.count("""
                    SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                    WHERE a.application_name = 'iot-ingest' AND a.datname = '\(db.name)' AND a.pid <> pg_backend_pid() AND NOT s.ssl
                    """)
                return plain == 0
            }
            #expect(encrypted >= 1, "the writer's connections use TLS")
            #expect(plain == 0)
            #expect(try await daemon.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 1000)
            #expect(!daemon.log.contains(Self.password))
        }
    }

    @Test func aServerCertificateFromAnotherCAStopsStartUpWithTheReason() async throws {
        let dir = try scratchDirectory("pgtls-\(prefix())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try await ChildProcess.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=some-other-ca",
            "-keyout", dir.appendingPathComponent("other.key").path, "-out", dir.appendingPathComponent("other.crt").path,
        ], timeout: 60)
        try #require(made.code == 0, "openssl: \(made.errorOutput)")
        try await dropping(try await TestDatabase.create()) { db in
            let started = Timestamp.monotonicSeconds()
            let daemon = try daemon(db, url: try tlsURL(db, ca: dir.appendingPathComponent("other.crt").path), prefix())
            #expect(try await daemon.waitForExit(timeout: 30) == 1)
            #expect(Timestamp.monotonicSeconds() - started < 15, "no minute of retries for a certificate")
            let failure = try #require(daemon.event("startup_failed"))
            #expect((failure["error"] as? String)?.contains("certificate verify failed") == true, "\(failure)")
            #expect(!daemon.log.contains(Self.password))
        }
    }

    @Test func aMissingCAFileStopsStartUpWithTheReason() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let daemon = try daemon(db, url: try tlsURL(db, ca: "/nonexistent/ca.crt"), prefix())
            #expect(try await daemon.waitForExit(timeout: 30) == 1)
            let failure = try #require(daemon.event("startup_failed"))
            #expect((failure["error"] as? String)?.contains("/nonexistent/ca.crt") == true, "\(failure)")
            #expect(!daemon.log.contains(Self.password))
        }
    }
}
