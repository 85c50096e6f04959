import CMosquitto
import Concurrency

/// One libmosquitto client handle, every call's return code checked: the only place the
/// daemon and the load generator touch libmosquitto's client API.
public final class MosquittoClient: MQTTClient {
    /// The client's options, set once before it connects.
    public struct Options: Sendable {
        /// The MQTT client id (nil: libmosquitto makes one; needs `cleanSession`).
        public var clientID: String?
        /// Whether the broker forgets the session (subscriptions, queued messages) on disconnect.
        public var cleanSession: Bool
        /// libmosquitto's reconnect backoff, seconds (exponential between the two).
        public var reconnectDelay: ClosedRange<Int> = 1...2
        /// Credentials, when the broker wants them.
        public var username: String?
        /// With `username`; never logged.
        public var password: String?
        /// TLS: the CA file (nil: plain TCP), an optional client certificate and key.
        public var caFile: String?
        /// A client certificate file, with `keyFile`; used only with `caFile`.
        public var certFile: String?
        /// The client certificate's private key file; used only with `caFile`.
        public var keyFile: String?
        /// Skips the broker host name check (tests with a self-signed certificate only).
        public var tlsInsecure = false
        /// QoS > 0 messages in flight at once (0: libmosquitto's default).
        public var maxInflight = 0
        /// The will: what the broker publishes for us if the connection ends without a
        /// DISCONNECT (Sparkplug's STATE death). Retained.
        public var will: (topic: String, payload: [UInt8], qos: Int)?

        /// Options for a client `clientID`; the rest keep their defaults.
        public init(clientID: String?, cleanSession: Bool) {
            self.clientID = clientID
            self.cleanSession = cleanSession
        }
    }

    // The handle: created in init, destroyed in deinit; libmosquitto's calls we make from
    // other threads (publish, disconnect, loop_stop) are thread-safe (mosquitto.h).
    private nonisolated(unsafe) let mosq: OpaquePointer
    /// What the C callbacks reach through the user-data pointer; kept until the handle goes.
    private let events = Locked<EventsBox?>(nil)

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    /// Creates the handle and sets `options`; nothing connects yet.
    public init(_ options: Options) throws(MQTTError) {
        _ = Self.libraryInitialised
        guard let handle = mosquitto_new(options.clientID, options.cleanSession, nil) else {
            throw MQTTError(operation: "mosquitto_new", code: MOSQ_ERR_NOMEM.rawValue)
        }
        mosq = handle
        mosquitto_connect_callback_set(mosq, mosquittoOnConnect)
        mosquitto_disconnect_callback_set(mosq, mosquittoOnDisconnect)
        mosquitto_subscribe_callback_set(mosq, mosquittoOnSubscribe)
        mosquitto_publish_callback_set(mosq, mosquittoOnPublish)
        mosquitto_message_callback_set(mosq, mosquittoOnMessage)
        do throws(MQTTError) {
            try MQTTError.check(
                mosquitto_reconnect_delay_set(mosq, UInt32(options.reconnectDelay.lowerBound),
                                              UInt32(options.reconnectDelay.upperBound), true),
                "mosquitto_reconnect_delay_set")
            if options.maxInflight > 0 {
                try MQTTError.check(mosquitto_max_inflight_messages_set(mosq, UInt32(options.maxInflight)),
                                    "mosquitto_max_inflight_messages_set")
            }
            if let will = options.will {
                let code = will.payload.withUnsafeBytes { bytes in
                    mosquitto_will_set(mosq, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos), true)
                }
                try MQTTError.check(code, "mosquitto_will_set")
            }
            if let user = options.username {
                try MQTTError.check(mosquitto_username_pw_set(mosq, user, options.password), "mosquitto_username_pw_set")
            }
            if let ca = options.caFile {
                try MQTTError.check(mosquitto_tls_set(mosq, ca, nil, options.certFile, options.keyFile, nil),
                                    "mosquitto_tls_set")
                try MQTTError.check(mosquitto_tls_insecure_set(mosq, options.tlsInsecure), "mosquitto_tls_insecure_set")
            }
        } catch {
            mosquitto_destroy(mosq)
            throw error
        }
    }

    deinit {
        mosquitto_destroy(mosq)
    }

    /// Hands libmosquitto a pointer to a box this client keeps; call it before `startLoop`, since a
    /// later call frees the box the network thread may be using.
    public func setEvents(_ events: any MQTTClientEvents) {
        let box = EventsBox(events)
        self.events.withLock { $0 = box }
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(box).toOpaque())
    }

    /// `mosquitto_connect_async`: throws what fails at once (a host that does not resolve);
    /// libmosquitto's loop reconnects after that.
    public func connect(host: String, port: Int, keepaliveSeconds: Int) throws(MQTTError) {
        try MQTTError.check(mosquitto_connect_async(mosq, host, Int32(port), Int32(keepaliveSeconds)),
                            "mosquitto_connect_async")
    }

    /// `mosquitto_loop_start`: the thread is libmosquitto's, and so are its reconnects (`reconnectDelay`).
    public func startLoop() throws(MQTTError) {
        try MQTTError.check(mosquitto_loop_start(mosq), "mosquitto_loop_start")
    }

    /// `mosquitto_subscribe`: queues the SUBSCRIBE for the network thread and returns.
    public func subscribe(_ topic: String, qos: Int) throws(MQTTError) {
        try MQTTError.check(mosquitto_subscribe(mosq, nil, topic, Int32(qos)), "mosquitto_subscribe")
    }

    /// `mosquitto_publish`; libmosquitto copies `payload` before it returns.
    public func publish(topic: String, payload: UnsafeRawBufferPointer, qos: Int, retain: Bool) throws(MQTTError) {
        try MQTTError.check(
            mosquitto_publish(mosq, nil, topic, Int32(payload.count), payload.baseAddress, Int32(qos), retain),
            "mosquitto_publish")
    }

    /// `mosquitto_disconnect`; never connected is not an error (nothing to undo).
    public func disconnect() {
        // MOSQ_ERR_NO_CONN (never connected) is the only failure, and nothing to undo.
        _ = mosquitto_disconnect(mosq)
    }

    /// `mosquitto_loop_stop`; does nothing when no loop runs.
    public func stopLoop(force: Bool) {
        // Fails only when no loop runs: then there is nothing to join.
        _ = mosquitto_loop_stop(mosq, force)
    }
}

/// The events' owner as the C callbacks see it: a class, so one pointer reaches it.
final class EventsBox: Sendable {
    let events: any MQTTClientEvents
    init(_ events: any MQTTClientEvents) { self.events = events }
}
