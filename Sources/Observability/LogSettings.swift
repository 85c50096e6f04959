import IngestConfig
import Logging
import Synchronization

/// The live log level and format, shared by every logger of the process: a SIGHUP reload
/// stores new values here and every existing `Logger` sees them on its next line.
public final class LogSettings: Sendable {
    private let levelIndex: Atomic<Int>
    private let textFormat: Atomic<Bool>
    /// `instance` and `log.fields` (SPEC 3), on every line so that the lines of several
    /// replicas can be filtered in one log store. Fixed for the life of the process: they
    /// name the process, and a reload that changed them would make one run look like two.
    public let staticFields: Logger.Metadata

    /// Before the configuration is loaded the defaults apply (`info`, `json`, no static fields).
    public init(level: Logger.Level = .info, format: IngestConfiguration.Log.Format = .json,
                staticFields: Logger.Metadata = [:]) {
        levelIndex = Atomic(Self.index(of: level))
        textFormat = Atomic(format == .text)
        self.staticFields = staticFields
    }

    /// The static fields of a configuration: `instance` (= `mqtt.client_id`) and `log.fields`.
    public static func staticFields(of configuration: IngestConfiguration) -> Logger.Metadata {
        var fields: Logger.Metadata = ["instance": .string(configuration.mqtt.clientID)]
        for (name, value) in configuration.log.fields { fields[name] = .string(value) }
        return fields
    }

    /// `log.level` in force; a reload sets it and every logger sees it on its next line.
    public var level: Logger.Level {
        get { Logger.Level.allCases[levelIndex.load(ordering: .relaxed)] }
        set { levelIndex.store(Self.index(of: newValue), ordering: .relaxed) }
    }

    /// `log.format` in force; reloadable like `level`.
    public var format: IngestConfiguration.Log.Format {
        get { textFormat.load(ordering: .relaxed) ? .text : .json }
        set { textFormat.store(newValue == .text, ordering: .relaxed) }
    }

    /// Applies a reloaded `log.*` section to every logger at once (SIGHUP).
    public func apply(_ log: IngestConfiguration.Log) {
        level = Logger.Level(rawValue: log.level) ?? .info
        format = log.format
    }

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 2
    }
}
