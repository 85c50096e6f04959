import Foundation

/// A psql session holding `LOCK TABLE ... IN ACCESS EXCLUSIVE MODE` so the daemon's writers
/// stall; `release()` ends the session (server side too) and with it the lock. Bounded: psql
/// sleeps 120 s at most.
public final class LockHolder: @unchecked Sendable {
    // @unchecked: the Process is configured before run() and then only signalled.
    let process = Process()
    let database: TestDatabase
    let name = "lockholder-\(UUID().uuidString.prefix(8))"

    public init(database: TestDatabase, table: String = "readings") throws {
        self.database = database
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [database.url, "-qAt", "-c",
                             "BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": name]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits (bounded) until the lock is granted.
    public func waitUntilHeld() async throws {
        try await waitUntil(10, "the table lock") {
            try await database.count("""
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE a.application_name = '\(name)' AND l.mode = 'AccessExclusiveLock' AND l.granted
                """) >= 1
        }
    }

    public func release() async {
        _ = try? await database.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '\(name)'")
        kill(process.processIdentifier, SIGKILL)
    }

    deinit { kill(process.processIdentifier, SIGKILL) }
}
