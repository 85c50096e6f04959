import ArgumentParser
import IngestConfig
import Observability

/// The configuration flags every subcommand shares (SPEC 3): `--config`, `--set key=value`
/// and the dedicated flags for the common keys.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (default: $INGEST_CONFIG, then config/ingest.yaml).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Set any configuration key (repeatable).", valueName: "key=value"))
    var settings: [String] = []

    @Option(name: .customLong("mqtt-host"), help: "mqtt.host")
    var mqttHost: String?

    @Option(name: .customLong("mqtt-port"), help: "mqtt.port")
    var mqttPort: String?

    @Option(name: .customLong("database-url"), help: "database.url")
    var databaseURL: String?

    @Option(name: .customLong("http-port"), help: "http.port")
    var httpPort: String?

    @Option(name: .customLong("log-level"), help: "log.level")
    var logLevel: String?

    /// `--set` first, then the dedicated flags (which win over `--set` of the same key).
    var overrides: [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        for setting in settings {
            if let eq = setting.firstIndex(of: "=") {
                out.append((String(setting[..<eq]), String(setting[setting.index(after: eq)...])))
            } else {
                out.append((setting, ""))
            }
        }
        let flags: [(String, String?)] = [
            ("mqtt.host", mqttHost), ("mqtt.port", mqttPort), ("database.url", databaseURL),
            ("http.port", httpPort), ("log.level", logLevel),
        ]
        for (key, value) in flags { if let value { out.append((key, value)) } }
        return out
    }

    var inputs: ConfigurationLoader.Inputs {
        ConfigurationLoader.Inputs(configPath: config, overrides: overrides)
    }

    func validate() throws {
        for setting in settings where !setting.contains("=") {
            throw ValidationError("--set takes key=value, got '\(setting)'")
        }
    }

    /// Loads the configuration or prints every problem to stderr and exits 2.
    func load() throws -> IngestConfiguration {
        do {
            return try ConfigurationLoader.load(inputs)
        } catch {
            Console.error(error.description)
            throw ExitCode(2)
        }
    }
}
