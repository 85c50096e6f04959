import Concurrency
import Durability
import Foundation
import IngestConfig
import IngestModel
import Logging
@testable import PostgresSink
import TestSupport
import Testing

@Suite("PostgresSink against a real PostgreSQL", .enabled(if: TestServices.available), .sharedServices)
struct PostgresSinkTests {
    func migrated(dedupe: Bool = false) async throws -> TestDatabase {
        try await TestDatabase.migrated(dedupe: dedupe)
    }

    static let source = Message(topic: "devices/d/telemetry", payload: Array("{}".utf8), receivedAt: 1_700_000_000_000_000)

    @Test func binaryCopyRoundTripsEveryField() async throws {
        try await dropping(try await migrated()) { db in
            let readings = [
                Reading(time: 1_700_000_000_123_456, deviceID: "dév-1", metric: "temp.℃", value: -21.25, source: Self.source),
                Reading(time: -86_400_000_000, deviceID: "d2", metric: "m", value: 1e-300, source: Self.source),
                Reading(time: 253_402_300_799_999_999, deviceID: "d3", metric: "m", value: 1.7976931348623157e308, source: Self.source),
            ]
            let rejects = [
                Reject(receivedAt: 1_700_000_000_000_001, topic: "t/x", payload: [0, 255, 10], reason: .notUTF8, detail: nil),
                Reject(receivedAt: 1_700_000_000_000_002, topic: "t/y", payload: Array("{".utf8), reason: .invalidJSON, detail: "d"),
            ]
            try await DedicatedThread.run {
                let c = try PostgresConnection(url: db.url)
                defer { c.close() }
                var encoder = CopyEncoder()
                encoder.encode(readings: readings)
                try c.copy("COPY readings (time, device_id, metric, value) FROM STDIN (FORMAT binary)", data: encoder.buffer)
                encoder.encode(rejects: rejects)
                try c.copy("COPY ingest_rejects (received_at, topic, payload, reason, detail) FROM STDIN (FORMAT binary)",
                           data: encoder.buffer)
            }
            let rows = try await db.query("""
                SELECT string_agg(format('%s|%s|%s|%s', (extract(epoch from time) * 1000000)::bigint, device_id, metric,
                       value::text), ';' ORDER BY device_id) FROM readings
                """)
            #expect(rows == "-86400000000|d2|m|1e-300;253402300799999999|d3|m|1.7976931348623157e+308;"
                    + "1700000000123456|dév-1|temp.℃|-21.25")
            let stored = try await db.query("""
                SELECT string_agg(format('%s|%s|%s|%s', encode(payload, 'hex'), reason, coalesce(detail, 'NULL'), topic), ';'
                       ORDER BY topic) FROM ingest_rejects
                """)
            #expect(stored == "00ff0a|not_utf8|NULL|t/x;7b|invalid_json|d|t/y")
        }
    }

    @Test func migrationIsIdempotentAndSafeConcurrently() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await DedicatedThread.run {
                            let c = try PostgresConnection(url: db.url)
                            defer { c.close() }
                            return try SchemaMigrator(table: "readings", dedupe: true, timescale: .defaults).migrate(c).timescale
                        }
                    }
                }
                for try await _ in group {}
            }
            #expect(try await db.count("SELECT count(*) FROM pg_tables WHERE tablename IN ('readings', 'ingest_rejects', 'ingest_spool_applied')") == 3)
            // Ours (device, time) and dedupe's; create_hypertable adds its (time DESC) index.
            #expect(try await db.count("SELECT count(*) FROM pg_indexes WHERE tablename = 'readings'")
                    == (TestServices.timescaleDB ? 3 : 2))
            #expect(try await db.isHypertable("readings") == TestServices.timescaleDB)
        }
    }

    /// One attempt per batch, in order, on lane 0 of a fresh writer.
    func write(_ batches: [Batch], to db: TestDatabase, table: String = "readings",
               dedupe: Bool = false) async throws -> [SinkOutcome] {
        let writer = BatchWriter(settings: .init(url: db.url, table: table, dedupe: dedupe, poolSize: 1),
                                 logger: Logger(label: "test"))
        return try await DedicatedThread.run {
            defer { writer.close() }
            return batches.map { writer.write($0, lane: 0) }
        }
    }

    func readings(_ values: [Double], device: String = "d") -> [Reading] {
        values.enumerated().map { i, v in
            Reading(time: 1_700_000_000_000_000 + Int64(i), deviceID: device, metric: "m", value: v, source: Self.source)
        }
    }

    @Test func rowsTheTableRefusesAreBisectedOutAndRejected() async throws {
        try await dropping(try await migrated()) { db in
            try await db.query("ALTER TABLE readings ADD CONSTRAINT non_negative CHECK (value >= 0)")
            let values = (0..<100).map { $0 % 17 == 5 ? -Double($0) : Double($0) }
            let refused = values.filter { $0 < 0 }.count
            let outcome = try await write([Batch(readings: readings(values))], to: db)[0]
            #expect(try await db.count("SELECT count(*) FROM readings") == 100 - refused)
            #expect(try await db.count("SELECT count(*) FROM ingest_rejects WHERE reason = 'refused_by_db' AND detail LIKE '%non_negative%'") == refused)
            #expect(outcome.written == 100 - refused)
            #expect(outcome.refused.count == refused)
            #expect(outcome.refused.allSatisfy { $0.reason == .refusedByDB })
            #expect(outcome.unwritten == nil && outcome.failure == nil)
        }
    }

    /// A value too large for the `(device_id, time DESC)` index row fails with SQLSTATE
    /// 54000: the row is refused and bisected out at once, not retried as if transient.
    @Test func aValueTooLargeForTheIndexIsRefusedNotRetried() async throws {
        try await dropping(try await migrated()) { db in
            var rng = SystemRandomNumberGenerator()  // random: an index entry is compressed first
            let huge = String((0..<9000).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &rng)! })
            let batch = Batch(readings: readings([1, 2, 3]) + readings([4], device: huge))
            let outcome = try await write([batch], to: db)[0]
            #expect(outcome.written == 3)
            #expect(outcome.refused.count == 1)
            #expect(outcome.refused.first?.detail?.contains("54000") == true, "\(outcome.refused)")
            #expect(outcome.unwritten == nil && outcome.failure == nil)
            #expect(try await db.count("SELECT count(*) FROM readings") == 3)
        }
    }

    /// A spool directory holding `files` (name -> COPY text).
    func spool(_ files: [String: String]) throws -> Spool {
        let dir = try scratchDirectory("spool-\(UUID().uuidString.prefix(8))")
        for (name, text) in files {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return Spool(directory: dir.path)
    }

    func replay(_ spool: Spool, into db: TestDatabase, dedupe: Bool = false) async throws -> SpoolReplayer.Outcome {
        try await DedicatedThread.run {
            let applier = PostgresSpoolApplier(url: db.url, table: "readings", dedupe: dedupe)
            let session = try applier.session()
            defer { session.close() }
            return try SpoolReplayer(spool: spool, applier: applier, logger: Logger(label: "t")).replay(on: session)
        }
    }

    /// Two replicas share `ingest_spool_applied`; each wrote a spool file of the same name
    /// (same millisecond, same sequence) with other rows. The second must be applied, not
    /// deleted as "already applied"; a file applied and then left behind by a crash before
    /// its delete is still skipped.
    @Test func sameNamedSpoolFilesFromTwoReplicasAreBothApplied() async throws {
        try await dropping(try await migrated()) { db in
            let name = "1700000000000-000001.copy"
            func lines(_ values: [Double], _ device: String) -> String {
                readings(values, device: device).map(CopyText.line).joined()
            }
            let a = try spool([name: lines([1, 2, 3], "a")]), b = try spool([name: lines([4, 5], "b")])
            #expect(try await replay(a, into: db).files == 1)
            #expect(try await replay(b, into: db).files == 1, "same name, other content: applied")
            #expect(try await db.count("SELECT count(*) FROM readings") == 5)
            #expect(a.files().isEmpty && b.files().isEmpty)
            // A crash between commit and delete leaves b's file: it is skipped, then deleted.
            let again = try spool([name: lines([4, 5], "b")])
            #expect(try await replay(again, into: db).files == 0)
            #expect(again.files().isEmpty)
            #expect(try await db.count("SELECT count(*) FROM readings") == 5, "never applied twice")
        }
    }

    /// A spool file with a malformed line and a row too large for the index among good rows:
    /// the good rows are applied, only the two refused lines are kept in `corrupt/`, and the
    /// file after it is applied too (replay does not stop at the first bad file).
    @Test(arguments: [false, true])
    func replayAppliesTheGoodRowsOfAFileAndKeepsOnlyTheRefusedOnes(dedupe: Bool) async throws {
        try await dropping(try await migrated(dedupe: dedupe)) { db in
            var rng = SystemRandomNumberGenerator()  // random: an index entry is compressed first
            let huge = String((0..<9000).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &rng)! })
            let good = readings((0..<200).map(Double.init)).map(CopyText.line)
            let oversized = CopyText.line(readings([1], device: huge)[0])
            let malformed = "not\ta\tcopy\tline\textra\n"
            let first = good[..<70].joined() + oversized + good[70..<150].joined() + malformed + good[150...].joined()
            let later = readings([7, 8], device: "later").map(CopyText.line).joined()
            let files = try spool(["1700000000000-000001.copy": first, "1700000000000-000002.copy": later])
            let outcome = try await replay(files, into: db, dedupe: dedupe)
            #expect(outcome.files == 2 && outcome.rows == 202)
            #expect(outcome.corrupt == 1 && outcome.refusedRows == 2)
            #expect(try await db.count("SELECT count(*) FROM readings WHERE device_id = 'd'") == 200)
            #expect(try await db.count("SELECT count(*) FROM readings WHERE device_id = 'later'") == 2)
            #expect(try await db.count("SELECT count(*) FROM ingest_spool_applied") == 2)
            #expect(files.files().isEmpty)
            let kept = try String(contentsOfFile: files.directory + "/corrupt/1700000000000-000001.copy", encoding: .utf8)
            #expect(kept == oversized + malformed, "only the refused lines, in file order")
            // Replayed again (a crash before the delete): nothing is applied twice.
            let again = try spool(["1700000000000-000001.copy": first])
            #expect(try await replay(again, into: db, dedupe: dedupe).files == 0)
            #expect(try await db.count("SELECT count(*) FROM readings") == 202)
        }
    }

    /// SPEC 12: no secret in a log line or `check-config`. The masking reads a database URL
    /// as libpq does; libpq's own parser says what the password is in each form.
    @Test(arguments: [
        "postgresql://u:s3cr3t@h/db", "postgresql://u:s3%63r3t@h/db", "postgres://u@h/db?password=s3cr3t&sslmode=require",
        "postgresql://h/db?pass%77ord=s3cr3t", "host=h password=s3cr3t user=u", "host=h password = s3cr3t user=u",
        "host=h\tpassword\t=\t's3cr3t x' user=u", "host=h password='s3\\'cr3t' user=u",
        "postgresql://u:s3cr3t@h/db?application_name=s3cr3t",
    ])
    func redactionMasksWhatLibpqReadsAsThePassword(_ url: String) throws {
        let password = try #require(ConnectionString.password(in: url), "libpq finds a password in \(url)")
        #expect(!Redaction.databaseURL(url).contains(password), "\(Redaction.databaseURL(url))")
        #expect(Redaction.databaseURL(url).contains(Redaction.mask))
    }

    /// libpq quotes the token it cannot parse; when that token is the password, the error
    /// we log and serve on /health/detailed must not carry it.
    @Test func aMalformedURLsErrorDoesNotQuoteThePassword() {
        let error = #expect(throws: PostgresError.self) {
            _ = try PostgresConnection(url: "postgresql://u:s3cr%zz3t@127.0.0.1:1/db")
        }
        let text = error?.description ?? ""
        #expect(!text.contains("s3cr"), "\(text)")
        #expect(text.contains("percent"), "still says what is wrong: \(text)")
    }

    /// The daemon's role need not be a superuser: migrate (run at every start) reads only what
    /// any role may read (shared_preload_libraries is superuser-only), and makes the hypertable
    /// where an administrator has created the extension.
    @Test func migrateRunsAsARoleThatIsNotASuperuser() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let role = "plain_\(db.name)"
            try await db.query("CREATE ROLE \(role) LOGIN")
            try await db.query("ALTER DATABASE \(db.name) OWNER TO \(role)")
            if TestServices.timescaleDB { try await db.query("CREATE EXTENSION IF NOT EXISTS timescaledb") }
            let url = db.url.replacingOccurrences(of: "postgres@", with: "\(role)@")
            #expect(url != db.url)
            let outcome = try await DedicatedThread.run {
                let c = try PostgresConnection(url: url)
                defer { c.close() }
                return try SchemaMigrator(table: "readings", dedupe: true, timescale: .defaults).migrate(c)
            }
            #expect(outcome.timescale == TestServices.timescaleDB)
            #expect(outcome.lifecycleError == nil, "the lifecycle needs no superuser either")
            #expect((outcome.lifecycle?.changes.isEmpty == false) == TestServices.timescaleDB)
            #expect((outcome.timescaleUnavailable == nil) == TestServices.timescaleDB)
            #expect(try await db.isHypertable("readings") == TestServices.timescaleDB)
            #expect(try await db.query("SELECT tableowner FROM pg_tables WHERE tablename = 'readings'") == role)
            try await db.query("REASSIGN OWNED BY \(role) TO postgres")
            await db.drop()
            try await TestDatabase.admin("DROP ROLE \(role)")
        }
    }

    /// `database.table: Readings`: created, written and found by name as written (the
    /// hypertable call takes the name through `regclass`, which folds an unquoted name), and
    /// the lifecycle finds its tables and roll-ups by that name too, twice.
    @Test func aMixedCaseTableWorksThroughout() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let (found, outcomes) = try await DedicatedThread.run {
                let c = try PostgresConnection(url: db.url)
                defer { c.close() }
                let migrator = SchemaMigrator(table: "Readings", dedupe: true, timescale: .defaults)
                let outcomes = [try migrator.migrate(c), try migrator.migrate(c)]
                return (try c.scalar("SELECT $1::regclass::text", [SchemaMigrator.quoted("Readings")]), outcomes)
            }
            #expect(found == "\"Readings\"")
            #expect(outcomes.allSatisfy { $0.lifecycleError == nil }, "\(outcomes.map(\.lifecycleError))")
            if TestServices.timescaleDB {
                #expect(outcomes[1].lifecycle?.changes == [], "\(outcomes[1].lifecycle?.changes ?? [])")
                #expect(try await db.query("""
                    SELECT string_agg(view_name, ',' ORDER BY view_name) FROM timescaledb_information.continuous_aggregates
                    """) == "Readings_1h,Readings_1m")
                #expect(try await db.count(
                    "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'") == 2)
            }
            let outcome = try await write([Batch(readings: readings([1, 2]))], to: db, table: "Readings", dedupe: true)[0]
            #expect(outcome.written == 2)
            #expect(try await db.count("SELECT count(*) FROM \"Readings\"") == 2)
        }
    }

    @Test func dedupeStoresARedeliveredReadingOnce() async throws {
        try await dropping(try await migrated(dedupe: true)) { db in
            let batch = Batch(readings: readings([1, 2, 3]))
            _ = try await write([batch, batch], to: db, dedupe: true)
            #expect(try await db.count("SELECT count(*) FROM readings") == 3)
        }
    }

    @Test func aDatabaseThatIsNotThereHandsEverythingBackUnwritten() async throws {
        let writer = BatchWriter(
            settings: .init(url: "postgresql://postgres@127.0.0.1:1/none", table: "readings", dedupe: false, poolSize: 1),
            logger: Logger(label: "test"))
        let batch = Batch(readings: readings([1, 2]), rejects: [Reject(Self.source, reason: .invalidJSON, detail: nil)])
        let outcome = try await DedicatedThread.run { writer.write(batch, lane: 0) }
        #expect(outcome.written == 0)
        #expect(outcome.unwritten?.readings.map(\.value) == [1, 2])
        #expect(outcome.unwritten?.rejects.count == 1)
        #expect(outcome.failure?.contains("127.0.0.1") == true, "the failure names what was unreachable: \(outcome.failure ?? "nil")")
        #expect(writer.openConnections == 0)
    }
}
