import IngestModel
import Synchronization

/// The host application's memory of its edge nodes (SPEC 4b): the last births of every node
/// and device, each node's last sequence number and `bdSeq`, and when it was last asked to
/// be born again. Shared by every Sparkplug route.
///
/// Everything here depends on the order of one node's messages, so it is changed only by
/// `SparkplugDecoder` in delivery order: the workers decode Sparkplug messages in the order
/// they took them from the queue (`IngestPipeline`'s turnstile), and journal replay runs
/// alone before the source starts. The lock only makes the rarer paths (a sweep during a
/// forced shutdown) safe; it is never contended on the hot path.
public final class SparkplugSessions: Sendable {
    /// One edge node's transport state.
    struct Node {
        /// The last `seq` seen, nil until a message of this process (or after a death) set it.
        var lastSeq: UInt64?
        /// The `bdSeq` of the node's last NBIRTH, nil when this process has not seen one.
        var bdSeq: UInt64?
        /// Monotonic seconds of the last rebirth request (at most one per `rebirth_interval_s`).
        var lastRebirthRequest: Double?
    }

    struct State {
        /// Per device id, oldest first, at most `birthsKept`.
        var births: [String: [SparkplugBirth]] = [:]
        /// Per `<group>/<edge_node>`.
        var nodes: [String: Node] = [:]
        /// Journal replay: sequence numbers are not checked (entries committed before the crash
        /// are not replayed, so the replayed ones have gaps) and nobody is asked to rebirth.
        var replaying = false

        /// The birth that defined the aliases of a message received at `receivedAt`. Live, the
        /// newest installed one (decoding follows delivery order, whatever the wall clock does).
        /// In journal replay, the newest received at or before the message: a birth loaded from
        /// the catalog can be newer than a replayed message, which then resolves through an
        /// older birth replayed before it, or not at all (never through the wrong one).
        func birth(of deviceID: String, receivedAt: Int64) -> SparkplugBirth? {
            guard let list = births[deviceID] else { return nil }
            if !replaying, let newest = list.last, !newest.fromCatalog || newest.bornAt <= receivedAt { return newest }
            return list.last { $0.bornAt <= receivedAt }
        }

        /// Whether a birth of `deviceID` may be kept: one already known, or room for one more.
        func admits(device deviceID: String) -> Bool {
            births[deviceID] != nil || births.count < SparkplugSessions.maxTracked
        }

        /// Live, a birth replaces the device's others (it is the newest by delivery order,
        /// whatever the wall clock says); in replay and from the catalog, births are kept in
        /// time order so each replayed message finds the one before it.
        mutating func install(_ birth: SparkplugBirth, for deviceID: String) {
            guard replaying || birth.fromCatalog else {
                births[deviceID] = [birth]
                return
            }
            var list = births[deviceID] ?? []
            list.removeAll { $0.bornAt == birth.bornAt }
            list.append(birth)
            list.sort { $0.bornAt < $1.bornAt }
            if list.count > SparkplugSessions.birthsKept { list.removeFirst(list.count - SparkplugSessions.birthsKept) }
            births[deviceID] = list
        }
    }

    /// Births kept per device: the newest, and a few older ones for journal replay.
    static let birthsKept = 4
    /// Devices with births, and edge nodes with sequence state, tracked at most: a bound on
    /// what a publisher inventing ids can make the daemon hold. Beyond it a new device's
    /// birth is refused (`unknown_alias`, payload kept) and a new node's sequence unchecked.
    public static let maxTracked = 100_000
    let state = Mutex(State())

    /// No births, no sequences.
    public init() {}

    /// Loads the catalog (`sparkplug_metrics`) read at start-up: each device's latest birth.
    /// Returns how many devices and metrics it now knows.
    @discardableResult
    public func seed(_ catalog: [MetricDefinition]) -> (devices: Int, metrics: Int) {
        let byDevice = Dictionary(grouping: catalog, by: \.deviceID)
        return state.withLock { s in
            for (device, rows) in byDevice {
                let newest = rows.map(\.bornAt).max()!
                var birth = SparkplugBirth(definitions: rows.lazy.filter { $0.bornAt == newest }, bornAt: newest)
                birth.fromCatalog = true
                s.install(birth, for: device)
            }
            return (s.births.count, s.births.values.reduce(0) { $0 + ($1.last?.count ?? 0) })
        }
    }

    /// Journal replay begins (`true`) or ends: at the end every node's sequence is forgotten,
    /// so the first live message sets it again instead of looking like a gap.
    public func replaying(_ on: Bool) {
        state.withLock { s in
            s.replaying = on
            if !on { for key in s.nodes.keys { s.nodes[key]?.lastSeq = nil } }
        }
    }

    /// The device's latest birth, for tests and the catalog check.
    public func latestBirth(of deviceID: String) -> SparkplugBirth? {
        state.withLock { $0.births[deviceID]?.last }
    }
}
