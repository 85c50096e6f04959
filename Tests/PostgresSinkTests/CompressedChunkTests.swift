import Concurrency
import Durability
import Foundation
import IngestConfig
import IngestModel
import Logging
@testable import PostgresSink
import TestSupport
import Testing

/// SPEC 5 and 5a: late data and redeliveries land in chunks TimescaleDB has already
/// compressed. Every write path (COPY, dedupe's staging insert, the bisection of refused
/// rows, the spool replay) goes into them on a real TimescaleDB 2.28, for both tables.
@Suite("Writes into compressed chunks on a real TimescaleDB",
       .enabled(if: TestServices.available && TestServices.timescaleDB), .sharedServices)
struct CompressedChunkTests {
    static let source = Message(topic: "devices/d/telemetry", payload: Array("{}".utf8), receivedAt: 1_700_000_000_000_000)
    /// 2025-11-01T00:00:00Z: more than `compress_after` ago, in one daily chunk.
    static let day: Int64 = 1_761_955_200_000_000

    /// Compression enabled (which needs `compress_after` set) and no roll-up; the databases
    /// below remove the policy `migrate` adds at once and compress by hand (with
    /// `if_not_compressed`, so a policy run that slipped in between changes nothing).
    static let compressible = IngestConfiguration.Timescale(
        chunkInterval: LifecycleInterval(seconds: 86_400), compressAfter: LifecycleInterval(seconds: 7 * 86_400),
        retainFor: nil, rollups: [])

    /// A database whose readings (`devices` × 2 metrics × `perSeries`, one a second from
    /// `day`) and a few texts sit in compressed chunks.
    func compressedDatabase(dedupe: Bool, devices: Int = 20, perSeries: Int = 100) async throws -> TestDatabase {
        let db = try await TestDatabase.migrated(dedupe: dedupe, timescale: Self.compressible)
        do {
            try await db.query("SELECT remove_compression_policy(t, if_exists => true) FROM (VALUES ('readings'), ('readings_text')) v(t)")
            try await db.query("""
                INSERT INTO readings (time, device_id, metric, value)
                SELECT to_timestamp(\(Self.day / 1_000_000) + s), 'dev' || d, m, s
                FROM generate_series(0, \(devices - 1)) d, generate_series(0, \(perSeries - 1)) s, (VALUES ('a'), ('b')) v(m)
                """)
            try await db.query("""
                INSERT INTO readings_text (time, device_id, metric, value)
                SELECT to_timestamp(\(Self.day / 1_000_000) + s), 'dev0', 'status', 'ok ' || s FROM generate_series(0, 99) s
                """)
            try await db.query("""
                SELECT count(compress_chunk(c, if_not_compressed => true))
                FROM (SELECT show_chunks('readings') UNION ALL SELECT show_chunks('readings_text')) s(c)
                """)
            #expect(try await compressedChunks(db) == 2)
        } catch {
            await db.drop()
            throw error
        }
        return db
    }

    func compressedChunks(_ db: TestDatabase) async throws -> Int {
        try await db.count("SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed")
    }

    func reading(_ device: String, _ metric: String, second: Int64, _ value: Double) -> Reading {
        Reading(time: Self.day + second * 1_000_000, deviceID: device, metric: metric, value: value, source: Self.source)
    }

    func write(_ batches: [Batch], to db: TestDatabase, dedupe: Bool) async throws -> [SinkOutcome] {
        let writer = BatchWriter(settings: .init(url: db.url, table: "readings", dedupe: dedupe, poolSize: 1),
                                 logger: Logger(label: "test"))
        return try await DedicatedThread.run {
            defer { writer.close() }
            return batches.map { writer.write($0, lane: 0) }
        }
    }

    func duplicates(_ db: TestDatabase, _ table: String = "readings") async throws -> Int {
        try await db.count("SELECT count(*) FROM (SELECT 1 FROM \(table) GROUP BY device_id, metric, time HAVING count(*) > 1) d")
    }

