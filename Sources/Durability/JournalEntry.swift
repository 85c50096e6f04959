import IngestCore

/// One journaled message, as recovery reads it back.
///
/// On disk (little-endian, 8-byte aligned):
/// `u32 body length | u32 CRC-32C of body | body`, body = `u64 seq | i64 received_at µs |
/// u32 topic length | topic bytes | payload bytes`. The length is stored last, after the
/// checksum and the body: a process killed mid-append leaves a zero length, which reads as
/// the end of the segment; a power cut can leave a length over a half-written body, which
/// the checksum catches.
public struct JournalEntry: Sendable, Equatable {
    public var seq: UInt64
    public var receivedAt: Int64
    public var topic: [UInt8]
    public var payload: [UInt8]

    public init(seq: UInt64, receivedAt: Int64, topic: [UInt8], payload: [UInt8]) {
        self.seq = seq
        self.receivedAt = receivedAt
        self.topic = topic
        self.payload = payload
    }

    static let headerSize = 8
    static let fixedBodySize = 20

    /// Bytes an entry takes in a segment, padding included.
    static func size(topic: Int, payload: Int) -> Int {
        (headerSize + fixedBodySize + topic + payload + 7) & ~7
    }

    /// The message it was journaled from, carrying its sequence number on.
    public var message: Message {
        var m = Message(topic: String(decoding: topic, as: UTF8.self), payload: payload, receivedAt: receivedAt)
        m.journalSeq = seq
        return m
    }
}
