import Concurrency
import IngestModel
import MQTTSource
import Observability

/// The benchmark's yardstick: a libmosquitto subscriber that does nothing but count, so the
/// daemon's throughput can be stated as a fraction of what the broker can deliver to one
/// client on the same machine in the same run (`iot-loadgen --count-only`).
final class BareSubscriber: MQTTClientEvents, @unchecked Sendable {
    // @unchecked: counters are guarded by `lock`; `client` is used through libmosquitto's
    // thread-safe calls only.
    private let lock = ConditionLock()
    private var received = 0
    private var first = 0.0
    private var last = 0.0
    private var subscribed = false
    private let client: MosquittoClient
    private let topic: String
    private let qos: Int32

    init(host: String, port: Int, topic: String, qos: Int) throws {
        self.topic = topic
        self.qos = Int32(qos)
        do {
            client = try MosquittoClient(.init(clientID: nil, cleanSession: true))
        } catch {
            throw LoadgenError(.client, error.description)
        }
        client.setEvents(self)
        do {
            try client.connect(host: host, port: port, keepaliveSeconds: 30)
            try client.startLoop()
        } catch {
            throw LoadgenError(.connect, "cannot connect to \(host):\(port): \(error.reason)")
        }
    }

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
        client.disconnect()
        client.stopLoop(force: false)
    }

    func connected(code: Int32) {
        guard code == 0 else { return }
        do {
            try client.subscribe(topic, qos: Int(qos))
        } catch {
            Console.error("iot-loadgen: \(error)")
        }
    }

    func subscribed(granted: [Int32]) {
        lock.withLock { subscribed = true }
        lock.broadcast()
    }

    func received(topic: UnsafePointer<CChar>, payload: UnsafeRawPointer?, length: Int) {
        let now = Timestamp.monotonicSeconds()
        lock.withLock {
            if received == 0 { first = now }
            received += 1
            last = now
            if received % 1024 == 0 { lock.broadcast() }
        }
    }
}
