@testable import MQTTSource
import Testing

@Suite("TopicCache: one String per topic, never a wrong one")
struct TopicCacheTests {
    func lookUp(_ cache: TopicCache, _ topic: String) -> String {
        Array(topic.utf8).withUnsafeBufferPointer { cache.string($0) }
    }

    /// Two lookups of one topic share one string buffer (no allocation the second time).
    @Test func aRepeatedTopicIsTheSameStorage() {
        let cache = TopicCache()
        let topic = "devices/dev-00042/telemetry"
        let first = lookUp(cache, topic), second = lookUp(cache, topic)
        #expect(first == topic && second == topic)
        let a = first.utf8.withContiguousStorageIfAvailable { $0.baseAddress }
        let b = second.utf8.withContiguousStorageIfAvailable { $0.baseAddress }
        #expect(a != nil && a == b, "shared storage")
    }

    /// A cache of 2 slots and 1,000 topics: collisions replace, and every answer is still
    /// the topic asked for; short topics (stored inline) and empty ones too.
    @Test func collisionsNeverReturnAnotherTopic() {
        let cache = TopicCache(slots: 2)
        let topics = (0..<1000).map { "devices/dev-\($0)/telemetry" } + ["a/b", "", "exactly-15-byte"]
        for round in 0..<3 {
            for topic in topics {
                #expect(lookUp(cache, topic) == topic, "round \(round)")
            }
        }
    }

    @Test func nonUTF8BytesAreRepairedAsStringCStringWould() {
        let cache = TopicCache()
        let bytes: [UInt8] = Array("devices/".utf8) + [0xFF, 0xFE] + Array("/telemetry-long".utf8)
        let s = bytes.withUnsafeBufferPointer { cache.string($0) }
        #expect(s == String(decoding: bytes, as: UTF8.self))
    }
}
