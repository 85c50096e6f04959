/// An MQTT topic filter (`devices/+/telemetry`, `spBv1.0/#`) as routes use it (SPEC 4a):
/// which topics it matches, and whether two filters could both match one topic. Matching
/// follows MQTT 3.1.1 §4.7: `+` is one level, `#` the rest (its parent level included), and
/// a filter starting with a wildcard does not match a topic starting with `$`.
public struct TopicFilter: Sendable, Hashable, CustomStringConvertible {
    private enum Level: Sendable, Hashable {
        case literal(Substring)
        case one
        case rest
    }

    private let levels: [Level]
    /// The filter as written.
    public let description: String

    /// Nil when `text` is not a valid filter: empty, `#` not alone in the last level, or `+`
    /// not alone in its level.
    public init?(_ text: String) {
        guard !text.isEmpty else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        var levels: [Level] = []
        for (i, part) in parts.enumerated() {
            if part == "#" {
                guard i == parts.count - 1 else { return nil }
                levels.append(.rest)
            } else if part == "+" {
                levels.append(.one)
            } else {
                guard !part.contains("#"), !part.contains("+") else { return nil }
                levels.append(.literal(part))
            }
        }
        self.levels = levels
        description = text
    }

    /// Whether a message published on `topic` is one this filter selects.
    public func matches(_ topic: String) -> Bool {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        if topic.hasPrefix("$"), let first = levels.first, first == .one || first == .rest { return false }
        for (i, level) in levels.enumerated() {
            switch level {
            case .rest: return true
            case .one: if i >= parts.count { return false }
            case .literal(let text): if i >= parts.count || parts[i] != text { return false }
            }
        }
        return parts.count == levels.count
    }

    private var startsWithWildcard: Bool { levels.first == .one || levels.first == .rest }
    private var startsWithDollar: Bool { description.hasPrefix("$") }

    /// Whether some topic matches both filters (two routes that could claim one message).
    public func overlaps(_ other: TopicFilter) -> Bool {
        if startsWithWildcard != other.startsWithWildcard, (startsWithDollar || other.startsWithDollar) { return false }
        var i = 0
        while i < levels.count || i < other.levels.count {
            let a = i < levels.count ? levels[i] : nil, b = i < other.levels.count ? other.levels[i] : nil
            // `#` matches its parent level too: `a/#` and `a` share the topic `a`.
            if a == .rest || b == .rest { return true }
            guard let a, let b else { return false }
            if case .literal(let x) = a, case .literal(let y) = b, x != y { return false }
            i += 1
        }
        return true
    }
}
