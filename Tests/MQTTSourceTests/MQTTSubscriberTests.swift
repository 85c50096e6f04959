import Concurrency
import IngestConfig
import IngestModel
@testable import MQTTSource
import TestSupport
import Testing

/// The subscriber's state machine over a fake client: what it asks of the client and what
/// it logs as the connection comes, goes and comes back. The real libmosquitto client is
/// exercised against a real broker in the end-to-end suites.
@Suite struct MQTTSubscriberTests {
    /// Records the calls; the test plays the network thread by calling `events` directly.
    final class FakeClient: MQTTClient {
        let calls = Locked<[String]>([])
        let events = Locked<(any MQTTClientEvents)?>(nil)
        let refuseConnect = Locked(false)

        func setEvents(_ events: any MQTTClientEvents) { self.events.withLock { $0 = events } }
        func connect(host: String, port: Int, keepaliveSeconds: Int) throws(MQTTError) {
            calls.withLock { $0.append("connect \(host):\(port)") }
            if refuseConnect.withLock({ $0 }) { throw MQTTError(operation: "mosquitto_connect_async", code: 14) }
        }
        func startLoop() throws(MQTTError) { calls.withLock { $0.append("startLoop") } }
        func subscribe(_ topic: String, qos: Int) throws(MQTTError) {
            calls.withLock { $0.append("subscribe \(topic) \(qos)") }
        }
        func publish(topic: String, payload: UnsafeRawBufferPointer, qos: Int, retain: Bool) throws(MQTTError) {
            calls.withLock { $0.append("publish \(topic) \(String(decoding: payload, as: UTF8.self)) \(qos) \(retain)") }
        }
        func disconnect() { calls.withLock { $0.append("disconnect") } }
        func stopLoop(force: Bool) { calls.withLock { $0.append("stopLoop force=\(force)") } }

        var network: any MQTTClientEvents { events.withLock { $0 }! }
    }

    final class Inlet: MessageInlet {
        let delivered = Locked<[Message]>([])
        let payloadCopyLimit = 1024
        func deliver(_ message: Message) { delivered.withLock { $0.append(message) } }
    }

    let log = EventLog()
    let stats = IngestStats()
    let client = FakeClient()

    func subscriber(topics: String = "a/+/t,b/#", hostState: String? = nil) throws -> MQTTSubscriber {
        let configuration = try ConfigurationLoader.load(.init(environment: [:], overrides: [
            ("database.url", "postgres://unused/unused"), ("mqtt.topics", topics), ("mqtt.client_id", "c1"),
        ]))
        return try MQTTSubscriber(settings: configuration.mqtt, subscriptions: configuration.subscriptions, stats: stats,
                                  logger: log.logger, hostStateTopic: hostState, client: client)
    }

