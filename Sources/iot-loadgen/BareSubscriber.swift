import CMosquitto
import Concurrency
import IngestModel

/// The benchmark's yardstick: a libmosquitto subscriber that does nothing but count, so the
/// daemon's throughput can be stated as a fraction of what the broker can deliver to one
/// client on the same machine in the same run (`iot-loadgen --count-only`).
final class BareSubscriber: @unchecked Sendable {
    // @unchecked: counters are guarded by `lock`; `mosq` is used through libmosquitto's
    // thread-safe calls only.
    private let lock = ConditionLock()
    private var received = 0
    private var first = 0.0
    private var last = 0.0
    private var subscribed = false
    private let mosq: OpaquePointer
    private let topic: String
    private let qos: Int32

    init(host: String, port: Int, topic: String, qos: Int) throws {
        mosquitto_lib_init()
        self.topic = topic
        self.qos = Int32(qos)
        guard let m = mosquitto_new(nil, true, nil) else { throw LoadgenError(.client, "mosquitto_new failed") }
        mosq = m
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(mosq, subscriberOnConnect)
        mosquitto_subscribe_callback_set(mosq, subscriberOnSubscribe)
        mosquitto_message_callback_set(mosq, subscriberOnMessage)
        guard mosquitto_connect(mosq, host, Int32(port), 30) == MOSQ_ERR_SUCCESS.rawValue,
              mosquitto_loop_start(mosq) == MOSQ_ERR_SUCCESS.rawValue else {
            throw LoadgenError(.connect, "cannot connect to \(host):\(port)")
        }
    }

    deinit { mosquitto_destroy(mosq) }

    func waitSubscribed(timeout: Double) -> Bool {
        lock.withLock { lock.wait(timeout: timeout) { subscribed } }
    }

    /// Waits until `count` messages arrived, or `idle` seconds pass without one.
    func wait(for count: Int, idle: Double) -> (received: Int, seconds: Double) {
        lock.withLock {
            var seen = received
            var lastChange = Timestamp.monotonicSeconds()
            while received < count {
                lock.wait(seconds: 0.2)
                if received != seen {
                    seen = received
                    lastChange = Timestamp.monotonicSeconds()
                } else if Timestamp.monotonicSeconds() - lastChange > idle {
                    break
                }
            }
            return (received, last - first)
        }
    }

    func close() {
        mosquitto_disconnect(mosq)
        mosquitto_loop_stop(mosq, false)
    }

    func didConnect(_ rc: Int32) {
        guard rc == 0 else { return }
        mosquitto_subscribe(mosq, nil, topic, qos)
    }

    func didSubscribe() {
        lock.withLock { subscribed = true }
        lock.broadcast()
    }

    func didReceive() {
        let now = Timestamp.monotonicSeconds()
        lock.withLock {
            if received == 0 { first = now }
            received += 1
            last = now
            if received % 1024 == 0 { lock.broadcast() }
        }
    }
}
