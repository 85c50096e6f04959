import Concurrency
import Durability
import Foundation
import IngestModel
import Logging
@testable import PostgresSink
import TestSupport
import Testing

/// `sparkplug_metrics` (SPEC 4b, 5) on the real server: written with the births' batches by
/// binary COPY and upsert, from spool files by text COPY, and read back as each device's
/// latest birth.
@Suite("Sparkplug birth catalog against a real PostgreSQL", .enabled(if: TestServices.available), .sharedServices)
struct SparkplugCatalogTests {
    static let source = Message(topic: "spBv1.0/g/NBIRTH/n", payload: [1], receivedAt: 1_700_000_000_000_000)

    func definitions(_ device: String, bornAt: Int64, _ names: [(String, UInt64?)]) -> [MetricDefinition] {
        names.map { MetricDefinition(deviceID: device, name: $0.0, alias: $0.1, datatype: 10, bornAt: bornAt) }
    }

    func write(_ batches: [Batch], to db: TestDatabase) async throws -> [SinkOutcome] {
        let writer = BatchWriter(settings: .init(url: db.url, table: "readings", dedupe: false, poolSize: 1),
                                 logger: Logger(label: "test"))
        return try await DedicatedThread.run {
            defer { writer.close() }
            return batches.map { writer.write($0, lane: 0) }
        }
    }

    func load(_ db: TestDatabase) async throws -> [String] {
        let url = db.url
        return try await DedicatedThread.run { () throws(PostgresError) in try SparkplugCatalog.load(url: url) }
            .map { "\($0.deviceID) \($0.name) \($0.alias.map(String.init) ?? "-") @\($0.bornAt)" }.sorted()
    }

    @Test func theNewestBirthWinsWhateverOrderTheBatchesCommitIn() async throws {
        try await dropping(try await TestDatabase.migrated()) { db in
            let first = definitions("g/n", bornAt: 100, [("a", 1), ("b", 2), ("dropped", 3)])
            let second = definitions("g/n", bornAt: 200, [("a", 5), ("b", nil)])
            let device = definitions("g/n/d", bornAt: 150, [("x", Int64.max.magnitude)])
            // One batch holding both births of g/n, then the older one again (a late spool).
            let outcomes = try await write([Batch(definitions: first + second + device), Batch(definitions: first)], to: db)
            #expect(outcomes.allSatisfy { $0.unwritten == nil })
            #expect(try await load(db) == ["g/n a 5 @200", "g/n b - @200", "g/n/d x 9223372036854775807 @150"])
            #expect(try await db.count("SELECT count(*) FROM sparkplug_metrics") == 4, "dropped stays, with its old born_at")
        }
    }

    @Test func spooledDefinitionsReplayIntoTheCatalog() async throws {
        try await dropping(try await TestDatabase.migrated()) { db in
            let dir = try scratchDirectory("catalog-spool-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: dir) }
            let spool = Spool(directory: dir.path)
            try spool.write(Batch(definitions: definitions("g/n\tt", bornAt: 1_700_000_000_000_001, [("a\\b", 1), ("c", nil)])))
            #expect(spool.files().map(\.kind) == [.definitions])
            let applier = PostgresSpoolApplier(url: db.url, table: "readings", dedupe: false)
            let outcome = try await DedicatedThread.run {
                SpoolReplayer(spool: spool, applier: applier, logger: Logger(label: "t")).pass(stats: IngestStats())
            }
            #expect(outcome?.files == 1 && outcome?.rows == 2)
            #expect(try await load(db) == ["g/n\tt a\\b 1 @1700000000000001", "g/n\tt c - @1700000000000001"])
        }
    }
}
