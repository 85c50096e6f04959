import Concurrency
import Logging

/// Captures log events in memory.
public final class EventLog: Sendable {
    public init() {}

    public let events = Locked<[(String, Logger.Metadata)]>([])
    public var names: [String] { events.withLock { $0.map(\.0) } }

    /// The fields of the first event named `name`, rendered as text; nil when none was logged.
    public func fields(_ name: String) -> [String: String]? {
        events.withLock { $0.first { $0.0 == name } }.map { $0.1.mapValues { "\($0)" } }
    }

    public var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: EventLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.events.withLock { $0.append((event.message.description, event.metadata ?? [:])) }
        }
    }
}
