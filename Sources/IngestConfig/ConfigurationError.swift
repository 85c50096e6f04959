/// One thing wrong with the configuration: which key, the offending value (secrets masked)
/// and why. `run` and `check-config` print every problem, then exit 2.
public struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    /// The key's path as in the table (`mqtt.port`), or `config` for the file itself.
    public var key: String
    /// The offending value, secrets masked; nil when there is none (unknown key, empty value).
    public var value: String?
    /// Why it was refused, with its source (`from INGEST_MQTT_PORT`) where one is known.
    public var reason: String

    /// `value` must already be masked: it is printed as it is.
    public init(key: String, value: String?, reason: String) {
        self.key = key
        self.value = value
        self.reason = reason
    }

    /// One line: `key: reason (value: "...")`.
    public var description: String {
        if let value { return "\(key): \(reason) (value: \"\(value)\")" }
        return "\(key): \(reason)"
    }
}

/// Every problem found in one load, so an operator fixes them all in one go.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// In the order found: the file, unknown `--set` keys, values in table order, then checks across keys.
    public var problems: [ConfigurationProblem]

    /// Built by the loader once it has gathered every problem of a load.
    public init(problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    /// The report `run` and `check-config` print before exiting 2, one problem a line.
    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
