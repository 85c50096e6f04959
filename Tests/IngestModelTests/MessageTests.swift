import IngestModel
import Testing

/// `size` and `route` share one word of `Message` (to keep it copied inline): each keeps its
/// own value whatever the other holds.
@Suite struct MessageTests {
    @Test func sizeAndRouteAreIndependent() {
        var m = Message(topic: "t", payload: [1, 2, 3], receivedAt: 0)
        #expect(m.size == 3 && m.route == Message.unrouted)
        m.route = 7
        m.size = 268_435_455
        #expect(m.size == 268_435_455 && m.route == 7)
        m.route = Message.unrouted
        #expect(m.size == 268_435_455 && m.route == -1)
        m.size = 0
        #expect(m.size == 0 && m.route == -1)
        #expect(Message(topic: "t", payload: [], receivedAt: 0, size: 5_000_000_000).size == Int(UInt32.max), "clamped")
    }
}
