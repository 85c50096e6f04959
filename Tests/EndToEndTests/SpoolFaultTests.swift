import Concurrency
import Foundation
import TestSupport
import Testing

/// SPEC 8 and 12 when the spool itself fails: a full disk during a database outage must push
/// back on the broker, never drop a row.
@Suite("Spool faults: a full disk pushes back", .serialized, .enabled(if: TestServices.available), .exclusiveServices)
struct SpoolFaultTests {
    /// PostgreSQL stops, the spool's 1 MiB fills with the outage's batches, the next spool
    /// write fails: the lanes hold their batches, the callback blocks, /health/detailed names
    /// the full disk, `lost_rows_total` stays 0. PostgreSQL comes back: the replay empties
    /// the spool, the held batches commit, and every reading is stored once.
    @Test func aFullSpoolDiskDuringAnOutageLosesNothing() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = "sf\(UUID().uuidString.prefix(6).lowercased())"
            try await withSmallDisk("spool-\(p)", megabytes: 1) { disk in
                let spool = disk.url
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
                    defer { publishing.cancel() }  // a throw below must not leave it publishing
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
                let stored = try await db.count("SELECT count(*) FROM readings")
                #expect(stored == 60000, "every reading once: \(stored) rows for 60,000 distinct readings")
                let left = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".copy") }
                #expect(left.isEmpty, "the replay emptied the spool: \(left)")
            }
        }
    }

    /// The daemon's lowest free descriptor number: with `RLIMIT_NOFILE` set to it, every
    /// open(2), socket(2) and accept(2) fails with EMFILE.
    func lowestFreeDescriptor(_ pid: Int32) throws -> Int {
        let open = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) })
        return (0...).first { !open.contains($0) }!
    }

    func setDescriptorLimit(_ pid: Int32, _ limit: Int) async throws {
        // The soft limit only: raising it back up to the hard limit needs no privilege.
        let result = try await ChildProcess.run("/usr/bin/prlimit", ["--pid", "\(pid)", "--nofile=\(limit):"], timeout: 10)
        try #require(result.code == 0, "prlimit \(limit): \(result.errorOutput)")
    }

    /// Out of descriptors during a database outage (`ulimit -n` reached: every spool file
    /// open fails with EMFILE): the lanes hold their batches instead of dropping them; once
    /// descriptors and the database are back, every reading is stored once.
    @Test func noDescriptorsLeftDuringAnOutageLosesNothing() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = "sf\(UUID().uuidString.prefix(6).lowercased())"
            let port = HTTPClient.freePort()
            let daemon = try DaemonProcess(database: db, settings: [
                "mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
                "mqtt.client_id": "client-\(p)", "batch.max_retries": "0", "http.port": "\(port)",
            ])
            try await daemon.waitFor("ingest_started")
            try await TestServices.control("stop-pg")
            do {
                // A first batch finds the database gone: the writers and the probe close
                // their connections, so no descriptor below the limit is freed later.
                _ = try await ChildProcess.loadgen(["--messages", "100", "--topic-prefix", p, "--devices", "1"])
                try await waitUntil(30, "the first batch spooled") { daemon.eventNames().contains("batch_spooled") }
                // The probe reports the database down once its check failed and its connection
                // was closed: the last descriptor that would be freed later.
                try await waitUntil(20, "the probe to find the database down") {
                    guard let response = try? await DedicatedThread.run({
                        try HTTPClient.request(port: port, path: "/health/detailed")
                    }), let detailed = try? HTTPClient.json(response) else { return false }
                    let database = (detailed["components"] as? [String: Any])?["database"] as? [String: Any]
                    return database?["status"] as? String == "unhealthy"
                }
                try await setDescriptorLimit(daemon.pid, try lowestFreeDescriptor(daemon.pid))
                _ = try await ChildProcess.loadgen(["--messages", "5000", "--topic-prefix", p])
                try await waitUntil(30, "the spool to refuse a write") { daemon.eventNames().contains("spool_write_failed") }
                let failure = daemon.events().first { $0["event"] as? String == "spool_write_failed" }
                #expect("\(failure ?? [:])".contains("Too many open files"), "\(failure ?? [:])")
                #expect(!daemon.eventNames().contains("rows_lost"))
                try await setDescriptorLimit(daemon.pid, 1024)
                try await TestServices.control("start-pg")
            } catch {
                try? await setDescriptorLimit(daemon.pid, 1024)
                try? await TestServices.control("start-pg")
                throw error
            }
            try await waitUntil(120, "10,200 readings") {
                try await db.count("SELECT count(DISTINCT (device_id, metric, time)) FROM readings") >= 10200
            }
            let metrics = try await DedicatedThread.run { try HTTPClient.metrics(port: port) }
            #expect(metrics["iot_ingest_lost_rows_total"] == 0)
            #expect(try await daemon.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 10200, "every reading once")
        }
    }
}
