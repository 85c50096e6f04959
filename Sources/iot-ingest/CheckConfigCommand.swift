import ArgumentParser
import Observability

/// `iot-ingest check-config`: validate, print the effective configuration with secrets
/// masked, exit 0; or print every problem to stderr and exit 2.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration and print it as JSON (secrets masked).")

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        let configuration = try options.load()
        Console.out(configuration.nestedJSON.pretty())
    }
}
