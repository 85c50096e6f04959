import CMosquitto
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
public final class MQTTSubscriber: MessageSource {
    /// What `/ready` reports for the `mqtt` component (SPEC 9), read without touching the broker.
    public struct Status: Sendable {
        public var connected: Bool
        public var subscribed: Bool
        public var broker: String
        public var subscriptions: [String]
    }

    private struct State {
        var connectedOnce = false
        var connected = false
        var subscribed = false
        var stopping = false
    }

    /// What libmosquitto's callbacks reach through the client's user-data pointer: the
    /// subscriber for connection events, the receiver for messages (one pointer hop per message,
    /// no lock). Set before the network thread starts, kept until the subscriber is gone.
    final class Context: Sendable {
        unowned let subscriber: MQTTSubscriber
        let receiver: MessageReceiver

        init(subscriber: MQTTSubscriber, inlet: any MessageInlet) {
            self.subscriber = subscriber
            receiver = MessageReceiver(inlet: inlet)
        }
    }

    // The client handle: created in init, destroyed in deinit; libmosquitto's API is
    // thread-safe for the calls we make from other threads (disconnect, loop_stop).
    private nonisolated(unsafe) let mosq: OpaquePointer
    private let settings: IngestConfiguration.MQTT
    private let stats: IngestStats
    private let logger: Logger
    private let state = Locked(State())
    private let context = Locked<Context?>(nil)
    /// Fires on the first granted subscription: the daemon logs `ingest_started` after it
    /// (SPEC 11 order), however long the broker takes to appear.
    public let firstSubscription = Latch()

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    /// Creates the client and sets its options; nothing connects before `start`.
    public init(settings: IngestConfiguration.MQTT, stats: IngestStats, logger: Logger) throws(MQTTError) {
        _ = Self.libraryInitialised
        self.settings = settings
        self.stats = stats
        self.logger = logger
        guard let handle = mosquitto_new(settings.clientID, settings.cleanSession, nil) else {
            throw MQTTError(operation: "mosquitto_new", code: MOSQ_ERR_NOMEM.rawValue)
        }
        mosq = handle
        mosquitto_connect_callback_set(mosq, mosquittoOnConnect)
        mosquitto_disconnect_callback_set(mosq, mosquittoOnDisconnect)
        mosquitto_subscribe_callback_set(mosq, mosquittoOnSubscribe)
        mosquitto_message_callback_set(mosq, mosquittoOnMessage)
        try MQTTError.check(
            mosquitto_reconnect_delay_set(mosq, UInt32(settings.reconnectMinSeconds),
                                          UInt32(settings.reconnectMaxSeconds), true),
            "mosquitto_reconnect_delay_set")
        if let user = settings.username {
            try MQTTError.check(mosquitto_username_pw_set(mosq, user, settings.password), "mosquitto_username_pw_set")
        }
        if let ca = settings.tls.caFile {
            try MQTTError.check(
                mosquitto_tls_set(mosq, ca, nil, settings.tls.certFile, settings.tls.keyFile, nil), "mosquitto_tls_set")
            try MQTTError.check(mosquitto_tls_insecure_set(mosq, settings.tls.insecure), "mosquitto_tls_insecure_set")
        }
    }

    deinit {
        mosquitto_destroy(mosq)
    }

    public var broker: String { "\(settings.host):\(settings.port)" }

    public var status: Status {
        state.withLock { s in
            Status(connected: s.connected, subscribed: s.subscribed, broker: broker,
                   subscriptions: settings.subscriptions)
        }
    }

    /// Starts libmosquitto's network thread and an asynchronous connect, delivering every
    /// message to `inlet`. Returns at once; a broker that is not there yet is retried with
    /// backoff.
    public func start(delivering inlet: any MessageInlet) throws {
        let context = Context(subscriber: self, inlet: inlet)
        self.context.withLock { $0 = context }
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(context).toOpaque())
        let rc = mosquitto_connect_async(mosq, settings.host, Int32(settings.port), Int32(settings.keepaliveSeconds))
        guard rc != MOSQ_ERR_SUCCESS.rawValue else {
            try MQTTError.check(mosquitto_loop_start(mosq), "mosquitto_loop_start")
            return
        }
        // Not fatal, but a client whose first connect failed stays in its "new" state, and a
        // network thread started after that never reconnects (eclipse-mosquitto/mosquitto
        // #1903); started first, with the connect asked again, it keeps retrying. (Not the
        // order for every start: with it, a stop under load left several hundred more
        // messages un-acknowledged for the broker to redeliver.)
        logger.warning("mqtt_connect_failed", metadata: [
            "broker": .string(broker), "error": .string(String(cString: mosquitto_strerror(rc))),
        ])
        try MQTTError.check(mosquitto_loop_start(mosq), "mosquitto_loop_start")
        _ = mosquitto_connect_async(mosq, settings.host, Int32(settings.port), Int32(settings.keepaliveSeconds))
    }

    /// Sends DISCONNECT and joins the network thread: after this returns, no callback runs.
    /// Blocking: call it from a thread the daemon owns.
    public func stop() {
        let alreadyStopping = state.withLock { s in
            defer { s.stopping = true }
            return s.stopping
        }
        guard !alreadyStopping else { return }
        mosquitto_disconnect(mosq)
        // If we were never connected the loop thread is sleeping between reconnect attempts:
        // force wakes it; otherwise let it write the DISCONNECT and exit by itself.
        let connected = state.withLock { $0.connected }
        mosquitto_loop_stop(mosq, !connected)
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
                "reason": .string(String(cString: mosquitto_connack_string(code))),
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
        for topic in settings.subscriptions {
            let rc = mosquitto_subscribe(mosq, nil, topic, Int32(settings.qos))
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                logger.error("mqtt_subscribe_failed", metadata: [
                    "topic": .string(topic), "error": .string(String(cString: mosquitto_strerror(rc))),
                ])
            }
        }
    }

    func didSubscribe(granted: [Int32]) {
        if granted.contains(0x80) {
            logger.error("mqtt_subscribe_refused", metadata: ["topics": .array(settings.subscriptions.map { .string($0) })])
            return
        }
        let first = state.withLock { s in
            defer { s.subscribed = true }
            return !s.subscribed
        }
        if first {
            logger.info("subscribed", metadata: [
                "topics": .array(settings.subscriptions.map { .string($0) }),
                "qos": .stringConvertible(settings.qos),
            ])
            firstSubscription.fire()
        }
    }

    func didDisconnect(code: Int32) {
        let stopping = state.withLock { s in
            s.connected = false
            s.subscribed = false
            return s.stopping
        }
        guard !stopping, code != 0 else { return }
        logger.warning("mqtt_connection_lost", metadata: [
            "broker": .string(broker), "error": .string(String(cString: mosquitto_strerror(code))),
        ])
    }
}
