import Foundation
import IngestModel
import TestSupport
import Testing

/// Logging in to PostgreSQL with a password (SCRAM), against the test server's role
/// `ingest_pw`: the right password starts the daemon; a wrong password or a database that
/// does not exist stops start-up at once (exit 1, the server's reason; retrying cannot fix
/// either), and no password reaches a log line.
@Suite("PostgreSQL log-in: password, missing database", .serialized, .enabled(if: TestServices.available), .sharedServices)
struct PostgresLoginTests {
    func url(_ db: TestDatabase, password: String) throws -> String {
        "postgresql://ingest_pw:\(password)@127.0.0.1:\(try TestServices.pgPort())/\(db.name)"
    }

    func daemon(_ db: TestDatabase, url: String) throws -> DaemonProcess {
        let p = "pw\(UUID().uuidString.prefix(6).lowercased())"
        return try DaemonProcess(database: db, settings: [
            "database.url": url, "mqtt.topics": "\(p)/+/telemetry", "payload.topic_template": "\(p)/{device_id}/telemetry",
        ])
    }

    @Test func theRightPasswordStartsAndIsNeverLogged() async throws {
        let password = try TestServices.pgPassword()
        try await dropping(try await TestDatabase.create()) { db in
            let daemon = try daemon(db, url: try url(db, password: password))
            try await daemon.waitFor("ingest_started", timeout: 30)
            #expect(try await daemon.stop() == 0)
            #expect(!daemon.log.contains(password))
        }
    }

    @Test func aWrongPasswordStopsStartUpWithTheReasonAndNoSecret() async throws {
        let right = try TestServices.pgPassword(), wrong = "wrong-\(right)-guess"
        try await dropping(try await TestDatabase.create()) { db in
            let started = Timestamp.monotonicSeconds()
            let daemon = try daemon(db, url: try url(db, password: wrong))
            #expect(try await daemon.waitForExit(timeout: 30) == 1)
            #expect(Timestamp.monotonicSeconds() - started < 15, "no minute of retries for a wrong password")
            let failure = try #require(daemon.event("startup_failed"))
            #expect((failure["error"] as? String)?.contains("password authentication failed") == true, "\(failure)")
            #expect(!daemon.log.contains(wrong) && !daemon.log.contains(right))
        }
    }

    @Test func aMissingDatabaseStopsStartUpWithTheReason() async throws {
        let password = try TestServices.pgPassword()
        try await dropping(try await TestDatabase.create()) { db in
            let missing = "postgresql://ingest_pw:\(password)@127.0.0.1:\(try TestServices.pgPort())/no_such_db_\(db.name)"
            let started = Timestamp.monotonicSeconds()
            let daemon = try daemon(db, url: missing)
            #expect(try await daemon.waitForExit(timeout: 30) == 1)
            #expect(Timestamp.monotonicSeconds() - started < 15, "no minute of retries for a missing database")
            let failure = try #require(daemon.event("startup_failed"))
            #expect((failure["error"] as? String)?.contains("does not exist") == true, "\(failure)")
            #expect(!daemon.log.contains(password))
        }
    }
}
