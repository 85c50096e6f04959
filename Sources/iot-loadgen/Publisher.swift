#if canImport(Glibc)
import Glibc
#endif
import Concurrency
import IngestModel
import MQTTSource

/// A libmosquitto publisher that keeps at most `window` QoS>0 messages unacknowledged, so
/// memory stays flat however fast we publish, and counts acknowledgements (PUBACK/PUBCOMP;
/// for QoS 0, "written to the socket").
final class Publisher: MQTTClientEvents, @unchecked Sendable {
    // @unchecked: the counters are guarded by `lock`; `client` is created in init and used
    // through libmosquitto's thread-safe publish/disconnect calls.
    private let lock = ConditionLock()
    private var acked = 0
    private var connected = false
    private(set) var published = 0
    private let client: MosquittoClient
    let qos: Int32
    let window: Int

    init(host: String, port: Int, clientID: String, qos: Int, window: Int = 1000,
         username: String? = nil, password: String? = nil) throws {
        self.qos = Int32(qos)
        self.window = window
        // clean_session false: unacknowledged messages are resent after a reconnect.
        var options = MosquittoClient.Options(clientID: clientID, cleanSession: false)
        options.maxInflight = window
        options.username = username
        options.password = password
        do {
            client = try MosquittoClient(options)
        } catch {
            throw LoadgenError(.client, error.description)
        }
        client.setEvents(self)
        do {
            try client.connect(host: host, port: port, keepaliveSeconds: 30)
        } catch where !error.isSystemError {
            throw LoadgenError(.connect, "connect: \(error.reason)")
        } catch {
            // The broker is not listening yet: the network thread keeps trying.
        }
        do {
            try client.startLoop()
        } catch {
            throw LoadgenError(.loop, error.description)
        }
    }

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
            let failure = payload.withUnsafeBytes { bytes -> MQTTError? in
                do throws(MQTTError) {
                    try client.publish(topic: topic, payload: bytes, qos: Int(qos), retain: false)
                    return nil
                } catch {
                    return error
                }
            }
            if failure == nil { break }
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
        client.disconnect()
        client.stopLoop(force: false)
    }

    func published(mid: Int32) {
        let wake = lock.withLock {
            acked += 1
            let outstanding = published - acked
            return outstanding == lowWater || outstanding <= 0
        }
        if wake { lock.broadcast() }
    }

    func connected(code: Int32) {
        lock.withLock { connected = code == 0 }
        lock.broadcast()
    }

    func disconnected(code: Int32) {
        lock.withLock { connected = false }
    }
}
