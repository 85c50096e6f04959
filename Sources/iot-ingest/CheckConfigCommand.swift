import ArgumentParser
import IngestConfig
import Observability
import PostgresSink

/// `iot-ingest check-config`: validate, print the effective configuration with secrets
/// masked, exit 0; or print every problem to stderr and exit 2.
///
/// It also says on stderr whether the `timescale.*` keys will apply (SPEC 5a): that depends
/// on the server, so it asks it once (3 s to connect, 3 s to answer) unless `--offline`. The answer never
/// changes the exit code: the configuration is valid either way.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print it as JSON (secrets masked).")

    @OptionGroup var options: ConfigurationOptions

    /// `--offline`: skip the database question (CI, an image build, no network).
    @Flag(help: "Do not ask the database whether the timescale.* keys will apply.")
    var offline = false

    func run() throws {
        let configuration = try options.load()
        Console.out(configuration.nestedJSON.pretty())
        if !offline { Console.error(Self.timescaleNote(configuration.database.url)) }
    }

    /// One line about `timescale.*`: applied, skipped and why, or unknown. Never a libpq
    /// message (it may quote the connection string).
    static func timescaleNote(_ url: String) -> String {
        guard let connection = try? PostgresConnection(url: url, connectTimeout: 3, statementTimeoutMs: 3_000) else {
            return "timescale: the database could not be reached or refused the connection, "
                + "so whether timescale.* apply is unknown"
        }
        defer { connection.close() }
        switch Result(catching: { () throws(PostgresError) in try SchemaMigrator.timescaleAvailability(connection) }) {
        case .success(.available(let version)):
            return "timescale: TimescaleDB \(version) is available; migrate and start-up apply timescale.*"
        case .success(.unavailable(let why)):
            return "timescale: unavailable (\(why)); timescale.* are skipped (logged as timescale_unavailable)"
        case .failure:
            return "timescale: the database did not answer, so whether timescale.* apply is unknown"
        }
    }
}