    /// Without dedupe, COPY appends to the compressed chunk (TimescaleDB keeps the new rows
    /// uncompressed beside the compressed ones until the next compression).
    @Test func copyGoesIntoACompressedChunk() async throws {
        try await dropping(try await compressedDatabase(dedupe: false)) { db in
            let before = try await db.count("SELECT count(*) FROM readings")
            let late = (0..<50).map { reading("dev\($0 % 20)", "a", second: 1_000 + Int64($0), 7) }
            let text = TextReading(time: Self.day + 5_000_000_000, deviceID: "dev0", metric: "status", value: "late",
                                   source: Self.source)
            let outcome = try await write([Batch(readings: late, texts: [text])], to: db, dedupe: false)[0]
            #expect(outcome.written == 50 && outcome.writtenText == 1 && outcome.failure == nil)
            #expect(try await db.count("SELECT count(*) FROM readings") == before + 50)
            #expect(try await db.count("SELECT count(*) FROM readings_text WHERE value = 'late'") == 1)
            #expect(try await compressedChunks(db) == 2, "the chunks stay compressed (partially)")
        }
    }

    /// `database.dedupe` turned on after chunks were compressed: the next migration builds
    /// the unique index over them, and a redelivery into them is then stored once.
    @Test func dedupeTurnedOnLaterIndexesCompressedChunks() async throws {
        try await dropping(try await compressedDatabase(dedupe: false)) { db in
            let outcome = try await db.migrate(dedupe: true, timescale: Self.compressible)
            #expect(outcome.lifecycleError == nil)
            #expect(try await db.count("SELECT count(*) FROM pg_indexes WHERE indexname IN ('readings_dedupe_idx', 'readings_text_dedupe_idx')") == 2)
            #expect(try await compressedChunks(db) == 2)
            let before = try await db.count("SELECT count(*) FROM readings")
            let redelivered = (0..<40).map { reading("dev\($0 % 20)", "a", second: Int64($0), Double($0)) }
            _ = try await write([Batch(readings: redelivered)], to: db, dedupe: true)
            #expect(try await db.count("SELECT count(*) FROM readings") == before)
        }
    }

    /// Dedupe's staging insert with `ON CONFLICT DO NOTHING` sees the compressed rows: a
    /// redelivered reading is stored once, a late new one is stored, for both tables.
    @Test func dedupeSeesRowsInCompressedChunks() async throws {
        try await dropping(try await compressedDatabase(dedupe: true)) { db in
            let before = try await db.count("SELECT count(*) FROM readings")
            let redelivered = (0..<100).map { reading("dev\($0 % 20)", $0 % 2 == 0 ? "a" : "b", second: Int64($0), Double($0)) }
            let late = (0..<100).map { reading("dev\($0 % 20)", "a", second: 10_000 + Int64($0), 1) }
            let texts = [TextReading(time: Self.day, deviceID: "dev0", metric: "status", value: "ok 0", source: Self.source),
                         TextReading(time: Self.day + 1, deviceID: "dev0", metric: "status", value: "new", source: Self.source)]
            let batch = Batch(readings: redelivered + late, texts: texts)
            let outcomes = try await write([batch, batch], to: db, dedupe: true)
            #expect(outcomes.allSatisfy { $0.failure == nil && $0.refused.isEmpty && $0.unwritten == nil }, "\(outcomes)")
            #expect(try await db.count("SELECT count(*) FROM readings") == before + 100)
            #expect(try await duplicates(db) == 0)
            #expect(try await db.count("SELECT count(*) FROM readings_text") == 101)
            #expect(try await duplicates(db, "readings_text") == 0)
        }
    }

