/// A Sparkplug B topic, `spBv1.0/<group>/<type>/<edge_node>[/<device>]` (SPEC 4b), split on
/// its UTF-8 bytes (a `String.split` walks Characters: ~10,000 instructions a message) and
/// kept by `SparkplugDecoder`'s topic cache with the two ids it builds.
public struct SparkplugTopic: Sendable, Equatable {
    /// The message types of the Sparkplug B 3.0 topic namespace.
    public enum Kind: String, Sendable, CaseIterable {
        case nodeBirth = "NBIRTH", nodeDeath = "NDEATH", nodeData = "NDATA", nodeCommand = "NCMD"
        case deviceBirth = "DBIRTH", deviceDeath = "DDEATH", deviceData = "DDATA", deviceCommand = "DCMD"

        /// Whether a `<device>` segment follows the edge node.
        public var isDevice: Bool {
            switch self {
            case .deviceBirth, .deviceDeath, .deviceData, .deviceCommand: true
            default: false
            }
        }
    }

    /// The namespace every Sparkplug B topic starts with.
    public static let namespace = "spBv1.0"

    /// The Sparkplug group id.
    public var group: Substring
    /// The message type.
    public var kind: Kind
    /// The edge node id.
    public var node: Substring
    /// The device id, for device messages only.
    public var device: Substring?

    /// `<group>/<edge_node>`: the device_id of node messages and the key of the node's
    /// sequence state (aliases and `seq` are per edge node).
    public let nodeID: String
    /// The device_id of this message's readings: `<group>/<edge_node>` or `<group>/<edge_node>/<device>`.
    public let deviceID: String

    /// Why `topic` is not a Sparkplug B message topic, for the `topic_mismatch` detail.
    public enum Refusal: Error, Equatable {
        /// `spBv1.0/STATE/<host_id>`: a host application's state, not telemetry.
        case hostState
        /// Anything else that is not `spBv1.0/<group>/<type>/<edge_node>[/<device>]`.
        case malformed(String)
    }

    /// Splits `topic`; throws for STATE topics and topics outside the namespace's shape.
    public init(_ topic: String) throws(Refusal) {
        let parts = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { Substring($0) }
        guard parts.count >= 2, parts[0] == Self.namespace else {
            throw .malformed("not under \(Self.namespace)/")
        }
        if parts[1] == "STATE" { throw .hostState }
        guard parts.count >= 4 else { throw .malformed("expected \(Self.namespace)/<group>/<type>/<edge_node>[/<device>]") }
        guard let kind = Kind(rawValue: String(parts[2])) else {
            throw .malformed("unknown message type \(parts[2].prefix(32))")
        }
        guard parts.count == (kind.isDevice ? 5 : 4) else {
            throw .malformed(kind.isDevice ? "\(kind.rawValue) needs a device segment" : "\(kind.rawValue) takes no device segment")
        }
        guard parts[1] != "", parts[3] != "", !kind.isDevice || parts[4] != "" else {
            throw .malformed("empty group, edge node or device id")
        }
        group = parts[1]
        self.kind = kind
        node = parts[3]
        device = kind.isDevice ? parts[4] : nil
        let nodeID = "\(parts[1])/\(parts[3])"
        self.nodeID = nodeID
        deviceID = kind.isDevice ? "\(nodeID)/\(parts[4])" : nodeID
    }
}
