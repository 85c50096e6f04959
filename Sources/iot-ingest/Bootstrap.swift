import IngestCore
import Logging
import Observability

/// Process-wide set-up done once per process.
enum Bootstrap {
    /// The live log settings; a reload changes them in place.
    nonisolated(unsafe) static var logSettings: LogSettings?
    // nonisolated(unsafe): written once by `logging(_:)` on the main thread before any other
    // task or thread starts, read-only afterwards.

    /// Bootstraps swift-log with the JSON/text handler and returns the daemon's logger.
    static func logging(_ configuration: IngestConfiguration) -> Logger {
        if logSettings == nil {
            let settings = LogSettings()
            settings.apply(configuration.log)
            LogLineHandler.bootstrap(settings: settings)
            logSettings = settings
        }
        return Logger(label: "iot-ingest")
    }
}
