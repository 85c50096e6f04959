/// One row of `sparkplug_metrics` (SPEC 4b and 5): what a Sparkplug B birth certificate said
/// about one metric of one edge node or device — its name, its alias and its datatype.
///
/// The catalog outlives the process, so after a restart (or a journal replay) data messages
/// that carry only aliases still resolve without waiting for the node to be born again.
public struct MetricDefinition: Sendable, Equatable {
    /// `<group>/<edge_node>` for a node's metric, `<group>/<edge_node>/<device>` for a device's.
    public var deviceID: String
    /// The metric's name as the birth gave it (the readings' `metric`).
    public var name: String
    /// The alias data messages use instead of the name; nil when the birth gave none.
    /// Never above `Int64.max` (the column is `bigint`; the decoder refuses larger ones).
    public var alias: UInt64?
    /// The Tahu `DataType` number (1 Int8 ... 14 Text, 15 UUID, ...).
    public var datatype: Int32
    /// Microseconds since the Unix epoch: when the birth was received. A birth loaded from the
    /// catalog resolves only messages received at or after it.
    public var bornAt: Int64

    /// Memberwise.
    public init(deviceID: String, name: String, alias: UInt64?, datatype: Int32, bornAt: Int64) {
        self.deviceID = deviceID
        self.name = name
        self.alias = alias
        self.datatype = datatype
        self.bornAt = bornAt
    }
}
