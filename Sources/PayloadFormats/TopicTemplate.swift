#if canImport(Glibc)
import Glibc
#endif

/// `payload.topic_template` compiled once: which topic segment is the device id and which (if
/// any) is the metric, e.g. `devices/{device_id}/telemetry` or `sensors/{device_id}/{metric}`.
public struct TopicTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case deviceID
        case metric
    }

    let segments: [Segment]
    /// The template as written in the configuration.
    public let description: String
    /// Whether a `{metric}` segment names the metric of a bare number or a lone `value` field.
    public var hasMetric: Bool { segments.contains(.metric) }
    /// Whether the topic gives the device id; without it the payload's `device_id` field must.
    public var hasDeviceID: Bool { segments.contains(.deviceID) }

    /// Why `payload.topic_template` is refused; the daemon exits 2 naming the key.
    public struct Invalid: Error, CustomStringConvertible {
        /// The rules a template can break; callers and tests match on these, not on `description`.
        public enum Code: Sendable, Equatable {
            /// A segment that is neither a literal nor a placeholder (or holds MQTT wildcards).
            case badSegment
            /// `{device_id}` or `{metric}` more than once.
            case repeatedPlaceholder
        }

        /// Which rule the template broke.
        public let code: Code
        /// Names the offending segment; the configuration error prints it after the key.
        public let description: String
    }

    /// The template as a topic filter, each placeholder a `+`: the topics it can match (the
    /// loader checks that a route's filters can reach it).
    public var filterShape: String {
        segments.map { segment -> String in
            if case .literal(let bytes) = segment { return String(decoding: bytes, as: UTF8.self) }
            return "+"
        }.joined(separator: "/")
    }

    /// Parses `template` once, at load: segments split on `/`, each a literal, `{device_id}` or
    /// `{metric}`. Throws on wildcards, stray braces or a repeated placeholder.
    public init(_ template: String) throws(Invalid) {
        var parsed: [Segment] = []
        for part in template.split(separator: "/", omittingEmptySubsequences: false) {
            switch part {
            case "{device_id}": parsed.append(.deviceID)
            case "{metric}": parsed.append(.metric)
            default:
                if part.contains("{") || part.contains("}") || part.contains("+") || part.contains("#") {
                    throw Invalid(code: .badSegment, description: "segment '\(part)' must be a literal, {device_id} or {metric}")
                }
                parsed.append(.literal(Array(part.utf8)))
            }
        }
        guard parsed.filter({ $0 == .deviceID }).count <= 1, parsed.filter({ $0 == .metric }).count <= 1 else {
            throw Invalid(code: .repeatedPlaceholder, description: "{device_id} and {metric} may each appear once")
        }
        segments = parsed
        description = template
    }

    /// The device id and metric segments of `topic`, or nil when the topic does not have the
    /// template's shape (or a placeholder segment is empty).
    public func match(_ topic: String) -> (deviceID: String?, metric: String?)? {
        var topic = topic
        return topic.withUTF8 { bytes -> (String?, String?)? in
            var device: String?
            var metric: String?
            var start = 0
            for (index, segment) in segments.enumerated() {
                var end = start
                while end < bytes.count, bytes[end] != 47 { end += 1 }  // '/'
                let isLast = index == segments.count - 1
                if isLast ? end != bytes.count : end == bytes.count { return nil }
                let part = UnsafeBufferPointer(rebasing: bytes[start..<end])
                switch segment {
                case .literal(let lit):
                    guard lit.count == part.count,
                          lit.withUnsafeBufferPointer({ part.isEmpty || memcmp($0.baseAddress!, part.baseAddress!, part.count) == 0 })
                    else { return nil }
                case .deviceID:
                    guard !part.isEmpty else { return nil }
                    device = String(decoding: part, as: UTF8.self)
                case .metric:
                    guard !part.isEmpty else { return nil }
                    metric = String(decoding: part, as: UTF8.self)
                }
                start = end + 1
            }
            return (device, metric)
        }
    }
}
