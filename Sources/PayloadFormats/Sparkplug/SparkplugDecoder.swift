import IngestModel
import SparkplugB
import Synchronization

/// Sparkplug B as a payload format (SPEC 4b): the daemon as a host application. Births define
/// each metric's name, alias and datatype (kept in `SparkplugSessions` and, through the
/// batch's `definitions`, in `sparkplug_metrics`); data messages resolve their aliases
/// through the last birth; births and deaths are also the reading `sparkplug.online`.
///
/// Stateful, unlike JSON and line protocol: a message's meaning depends on the births and
/// sequence numbers before it, so `ordered` is true and the pipeline decodes its messages in
/// delivery order. A message stores whole or not at all, and changes the state only when it
/// is stored — except a refused birth, which also forgets the previous one (its aliases may
/// no longer hold) and asks the node to be born again.
///
/// Decisions where SPEC 4b is silent: a death's `sparkplug.online` = 0 is stamped with the
/// receive time (a will's payload is written when the node connected, so its timestamp says
/// nothing about the death); a birth defines at most `payload.max_readings` metrics; an
/// NDEATH after a restart, before any NBIRTH, is stored (its
/// `bdSeq` cannot be checked); NDEATH's own `bdSeq` metric is session bookkeeping, not a
/// reading; a data message without metrics is `no_readings`; STATE, NCMD and DCMD messages
/// are counted (kind `sparkplug_control`); a value of the wrong kind for its datatype (a
/// string for a Float) rejects the message `invalid_sparkplug`.
public final class SparkplugDecoder: PayloadFormat {
    /// `payload.max_bytes`.
    public let maxBytes: Int
    /// `payload.max_readings`: readings of one message, `sparkplug.online` included.
    public let maxReadings: Int
    /// `payload.store_strings`: false counts String, Text and UUID values (kind `string`).
    public let storeStrings: Bool
    /// Births, sequences and rebirth throttles, shared by every Sparkplug route.
    public let sessions: SparkplugSessions
    /// Where rebirth requests go.
    public let rebirths: SparkplugRebirths

    /// Topics already split, with their ids built.
    private let topics = TopicCache()

    /// Split topics by name: a fleet publishes on a few thousand topics, each many times.
    /// Bounded: a flood of distinct topics empties it and starts again.
    final class TopicCache: Sendable {
        private let cache = Mutex<(topics: [String: Result<SparkplugTopic, SparkplugTopic.Refusal>], bytes: Int)>(([:], 0))
        /// At most this many topics, holding at most `byteLimit` bytes of topic (MQTT allows
        /// 65,535-byte topics: a count alone would let long ones pin gigabytes).
        static let limit = 16_384
        static let byteLimit = 4 << 20

        func topic(_ name: String) throws(SparkplugTopic.Refusal) -> SparkplugTopic {
            if let known = cache.withLock({ $0.topics[name] }) { return try known.get() }
            let parsed = Result { () throws(SparkplugTopic.Refusal) in try SparkplugTopic(name) }
            let size = 3 * name.utf8.count  // the topic and its two ids
            cache.withLock { c in
                if c.topics.count >= Self.limit || c.bytes + size > Self.byteLimit {
                    c.topics.removeAll(keepingCapacity: true)
                    c.bytes = 0
                }
                c.topics[name] = parsed
                c.bytes += size
            }
            return try parsed.get()
        }
    }

    /// The reading births (1) and deaths (0) make.
    public static let onlineMetric = "sparkplug.online"
    /// The largest timestamp accepted, in epoch milliseconds (the end of year 9999).
    static let maxMilliseconds = UInt64(Timestamp.endOfYear9999 / 1000)

    /// From `payload.*`, the shared sessions and the rebirth requester.
    public init(maxBytes: Int, maxReadings: Int = 1000, storeStrings: Bool = true, sessions: SparkplugSessions,
                rebirths: SparkplugRebirths) {
        self.maxBytes = maxBytes
        self.maxReadings = maxReadings
        self.storeStrings = storeStrings
        self.sessions = sessions
        self.rebirths = rebirths
    }

    /// Sparkplug state follows delivery order.
    public var ordered: Bool { true }

    /// Journal replay: see `SparkplugSessions.replaying(_:)`.
    public func replaying(_ on: Bool) { sessions.replaying(on) }

