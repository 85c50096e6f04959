import Foundation
import TestSupport
import Testing

/// Exit codes and messages of the command-line surface (SPEC 2 and 3).
@Suite struct CommandLineTests {
    var binary: String { TestServices.binDirectory.appendingPathComponent("iot-ingest").path }

    func run(_ arguments: [String], environment: [String: String] = [:],
             timeout: Double = 30) async throws -> ChildProcess.Result {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INGEST_") }
        env.merge(environment) { _, new in new }
        return try await ChildProcess.run(binary, arguments, environment: env, timeout: timeout)
    }

    @Test func checkConfigRejectsBadInputWithExitTwoNamingTheKey() async throws {
        let result = try await run(["check-config", "--set", "mqtt.port=70000", "--set", "queue.full_policy=maybe"],
                             environment: ["INGEST_WORKERS": "zero"])
        #expect(result.code == 2)
        #expect(result.errorOutput.contains("mqtt.port"))
        #expect(result.errorOutput.contains("queue.full_policy"))
        #expect(result.errorOutput.contains("workers") && result.errorOutput.contains("INGEST_WORKERS"))
    }

    @Test func checkConfigPrintsNestedJSONWithSecretsMasked() async throws {
        let result = try await run(["check-config", "--database-url", "postgresql://u:topsecret@db/iot", "--mqtt-port", "1999"],
                             environment: ["INGEST_MQTT_PASSWORD": "hunter2"])
        #expect(result.code == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let mqtt = try #require(json["mqtt"] as? [String: Any])
        #expect(mqtt["port"] as? Int == 1999)
        #expect(mqtt["password"] as? String == "***")
        #expect((json["database"] as? [String: Any])?["url"] as? String == "postgresql://u:***@db/iot")
        #expect(!result.output.contains("topsecret") && !result.output.contains("hunter2"))
        // The host does not resolve here: whether timescale.* apply is unknown, said without
        // libpq's message (which may quote the URL).
        #expect(result.errorOutput.contains("timescale: the database could not be reached"), "\(result.errorOutput)")
        #expect(!result.errorOutput.contains("topsecret"))
        let offline = try await run(["check-config", "--offline", "--database-url", "postgresql://u:topsecret@db/iot"])
        #expect(offline.code == 0 && !offline.errorOutput.contains("timescale"), "\(offline.errorOutput)")
    }

    @Test func unknownFlagsAndSubcommandsExitTwo() async throws {
        #expect(try await run(["--no-such-flag"]).code == 2)
        #expect(try await run(["check-config", "--bogus"]).code == 2)
        #expect(try await run(["frobnicate"]).code == 2)
        let help = try await run(["--help"])
        #expect(help.code == 0 && help.output.contains("check-config"))
    }

    @Test func runRefusesAnUnusableSpoolDirectoryWithExitTwo() async throws {
        let result = try await run(["run", "--set", "spool.dir=/proc/iot-ingest-spool"])
        #expect(result.code == 2)
        #expect(result.errorOutput.contains("spool.dir"))
    }

    /// Refused before the database is reached (the URL here points nowhere): a journal that
    /// cannot be created is a configuration error, not a minute of connection retries.
    @Test func runRefusesAnUnusableJournalDirectoryWithExitTwo() async throws {
        let spool = try scratchDirectory("cli-journal")
        let result = try await run(["run", "--set", "spool.dir=\(spool.path)", "--set", "journal.dir=/proc/iot-ingest-journal",
                                    "--database-url", "postgresql://nobody@127.0.0.1:1/none"])
        #expect(result.code == 2)
        #expect(result.errorOutput.contains("journal.dir"), "names the key: \(result.errorOutput)")
    }

    @Test func loadgenUnknownFlagExitsTwo() async throws {
        let loadgen = TestServices.binDirectory.appendingPathComponent("iot-loadgen").path
        #expect(try await ChildProcess.run(loadgen, ["--nope"], timeout: 10).code == 2)
    }

    /// The callgrind benchmark's harness (`scripts/bench.sh --callgrind`) still runs every
    /// message through, so the figure it gives is never that of a stalled or partial run.
    @Test func loadgenHotPathEncodesEveryReading() async throws {
        let loadgen = TestServices.binDirectory.appendingPathComponent("iot-loadgen").path
        let result = try await ChildProcess.run(loadgen, ["--hot-path", "--messages", "3000", "--readings-per-message", "3"],
                                                timeout: 60)
        #expect(result.code == 0, "\(result.errorOutput)")
        #expect(result.output.contains(#""messages":3000,"readings":9000"#), "\(result.output)")
        #expect(result.output.contains(#""cpu_s":"#), "\(result.output)")
    }
}

