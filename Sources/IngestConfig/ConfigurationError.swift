/// One thing wrong with the configuration: which key, the offending value (secrets masked)
/// and why. `run` and `check-config` print every problem, then exit 2.
public struct ConfigurationProblem: Sendable, Equatable, CustomStringConvertible {
    public var key: String
    public var value: String?
    public var reason: String

    public init(key: String, value: String?, reason: String) {
        self.key = key
        self.value = value
        self.reason = reason
    }

    public var description: String {
        if let value { return "\(key): \(reason) (value: \"\(value)\")" }
        return "\(key): \(reason)"
    }
}

/// Every problem found in one load, so an operator fixes them all in one go.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigurationProblem]

    public init(problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    public var description: String {
        "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
