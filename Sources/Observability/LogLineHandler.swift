#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IngestConfig
import IngestModel
import Logging

/// swift-log handler writing one line per event to stdout (SPEC 11):
/// `{"ts":"…","level":"info","event":"queue_drained","service":"iot-ingest",…fields}` in JSON
/// format, or `ts level event key=value…` in text format.
///
/// The log message *is* the event name; fields come from metadata and keep their JSON type
/// (an `Int` passed as `.stringConvertible` prints as a number). Written here because the
/// ecosystem has no JSON handler for swift-log; it is one small file.
public struct LogLineHandler: LogHandler {
    /// The `service` field of every JSON line.
    public static let service = "iot-ingest"

    private let settings: LogSettings
    private var levelOverride: Logger.Level?
    /// Fields set on this `Logger` (`logger[metadataKey:]`); the provider's and the event's own
    /// fields of the same name win over them.
    public var metadata: Logger.Metadata = [:]
    /// Fields supplied at each line (task-locals); they win over `metadata`, the event's own win
    /// over them.
    public var metadataProvider: Logger.MetadataProvider?

    /// Every handler reads level and format from the shared `settings` at each line.
    public init(settings: LogSettings) {
        self.settings = settings
    }

    /// Bootstraps swift-log with this handler for the whole process.
    public static func bootstrap(settings: LogSettings) {
        LoggingSystem.bootstrap { _ in LogLineHandler(settings: settings) }
    }

    /// The shared `log.level` unless this logger set its own; setting it never affects other loggers.
    public var logLevel: Logger.Level {
        get { levelOverride ?? settings.level }
        set { levelOverride = newValue }
    }

    /// One field of `metadata`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line to stdout. On a name clash the event's own field wins, then the
    /// provider's, then `metadata`, then the static fields.
    public func log(event: LogEvent) {
        var fields = staticFieldsMerged(with: metadata)
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        let line = Self.render(level: event.level, event: event.message.description, fields: fields,
                               format: settings.format, now: Timestamp.now())
        Self.write(line)
    }

    /// The process's static fields (`instance`, `log.fields`) under `fields`: an event's own
    /// field of the same name wins.
    func staticFieldsMerged(with fields: Logger.Metadata) -> Logger.Metadata {
        settings.staticFields.merging(fields) { _, new in new }
    }

    /// One line, without the newline. Public for tests.
    public static func render(level: Logger.Level, event: String, fields: Logger.Metadata,
                              format: IngestConfiguration.Log.Format, now: Int64) -> String {
        let ts = Timestamp.iso8601Millis(now)
        let sorted = fields.sorted { $0.key < $1.key }
        switch format {
        case .json:
            var out = "{\"ts\":\"\(ts)\",\"level\":\"\(level.rawValue)\",\"event\":"
            JSONValue.appendQuoted(event, to: &out)
            out += ",\"service\":\"\(service)\""
            for (key, value) in sorted where !IngestConfiguration.Log.lineFields.contains(key) {
                out += ","
                JSONValue.appendQuoted(key, to: &out)
                out += ":"
                json(value).render(into: &out)
            }
            out += "}"
            return out
        case .text:
            let pad = String(repeating: " ", count: max(0, 8 - level.rawValue.count))
            var out = "\(ts) \(level.rawValue)\(pad) \(event)"
            for (key, value) in sorted {
                let v = json(value)
                // Bare only when nothing in it could end the line or fake another field (a topic
                // is publisher-controlled); else JSON-quoted, which escapes newlines.
                if case .string(let s) = v, !s.isEmpty, s.unicodeScalars.allSatisfy(Self.isBare) {
                    out += " \(key)=\(s)"
                } else {
                    out += " \(key)=\(v.rendered)"
                }
            }
            return out
        }
    }

    private static func isBare(_ c: Unicode.Scalar) -> Bool {
        c.value > 0x20 && c.value != 0x7F && c != "\"" && c != "=" && !c.properties.isWhitespace
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): return .string(s)
        case .stringConvertible(let c):
            switch c {
            case let i as Int: return .int(i)
            case let i as Int64: return .int(Int(i))
            case let i as UInt64: return .int(Int(clamping: i))
            case let i as Int32: return .int(Int(i))
            case let d as Double: return .double(d)
            case let b as Bool: return .bool(b)
            default: return .string(c.description)
            }
        case .array(let items): return .array(items.map(json))
        case .dictionary(let dict): return .object(dict.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }

    private static func write(_ line: String) {
        var bytes = line
        bytes.append("\n")
        // One write(2) per line: unbuffered (nothing is lost at exit) and, for lines under
        // PIPE_BUF, never interleaved with another thread's line.
        bytes.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
