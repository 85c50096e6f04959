@testable import Durability
import Foundation
import IngestModel
import TestSupport
import Testing

/// The replay loop's bookkeeping over a fake applier: what is deleted, kept, quarantined, and
/// when a pass stops. The real applier is tested against PostgreSQL in PostgresSinkTests.
@Suite struct SpoolReplayerTests {
    final class FakeApplier: SpoolApplier, SpoolSession, @unchecked Sendable {
        // @unchecked: the tests use one applier from one thread at a time.
        var applied: [String] = []
        var done: [(String, [ClosedRange<UInt64>])] = []
        var refuseLines: (String) -> [UInt8]? = { _ in nil }
        var failOn: [String: SpoolApplyError.Code] = [:]
        var closed = 0

        func session() throws(SpoolApplyError) -> any SpoolSession { self }

        func apply(_ file: SpoolFileContents,
                   keepRefused: ([UInt8]) throws -> Void) throws(SpoolApplyError) -> SpoolFileApplied {
            if let code = failOn[file.name] { throw SpoolApplyError(code, "refused \(file.name)") }
            if applied.contains(file.name) { return SpoolFileApplied() }
            let lines = file.data.split(separator: 0x0A).count
            var refused = 0
            if let bad = refuseLines(file.name) {
                do { try keepRefused(bad) } catch { throw SpoolApplyError(.unavailable, "\(error)") }
                refused = 1
            }
            applied.append(file.name)
            return SpoolFileApplied(fresh: true, rows: lines - refused, refused: refused, error: refused > 0 ? "bad" : nil)
        }

        func recordDone(_ ranges: [ClosedRange<UInt64>], journal: String) throws(SpoolApplyError) {
            done.append((journal, ranges))
        }

        func close() { closed += 1 }
    }

    let log = EventLog()

    func spool() throws -> Spool {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replayer-\(UUID().uuidString)").path
        try Spool.prepare(directory: dir)
        let spool = Spool(directory: dir)
        let m = Message(topic: "t", payload: [], receivedAt: 0)
        for i in 0..<3 {
            _ = try spool.write(Batch(readings: [Reading(time: 1, deviceID: "d", metric: "m", value: Double(i), source: m)],
                                      entries: [UInt64(i + 1)]), journal: "j")
        }
        return spool
    }

    @Test func appliedFilesAreDeletedAndTheirSidecarsRecorded() throws {
        let spool = try spool(), applier = FakeApplier(), stats = IngestStats()
        let outcome = SpoolReplayer(spool: spool, applier: applier, logger: log.logger).pass(stats: stats)
        #expect(outcome?.files == 3 && outcome?.rows == 3)
        #expect(spool.files().isEmpty && spool.sidecars().isEmpty)
        #expect(applier.done.flatMap(\.1).sorted { $0.lowerBound < $1.lowerBound } == [1...1, 2...2, 3...3])
        #expect(applier.closed == 1, "the pass closes its session")
        #expect(stats.spoolReplayedRows.load(ordering: .relaxed) == 3)
        #expect(log.names.contains("spool_replayed"))
    }

    @Test func refusedLinesAreKeptInCorruptAndTheRestApplied() throws {
        let spool = try spool(), applier = FakeApplier()
        let first = spool.files()[0].name
        applier.refuseLines = { $0 == first ? Array("bad line\n".utf8) : nil }
        let outcome = SpoolReplayer(spool: spool, applier: applier, logger: log.logger).pass(stats: IngestStats())
        #expect(outcome?.corrupt == 1 && outcome?.refusedRows == 1)
        #expect(try String(contentsOfFile: spool.directory + "/corrupt/" + first, encoding: .utf8) == "bad line\n")
        #expect(spool.files().isEmpty)
    }

    @Test func aFileTheStoreRefusesIsQuarantinedAndAnOutageDefersTheRest() throws {
        let spool = try spool(), applier = FakeApplier()
        let names = spool.files().map(\.name)
        applier.failOn = [names[0]: .fileRefused, names[1]: .unavailable]
        let outcome = SpoolReplayer(spool: spool, applier: applier, logger: log.logger).pass(stats: IngestStats())
        #expect(outcome == nil, "deferred at the outage")
        #expect(FileManager.default.fileExists(atPath: spool.directory + "/corrupt/" + names[0]))
        #expect(spool.files().map(\.name) == [names[1], names[2]], "kept for the next pass")
        #expect(applier.done.isEmpty, "no sidecar recorded while its files wait")
        #expect(log.names.contains("spool_file_corrupt") && log.names.contains("spool_replay_deferred"))
    }

    @Test func aFileAppliedBeforeIsOnlyDeleted() throws {
        let spool = try spool(), applier = FakeApplier()
        applier.applied = spool.files().map(\.name)
        let outcome = SpoolReplayer(spool: spool, applier: applier, logger: log.logger).pass(stats: IngestStats())
        #expect(outcome?.files == 0 && spool.files().isEmpty)
    }
}
