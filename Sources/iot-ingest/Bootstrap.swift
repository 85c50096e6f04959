import IngestConfig
import Logging
import Observability

/// Process-wide set-up, done once by the one subcommand a process runs.
enum Bootstrap {
    /// Bootstraps swift-log with the JSON/text handler; returns the daemon's logger and the
    /// live settings a reload changes in place.
    static func logging(_ configuration: IngestConfiguration) -> (logger: Logger, settings: LogSettings) {
        let settings = LogSettings(staticFields: LogSettings.staticFields(of: configuration))
        settings.apply(configuration.log)
        LogLineHandler.bootstrap(settings: settings)
        return (Logger(label: "iot-ingest"), settings)
    }
}
