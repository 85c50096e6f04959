import ArgumentParser
import Logging
import PostgresSink

/// `iot-ingest migrate`: create or upgrade the schema, then exit 0 (1 if the database
/// cannot be reached or refuses).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load()
        let logger = Bootstrap.logging(configuration).logger
        do {
            _ = try await DatabaseStartup.migrate(configuration.database, logger: logger)
        } catch {
            logger.error("migration_failed", metadata: ["error": .string("\(error)")])
            throw ExitCode(1)
        }
    }
}