    /// Appends the message's rows (and, for a birth, its definitions) and returns nil; or
    /// appends nothing and returns the reject.
    public func decode(_ message: Message, into rows: inout Batch, ignored: inout IgnoredFields) -> Reject? {
        if let reject = PayloadChecks.tooLarge(message, maxBytes: maxBytes) { return reject }
        let topic: SparkplugTopic
        do {
            topic = try topics.topic(message.topic)
        } catch {
            switch error {
            case .hostState:
                ignored.add(.sparkplugControl)
                return nil
            case .malformed(let why):
                return Reject(message, reason: .topicMismatch, detail: "not a Sparkplug B topic: \(why)")
            }
        }
        if topic.kind == .nodeCommand || topic.kind == .deviceCommand {
            ignored.add(.sparkplugControl)
            return nil
        }
        let payload: Org_Eclipse_Tahu_Protobuf_Payload
        do {
            payload = try Org_Eclipse_Tahu_Protobuf_Payload(serializedBytes: message.payload)
        } catch {
            return Reject(message, reason: .invalidSparkplug, detail: "not a Sparkplug B (Tahu) payload: \(error)")
        }
        var work = Work(topic: topic, payload: payload, message: message, storeStrings: storeStrings)
        let (outcome, rebirth) = sessions.state.withLock { state in
            let outcome = work.run(&state, maxReadings: maxReadings)
            return (outcome, self.admitRebirth(work.rebirthReason, topic: topic, state: &state))
        }
        if let rebirth { rebirths.request(topic, reason: rebirth) }
        if let (reason, detail) = outcome { return Reject(message, reason: reason, detail: detail) }
        rows.readings += work.readings
        rows.texts += work.texts
        rows.definitions += work.definitions
        ignored.add(work.tally)
        return nil
    }

    /// The reason to ask `topic`'s node for a rebirth now, or nil (none wanted, turned off,
    /// replaying, or asked within the interval).
    private func admitRebirth(_ reason: String?, topic: SparkplugTopic, state: inout SparkplugSessions.State) -> String? {
        guard let reason, rebirths.enabled, !state.replaying else { return nil }
        let now = Timestamp.monotonicSeconds()
        let key = topic.nodeID
        guard state.nodes[key] != nil || state.nodes.count < SparkplugSessions.maxTracked else { return nil }
        if let last = state.nodes[key]?.lastRebirthRequest, now - last < rebirths.interval { return nil }
        state.nodes[key, default: .init()].lastRebirthRequest = now
        return reason
    }

    /// One message's decode: its rows, built aside and handed over only if it is stored.
    struct Work {
        let topic: SparkplugTopic
        let payload: Org_Eclipse_Tahu_Protobuf_Payload
        let message: Message
        let storeStrings: Bool
        let deviceID: String
        var readings: [Reading] = []
        var texts: [TextReading] = []
        var definitions: [MetricDefinition] = []
        var tally = IgnoredFields()
        /// Why the node should be born again (a sequence gap, an unknown alias), if it should.
        var rebirthReason: String?

        init(topic: SparkplugTopic, payload: Org_Eclipse_Tahu_Protobuf_Payload, message: Message, storeStrings: Bool) {
            self.topic = topic
            self.payload = payload
            self.message = message
            self.storeStrings = storeStrings
            deviceID = topic.deviceID
        }

