import Concurrency
import Foundation
import IngestModel
import TestSupport
import Testing

/// SPEC 9, 10, 3 (reload) and 2 (`healthcheck`) with real HTTP requests against the daemon.
@Suite("Operations: probes, metrics, reload", .serialized, .enabled(if: TestServices.available), .exclusiveServices)
struct OperationsTests {
    func prefix() -> String { "op\(UUID().uuidString.prefix(6).lowercased())" }

    func start(_ db: TestDatabase, _ p: String, port: Int, _ extra: [String: String] = [:],
               arguments: [String] = ["run"]) async throws -> DaemonProcess {
        var settings = ["mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
                        "http.port": String(port), "http.host": "127.0.0.1"]
        settings.merge(extra) { _, new in new }
        let daemon = try DaemonProcess(database: db, settings: settings, arguments: arguments)
        try await daemon.waitFor("http_listening")
        try await daemon.waitFor("subscribed")
        return daemon
    }

    func get(_ port: Int, _ path: String, method: String = "GET") async throws -> HTTPClient.Response {
        try await DedicatedThread.run { try HTTPClient.request(port: port, method: method, path: path) }
    }

    func waitForStatus(_ port: Int, _ path: String, _ status: Int, timeout: Double = 20) async throws {
        try await waitUntil(timeout, "\(path) to answer \(status)") {
            (try? await get(port, path))?.status == status
        }
    }

    /// `name value` pairs of a Prometheus text exposition (labels kept in the name).
    func samples(_ text: String) -> [String: Double] { HTTPClient.samples(text) }

