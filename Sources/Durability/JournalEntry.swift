import IngestModel

/// One journaled message, as recovery reads it back.
///
/// On disk (little-endian, 8-byte aligned):
/// `u32 body length | u32 CRC-32C of body | body`, body = `u64 seq | i64 received_at µs |
/// u32 topic length | topic bytes | [u64 published size] | payload bytes`. The published
/// size is there only when the top bit of the topic length is set: the payload was cut
/// (an oversized message keeps only its first `payload.max_bytes + 1` bytes). The length is stored last, after the
/// checksum and the body: a process killed mid-append leaves a zero length, which reads as
/// the end of the segment; a power cut can leave a length over a half-written body, which
/// the checksum catches.
public struct JournalEntry: Sendable, Equatable {
    /// Its sequence number in this journal (> 0): what the done-records name.
    public var seq: UInt64
    /// Microseconds since the Unix epoch, taken in the MQTT callback (`Message.receivedAt`).
    public var receivedAt: Int64
    /// The topic's bytes as published.
    public var topic: [UInt8]
    /// The payload as journaled: only its first `payload.max_bytes + 1` bytes when it was cut.
    public var payload: [UInt8]
    /// The payload's size as published (larger than `payload.count` when it was cut).
    public var size: Int

    /// `size` is the published size when `payload` was cut; nil means `payload.count`.
    public init(seq: UInt64, receivedAt: Int64, topic: [UInt8], payload: [UInt8], size: Int? = nil) {
        self.seq = seq
        self.receivedAt = receivedAt
        self.topic = topic
        self.payload = payload
        self.size = size ?? payload.count
    }

    /// The topic length's top bit: a published size follows the topic.
    static let cutFlag: UInt32 = 1 << 31

    static let headerSize = 8
    static let fixedBodySize = 20

    /// Bytes an entry takes in a segment, padding included.
    static func size(topic: Int, payload: Int, cut: Bool = false) -> Int {
        (headerSize + fixedBodySize + topic + (cut ? 8 : 0) + payload + 7) & ~7
    }

    /// The message it was journaled from, carrying its sequence number on.
    public var message: Message {
        var m = Message(topic: String(decoding: topic, as: UTF8.self), payload: payload, receivedAt: receivedAt, size: size)
        m.journalSeq = seq
        return m
    }
}