        /// Applies the message to `state` and builds its rows; returns the reject, or nil.
        mutating func run(_ state: inout SparkplugSessions.State, maxReadings: Int) -> (RejectReason, String)? {
            let nodeID = topic.nodeID
            if state.nodes[nodeID] != nil || state.nodes.count < SparkplugSessions.maxTracked {
                checkSequence(&state.nodes[nodeID, default: .init()], replaying: state.replaying)
            }
            guard !payload.hasTimestamp || payload.timestamp <= SparkplugDecoder.maxMilliseconds else {
                return (.badTimestamp, "payload timestamp \(payload.timestamp) ms is beyond year 9999")
            }
            let payloadTime = payload.hasTimestamp ? Int64(payload.timestamp) * 1000 : message.receivedAt
            switch topic.kind {
            case .nodeBirth, .deviceBirth:
                var birth = SparkplugBirth(bornAt: message.receivedAt)
                let failure = define(into: &birth, maxDefinitions: maxReadings)
                    ?? store(birth: birth, defaultTime: payloadTime)
                    ?? { online(true, at: payloadTime); return check(maxReadings: maxReadings) }()
                if let failure {
                    // The node has moved on to aliases we refused: resolving its data through
                    // the previous birth could name them wrongly. Forget it and ask again.
                    state.births[deviceID] = nil
                    if topic.kind == .nodeBirth { state.nodes[nodeID]?.bdSeq = nil }
                    rebirthReason = "birth refused (\(failure.0.rawValue))"
                    return failure
                }
                guard state.admits(device: deviceID) else {
                    rebirthReason = "too many devices"
                    return (.unknownAlias, "more than \(SparkplugSessions.maxTracked) devices born: \(deviceID) is not tracked")
                }
                state.install(birth, for: deviceID)
                if topic.kind == .nodeBirth { state.nodes[nodeID]?.bdSeq = bdSeq }
            case .nodeDeath:
                if let known = state.nodes[nodeID]?.bdSeq, let seq = bdSeq, seq != known {
                    tally.add(.staleDeath)
                    return nil
                }
                let birth = state.birth(of: deviceID, receivedAt: message.receivedAt)
                if let failure = store(birth: birth, defaultTime: payloadTime, skipping: "bdSeq") { return failure }
                online(false, at: message.receivedAt)
                if let failure = check(maxReadings: maxReadings) { return failure }
                state.nodes[nodeID]?.lastSeq = nil
            case .deviceDeath:
                let birth = state.birth(of: deviceID, receivedAt: message.receivedAt)
                if let failure = store(birth: birth, defaultTime: payloadTime) { return failure }
                online(false, at: message.receivedAt)
                if let failure = check(maxReadings: maxReadings) { return failure }
            case .nodeData, .deviceData:
                let birth = state.birth(of: deviceID, receivedAt: message.receivedAt)
                if let failure = store(birth: birth, defaultTime: payloadTime) { return failure }
                if readings.isEmpty && texts.isEmpty {
                    return (.noReadings, payload.metrics.isEmpty ? "no metrics" : "only ignored metrics")
                }
                if let failure = check(maxReadings: maxReadings) { return failure }
            case .nodeCommand, .deviceCommand:
                break  // filtered out before decoding
            }
            return nil
        }

        /// Births and data carry `seq`, one counter per edge node (node and device messages
        /// alike), which must be the previous + 1 mod 256; NBIRTH starts it, NDEATH has none.
        private mutating func checkSequence(_ node: inout SparkplugSessions.Node, replaying: Bool) {
            guard topic.kind != .nodeDeath, !replaying else { return }
            let seq = payload.hasSeq ? payload.seq : nil
            // Kept mod 256: a hostile seq of 2^64 - 1 must not overflow the next check.
            defer { node.lastSeq = seq.map { $0 % 256 } }
            guard topic.kind != .nodeBirth, let last = node.lastSeq, let seq else { return }
            let expected = (last + 1) % 256
            if seq != expected { rebirthReason = "sequence gap: expected \(expected), got \(seq)" }
        }

        /// The `bdSeq` metric of an NBIRTH or NDEATH.
        private var bdSeq: UInt64? {
            guard let metric = payload.metrics.first(where: { $0.name == "bdSeq" }) else { return nil }
            switch metric.value {
            case .intValue(let v)?: return UInt64(v)
            case .longValue(let v)?: return v
            default: return nil
            }
        }

        /// A birth's definitions: every metric needs a name and a datatype; aliases must fit `bigint`.
        private mutating func define(into birth: inout SparkplugBirth, maxDefinitions: Int) -> (RejectReason, String)? {
            guard payload.metrics.count <= maxDefinitions else {
                return (.tooManyReadings, "\(payload.metrics.count) metrics defined (payload.max_readings is \(maxDefinitions))")
            }
            for (i, metric) in payload.metrics.enumerated() {
                guard metric.hasName, metric.hasDatatype else {
                    return (.invalidSparkplug, "birth metric \(i) has no \(metric.hasName ? "datatype" : "name")")
                }
                if let why = PayloadChecks.unstorable(metric.name) { return (.invalidField, "birth metric \(i): \(why)") }
                let alias = metric.hasAlias ? metric.alias : nil
                if let alias, alias > UInt64(Int64.max) {
                    return (.invalidSparkplug, "birth metric \(metric.name.prefix(64)): alias \(alias) over 2^63 - 1")
                }
                birth.define(name: metric.name, alias: alias, datatype: metric.datatype)
                // A name given twice: the last one counts, here as in `birth`.
                definitions.removeAll { $0.name == metric.name }
                definitions.append(MetricDefinition(deviceID: deviceID, name: metric.name, alias: alias,
                                                    datatype: Int32(bitPattern: metric.datatype),
                                                    bornAt: message.receivedAt))
            }
            return nil
        }