/// An async subcommand reached through `any AsyncParsableCommand` used to print its help and
/// exit 0 unless `main.swift` listed it: each one must do its work instead. (`run` is the
/// daemon every end-to-end test starts.)
@Suite(.enabled(if: TestServices.available), .sharedServices)
struct AsyncSubcommandTests {
    @Test(arguments: [("migrate", "schema_ready"), ("replay-spool", "spool_replay_finished")])
    func runsInsteadOfPrintingHelp(_ subcommand: String, _ event: String) async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let spool = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
            let binary = TestServices.binDirectory.appendingPathComponent("iot-ingest").path
            let env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INGEST_") }
            let result = try await ChildProcess.run(binary, [subcommand, "--database-url", db.url, "--set", "spool.dir=\(spool)"],
                                                    environment: env, timeout: 60)
            #expect(!result.output.contains("USAGE"), "\(subcommand) printed its help")
            #expect(result.output.contains("\"event\":\"\(event)\""), "\(subcommand): \(result.output.prefix(300))")
            #expect(result.code == 0)
            #expect(try await db.count("SELECT count(*) FROM pg_tables WHERE tablename = 'readings'") == 1)
        }
    }

    /// `check-config` asks the server whether the `timescale.*` keys will apply (SPEC 5a),
    /// and `migrate` applies them, failing with exit 1 when the server refuses part of them
    /// (here a plain view already holds a roll-up's name) though the tables are made.
    @Test func checkConfigSaysWhetherTheTimescaleKeysApplyAndMigrateAppliesThem() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let binary = TestServices.binDirectory.appendingPathComponent("iot-ingest").path
            let env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INGEST_") }
            let check = try await ChildProcess.run(binary, ["check-config", "--database-url", db.url], environment: env, timeout: 30)
            #expect(check.code == 0)
            #expect(check.errorOutput.contains(TestServices.timescaleDB ? "timescale: TimescaleDB 2." : "timescale: unavailable ("),
                    "\(check.errorOutput)")
            let spool = try scratchDirectory("cli-migrate-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: spool) }
            let migrate = { () async throws -> ChildProcess.Result in
                try await ChildProcess.run(binary, ["migrate", "--database-url", db.url, "--set", "spool.dir=\(spool.path)"],
                                           environment: env, timeout: 60)
            }
            guard TestServices.timescaleDB else {
                let result = try await migrate()
                #expect(result.code == 0 && result.output.contains("\"event\":\"timescale_unavailable\""), "\(result.output)")
                return
            }
            try await db.query("CREATE VIEW readings_1h AS SELECT 1 AS x")
            let refused = try await migrate()
            #expect(refused.code == 1, "\(refused.output.suffix(500))")
            #expect(refused.output.contains("\"event\":\"timescale_failed\"") && refused.output.contains("readings_1h"))
            #expect(try await db.isHypertable("readings"), "the schema is committed without the lifecycle")
            try await db.query("DROP VIEW readings_1h")
            let applied = try await migrate()
            #expect(applied.code == 0)
            #expect(applied.output.contains("\"event\":\"timescale_configured\"")
                    && applied.output.contains("roll-up readings_1h created"), "\(applied.output.suffix(800))")
        }
    }

    /// `database.create_schema: false` on a database without the tables (an upgrade without
    /// `migrate`): exit 2 naming the key, not a daemon that spools every batch for ever.
    @Test func runWithoutSchemaCreationRefusesADatabaseWithoutTheTables() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let spool = try scratchDirectory("cli-noschema-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: spool) }
            let binary = TestServices.binDirectory.appendingPathComponent("iot-ingest").path
            let env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INGEST_") }
            let result = try await ChildProcess.run(binary, [
                "run", "--database-url", db.url, "--set", "spool.dir=\(spool.path)", "--set", "database.create_schema=false",
                "--set", "journal.enabled=false",
            ], environment: env, timeout: 60)
            #expect(result.code == 2, "\(result.output.suffix(300)) \(result.errorOutput)")
            #expect(result.errorOutput.contains("database.create_schema") && result.errorOutput.contains("readings_text"),
                    "\(result.errorOutput)")
        }
    }
}
