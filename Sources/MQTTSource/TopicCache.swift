#if canImport(Glibc)
import Glibc
#endif
import IngestModel

/// The topic strings seen recently, so the message callback does not allocate a `String`
/// per message: a fleet publishes on a bounded set of topics (one or a few per device), and
/// a hit costs a hash of the bytes and one compare instead of a `malloc` on this thread and
/// a `free` on a worker's. Direct-mapped (a new topic replaces whatever shared its slot), so
/// it never grows past `slots` strings however many topics a broker sends.
///
/// Our own rather than a `Dictionary`: a dictionary lookup needs a `String` key, which is
/// the allocation this exists to avoid.
final class TopicCache: @unchecked Sendable {
    // @unchecked: one thread calls `string(_:)` and `routed(_:route:)`, one call at a time: its `MessageReceiver`'s
    // (libmosquitto's network thread in the daemon, which the subscriber joins before the
    // context holding the receiver is released).
    private var slots: [(topic: String, route: Int32)?]
    private let mask: Int

    /// `slots` is rounded up to a power of two.
    init(slots: Int = 4096) {
        let size = 1 << (Int.bitWidth - (max(slots, 2) - 1).leadingZeroBitCount)
        self.slots = Array(repeating: nil, count: size)
        mask = size - 1
    }

    /// The topic as a `String`, shared with earlier messages on the same topic.
    func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        // Up to 15 UTF-8 bytes a String is stored inline: nothing to save.
        if bytes.count <= 15 { return String(decoding: bytes, as: UTF8.self) }
        return entry(bytes, route: { _ in Message.unrouted }).topic
    }

    /// The topic's string and its route (SPEC 4a), `route` asked once per topic and kept
    /// with the string; short topics are cached too, since the route is worth keeping.
    func routed(_ bytes: UnsafeBufferPointer<UInt8>, route: (String) -> Int32) -> (topic: String, route: Int32) {
        entry(bytes, route: route)
    }

    private func entry(_ bytes: UnsafeBufferPointer<UInt8>, route: (String) -> Int32) -> (topic: String, route: Int32) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let slot = Int(truncatingIfNeeded: hash) & mask
        if let cached = slots[slot], Self.equal(cached.topic, bytes) { return cached }
        let fresh = String(decoding: bytes, as: UTF8.self)
        let entry = (topic: fresh, route: route(fresh))
        slots[slot] = entry
        return entry
    }

    private static func equal(_ string: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        string.utf8.withContiguousStorageIfAvailable { stored in
            stored.count == bytes.count && (bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        } ?? string.utf8.elementsEqual(bytes)
    }
}
