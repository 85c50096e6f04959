import Concurrency
import Foundation
import SparkplugB
import TestSupport
import Testing

/// SPEC 4b through the built daemon, mosquitto and PostgreSQL: births, aliases and sequence
/// numbers from `iot-loadgen --format sparkplug_b`, rebirth requests and the host's STATE seen
/// by a real subscriber, and the birth catalog carrying aliases across a SIGKILL.
@Suite("End to end: Sparkplug B host application", .serialized, .enabled(if: TestServices.available),
       .exclusiveServices)
struct SparkplugEndToEndTests {
    func prefix() -> String { "sp\(UUID().uuidString.prefix(6).lowercased())" }

    func settings(_ group: String, _ extra: [String: String] = [:]) -> [String: String] {
        var all = ["routes": #"[{topics: ["spBv1.0/\#(group)/#"], format: sparkplug_b}]"#,
                   "mqtt.client_id": "client-\(group)"]
        all.merge(extra) { _, new in new }
        return all
    }

    static func payload(seq: UInt64?, _ metrics: [(name: String?, alias: UInt64, type: UInt32?, value: Double)]) -> [UInt8] {
        var p = Org_Eclipse_Tahu_Protobuf_Payload()
        if let seq { p.seq = seq }
        p.timestamp = 1_700_000_000_000 + (seq ?? 0)  // distinct times: dedupe is on
        p.metrics = metrics.map { m in
            var metric = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
            if let name = m.name { metric.name = name }
            metric.alias = m.alias
            if let type = m.type { metric.datatype = type }
            if m.type == 8 { metric.longValue = UInt64(m.value) } else { metric.doubleValue = m.value }
            return metric
        }
        return try! p.serializedBytes()
    }

