import Concurrency
import Foundation
import TestSupport
import Testing

/// Username/password and TLS against a real mosquitto listener of the test's own, with a
/// CA, a server certificate and a password file made for the test.
@Suite("MQTT authentication and TLS", .serialized, .enabled(if: TestServices.available), .sharedServices)
struct MQTTSecurityTests {
    final class SecureBroker: @unchecked Sendable {
        // @unchecked: the Process is configured before run() and then only terminated.
        let directory: URL
        let port = HTTPClient.freePort()
        let process = Process()

        /// - Parameter requireCertificate: the broker also wants a client certificate signed
        ///   by its CA (mosquitto's `require_certificate`).
        static func start(requireCertificate: Bool = false) async throws -> SecureBroker {
            let broker = SecureBroker()
            try await broker.prepare(requireCertificate: requireCertificate)
            try broker.process.run()
            try await waitUntil(10, "the TLS listener") {
                try await DedicatedThread.run {
                    guard let fd = HTTPClient.connect(port: broker.port) else { return false }
                    close(fd)
                    return true
                }
            }
            return broker
        }

        private init() {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString.prefix(8))")
        }

        private func prepare(requireCertificate: Bool) async throws {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let d = directory.path
            let script = """
                set -e
                cd '\(d)'
                openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null
                openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
                printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
                openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
                  -out server.crt 2>/dev/null
                openssl req -newkey rsa:2048 -nodes -subj /CN=iot-ingest -keyout client.key -out client.csr 2>/dev/null
                openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt 2>/dev/null
                mosquitto_passwd -c -b passwd ingest 's3cret-pw' 2>/dev/null
                printf 's3cret-pw\\n' > client-password
                chmod 644 server.key passwd
                chmod 755 .
                cat > mosquitto.conf <<CONF
                listener \(port) 127.0.0.1
                cafile \(d)/ca.crt
                certfile \(d)/server.crt
                keyfile \(d)/server.key
                allow_anonymous false
                password_file \(d)/passwd
                require_certificate \(requireCertificate)
                persistence false
                CONF
                """
            let made = try await ChildProcess.run("/bin/bash", ["-c", script], timeout: 60)
            guard made.code == 0 else { throw Failure("could not make certificates: \(made.errorOutput)") }
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
            process.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }

        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

        /// A daemon pointed at this broker over TLS as user `ingest`, plus `settings`.
        func daemon(_ db: TestDatabase, _ settings: [String: String]) throws -> DaemonProcess {
            try DaemonProcess(database: db, settings: [
                "mqtt.host": "localhost", "mqtt.port": String(port), "mqtt.username": "ingest",
                "mqtt.tls.ca_file": file("ca.crt"),
            ].merging(settings) { _, new in new })
        }

        func publish(_ payload: String, topic: String, certificate: Bool = false) async throws {
            let identity = certificate ? ["--cert", file("client.crt"), "--key", file("client.key")] : []
            let result = try await ChildProcess.run("/usr/bin/mosquitto_pub", [
                "-h", "localhost", "-p", String(port), "--cafile", file("ca.crt"), "-u", "ingest", "-P", "s3cret-pw",
                "-q", "1", "-t", topic, "-m", payload,
            ] + identity, timeout: 20)
            guard result.code == 0 else { throw Failure("mosquitto_pub: \(result.errorOutput)") }
        }

        /// Kills the broker and waits for it; its port and directory are free afterwards.
        func stop() {
            // A plain kill: `Process.terminate()` left every broker running here (their
            // directories were gone, the processes were not). Never pid 0 (the group).
            let pid = process.processIdentifier
            if pid > 0 && process.isRunning {
                kill(pid, SIGKILL)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: directory)
        }

        deinit { stop() }
    }

    @Test func connectsWithTLSAndAPasswordFileAndNeverLogsThePassword() async throws {
        let broker = try await SecureBroker.start()
        defer { broker.stop() }
        try await dropping(try await TestDatabase.create()) { db in
            let daemon = try broker.daemon(db, [
                "mqtt.password_file": broker.file("client-password"),
                "mqtt.topics": "secure/+/telemetry", "payload.topic_template": "secure/{device_id}/telemetry",
            ])
            try await daemon.waitFor("subscribed")
            try await broker.publish(#"{"t": 1.5}"#, topic: "secure/d1/telemetry")
            try await waitUntil(20, "the row") { try await db.count("SELECT count(*) FROM readings") >= 1 }
            #expect(try await daemon.stop() == 0)
            #expect(try await db.query("SELECT device_id || ' ' || metric || '=' || value FROM readings") == "d1 t=1.5")
            #expect(!daemon.log.contains("s3cret-pw"))
        }
    }

    @Test func aWrongPasswordIsRefusedAndReportedWithoutTheSecret() async throws {
        let broker = try await SecureBroker.start()
        defer { broker.stop() }
        try await dropping(try await TestDatabase.create()) { db in
            let daemon = try broker.daemon(db, ["mqtt.password": "wrong-pw-value"])
            try await daemon.waitFor("mqtt_connect_refused")
            #expect(!daemon.eventNames().contains("subscribed"))
            #expect(try await daemon.stop() == 0)
            #expect(!daemon.log.contains("wrong-pw-value"))
        }
    }

    @Test func aClientCertificateIsPresentedWhenTheBrokerRequiresOne() async throws {
        let broker = try await SecureBroker.start(requireCertificate: true)
        defer { broker.stop() }
        try await dropping(try await TestDatabase.create()) { db in
            let daemon = try broker.daemon(db, [
                "mqtt.password_file": broker.file("client-password"),
                "mqtt.tls.cert_file": broker.file("client.crt"), "mqtt.tls.key_file": broker.file("client.key"),
                "mqtt.topics": "secure/+/telemetry", "payload.topic_template": "secure/{device_id}/telemetry",
            ])
            try await daemon.waitFor("subscribed")
            try await broker.publish(#"{"t": 2.5}"#, topic: "secure/d2/telemetry", certificate: true)
            try await waitUntil(20, "the row") { try await db.count("SELECT count(*) FROM readings") >= 1 }
            #expect(try await daemon.stop() == 0)
            #expect(try await db.query("SELECT device_id || ' ' || metric || '=' || value FROM readings") == "d2 t=2.5")
        }
    }

    @Test func withoutTheRequiredCertificateTheBrokerIsNeverSubscribed() async throws {
        let broker = try await SecureBroker.start(requireCertificate: true)
        defer { broker.stop() }
        try await dropping(try await TestDatabase.create()) { db in
            let daemon = try broker.daemon(db, ["mqtt.password_file": broker.file("client-password")])
            try await waitUntil(20, "the failure logged") {
                let names = daemon.eventNames()
                return names.contains("mqtt_connect_failed") || names.contains("mqtt_connection_lost")
            }
            #expect(!daemon.eventNames().contains("subscribed"))
            #expect(try await daemon.stop() == 0)
            #expect(!daemon.log.contains("s3cret-pw"))
        }
    }
}
