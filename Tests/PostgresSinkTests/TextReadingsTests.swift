import Concurrency
import Durability
import Foundation
import IngestModel
import Logging
@testable import PostgresSink
import TestSupport
import Testing

/// The text table (SPEC 5 v4) on the real server: created beside the readings table, written
/// by binary COPY, bisected, deduplicated and replayed from the spool like it.
@Suite("Text readings against a real PostgreSQL", .enabled(if: TestServices.available), .sharedServices)
struct TextReadingsTests {
    static let source = Message(topic: "devices/d/telemetry", payload: Array("{}".utf8), receivedAt: 1_700_000_000_000_000)

    func migrated(dedupe: Bool = false) async throws -> TestDatabase {
        try await TestDatabase.migrated(dedupe: dedupe)
    }

    func texts(_ values: [String], device: String = "d") -> [TextReading] {
        values.enumerated().map { i, v in
            TextReading(time: 1_700_000_000_000_000 + Int64(i), deviceID: device, metric: "status", value: v,
                        source: Self.source)
        }
    }

    func write(_ batches: [Batch], to db: TestDatabase, dedupe: Bool = false) async throws -> [SinkOutcome] {
        let writer = BatchWriter(settings: .init(url: db.url, table: "readings", dedupe: dedupe, poolSize: 1),
                                 logger: Logger(label: "test"))
        return try await DedicatedThread.run {
            defer { writer.close() }
            return batches.map { writer.write($0, lane: 0) }
        }
    }

    @Test func theTextTableIsCreatedBesideTheReadingsAndRoundTripsEveryString() async throws {
        try await dropping(try await migrated(dedupe: true)) { db in
            #expect(try await db.isHypertable("readings_text") == TestServices.timescaleDB)
            #expect(try await db.count("""
                SELECT count(*) FROM pg_indexes WHERE tablename = 'readings_text'
                AND indexname IN ('readings_text_device_time_idx', 'readings_text_dedupe_idx')
                """) == 2)
            let values = ["charging", "", "tab\there", "back\\slash \\N", "dév ✓", String(repeating: "x", count: 100_000)]
            let outcome = try await write([Batch(readings: [Reading(time: 1_700_000_000_000_000, deviceID: "d",
                                                                    metric: "t", value: 1, source: Self.source)],
                                                 texts: texts(values))], to: db)[0]
            #expect(outcome.written == 1 && outcome.writtenText == values.count && outcome.unwritten == nil)
            let stored = try await db.query("SELECT string_agg(md5(value), ',' ORDER BY time) FROM readings_text")
            let expected = try await db.query("SELECT string_agg(md5(v), ',' ORDER BY n) FROM unnest(ARRAY["
                + values.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ",")
                + "]::text[]) WITH ORDINALITY AS t(v, n)")
            #expect(stored == expected)
        }
    }

    @Test func aTextRowTheTableRefusesIsRejectedAndTheRestWritten() async throws {
        try await dropping(try await migrated()) { db in
            try await db.query("ALTER TABLE readings_text ADD CONSTRAINT no_fault CHECK (value <> 'fault')")
            let outcome = try await write([Batch(texts: texts(["ok", "fault", "idle", "fault"]))], to: db)[0]
            #expect(outcome.writtenText == 2 && outcome.refused.count == 2 && outcome.unwritten == nil)
            #expect(try await db.count("SELECT count(*) FROM readings_text") == 2)
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects WHERE reason = 'refused_by_db'") == 2)
        }
    }

    @Test func dedupeStoresARedeliveredTextReadingOnce() async throws {
        try await dropping(try await migrated(dedupe: true)) { db in
            let batch = Batch(texts: texts(["a", "b"]))
            let outcomes = try await write([batch, batch], to: db, dedupe: true)
            #expect(outcomes[1].refused.isEmpty && outcomes[1].unwritten == nil, "skipped, not refused")
            #expect(try await db.count("SELECT count(*) FROM readings_text") == 2)
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects") == 0)
        }
    }

    @Test func spooledTextRowsReplayIntoTheTextTableAndOldSpoolFilesStillReplay() async throws {
        try await dropping(try await migrated()) { db in
            let dir = try scratchDirectory("text-spool-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: dir) }
            let spool = Spool(directory: dir.path)
            try spool.write(Batch(readings: [Reading(time: 1_700_000_000_000_000, deviceID: "d", metric: "t", value: 1,
                                                     source: Self.source)],
                                  texts: texts(["idle", "", "a\tb"])))
            #expect(spool.files().map(\.kind).sorted { "\($0)" < "\($1)" } == [.readings, .texts])
            // A file as a v3 daemon left it: `<base>.copy`, readings only.
            try "2023-11-14 22:13:20.000009+00\told\tm\t7\n".write(to: dir.appendingPathComponent("0000000000001-000001.copy"),
                                                                   atomically: true, encoding: .utf8)
            let applier = PostgresSpoolApplier(url: db.url, table: "readings", dedupe: false)
            let outcome = try await DedicatedThread.run {
                SpoolReplayer(spool: spool, applier: applier, logger: Logger(label: "t")).pass(stats: IngestStats())
            }
            #expect(outcome?.files == 3 && outcome?.rows == 5)
            #expect(try await db.count("SELECT count(*) FROM readings_text") == 3)
            #expect(try await db.count("SELECT count(*) FROM readings_text WHERE value = ''") == 1)
            #expect(try await db.count("SELECT count(*) FROM readings") == 2)
            #expect(spool.files().isEmpty)
        }
    }
}
