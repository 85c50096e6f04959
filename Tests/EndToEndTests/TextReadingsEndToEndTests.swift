import Concurrency
import Foundation
import TestSupport
import Testing

/// SPEC 4 v4 through the built daemon, the broker and the database: every leaf of a payload
/// is a row in one of the two tables, a reject, or a count in `fields_ignored_total`.
@Suite("End to end: text readings, arrays and ignored fields", .serialized, .enabled(if: TestServices.available),
       .exclusiveServices)
struct TextReadingsEndToEndTests {
    func prefix() -> String { "tx\(UUID().uuidString.prefix(6).lowercased())" }

    func settings(_ p: String, _ extra: [String: String] = [:]) -> [String: String] {
        var all = ["mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
                   "mqtt.client_id": "client-\(p)"]
        all.merge(extra) { _, new in new }
        return all
    }

    @Test func everyLeafOfAMixedPayloadIsARowARejectOrACount() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), port = HTTPClient.freePort()
            let daemon = try DaemonProcess(database: db, settings: settings(p, ["http.port": "\(port)",
                                                                               "payload.max_readings": "10"]))
            try await daemon.waitFor("ingest_started")
            let eleven = "{" + (0..<11).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
            try await Publish.lines([
                #"{"ts": 1700000000, "temp": 21.5, "status": "charging", "fw": "2.1.0", "accel": [0.1, 0.0, 9.8]}"#,
                #"{"ts": 1700000001, "cells": [{"v": 3.9, "id": "c1"}, {"v": 4.0}], "n": null, "e": {}, "a": [], "s": ""}"#,
                #"{"ts": 1700000002, "metric": "door", "value": "open", "site": "s1", "x": null}"#,
                eleven,
                #"{"ts": 1700000003, "s": "a\u0000b"}"#,
                #"{"n": null}"#,
            ], topic: "\(p)/d1/telemetry")
            try await waitUntil(30, "every message accounted for") {
                let rejects = try await db.count("SELECT count(*) FROM ingest_rejects")
                let texts = try await db.count("SELECT count(*) FROM readings_text")
                return rejects == 3 && texts == 5
            }
            #expect(try await db.count("SELECT count(*) FROM readings") == 6, "temp, accel.0-2, cells.0.v, cells.1.v")
            #expect(try await db.query("""
                SELECT string_agg(metric || '=' || value, ',' ORDER BY time, metric) FROM readings_text
                """) == "fw=2.1.0,status=charging,cells.0.id=c1,s=,door=open")
            #expect(try await db.query("SELECT string_agg(reason, ',' ORDER BY reason) FROM ingest_rejects")
                == "invalid_field,no_readings,too_many_readings")
            try await waitUntil(10, "the counters") {
                let m = try await DedicatedThread.run { try HTTPClient.metrics(port: port) }
                return m["iot_ingest_rows_written_total{table=\"readings_text\"}"] == 5
                    && m["iot_ingest_rows_written_total{table=\"readings\"}"] == 6
                    && m["iot_ingest_fields_ignored_total{kind=\"null\"}"] == 1
                    && m["iot_ingest_fields_ignored_total{kind=\"empty\"}"] == 2
                    && m["iot_ingest_fields_ignored_total{kind=\"beside_value\"}"] == 2
                    && m["iot_ingest_messages_rejected_total{reason=\"too_many_readings\"}"] == 1
            }
            #expect(try await daemon.stop() == 0)
        }
    }

    /// SIGKILL mid-flood with mixed payloads (2 numbers, a string, a 3-array): the journal
    /// replay restores both tables exactly, and with dedupe nothing is doubled in either.
    @Test func sigkillMidFloodWithMixedPayloadsKeepsBothTablesExact() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let p = prefix(), spool = try scratchDirectory("text-crash-\(p)")
            defer { try? FileManager.default.removeItem(at: spool) }
            let extra = ["database.dedupe": "true", "spool.dir": spool.path]
            let first = try DaemonProcess(database: db, settings: settings(p, extra))
            try await first.waitFor("ingest_started")
            let publisher = Task {
                try await ChildProcess.loadgen(["--messages", "20000", "--mixed", "--topic-prefix", p, "--devices", "200"])
            }
            defer { publisher.cancel() }  // a throw below must not leave it publishing
            try await waitUntil(60, "the first commits") { try await db.count("SELECT count(*) FROM readings_text") >= 1000 }
            first.signal(SIGKILL)
            _ = try await first.waitForExit(timeout: 10)
            #expect(try await db.count("SELECT count(*) FROM readings_text") < 20000, "killed mid-flood")
            let second = try DaemonProcess(database: db, settings: settings(p, extra))
            try await second.waitFor("ingest_started")
            #expect(second.event("journal_replayed") != nil)
            let summary = try await publisher.value
            #expect(summary["acked"] == 20000)
            try await waitUntil(90, "every row of both kinds") {
                let numeric = try await db.count("SELECT count(*) FROM readings")
                let texts = try await db.count("SELECT count(*) FROM readings_text")
                return numeric >= 100_000 && texts >= 20000
            }
            #expect(try await second.stop() == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 100_000, "5 numeric rows a message, once")
            #expect(try await db.count("SELECT count(*) FROM readings_text") == 20000, "1 text row a message, once")
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects") == 0)
        }
    }
}
