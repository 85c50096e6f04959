import ArgumentParser
import Logging
import PostgresSink

/// `iot-ingest migrate`: create or upgrade the schema and apply the Timescale lifecycle,
/// then exit 0 (1 if the database cannot be reached or refuses either).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load()
        let logger = Bootstrap.logging(configuration).logger
        let outcome: SchemaMigrator.Outcome
        do {
            outcome = try await DatabaseStartup.migrate(configuration.database, timescale: configuration.timescale,
                                                        logger: logger)
        } catch {
            logger.error("migration_failed", metadata: ["error": .string("\(error)")])
            throw ExitCode(1)
        }
        // The tables are there, but the lifecycle asked for is not: `timescale_failed` said why.
        if outcome.lifecycleError != nil { throw ExitCode(1) }
    }
}