    /// The retained message on `topic` (mosquitto_sub, bounded).
    func retained(_ topic: String) async throws -> String {
        let result = try await ChildProcess.run("/usr/bin/mosquitto_sub", [
            "-h", "127.0.0.1", "-p", String(try TestServices.mqttPort()), "-t", topic, "-C", "1", "-W", "5", "--retained-only",
        ], timeout: 10)
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A flood of 20 edge nodes with sequence gaps: every reading stored, the births in the
    /// catalog, rebirths asked for (and seen by a subscriber on NCMD), and with `host_id` the
    /// STATE birth retained while the daemon runs and the death after it stops.
    @Test func aFleetWithGapsIsStoredWholeAndAskedToRebirth() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let g = prefix(), port = HTTPClient.freePort()
            let daemon = try DaemonProcess(database: db, settings: settings(g, [
                "http.port": "\(port)", "sparkplug.host_id": "host-\(g)", "sparkplug.rebirth_interval_s": "0.5",
            ]))
            try await daemon.waitFor("ingest_started")
            try await waitUntil(10, "the STATE birth") { try await retained("spBv1.0/STATE/host-\(g)").contains(#""online":true"#) }
            let commands = Task {
                try await ChildProcess.run("/usr/bin/mosquitto_sub", [
                    "-h", "127.0.0.1", "-p", String(try TestServices.mqttPort()), "-t", "spBv1.0/\(g)/NCMD/#", "-C", "1",
                    "-W", "60", "-F", "%t",
                ], timeout: 70)
            }
            defer { commands.cancel() }
            try await Task.sleep(for: .milliseconds(300))  // the subscriber is in place
            let summary = try await ChildProcess.loadgen(["--format", "sparkplug_b", "--topic-prefix", g, "--devices", "20",
                                                          "--messages", "4000", "--gap-fraction", "0.01"])
            #expect(summary["acked"] == 4000)
            try await waitUntil(60, "every reading") { try await db.count("SELECT count(*) FROM readings") == 8040 }
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects") == 0)
            #expect(try await db.count("SELECT count(*) FROM sparkplug_metrics") == 60, "bdSeq and 2 metrics x 20 nodes")
            #expect(try await db.count("SELECT count(*) FROM readings WHERE metric = 'sparkplug.online' AND value = 1") == 20)
            #expect(try await db.count("SELECT count(DISTINCT metric) FROM readings") == 4)
            let ncmd = try await commands.value
            #expect(ncmd.output.hasPrefix("spBv1.0/\(g)/NCMD/dev-"), "a rebirth request on the wire: \(ncmd.output)")
            try await waitUntil(10, "the rebirth counter") {
                let m = try await DedicatedThread.run { try HTTPClient.metrics(port: port) }
                return (m["iot_ingest_sparkplug_rebirths_requested_total"] ?? 0) >= 1
            }
            #expect(daemon.event("sparkplug_rebirth_requested")?["reason"] as? String ?? "" != "")
            #expect(try await daemon.stop() == 0)
            let names = daemon.eventNames()
            let initiated = names.firstIndex(of: "shutdown_initiated") ?? -1
            let death = names.lastIndex(of: "sparkplug_state_published") ?? -1
            #expect(initiated >= 0 && death == initiated + 1, "the STATE death right after shutdown_initiated")
            #expect(try await retained("spBv1.0/STATE/host-\(g)").contains(#""online":false"#))
        }
    }

    /// A birth committed before a SIGKILL resolves data published while the daemon is down
    /// (through `sparkplug_metrics`); a birth that only reached the journal (its batch held
    /// behind a lock on the catalog when the daemon was killed) is replayed before the data
    /// that follow it. Nothing is rejected, nothing doubled.
    @Test func aSigkillBetweenABirthAndItsDataLosesNoAlias() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let g = prefix(), port = HTTPClient.freePort()
            let spool = try scratchDirectory("sparkplug-kill-\(g)")
            defer { try? FileManager.default.removeItem(at: spool) }
            let extra = ["spool.dir": spool.path, "sparkplug.request_rebirth": "false", "http.port": "\(port)",
                         "database.dedupe": "true"]
            let first = try DaemonProcess(database: db, settings: settings(g, extra))
            try await first.waitFor("ingest_started")
            try await Publish.payload(Self.payload(seq: 0, [("bdSeq", 0, 8, 0), ("temperature", 1, 10, 20.5)]),
                                      topic: "spBv1.0/\(g)/NBIRTH/e1")
            try await waitUntil(30, "the birth in the catalog") { try await db.count("SELECT count(*) FROM sparkplug_metrics") == 2 }
            first.signal(SIGKILL)
            _ = try await first.waitForExit(timeout: 10)
            // While it is down: data with aliases only (the broker keeps them for the session).
            try await Publish.payload(Self.payload(seq: 1, [(nil, 1, nil, 42.5)]), topic: "spBv1.0/\(g)/NDATA/e1")

            let second = try DaemonProcess(database: db, settings: settings(g, extra))
            try await second.waitFor("ingest_started")
            #expect(second.event("sparkplug_catalog_loaded")?["devices"] as? Int == 1)
            try await waitUntil(30, "the data resolved through the catalog") {
                try await db.count("SELECT count(*) FROM readings WHERE device_id = '\(g)/e1' AND metric = 'temperature' AND value = 42.5") == 1
            }
            // Now a device birth whose batch cannot commit: the catalog is locked.
            let lock = try LockHolder(database: db, table: "sparkplug_metrics")
            defer { Task { await lock.release() } }
            try await lock.waitUntilHeld()
            try await Publish.payload(Self.payload(seq: 2, [("flow", 10, 10, 1.5)]), topic: "spBv1.0/\(g)/DBIRTH/e1/pump")
            try await waitUntil(30, "the birth's batch waiting for the lock") {
                try await db.count("""
                    SELECT count(*) FROM pg_locks WHERE relation = 'sparkplug_metrics'::regclass AND NOT granted
                    """) >= 1
            }
            try await Publish.payload(Self.payload(seq: 3, [(nil, 10, nil, 7.25)]), topic: "spBv1.0/\(g)/DDATA/e1/pump")
            try await waitUntil(30, "the data received") {
                let m = try await DedicatedThread.run { try HTTPClient.metrics(port: port) }
                return (m["iot_ingest_messages_received_total"] ?? 0) >= 3
            }
            second.signal(SIGKILL)
            _ = try await second.waitForExit(timeout: 10)
            await lock.release()
            #expect(try await db.count("SELECT count(*) FROM sparkplug_metrics WHERE device_id = '\(g)/e1/pump'") == 0)

            let third = try DaemonProcess(database: db, settings: settings(g, extra.merging(["http.port": "0"]) { _, b in b }))
            try await third.waitFor("ingest_started")
            #expect((third.event("journal_replayed")?["entries"] as? Int ?? 0) >= 1)
            try await waitUntil(30, "the birth and its data") {
                try await db.count("SELECT count(*) FROM readings WHERE device_id = '\(g)/e1/pump' AND metric = 'flow'") == 2
            }
            #expect(try await db.count("SELECT count(*) FROM readings WHERE device_id = '\(g)/e1/pump' AND metric = 'flow' AND value = 7.25") == 1)
            #expect(try await db.count("SELECT count(*) FROM sparkplug_metrics WHERE device_id = '\(g)/e1/pump'") == 1)
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects") == 0)
            #expect(try await third.stop() == 0)
        }
    }

    /// Three routes at once — JSON, Influx line protocol and Sparkplug B — flooded together,
    /// SIGKILLed mid-flood and restarted over the same journal: every table exact.
    @Test func threeRoutesFloodedAndKilledStayExact() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), spool = try scratchDirectory("three-routes-\(p)")
            defer { try? FileManager.default.removeItem(at: spool) }
            let routes = """
                [{topics: ["\(p)j/+/telemetry"], format: json, topic_template: "\(p)j/{device_id}/telemetry"}, \
                {topics: ["\(p)i/+/telemetry"], format: influx_line, topic_template: "\(p)i/{device_id}/telemetry"}, \
                {topics: ["spBv1.0/\(p)s/#"], format: sparkplug_b}]
                """
            let extra = ["routes": routes, "spool.dir": spool.path, "database.dedupe": "true",
                         "sparkplug.request_rebirth": "false", "mqtt.client_id": "client-\(p)"]
            let first = try DaemonProcess(database: db, settings: extra)
            try await first.waitFor("ingest_started")
            let floods = [("json", "\(p)j"), ("influx", "\(p)i"), ("sparkplug_b", "\(p)s")].map { format, prefix in
                Task {
                    try await ChildProcess.loadgen(["--format", format, "--topic-prefix", prefix, "--devices", "50",
                                                    "--messages", "6000", "--mixed"])
                }
            }
            defer { for f in floods { f.cancel() } }
            try await waitUntil(60, "the first commits") { try await db.count("SELECT count(*) FROM readings") >= 3000 }
            first.signal(SIGKILL)
            _ = try await first.waitForExit(timeout: 10)
            let second = try DaemonProcess(database: db, settings: extra)
            try await second.waitFor("ingest_started")
            for flood in floods { #expect(try await flood.value["acked"] == 6000) }
            // JSON --mixed: 5 numbers + 1 text; influx: 2 + 1; Sparkplug: 2 + 1, births 2 more.
            let numeric = 6000 * 5 + 6000 * 2 + 6000 * 2 + 2 * 50, texts = 3 * 6000
            try await waitUntil(90, "every row") {
                let (r, t) = (try await db.count("SELECT count(*) FROM readings"),
                              try await db.count("SELECT count(*) FROM readings_text"))
                return r == numeric && t == texts
            }
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects") == 0)
            #expect(try await db.count("SELECT count(*) FROM readings WHERE device_id LIKE '\(p)s/%'") == 6000 * 2 + 100)
            #expect(try await db.count("SELECT count(*) FROM readings WHERE metric LIKE 'env.%'") == 6000 * 2)
            #expect(try await second.stop() == 0)
        }
    }
}