        /// Every metric's value as a reading, resolved through `birth`; an alias (or a name
        /// without datatype) `birth` does not define rejects the whole message `unknown_alias`.
        private mutating func store(birth: SparkplugBirth?, defaultTime: Int64, skipping skipped: String? = nil)
            -> (RejectReason, String)? {
            var unknown: [String] = []
            for metric in payload.metrics {
                if let skipped, metric.hasName, metric.name == skipped { continue }
                var name: String
                var datatype: UInt32?
                if metric.hasName {
                    name = metric.name
                    datatype = metric.hasDatatype ? metric.datatype : birth?.byName[name]
                } else if metric.hasAlias, let known = birth?.byAlias[metric.alias] {
                    name = known.name
                    datatype = metric.hasDatatype ? metric.datatype : known.datatype
                } else if metric.hasAlias {
                    unknown.append("alias \(metric.alias)")
                    continue
                } else {
                    return (.invalidSparkplug, "a metric with neither name nor alias")
                }
                guard let datatype else {
                    unknown.append("\(name.prefix(64)) (no datatype)")
                    continue
                }
                if metric.hasIsNull && metric.isNull {
                    tally.add(.null)
                    continue
                }
                if metric.hasIsTransient && metric.isTransient {
                    tally.add(.transient)
                    continue
                }
                guard !metric.hasTimestamp || metric.timestamp <= SparkplugDecoder.maxMilliseconds else {
                    return (.badTimestamp, "metric \(name.prefix(64)): timestamp \(metric.timestamp) ms is beyond year 9999")
                }
                let time = metric.hasTimestamp ? Int64(metric.timestamp) * 1000 : defaultTime
                switch SparkplugDataType.value(of: metric, as: datatype) {
                case .number(let value):
                    guard value.isFinite else { return (.nonFinite, "metric \(name.prefix(64)) is not finite") }
                    readings.append(Reading(time: time, deviceID: deviceID, metric: name, value: value, source: message))
                case .text(let value):
                    if storeStrings {
                        texts.append(TextReading(time: time, deviceID: deviceID, metric: name, value: value, source: message))
                    } else {
                        tally.add(.string)
                    }
                case .ignored(let kind):
                    tally.add(kind)
                case .missing:
                    tally.add(.null)
                case .mismatch(let why):
                    return (.invalidSparkplug, "metric \(name.prefix(64)): \(why) (datatype \(datatype))")
                }
            }
            guard unknown.isEmpty else {
                rebirthReason = "unknown alias"
                let more = unknown.count > 3 ? " and \(unknown.count - 3) more" : ""
                let known = birth == nil ? "no birth of \(deviceID) is known" : "not in the last birth of \(deviceID)"
                return (.unknownAlias, "\(unknown.prefix(3).joined(separator: ", "))\(more): \(known)")
            }
            return nil
        }

        /// `sparkplug.online` for the message's node or device.
        private mutating func online(_ on: Bool, at time: Int64) {
            readings.append(Reading(time: time, deviceID: deviceID, metric: SparkplugDecoder.onlineMetric,
                                    value: on ? 1 : 0, source: message))
        }

        /// `payload.max_readings`, then names and texts PostgreSQL can store.
        private func check(maxReadings: Int) -> (RejectReason, String)? {
            let count = readings.count + texts.count
            if count > maxReadings { return (.tooManyReadings, "\(count) readings (payload.max_readings is \(maxReadings))") }
            if let why = PayloadChecks.unstorableRow(readings, from: 0, texts, from: 0) { return (.invalidField, why) }
            return nil
        }
    }
}
