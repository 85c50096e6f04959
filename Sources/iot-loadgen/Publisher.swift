#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Concurrency
import IngestModel

/// A libmosquitto publisher that keeps at most `window` QoS>0 messages unacknowledged, so
/// memory stays flat however fast we publish, and counts acknowledgements (PUBACK/PUBCOMP;
/// for QoS 0, "written to the socket").
final class Publisher: @unchecked Sendable {
    // @unchecked: the counters are guarded by `lock`; `mosq` is created in init and used
    // through libmosquitto's thread-safe publish/disconnect calls.
    private let lock = ConditionLock()
    private var acked = 0
    private var connected = false
    private(set) var published = 0
    private let mosq: OpaquePointer
    let qos: Int32
    let window: Int

    init(host: String, port: Int, clientID: String, qos: Int, window: Int = 1000,
         username: String? = nil, password: String? = nil) throws {
        mosquitto_lib_init()
        self.qos = Int32(qos)
        self.window = window
        // clean_session false: unacknowledged messages are resent after a reconnect.
        guard let m = mosquitto_new(clientID, false, nil) else { throw LoadgenError(.client, "mosquitto_new failed") }
        mosq = m
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_publish_callback_set(mosq, publisherOnPublish)
        mosquitto_connect_callback_set(mosq, publisherOnConnect)
        mosquitto_disconnect_callback_set(mosq, publisherOnDisconnect)
        mosquitto_max_inflight_messages_set(mosq, UInt32(window))
        mosquitto_reconnect_delay_set(mosq, 1, 2, false)
        if let username { mosquitto_username_pw_set(mosq, username, password) }
        let rc = mosquitto_connect_async(mosq, host, Int32(port), 30)
        guard rc == MOSQ_ERR_SUCCESS.rawValue || rc == MOSQ_ERR_ERRNO.rawValue else {
            throw LoadgenError(.connect, "connect: \(String(cString: mosquitto_strerror(rc)))")
        }
        guard mosquitto_loop_start(mosq) == MOSQ_ERR_SUCCESS.rawValue else { throw LoadgenError(.loop, "loop_start failed") }
    }

    deinit { mosquitto_destroy(mosq) }

    var ackedCount: Int { lock.withLock { acked } }

    /// Waits (bounded) for the first connection.
    func waitConnected(timeout: Double) -> Bool {
        lock.withLock { lock.wait(timeout: timeout) { connected } }
    }

    /// Once the window is full, the publisher waits until it has drained to this: woken once
    /// per quarter window of acknowledgements, not per acknowledgement (a context switch per
    /// message made the publisher's CPU grow with the subscriber's slowness, and the
    /// benchmark measures the subscriber).
    private var lowWater: Int { window - max(1, window / 4) }

    /// Publishes one message, waiting for room in the window and for a connection. Returns
    /// false if `deadline` (monotonic seconds) passes first.
    func publish(topic: String, payload: [UInt8], deadline: Double) -> Bool {
        lock.lock()
        let full = qos > 0 && published - acked >= window
        while !connected || (full && published - acked > lowWater) {
            let left = deadline - Timestamp.monotonicSeconds()
            if left <= 0 { lock.unlock(); return false }
            lock.wait(seconds: min(left, 0.5))
        }
        lock.unlock()
        while true {
            let rc = payload.withUnsafeBytes { bytes in
                mosquitto_publish(mosq, nil, topic, Int32(bytes.count), bytes.baseAddress, qos, false)
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue { break }
            // Not connected right now (broker restart): wait and try again, within the deadline.
            if Timestamp.monotonicSeconds() > deadline { return false }
            usleep(50_000)
        }
        lock.withLock { published += 1 }
        return true
    }

    /// Waits (bounded) until every published message is acknowledged.
    func waitForAcks(timeout: Double) {
        _ = lock.withLock { lock.wait(timeout: timeout) { acked >= published } }
    }

    func close() {
        mosquitto_disconnect(mosq)
        mosquitto_loop_stop(mosq, false)
    }

    func didPublish() {
        let wake = lock.withLock {
            acked += 1
            let outstanding = published - acked
            return outstanding == lowWater || outstanding <= 0
        }
        if wake { lock.broadcast() }
    }

    func didConnect(_ rc: Int32) {
        lock.withLock { connected = rc == 0 }
        lock.broadcast()
    }

    func didDisconnect() {
        lock.withLock { connected = false }
    }
}
