@testable import Durability
import Foundation
import IngestModel
import TestSupport
import Testing

@Suite struct SpoolTests {
    func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func copyTextEscapesWhatCOPYWouldMisread() {
        let m = Message(topic: "t", payload: [0x00, 0xFF], receivedAt: 0)
        let r = Reading(time: 1_700_000_000_000_001, deviceID: "a\tb", metric: "back\\slash\nnl", value: 1e-300, source: m)
        #expect(CopyText.line(r) == "2023-11-14 22:13:20.000001+00\ta\\tb\tback\\\\slash\\nnl\t1e-300\n")
        let reject = Reject(m, reason: .notUTF8)
        #expect(CopyText.line(reject) == "1970-01-01 00:00:00.000000+00\tt\t\\\\x00ff\tnot_utf8\t\\N\n")
    }

    /// A batch whose rejects file does not fit (the disk fills between its two files) must
    /// leave nothing behind: the caller keeps the batch and may write it to the database,
    /// and a readings file left here would then be replayed too (a duplicate). A 64 KiB
    /// tmpfs (root only, as in CI) holds the readings file but not a 200 KB rejects file.
    @Test(.enabled(if: geteuid() == 0)) func aBatchThatDoesNotFitLeavesNoFileBehind() async throws {
        let dir = try directory()
        let mounted = try await ChildProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], timeout: 10)
        try #require(mounted.code == 0, "mount a small tmpfs (needs root): \(mounted.errorOutput)")
        defer { Task { _ = try? await ChildProcess.run("/bin/umount", ["-l", dir], timeout: 10) } }
        let spool = Spool(directory: dir)
        let m = Message(topic: "t", payload: Array(repeating: 0x41, count: 100_000), receivedAt: 0)
        let rows = [Reading(time: 0, deviceID: "d", metric: "m", value: 1, source: m)]
        #expect(throws: FileError.self) {
            try spool.write(Batch(readings: rows, rejects: [Reject(m, reason: .tooLarge)]), journal: "j")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(left.isEmpty, "nothing of the batch stays: \(left)")
        #expect(spool.summary.files == 0 && spool.summary.bytes == 0)
        // The disk has room for the readings alone: that batch is written whole.
        try spool.write(Batch(readings: rows, entries: [1]), journal: "j")
        #expect(spool.files().count == 1)
    }

    @Test func filesAreNamedInWriteOrderAndRejectsApart() throws {
        let dir = try directory()
        let spool = Spool(directory: dir)
        let m = Message(topic: "t", payload: [], receivedAt: 0)
        let rows = [Reading(time: 0, deviceID: "d", metric: "m", value: 1, source: m)]
        try spool.write(Batch(readings: rows, rejects: [Reject(m, reason: .invalidJSON)]))
        try spool.write(Batch(readings: rows))
        let names = spool.files().map(\.name)
        #expect(names.count == 3)
        #expect(names == names.sorted())
        #expect(names.filter { $0.hasSuffix("-rejects.copy") }.count == 1)
        #expect(names.allSatisfy { $0.range(of: #"^\d{13}-\d{6}(-rejects)?\.copy$"#, options: .regularExpression) != nil })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasPrefix(".tmp-") })
    }

    @Test func leftoverTemporariesAreRemovedAndQuarantineKeepsTheFile() throws {
        let dir = try directory()
        let spool = Spool(directory: dir)
        try "half".write(toFile: dir + "/.tmp-1700000000000-000001.copy", atomically: false, encoding: .utf8)
        try "bad\n".write(toFile: dir + "/1700000000000-000002.copy", atomically: false, encoding: .utf8)
        #expect(spool.removeTemporaries() == 1)
        let file = try #require(spool.files().first)
        try spool.quarantine(file)
        #expect(spool.files().isEmpty)
        #expect(FileManager.default.fileExists(atPath: dir + "/corrupt/1700000000000-000002.copy"))
    }
}
