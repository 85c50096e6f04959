import ArgumentParser

/// `iot-ingest`: the daemon (`run`, the default) and its operator commands (SPEC 2).
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iot-ingest",
        abstract: "Moves IoT telemetry from an MQTT broker into TimescaleDB / PostgreSQL.",
        version: Version.string,
        subcommands: [RunCommand.self, MigrateCommand.self, CheckConfigCommand.self,
                      HealthcheckCommand.self, ReplaySpoolCommand.self],
        defaultSubcommand: RunCommand.self)
}

enum Version {
    static let string = "0.1.0"
}
