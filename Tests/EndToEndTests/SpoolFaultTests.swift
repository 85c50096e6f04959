import Foundation
import IngestCore
import Testing
import TestSupport

/// SPEC 8 and 12 when the spool itself fails: a full disk during a database outage must push
/// back on the broker, never drop a row.
@Suite("Spool faults: a full disk pushes back", .serialized, .enabled(if: TestServices.available), .exclusiveServices)
struct SpoolFaultTests {
    /// A 1 MiB tmpfs for `spool.dir` (root only: the test services run as root in CI).
    func smallDisk(_ name: String) async throws -> URL {
        let dir = try scratchDirectory(name)
        let mounted = try await ChildProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir.path], timeout: 10)
        try #require(mounted.code == 0, "mount a small tmpfs (needs root): \(mounted.errorOutput)")
        return dir
    }

    func unmount(_ dir: URL) async {
        _ = try? await ChildProcess.run("/bin/umount", ["-l", dir.path], timeout: 10)
    }

    /// PostgreSQL stops, the spool's 1 MiB fills with the outage's batches, the next spool
    /// write fails: the lanes hold their batches, the callback blocks, /health/detailed names
    /// the full disk, `lost_rows_total` stays 0. PostgreSQL comes back: the replay empties
    /// the spool, the held batches commit, and every reading is stored once.
    @Test func aFullSpoolDiskDuringAnOutageLosesNothing() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = "sf\(UUID().uuidString.prefix(6).lowercased())"
            let spool = try await smallDisk("spool-\(p)")
            defer { Task { await unmount(spool) } }
            let journal = try scratchDirectory("journal-\(p)")
            let port = HTTPClient.freePort()
            let daemon = try DaemonProcess(database: db, settings: [
                "mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
                "mqtt.client_id": "client-\(p)", "spool.dir": spool.path, "journal.dir": journal.path,
                "batch.max_retries": "0", "http.port": "\(port)",
            ])
            try await daemon.waitFor("ingest_started")
            try await TestServices.control("stop-pg")
            do {
                // 30,000 messages x 2 readings: ~3 MB of COPY text, three times the disk.
                let publishing = Task { try await ChildProcess.loadgen(["--messages", "30000", "--topic-prefix", p]) }
                try await waitUntil(60, "the spool to refuse a write") { daemon.eventNames().contains("spool_write_failed") }
                let response = try await DedicatedThread.run { try HTTPClient.request(port: port, path: "/health/detailed") }
                let detailed = try HTTPClient.json(response)
                let spoolStatus = (detailed["components"] as? [String: Any])?["spool"] as? [String: Any]
                let message = spoolStatus?["message"] as? String
                #expect(spoolStatus?["status"] as? String == "unhealthy", "\(detailed)")
                #expect(message?.contains("No space left") == true, "\(detailed)")
                let metrics = try await DedicatedThread.run { try HTTPClient.metrics(port: port) }
                #expect(metrics["iot_ingest_lost_rows_total"] == 0)
                #expect(!daemon.eventNames().contains("rows_lost"))
                try await TestServices.control("start-pg")
                let summary = try await publishing.value
                #expect(summary["acked"] == 30000)
            } catch {
                try? await TestServices.control("start-pg")
                throw error
            }
            try await waitUntil(120, "60,000 readings") {
                try await db.count("SELECT count(DISTINCT (device_id, metric, time)) FROM readings") >= 60000
            }
            #expect(try await daemon.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 60000, "every reading once")
            let left = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".copy") }
            #expect(left.isEmpty, "the replay emptied the spool: \(left)")
        }
    }
}