    @Test func endpointsAnswerAsSpecifiedAndMetricsAgreeWithTheDatabase() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)

            let health = try await get(port, "/health")
            #expect(health.status == 200)
            let healthBody = try HTTPClient.json(health)
            #expect(healthBody["status"] as? String == "healthy" && healthBody["service"] as? String == "iot-ingest")
            #expect(healthBody["checked_at"] is String)

            let ready = try await get(port, "/ready")
            #expect(ready.status == 200)
            let readyBody = try HTTPClient.json(ready)
            for key in ["status", "service", "version", "checked_at", "uptime_seconds", "components"] {
                #expect(readyBody[key] != nil, "\(key)")
            }
            for path in ["/ready?detailed=true", "/health/detailed"] {
                let detailed = try HTTPClient.json(try await get(port, path))
                let components = try #require(detailed["components"] as? [String: [String: Any]])
                // SPEC 9's five, and the journal's (on by default).
                #expect(Set(components.keys) == ["mqtt", "database", "queue", "writer", "spool", "journal"], "\(path)")
                for component in components.values {
                    for key in ["name", "status", "message", "checked_at", "metadata"] { #expect(component[key] != nil) }
                }
                #expect((components["queue"]?["metadata"] as? [String: Any])?["capacity"] as? Int == 50000)
            }
            #expect(try await get(port, "/nope").status == 404)
            #expect(try await get(port, "/health", method: "POST").status == 405)

            _ = try await ChildProcess.loadgen(["--messages", "3000", "--invalid-fraction", "0.1", "--topic-prefix", p])
            try await waitUntil(20, "rows") { try await db.count("SELECT count(*) FROM readings") >= 5400 }
            // The counter moves just after the commit: wait for it to agree with the table.
            try await waitUntil(10, "rows_written_total catches up") {
                let written = samples(try await get(port, "/metrics").body)["iot_ingest_rows_written_total{table=\"readings\"}"]
                return written == Double(try await db.count("SELECT count(*) FROM readings"))
            }
            let metrics = try await get(port, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
            let values = samples(metrics.body)
            let names = ["messages_received_total", "messages_rejected_total", "messages_dropped_total", "queue_full_total",
                         "rows_written_total", "batches_flushed_total", "db_errors_total", "mqtt_reconnects_total",
                         "spooled_rows_total", "spool_replayed_rows_total", "config_reloads_total", "queue_depth",
                         "queue_capacity", "spool_files", "health_status", "uptime_seconds", "shutdown_in_progress",
                         "fields_ignored_total",
                         "batch_flush_seconds", "batch_rows", "end_to_end_latency_seconds"]
            for name in names {
                #expect(metrics.body.contains("# TYPE iot_ingest_\(name) "), "\(name) is exposed")
            }
            for line in metrics.body.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(line.split(separator: " ").count == 2 && Double(line.split(separator: " ").last!) != nil,
                        "sample line parses: \(line)")
            }
            let stored = try await db.count("SELECT count(*) FROM readings")
            #expect(values["iot_ingest_rows_written_total{table=\"readings\"}"] == Double(stored))
            #expect(values["iot_ingest_rows_written_total{table=\"readings_text\"}"] == 0)
            #expect(values["iot_ingest_fields_ignored_total{kind=\"null\"}"] == 0)
            #expect(values["iot_ingest_messages_rejected_total{reason=\"invalid_json\"}"] == 300)
            #expect(values["iot_ingest_messages_received_total"] == 3000)
            #expect(values["iot_ingest_end_to_end_latency_seconds_count"] == 2700, "one latency sample per stored message")
            #expect(values["iot_ingest_health_status{component=\"mqtt\"}"] == 1)
            #expect(try await daemon.stop() == 0)
        }
    }

    @Test func readinessFollowsBrokerDatabaseAndShutdown() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port, ["shutdown.drain_timeout_s": "4", "shutdown.timeout_s": "20"])
            try await waitForStatus(port, "/ready", 200)

            try await TestServices.control("stop-mqtt")
            do {
                try await waitForStatus(port, "/ready", 503)
                let down = try await get(port, "/ready")
                #expect(down.headers["retry-after"] == "10")
                #expect(try await get(port, "/health").status == 200, "liveness is not readiness")
            } catch {
                try? await TestServices.control("start-mqtt")  // the next suites need the broker
                throw error
            }
            try await TestServices.control("start-mqtt")
            try await waitForStatus(port, "/ready", 200)

            try await TestServices.control("stop-pg")
            do {
                try await waitForStatus(port, "/ready", 503, timeout: 15)
            } catch {
                try? await TestServices.control("start-pg")
                throw error
            }
            try await TestServices.control("start-pg")
            try await waitForStatus(port, "/ready", 200, timeout: 15)

            // A slow drain (table locked) keeps the daemon in its shutdown sequence for a while:
            // /ready answers 503 from shutdown_initiated, /health and /metrics still answer.
            let lock = try LockHolder(database: db)
            try await lock.waitUntilHeld()
            _ = try await ChildProcess.loadgen(["--messages", "3000", "--topic-prefix", p])
            daemon.signal(SIGTERM)
            try await daemon.waitFor("shutdown_initiated")
            #expect(try await get(port, "/ready").status == 503)
            #expect(try await get(port, "/health").status == 200)
            let metrics = try await get(port, "/metrics")
            #expect(samples(metrics.body)["iot_ingest_shutdown_in_progress"] == 1)
            #expect(try await daemon.waitForExit(timeout: 20) == 0)
            await lock.release()
        }
    }

    @Test func sighupReloadsWhatItCanAndLosesNothing() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(p).yaml")
            defer { try? FileManager.default.removeItem(at: file) }
            try "log:\n  level: info\n".write(to: file, atomically: true, encoding: .utf8)
            let daemon = try await start(db, p, port: port, arguments: ["run", "--config", file.path])
            _ = try await ChildProcess.loadgen(["--messages", "1000", "--topic-prefix", p])

            // mqtt.host is pinned by --set (flags win), so the restart-only key we change is keepalive_s.
            try "log:\n  level: debug\nmqtt:\n  host: elsewhere.invalid\n  keepalive_s: 45\nbatch:\n  max_rows: 100\n"
                .write(to: file, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            try await daemon.waitFor("config_reloaded")
            let reloaded = try #require(daemon.event("config_reloaded"))
            #expect((reloaded["changed"] as? [String])?.sorted() == ["batch.max_rows", "log.level"])
            #expect(reloaded["requires_restart"] as? [String] == ["mqtt.keepalive_s"])
            _ = try await ChildProcess.loadgen(["--messages", "1000", "--topic-prefix", p, "--ts-base-ms", "1700000000000"])
            try await daemon.waitFor("batch_committed")  // a debug line: the new level is live

            try "log: [unclosed\n".write(to: file, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            try await daemon.waitFor("config_reload_failed")
            _ = try await ChildProcess.loadgen(["--messages", "1000", "--topic-prefix", p, "--ts-base-ms", "1600000000000"])
            try await waitUntil(20, "every reading") { try await db.count("SELECT count(*) FROM readings") >= 6000 }
            let metrics = samples(try await get(port, "/metrics").body)
            #expect(metrics["iot_ingest_config_reloads_total{result=\"success\"}"] == 1)
            #expect(metrics["iot_ingest_config_reloads_total{result=\"failure\"}"] == 1)
            #expect(try await daemon.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 6000)
            #expect(try await db.count("SELECT count(DISTINCT (device_id, metric, time)) FROM readings") == 6000)
        }
    }

    /// The live /metrics passes Prometheus' own linter (a `# HELP` per family, names and types
    /// as it wants them), and every metric the Grafana dashboard and the alert rules use is
    /// one the daemon exports (scripts/check-metrics.py).
    @Test func liveMetricsPassPromtoolAndCoverTheDashboardAndAlerts() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)
            _ = try await ChildProcess.loadgen(["--messages", "100", "--topic-prefix", p])
            try await waitUntil(20, "the rows") { try await db.count("SELECT count(*) FROM readings") >= 200 }
            // A message of text readings only is a batch and a latency sample like any other.
            try await Publish.lines([#"{"status": "ok", "fw": "2.1.0"}"#], topic: "\(p)/texts/telemetry")
            try await waitUntil(20, "the text rows") { try await db.count("SELECT count(*) FROM readings_text") == 2 }
            let scrape = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(p).txt")
            defer { try? FileManager.default.removeItem(at: scrape) }
            // The metrics are told after the commit, on the writer's thread: wait for them.
            try await waitUntil(20, "the text-only message's latency sample") {
                try await get(port, "/metrics").body.contains("iot_ingest_end_to_end_latency_seconds_count 101")
            }
            let body = try await get(port, "/metrics").body
            try Data(body.utf8).write(to: scrape)
            #expect(body.contains("iot_ingest_batch_rows_sum 202"), "200 numeric + 2 text rows")
            #expect(try await daemon.stop() == 0)

            let root = TestServices.packageRoot.path
            let coverage = try await ChildProcess.run("/usr/bin/python3", ["\(root)/scripts/check-metrics.py", scrape.path],
                                                      timeout: 30)
            #expect(coverage.code == 0, "\(coverage.output)")
            // promtool comes with Debian's prometheus package, which scripts/lint.sh installs.
            let promtool = "/usr/bin/promtool"
            if FileManager.default.isExecutableFile(atPath: promtool) || ProcessInfo.processInfo.environment["CI"] != nil {
                let lint = try await ChildProcess.run("/bin/sh", ["-c", "\(promtool) check metrics < '\(scrape.path)'"],
                                                      timeout: 30)
                #expect(lint.code == 0, "promtool check metrics: \(lint.output)")
            }
        }
    }

    /// SPEC 3 (v4): `POST /admin/reload` exists only with `http.admin_token`, wants the token,
    /// and answers with the reload's outcome; `instance` and `log.fields` are on every line;
    /// the token is in no line.
    @Test func adminReloadWantsTheTokenAndEveryLineNamesTheInstance() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let plain = try await start(db, p, port: port)
            #expect(try await get(port, "/admin/reload", method: "POST").status == 404)
            #expect(try await plain.stop() == 0)

            let token = "tok-\(UUID().uuidString)"
            let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(p)")
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("admin-\(p).yaml")
            defer {
                try? FileManager.default.removeItem(at: file)
                try? FileManager.default.removeItem(at: tokenFile)
            }
            try "\(token)\n".write(to: tokenFile, atomically: true, encoding: .utf8)
            try "log:\n  level: info\n  fields:\n    env: test\n    site: plant-3\n"
                .write(to: file, atomically: true, encoding: .utf8)
            let daemon = try await start(db, p, port: port, ["http.admin_token_file": tokenFile.path,
                                                             "mqtt.client_id": "admin-\(p)"],
                                         arguments: ["run", "--config", file.path])
            func post(_ headers: [String: String], method: String = "POST") async throws -> HTTPClient.Response {
                try await DedicatedThread.run {
                    try HTTPClient.request(port: port, method: method, path: "/admin/reload", headers: headers)
                }
            }
            #expect(try await post([:]).status == 401)
            #expect(try await post(["Authorization": "Bearer \(token)x"]).status == 401)
            #expect(try await post(["Authorization": "Bearer " + token.dropLast()]).status == 401)
            #expect(try await post(["Authorization": token]).status == 401)
            #expect(try await post(["Authorization": "Bearer \(token)"], method: "GET").status == 405)

            try "log:\n  level: debug\n  fields:\n    env: test\n    site: plant-3\nmqtt:\n  keepalive_s: 45\n"
                .write(to: file, atomically: true, encoding: .utf8)
            let applied = try await post(["Authorization": "Bearer \(token)"])
            #expect(applied.status == 200)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(applied.body.utf8)) as? [String: Any])
            #expect(body["event"] as? String == "config_reloaded")
            #expect(body["changed"] as? [String] == ["log.level"])
            #expect(body["requires_restart"] as? [String] == ["mqtt.keepalive_s"])
            try await daemon.waitFor("config_reloaded")

            try "log: [unclosed\n".write(to: file, atomically: true, encoding: .utf8)
            let refused = try await post(["Authorization": "Bearer \(token)"])
            #expect(refused.status == 422)
            #expect(refused.body.contains("config_reload_failed"))
            try await daemon.waitFor("config_reload_failed")

            _ = try await ChildProcess.loadgen(["--messages", "200", "--topic-prefix", p])
            try await waitUntil(20, "every reading") { try await db.count("SELECT count(*) FROM readings") >= 400 }
            #expect(try await daemon.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 400)
            let events = daemon.events()
            #expect(events.count > 10)
            #expect(events.allSatisfy { $0["instance"] as? String == "admin-\(p)" })
            #expect(events.allSatisfy { $0["env"] as? String == "test" && $0["site"] as? String == "plant-3" })
            #expect(!daemon.log.contains(token), "the admin token reached a log line")
        }
    }

    @Test func dropNewestCountsEveryMessageItDropsAndStoresTheRest() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port, ["queue.capacity": "200", "queue.full_policy": "drop_newest"])
            let lock = try LockHolder(database: db)
            try await lock.waitUntilHeld()
            _ = try await ChildProcess.loadgen(["--messages", "5000", "--topic-prefix", p])
            try await waitUntil(20, "drops") {
                samples(try await get(port, "/metrics").body)["iot_ingest_messages_dropped_total", default: 0] > 0
            }
            await lock.release()
            try await waitUntil(20, "received and settled") {
                let m = samples(try await get(port, "/metrics").body)
                let dropped = m["iot_ingest_messages_dropped_total", default: 0]
                return m["iot_ingest_messages_received_total"] == 5000
                    && m["iot_ingest_rows_written_total{table=\"readings\"}"] == 2 * (5000 - dropped)
            }
            let m = samples(try await get(port, "/metrics").body)
            let dropped = Int(m["iot_ingest_messages_dropped_total", default: 0])
            #expect(dropped > 0 && m["iot_ingest_queue_full_total", default: 0] >= Double(dropped))
            #expect(try await daemon.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 2 * (5000 - dropped))
            #expect(daemon.eventNames().contains("message_dropped"))
        }
    }

    @Test func garbageAndSlowClientsDoNotDisturbTheProbes() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)
            // Socket calls block: make the bad clients on a thread of their own.
            let (garbage, slow) = try await DedicatedThread.run { () throws -> (Int32, Int32) in
                guard let garbage = HTTPClient.connect(port: port), let slow = HTTPClient.connect(port: port) else {
                    throw Failure("cannot connect to :\(port)")
                }
                HTTPClient.send(garbage, [UInt8](repeating: 0x41, count: 1_048_576))
                HTTPClient.send(slow, Array("GET /health HTTP/1.1\r\nHost: x\r\n".utf8))  // and never finish
                return (garbage, slow)
            }
            defer {
                close(garbage)
                close(slow)
            }
            for _ in 0..<5 {
                let started = Timestamp.monotonicSeconds()
                let health = try await get(port, "/health")
                #expect(health.status == 200)
                #expect(Timestamp.monotonicSeconds() - started < 1)
            }
            #expect(try await daemon.stop() == 0)
        }
    }

    /// An HTTP port another process holds: the daemon exits 1 before it reaches the database
    /// or the broker (the server starts first, SPEC 11), and the `fatal` line names the keys
    /// to change.
    @Test func aTakenHTTPPortEndsTheRunNamingTheKey() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(holder) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(bound == 0 && listen(holder, 1) == 0)
            let settings = ["mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
                            "http.port": String(port), "http.host": "127.0.0.1"]
            let daemon = try DaemonProcess(database: db, settings: settings)
            #expect(try await daemon.waitForExit(timeout: 30) == 1)
            let fatal = try #require(daemon.event("fatal"))
            #expect((fatal["error"] as? String ?? "").contains("http.port \(port)"), "\(fatal)")
            let names = daemon.eventNames()
            #expect(!names.contains("db_connected") && !names.contains("mqtt_connected"), "\(names)")
        }
    }

    /// Hundreds of idle connections to the HTTP port must not take the process's descriptors
    /// (the spool, the journal and libpq need them): the server holds at most
    /// `HTTPServer.maxConnections`, the rest wait in the kernel's backlog; ingest goes on,
    /// and the probes answer again once the flood is gone.
    @Test func aConnectionFloodCannotTakeTheDaemonsDescriptors() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)
            try await waitForStatus(port, "/ready", 200)
            func descriptors() -> Int {
                (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd").count) ?? -1
            }
            let baseline = descriptors()
            let flood = (0..<300).compactMap { _ in HTTPClient.connect(port: port) }
            defer { for fd in flood { close(fd) } }
            #expect(flood.count == 300, "the backlog takes them all")
            // The server takes what it will take, then stops accepting: wait for the count to
            // settle (the same in two samples 200 ms apart) rather than for a fixed time.
            var during = descriptors()
            try await waitUntil(10, poll: 0.2, "the descriptor count to settle") {
                let now = descriptors()
                defer { during = now }
                return now == during && now > baseline
            }
            #expect(during <= baseline + 64 + 8, "\(baseline) descriptors before the flood, \(during) during")
            _ = try await ChildProcess.loadgen(["--messages", "2000", "--topic-prefix", p])
            try await waitUntil(30, "rows during the flood") { try await db.count("SELECT count(*) FROM readings") >= 4000 }
            for fd in flood { shutdown(fd, Int32(SHUT_RDWR)) }
            try await waitForStatus(port, "/health", 200, timeout: 20)
            #expect(try await daemon.stop() == 0)
        }
    }

    /// A black-holed database (every server process SIGSTOPped: connections stay open, nothing
    /// answers) must turn /ready to 503 even though no query ever fails; it recovers on its own.
    @Test func readyTurnsUnavailableWhenTheDatabaseStopsAnswering() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)
            try await waitForStatus(port, "/ready", 200)
            try await TestServices.control("freeze-pg")
            do {
                try await waitForStatus(port, "/ready", 503, timeout: 30)
                let detailed = try HTTPClient.json(try await get(port, "/health/detailed"))
                let database = (detailed["components"] as? [String: Any])?["database"] as? [String: Any]
                #expect(database?["status"] as? String == "unhealthy", "\(detailed)")
            } catch {
                try? await TestServices.control("thaw-pg")
                throw error
            }
            try await TestServices.control("thaw-pg")
            try await waitForStatus(port, "/ready", 200, timeout: 30)
            #expect(try await daemon.stop() == 0)
        }
    }

    /// `replay-spool` beside a running daemon must not touch its spool (it would delete the
    /// daemon's half-written `.tmp-` files): it exits 2 naming spool.dir. Once the daemon is
    /// gone it runs.
    @Test func replaySpoolBesideARunningDaemonLeavesItsSpoolAlone() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)
            let spool = daemon.spoolDirectory.path
            let inProgress = spool + "/.tmp-1700000000000-000001.copy"
            #expect(FileManager.default.createFile(atPath: inProgress, contents: Data("x\n".utf8)))
            let binary = TestServices.binDirectory.appendingPathComponent("iot-ingest").path
            let env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INGEST_") }
            let arguments = ["replay-spool", "--database-url", db.url, "--set", "spool.dir=\(spool)"]
            let refused = try await ChildProcess.run(binary, arguments, environment: env, timeout: 60)
            #expect(refused.code == 2)
            #expect(refused.errorOutput.contains("spool.dir"), "\(refused.errorOutput)")
            #expect(FileManager.default.fileExists(atPath: inProgress), "the daemon's file is untouched")
            #expect(try await daemon.stop() == 0)
            let ran = try await ChildProcess.run(binary, arguments, environment: env, timeout: 60)
            #expect(ran.code == 0, "\(ran.output.suffix(300))")
        }
    }

    @Test func healthcheckCommandExitsZeroOnALiveDaemonAndOneOnAClosedPort() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try await start(db, p, port: port)
            let binary = TestServices.binDirectory.appendingPathComponent("iot-ingest").path
            #expect(try await ChildProcess.run(binary, ["healthcheck", "--url", "http://127.0.0.1:\(port)/health"], timeout: 10).code == 0)
            // Without --url: the port comes from the configuration, as the daemon's does
            // (the Docker HEALTHCHECK relies on it when http.port is not 8080).
            var environment = ProcessInfo.processInfo.environment
            environment["INGEST_HTTP_PORT"] = "\(port)"
            #expect(try await ChildProcess.run(binary, ["healthcheck"], environment: environment, timeout: 10).code == 0)
            #expect(try await ChildProcess.run(binary, ["healthcheck", "--http-port", "\(port)"], timeout: 10).code == 0)
            #expect(try await daemon.stop() == 0)
            #expect(try await ChildProcess.run(binary, ["healthcheck", "--url", "http://127.0.0.1:\(port)/health"], timeout: 10).code == 1)
        }
    }
}
