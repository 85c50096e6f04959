import Concurrency
import Foundation
import TestSupport
import Testing

/// Memory is bounded in bytes (`queue.max_bytes`, chunked journal replay): the daemon in a
/// memory cgroup of 128 MiB, as `docker run --memory 128m` would put it, flooded with 200 KB
/// payloads while the database is held back (its table locked), killed, and started again
/// over a journal of 200 MB: never OOM-killed, and every reading stored once.
@Suite("Memory under a cgroup limit", .serialized,
       .enabled(if: TestServices.available && MemoryCgroup.available), .exclusiveServices)
struct MemoryLimitTests {
    static let limitMB = 128

    func metrics(_ port: Int) async -> [String: Double] {
        (try? await DedicatedThread.run { try HTTPClient.metrics(port: port) }) ?? [:]
    }

    @Test func largePayloadsWithTheDatabaseHeldBackStayUnderTheLimitThroughAKillAndReplay() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = "mem\(UUID().uuidString.prefix(6).lowercased())"
            let spool = try scratchDirectory("mem-\(p)")
            let port = HTTPClient.freePort()
            var settings = ["mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
                            "mqtt.client_id": "client-\(p)", "spool.dir": spool.path, "database.dedupe": "true",
                            "http.port": "\(port)"]
            let cgroup = try MemoryCgroup.create("iot-ingest-\(p)", megabytes: Self.limitMB)
            defer { cgroup.remove() }
            // 1. In the cgroup, defaults: 1,000 payloads of 200 KB (200 MB) against a locked
            //    table. The budget (16 MiB) stops intake; the broker holds the rest.
            let limited = try DaemonProcess(database: db, settings: settings, launcher: cgroup.launcher)
            try await limited.waitFor("ingest_started")  // the daemon made the table
            let lock = try LockHolder(database: db)
            // The tables exist now; a migration would wait for the lock.
            settings["database.create_schema"] = "false"
            do {
                try await lock.waitUntilHeld()
                let flood = try await ChildProcess.loadgen(["--payload-bytes", "200000", "--devices", "100",
                                                            "--topic-prefix", p, "--messages", "1000"])
                #expect(flood["acked"] == 1000)
                try await waitUntil(30, "the budget to fill") {
                    await metrics(port)["iot_ingest_messages_received_total"] ?? 0 >= 50
                }
                try await Task.sleep(for: .seconds(3))
                let received = await metrics(port)["iot_ingest_messages_received_total"] ?? 0
                #expect(received < 200, "held back by queue.max_bytes, not by the queue's 50,000 slots: \(received)")
                #expect(limited.isRunning, "not OOM-killed while held back")
                let heldBack = limited.peakResidentMegabytes
                limited.signal(SIGKILL)
                _ = try await limited.waitForExit(timeout: 10)

                // 2. Outside it, with a budget that lets everything in: the journal takes the
                //    whole flood (~200 MB), still uncommitted. Killed again.
                // Eight lanes: the replay of step 1's journal is one batch per chunk, and every one
                // of them (in the batch queue or a lane) waits on the lock until step 3.
                let builder = try DaemonProcess(database: db, settings: settings.merging(
                    ["queue.max_bytes": "\(1 << 30)", "database.pool_size": "8"]) { $1 })
                try await builder.waitFor("journal_replayed")
                let replayed = builder.event("journal_replayed")?["entries"] as? Int ?? 0
                try await waitUntil(60, "the whole flood in the journal") {
                    Int(await metrics(port)["iot_ingest_messages_received_total"] ?? 0) + replayed >= 1000
                }
                builder.signal(SIGKILL)
                _ = try await builder.waitForExit(timeout: 10)

                // 3. In the cgroup again, defaults, over that journal: the replay is held back by
                //    the budget while the table stays locked, then everything commits.
                let last = try DaemonProcess(database: db, settings: settings, launcher: cgroup.launcher)
                try await waitUntil(30, "probes up") { await metrics(port)["iot_ingest_journal_bytes"] ?? 0 > 150e6 }
                try await Task.sleep(for: .seconds(5))
                #expect(last.isRunning && !last.eventNames().contains("journal_replayed"), "replay held back, alive")
                let replayHeldBack = last.peakResidentMegabytes
                await lock.release()
                try await last.waitFor("journal_replayed", timeout: 120)
                try await waitUntil(120, "2,000 readings") {
                    try await db.count("SELECT count(DISTINCT (device_id, metric, time)) FROM readings") >= 2000
                }
                let peakLast = last.peakResidentMegabytes
                #expect(try await last.stop() == 0)
                #expect(try await db.count("SELECT count(*) FROM readings") == 2000, "every reading once")
                #expect(cgroup.oomKills == 0, "never OOM-killed")
                let limit = Double(Self.limitMB)
                #expect(heldBack < limit && replayHeldBack < limit && peakLast < limit,
                        "peak RSS \(heldBack) / \(replayHeldBack) / \(peakLast) MB")
                // The figures for the README's memory budget.
                print("memory: peak RSS flood held back \(heldBack) MB, replay of 200 MB held back \(replayHeldBack) MB, "
                      + "through the commit \(peakLast) MB; cgroup peak \(cgroup.peakMegabytes) MB (page cache "
                      + "included), limit hits \(cgroup.limitHits), OOM kills \(cgroup.oomKills)")
            } catch {
                await lock.release()
                throw error
            }
        }
    }
}
