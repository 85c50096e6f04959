import Concurrency
import IngestConfig
import IngestModel
import Logging
import Synchronization

/// The MQTT side of the pipeline: one libmosquitto client whose network thread (started by
/// `mosquitto_loop_start`, owned by libmosquitto, never a Swift cooperative thread) reads
/// messages and hands them to the pipeline's `MessageInlet`.
///
/// libmosquitto does the reconnecting (exponential backoff between `reconnect_min_s` and
/// `reconnect_max_s`); we re-subscribe in every connect callback, so a broker restart or a
/// network cut heals without us. With `clean_session: false` and a stable client id the
/// broker keeps our subscription and queues QoS >= 1 messages while we are away.
///
/// It is also the daemon's one publisher (`ControlPublisher`): Sparkplug B rebirth requests,
/// and, with `sparkplug.host_id`, the Sparkplug 3.0 host STATE — its death set as the will,
/// its birth published retained after each connection's first granted subscription, its
/// death published explicitly when `stop()` begins.
public final class MQTTSubscriber: MessageSource, ControlPublisher {
    /// What `/ready` reports for the `mqtt` component (SPEC 9), read without touching the broker.
    public struct Status: Sendable {
        /// A CONNACK accepted the connection and it has not been lost since.
        public var connected: Bool
        /// A SUBACK granted a subscription since the last connect (cleared on disconnect).
        public var subscribed: Bool
        /// `host:port`, as configured.
        public var broker: String
        /// The topic filters subscribed to (every route's, `IngestConfiguration.subscriptions`).
        public var subscriptions: [String]
    }

    private struct State {
        var connectedOnce = false
        var connected = false
        var subscribed = false
        var stopping = false
    }

    /// What the client's events reach: the subscriber for connection events, the receiver
    /// for messages (no lock per message). Set before the network thread starts, kept until
    /// the subscriber is gone.
    final class Context: MQTTClientEvents {
        unowned let subscriber: MQTTSubscriber
        let receiver: MessageReceiver

        init(subscriber: MQTTSubscriber, inlet: any MessageInlet) {
            self.subscriber = subscriber
            receiver = MessageReceiver(inlet: inlet)
        }

        func connected(code: Int32) { subscriber.didConnect(code: code) }
        func disconnected(code: Int32) { subscriber.didDisconnect(code: code) }
        func subscribed(granted: [Int32]) { subscriber.didSubscribe(granted: granted) }
        func received(topic: UnsafePointer<CChar>, payload: UnsafeRawPointer?, length: Int) {
            receiver.receive(topic: topic, payload: payload, length: length)
        }
    }

    private let client: any MQTTClient
    private let settings: IngestConfiguration.MQTT
    /// `spBv1.0/STATE/<host_id>` and the timestamp its birth and will share (Sparkplug 3.0:
    /// the birth carries the will's timestamp), when `sparkplug.host_id` is set.
    private let hostState: (topic: String, timestamp: Int64)?
    /// Every route's filters, shared-group prefix applied (`IngestConfiguration.subscriptions`).
    private let subscriptions: [String]
    private let stats: IngestStats
    private let logger: Logger
    private let state = Locked(State())
    private let context = Locked<Context?>(nil)
    /// Fires on the first granted subscription: the daemon logs `ingest_started` after it
    /// (SPEC 11 order), however long the broker takes to appear.
    public let firstSubscription = Latch()

    /// Creates the client (libmosquitto's unless the tests give a fake) and sets its options;
    /// nothing connects before `start`.
    public init(settings: IngestConfiguration.MQTT, subscriptions: [String], stats: IngestStats, logger: Logger,
                hostStateTopic: String? = nil, client: (any MQTTClient)? = nil) throws(MQTTError) {
        self.settings = settings
        self.subscriptions = subscriptions
        self.stats = stats
        self.logger = logger
        hostState = hostStateTopic.map { ($0, Timestamp.now() / 1000) }
        if let client {
            self.client = client
        } else {
            var options = MosquittoClient.Options(clientID: settings.clientID, cleanSession: settings.cleanSession)
            options.reconnectDelay = settings.reconnectMinSeconds...max(settings.reconnectMinSeconds,
                                                                         settings.reconnectMaxSeconds)
            options.username = settings.username
            options.password = settings.password
            options.caFile = settings.tls.caFile
            options.certFile = settings.tls.certFile
            options.keyFile = settings.tls.keyFile
            options.tlsInsecure = settings.tls.insecure
            if let hostState {
                options.will = (hostState.topic, Self.statePayload(online: false, timestamp: hostState.timestamp), 1)
            }
            self.client = try MosquittoClient(options)
        }
    }

    /// `mqtt.host:mqtt.port`, as the log lines and /ready name the broker.
    public var broker: String { "\(settings.host):\(settings.port)" }

    /// The connection as the events last left it; takes a lock, never the broker's time. Any thread.
    public var status: Status {
        state.withLock { s in
            Status(connected: s.connected, subscribed: s.subscribed, broker: broker,
                   subscriptions: subscriptions)
        }
    }