    /// A batch whose rows fall into 240 compressed segments of 1,000 rows each. TimescaleDB
    /// 2.28 checks `ON CONFLICT` against compressed batches without decompressing them
    /// (EXPLAIN: "Batches scanned", none decompressed), so its limit on rows decompressed per
    /// statement (`max_tuples_decompressed_per_dml_transaction`, 100,000 by default, 1,000
    /// here) never refuses a redelivery. Were a later version to decompress, this fails and
    /// the README's claim with it.
    @Test func aRedeliveryOverManyCompressedSegmentsDecompressesNothing() async throws {
        try await dropping(try await compressedDatabase(dedupe: true, devices: 120, perSeries: 1_000)) { db in
            try await db.query("ALTER DATABASE \(db.name) SET timescaledb.max_tuples_decompressed_per_dml_transaction = 1000")
            let before = try await db.count("SELECT count(*) FROM readings")
            #expect(before == 240_000)
            let redelivered = (0..<240).map { reading("dev\($0 / 2)", $0 % 2 == 0 ? "a" : "b", second: 500, -1) }
            let late = (0..<240).map { reading("dev\($0 / 2)", $0 % 2 == 0 ? "a" : "b", second: 5_000, -2) }
            let outcome = try await write([Batch(readings: redelivered + late)], to: db, dedupe: true)[0]
            #expect(outcome.refused.isEmpty && outcome.failure == nil && outcome.unwritten == nil, "\(outcome)")
            #expect(try await db.count("SELECT count(*) FROM readings") == before + 240)
            #expect(try await db.count("SELECT count(*) FROM readings WHERE value = -1") == 0, "the stored rows won")
            #expect(try await compressedChunks(db) == 2)
        }
    }

    /// A row the table refuses among late rows bound for a compressed chunk: bisection writes
    /// the good ones there and rejects only the refused one.
    @Test(arguments: [false, true])
    func bisectionWorksIntoACompressedChunk(dedupe: Bool) async throws {
        try await dropping(try await compressedDatabase(dedupe: dedupe)) { db in
            try await db.query("""
                CREATE FUNCTION refuse_sentinel() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.value = -666 THEN RAISE EXCEPTION 'sentinel refused'; END IF; RETURN NEW; END $$
                """)
            try await db.query("CREATE TRIGGER refuse BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION refuse_sentinel()")
            let before = try await db.count("SELECT count(*) FROM readings")
            let late = (0..<64).map { reading("dev\($0 % 20)", "a", second: 20_000 + Int64($0), $0 == 33 ? -666 : 1) }
            let outcome = try await write([Batch(readings: late)], to: db, dedupe: dedupe)[0]
            #expect(outcome.written == 63 && outcome.refused.count == 1, "\(outcome)")
            #expect(outcome.refused.first?.detail?.contains("sentinel refused") == true)
            #expect(try await db.count("SELECT count(*) FROM readings") == before + 63)
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects WHERE reason = 'refused_by_db'") == 1)
        }
    }

    /// Spool files written while the database was away replay into the compressed chunks,
    /// and with dedupe a file replayed again (another replica's copy) adds nothing.
    @Test func spoolReplayGoesIntoCompressedChunks() async throws {
        try await dropping(try await compressedDatabase(dedupe: true)) { db in
            let before = try await db.count("SELECT count(*) FROM readings")
            let lines = (0..<30).map { CopyText.line(reading("dev\($0 % 20)", "b", second: 30_000 + Int64($0), 2)) }.joined()
            let texts = CopyText.line(TextReading(time: Self.day + 40_000_000_000, deviceID: "dev0", metric: "status",
                                                  value: "replayed", source: Self.source))
            for name in ["1761955200000-000001", "1761955200000-000002"] {
                let dir = try scratchDirectory("spool-\(UUID().uuidString.prefix(8))")
                try lines.write(to: dir.appendingPathComponent("\(name).copy"), atomically: true, encoding: .utf8)
                try texts.write(to: dir.appendingPathComponent("\(name)-text.copy"), atomically: true, encoding: .utf8)
                let spool = Spool(directory: dir.path)
                let outcome = try await DedicatedThread.run {
                    let applier = PostgresSpoolApplier(url: db.url, table: "readings", dedupe: true)
                    let session = try applier.session()
                    defer { session.close() }
                    return try SpoolReplayer(spool: spool, applier: applier, logger: Logger(label: "t")).replay(on: session)
                }
                #expect(outcome.files == 2 && outcome.corrupt == 0, "\(outcome)")
                #expect(spool.files().isEmpty)
            }
            #expect(try await db.count("SELECT count(*) FROM readings") == before + 30)
            #expect(try await db.count("SELECT count(*) FROM readings_text WHERE value = 'replayed'") == 1)
            #expect(try await duplicates(db) == 0)
        }
    }
}
