import IngestModel

/// What one NBIRTH or DBIRTH said about its metrics: name, alias and datatype of each, and when
/// it was received. Data messages resolve their aliases (and their datatypes, which they may
/// leave out) through the last birth of their node or device.
public struct SparkplugBirth: Sendable {
    /// One metric as its birth defined it.
    public struct Metric: Sendable, Equatable {
        /// The readings' metric name.
        public var name: String
        /// The Tahu `DataType` number.
        public var datatype: UInt32
    }

    /// Microseconds since the Unix epoch: when the birth was received (`born_at`).
    public let bornAt: Int64
    /// By alias, for data messages that carry only the alias.
    public private(set) var byAlias: [UInt64: Metric] = [:]
    /// By name, for data messages that name the metric but leave out its datatype.
    public private(set) var byName: [String: UInt32] = [:]
    /// Loaded from `sparkplug_metrics` at start-up rather than received by this process: it
    /// resolves only messages received at or after `bornAt` (older ones came before it).
    public var fromCatalog = false

    /// An empty birth received at `bornAt`; `define` fills it.
    public init(bornAt: Int64) {
        self.bornAt = bornAt
    }

    /// The catalog rows of one device (all with the same `born_at`), as loaded at start-up.
    public init(definitions: some Sequence<MetricDefinition>, bornAt: Int64) {
        self.bornAt = bornAt
        for d in definitions { define(name: d.name, alias: d.alias, datatype: UInt32(bitPattern: d.datatype)) }
    }

    /// Adds one metric; a later one with the same alias or name replaces the earlier.
    public mutating func define(name: String, alias: UInt64?, datatype: UInt32) {
        byName[name] = datatype
        if let alias { byAlias[alias] = Metric(name: name, datatype: datatype) }
    }

    /// Metrics defined.
    public var count: Int { byName.count }
}