    /// Sparkplug 3.0 host STATE: the birth after each connection's first granted subscription
    /// (retained, QoS 1, the will's timestamp), the death before the DISCONNECT; nothing is
    /// published while not connected.
    @Test func theHostStateIsBornOnEverySubscriptionAndDiesBeforeTheDisconnect() throws {
        let s = try subscriber(topics: "spBv1.0/#", hostState: "spBv1.0/STATE/h1")
        try s.start(delivering: Inlet())
        #expect(!s.publish(topic: "x", payload: [1], qos: 0, retain: false), "not connected yet")
        client.network.connected(code: 0)
        client.network.subscribed(granted: [1])
        let births = client.calls.withLock { $0 }.filter { $0.hasPrefix("publish ") }
        #expect(births.count == 1)
        let birth = try #require(births.first)
        #expect(birth.hasPrefix(#"publish spBv1.0/STATE/h1 {"online":true,"timestamp":"#) && birth.hasSuffix("} 1 true"))
        client.network.disconnected(code: 7)
        client.network.connected(code: 0)
        client.network.subscribed(granted: [1])
        #expect(client.calls.withLock { $0 }.filter { $0.hasPrefix("publish ") } == [birth, birth], "the same timestamp again")
        s.stop()
        let calls = client.calls.withLock { $0 }
        let death = try #require(calls.firstIndex { $0.hasPrefix(#"publish spBv1.0/STATE/h1 {"online":false"#) })
        #expect(calls[death + 1] == "disconnect")
        #expect(calls[death].dropFirst(#"publish spBv1.0/STATE/h1 {"online":false,"#.count)
                == birth.dropFirst(#"publish spBv1.0/STATE/h1 {"online":true,"#.count), "death and birth share the timestamp")
        #expect(log.names.filter { $0 == "sparkplug_state_published" }.count == 3)
    }

    @Test func connectsSubscribesToEveryTopicAndFiresTheFirstSubscriptionOnce() throws {
        let s = try subscriber()
        let inlet = Inlet()
        try s.start(delivering: inlet)
        #expect(client.calls.withLock { $0 } == ["connect localhost:1883", "startLoop"])
        client.network.connected(code: 0)
        #expect(client.calls.withLock { $0 }.suffix(2) == ["subscribe a/+/t 1", "subscribe b/# 1"])
        #expect(s.status.connected && !s.status.subscribed)
        client.network.subscribed(granted: [1, 1])
        #expect(s.status.subscribed && s.firstSubscription.isFired)
        client.network.subscribed(granted: [1, 1])
        #expect(log.names.filter { $0 == "subscribed" }.count == 1)
        #expect(log.names == ["mqtt_connected", "subscribed"])
        Array("{}".utf8).withUnsafeBytes { payload in
            client.network.received(topic: "a/d/t", payload: payload.baseAddress, length: payload.count)
        }
        #expect(inlet.delivered.withLock { $0.map(\.topic) } == ["a/d/t"])
        s.stop()
    }

    @Test func aLostConnectionIsLoggedAndTheReconnectResubscribes() throws {
        let s = try subscriber(topics: "a/+/t")
        try s.start(delivering: Inlet())
        client.network.connected(code: 0)
        client.network.subscribed(granted: [1])
        client.network.disconnected(code: 7)
        #expect(!s.status.connected && !s.status.subscribed)
        client.network.connected(code: 0)
        #expect(client.calls.withLock { $0 }.filter { $0.hasPrefix("subscribe") }.count == 2)
        #expect(log.names == ["mqtt_connected", "subscribed", "mqtt_connection_lost", "mqtt_reconnected"])
        #expect(stats.mqttReconnects.load(ordering: .relaxed) == 1)
        s.stop()
    }

    @Test func refusalsAreLoggedAndNothingIsSubscribed() throws {
        let s = try subscriber(topics: "a/+/t")
        try s.start(delivering: Inlet())
        client.network.connected(code: 5)  // CONNACK: not authorised
        #expect(!s.status.connected)
        #expect(!client.calls.withLock { $0 }.contains { $0.hasPrefix("subscribe") })
        client.network.connected(code: 0)
        client.network.subscribed(granted: [0x80])
        #expect(!s.status.subscribed && !s.firstSubscription.isFired)
        #expect(log.names == ["mqtt_connect_refused", "mqtt_connected", "mqtt_subscribe_refused"])
        s.stop()
    }

    @Test func aFirstConnectThatFailsStartsTheLoopAndAsksAgain() throws {
        client.refuseConnect.withLock { $0 = true }
        let s = try subscriber()
        try s.start(delivering: Inlet())
        #expect(client.calls.withLock { $0 } == ["connect localhost:1883", "startLoop", "connect localhost:1883"])
        #expect(log.names == ["mqtt_connect_failed"])
        s.stop()
    }

    @Test func stopDisconnectsOnceAndForcesTheLoopOnlyWhenNeverConnected() throws {
        let s = try subscriber()
        try s.start(delivering: Inlet())
        s.stop()
        s.stop()
        #expect(client.calls.withLock { $0 }.suffix(2) == ["disconnect", "stopLoop force=true"])
        #expect(client.calls.withLock { $0 }.filter { $0 == "disconnect" }.count == 1)

        let connected = FakeClient()
        let configuration = try ConfigurationLoader.load(.init(environment: [:], overrides: [
            ("database.url", "postgres://unused/unused"),
        ]))
        let t = try MQTTSubscriber(settings: configuration.mqtt, subscriptions: configuration.subscriptions, stats: stats, logger: log.logger, client: connected)
        try t.start(delivering: Inlet())
        connected.network.connected(code: 0)
        t.stop()
        #expect(connected.calls.withLock { $0 }.last == "stopLoop force=false", "a connected loop writes DISCONNECT first")
        connected.network.disconnected(code: 0)
        #expect(!log.names.contains("mqtt_connection_lost"), "a disconnect we asked for is not a loss")
    }
}
