import IngestCore

/// Encodes rows in PostgreSQL's binary COPY format into one reused buffer.
///
/// Binary rather than text: no number-to-text formatting, no escaping, and the server skips
/// parsing. The buffer keeps its capacity between batches, so a writer thread allocates it
/// once. Format: signature, flags, header extension, then per tuple a field count and
/// length-prefixed big-endian fields, then -1 (PostgreSQL docs, "COPY ... Binary Format").
public struct CopyEncoder {
    /// The readings' columns, in the order `encode(readings:)` writes them.
    static let readingColumns = "(time, device_id, metric, value)"

    public private(set) var buffer: [UInt8] = []

    /// 2000-01-01T00:00:00Z in Unix microseconds: PostgreSQL's timestamp epoch.
    static let postgresEpochOffset: Int64 = 946_684_800_000_000
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    public init() {}

    /// Encodes `readings` in binary COPY format into `buffer` (replacing what it held, keeping its capacity).
    public mutating func encode<C: Collection>(readings: C) where C.Element == Reading {
        begin()
        for r in readings {
            append16(4)
            append32(8)
            append64(UInt64(bitPattern: r.time - Self.postgresEpochOffset))
            appendText(r.deviceID)
            appendText(r.metric)
            append32(8)
            append64(r.value.bitPattern)
        }
        end()
    }

    /// Encodes `rejects` for `ingest_rejects` the same way.
    public mutating func encode<C: Collection>(rejects: C) where C.Element == Reject {
        begin()
        for r in rejects {
            append16(5)
            append32(8)
            append64(UInt64(bitPattern: r.receivedAt - Self.postgresEpochOffset))
            appendText(r.topic)
            append32(UInt32(r.payload.count))
            buffer.append(contentsOf: r.payload)
            appendText(r.reason.rawValue)
            if let detail = r.detail { appendText(detail) } else { append32(UInt32(bitPattern: -1)) }
        }
        end()
    }

    private mutating func begin() {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: Self.signature)
        append32(0)  // flags
        append32(0)  // header extension length
    }

    private mutating func end() {
        append16(0xFFFF)
    }

    private mutating func appendText(_ s: String) {
        var s = s
        s.withUTF8 { bytes in
            append32(UInt32(bytes.count))
            buffer.append(contentsOf: bytes)
        }
    }

    @inline(__always) private mutating func append16(_ v: UInt16) {
        buffer.append(UInt8(v >> 8))
        buffer.append(UInt8(v & 0xFF))
    }

    @inline(__always) private mutating func append32(_ v: UInt32) {
        withUnsafeBytes(of: v.bigEndian) { buffer.append(contentsOf: $0) }
    }

    @inline(__always) private mutating func append64(_ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { buffer.append(contentsOf: $0) }
    }
}