    /// Starts libmosquitto's network thread and an asynchronous connect, delivering every
    /// message to `inlet`. Returns at once; a broker that is not there yet is retried with
    /// backoff.
    public func start(delivering inlet: any MessageInlet) throws {
        let context = Context(subscriber: self, inlet: inlet)
        self.context.withLock { $0 = context }
        client.setEvents(context)
        do throws(MQTTError) {
            try connect()
        } catch {
            // Not fatal, but a client whose first connect failed stays in its "new" state, and a
            // network thread started after that never reconnects (eclipse-mosquitto/mosquitto
            // #1903); started first, with the connect asked again, it keeps retrying. (Not the
            // order for every start: with it, a stop under load left several hundred more
            // messages un-acknowledged for the broker to redeliver.)
            logger.warning("mqtt_connect_failed", metadata: ["broker": .string(broker), "error": .string(error.reason)])
            try client.startLoop()
            try? connect()
            return
        }
        try client.startLoop()
    }

    private func connect() throws(MQTTError) {
        try client.connect(host: settings.host, port: settings.port, keepaliveSeconds: settings.keepaliveSeconds)
    }

    /// Sends DISCONNECT and joins the network thread: after this returns, no callback runs.
    /// Blocking: call it from a thread the daemon owns.
    public func stop() {
        let alreadyStopping = state.withLock { s in
            defer { s.stopping = true }
            return s.stopping
        }
        guard !alreadyStopping else { return }
        // Sparkplug 3.0: the host's death before the DISCONNECT (which suppresses the will).
        publishHostState(online: false)
        client.disconnect()
        // If we were never connected the loop thread is sleeping between reconnect attempts:
        // force wakes it; otherwise let it write the DISCONNECT and exit by itself.
        let connected = state.withLock { $0.connected }
        client.stopLoop(force: !connected)
        state.withLock { s in
            s.connected = false
            s.subscribed = false
        }
    }

    // MARK: - Called on libmosquitto's thread

    func didConnect(code: Int32) {
        guard code == 0 else {
            logger.warning("mqtt_connect_refused", metadata: [
                "broker": .string(broker), "code": .stringConvertible(Int(code)),
                "reason": .string(MQTTError.connackReason(code)),
            ])
            return
        }
        let again = state.withLock { s in
            defer { s.connectedOnce = true; s.connected = true }
            return s.connectedOnce
        }
        if again {
            stats.mqttReconnects.add(1, ordering: .relaxed)
            logger.info("mqtt_reconnected", metadata: ["broker": .string(broker)])
        } else {
            logger.info("mqtt_connected", metadata: [
                "broker": .string(broker), "client_id": .string(settings.clientID),
                "clean_session": .stringConvertible(settings.cleanSession),
            ])
        }
        for topic in subscriptions {
            do throws(MQTTError) {
                try client.subscribe(topic, qos: settings.qos)
            } catch {
                logger.error("mqtt_subscribe_failed", metadata: ["topic": .string(topic), "error": .string(error.reason)])
            }
        }
    }

    func didSubscribe(granted: [Int32]) {
        if granted.contains(0x80) {
            logger.error("mqtt_subscribe_refused", metadata: ["topics": .array(subscriptions.map { .string($0) })])
            return
        }
        let first = state.withLock { s in
            defer { s.subscribed = true }
            return !s.subscribed
        }
        if first {
            logger.info("subscribed", metadata: [
                "topics": .array(subscriptions.map { .string($0) }),
                "qos": .stringConvertible(settings.qos),
            ])
            publishHostState(online: true)
            firstSubscription.fire()
        }
    }

    // MARK: - Publishing

    /// Queues one message on the subscriber's connection (`ControlPublisher`); false when
    /// there is no connection or libmosquitto refuses it. Never waits for the broker.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) -> Bool {
        guard state.withLock({ $0.connected }) else { return false }
        let result = payload.withUnsafeBytes { bytes in
            Result { () throws(MQTTError) in try client.publish(topic: topic, payload: bytes, qos: qos, retain: retain) }
        }
        do throws(MQTTError) {
            try result.get()
            return true
        } catch {
            logger.warning("mqtt_publish_failed", metadata: ["topic": .string(topic), "error": .string(error.reason)])
            return false
        }
    }

    /// `{"online":<bool>,"timestamp":<ms>}`: the Sparkplug 3.0 STATE payload.
    static func statePayload(online: Bool, timestamp: Int64) -> [UInt8] {
        Array("{\"online\":\(online),\"timestamp\":\(timestamp)}".utf8)
    }

    /// Publishes the host's STATE birth or death (retained, QoS 1), when `sparkplug.host_id` is set.
    private func publishHostState(online: Bool) {
        guard let hostState else { return }
        let sent = publish(topic: hostState.topic, payload: Self.statePayload(online: online, timestamp: hostState.timestamp),
                           qos: 1, retain: true)
        logger.info("sparkplug_state_published", metadata: [
            "topic": .string(hostState.topic), "online": .stringConvertible(online), "sent": .stringConvertible(sent),
        ])
    }

    func didDisconnect(code: Int32) {
        let stopping = state.withLock { s in
            s.connected = false
            s.subscribed = false
            return s.stopping
        }
        guard !stopping, code != 0 else { return }
        logger.warning("mqtt_connection_lost", metadata: [
            "broker": .string(broker), "error": .string(MQTTError(operation: "connection", code: code).reason),
        ])
    }
}
