@testable import Durability
import Foundation
import Testing

/// One process per spool or journal directory (SPEC 8, 8a): a second lock is refused with
/// the words an operator reads, and a released lock can be taken at once.
@Suite struct DirectoryLockTests {
    @Test func aSecondHolderIsRefusedUntilTheFirstReleases() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try DirectoryLock(directory: dir, file: ".lock")
        // flock conflicts between two open file descriptions, also within one process.
        #expect(throws: FileError.self) { _ = try DirectoryLock(directory: dir, file: ".lock") }
        do {
            _ = try DirectoryLock(directory: dir, file: ".lock")
        } catch {
            #expect(DirectoryLock.isHeldElsewhere(error))
            #expect(error.description.hasSuffix("in use by another running iot-ingest"))
        }
        first.release()
        first.release()  // idempotent
        let second = try DirectoryLock(directory: dir, file: ".lock")
        second.release()
        let missing = #expect(throws: FileError.self) { _ = try DirectoryLock(directory: dir + "/nonexistent", file: ".lock") }
        #expect(missing?.operation == "open" && missing.map(DirectoryLock.isHeldElsewhere) == false)
    }

    @Test func aJournalIDKeepsWhatLiesBetweenBlankEnds() {
        #expect(Journal.trimmed("ab12-cd\n") == "ab12-cd")
        #expect(Journal.trimmed("  plant 3 \n") == "plant 3")
        #expect(Journal.trimmed(" \n ") == "")
    }
}
