import IngestModel

/// Encodes rows in PostgreSQL's binary COPY format into one reused buffer.
///
/// Binary rather than text: no number-to-text formatting, no escaping, and the server skips
/// parsing. The buffer keeps its capacity between batches, so a writer thread allocates it
/// once; it is sized for the whole batch first, then filled with plain stores. Format: signature, flags, header extension, then per tuple a field count and
/// length-prefixed big-endian fields, then -1 (PostgreSQL docs, "COPY ... Binary Format").
public struct CopyEncoder {
    /// The readings' columns, in the order `encode(readings:)` writes them.
    static let readingColumns = "(time, device_id, metric, value)"
    /// The rejects' columns, in the order `encode(rejects:)` writes them.
    static let rejectColumns = "(received_at, topic, payload, reason, detail)"
    /// The Sparkplug catalog's columns, in the order `encode(definitions:)` writes them.
    static let definitionColumns = "(device_id, name, alias, datatype, born_at)"

    /// The last `encode` call's complete COPY data (header to trailer), ready to send.
    public private(set) var buffer: [UInt8] = []

    /// 2000-01-01T00:00:00Z in Unix microseconds: PostgreSQL's timestamp epoch.
    static let postgresEpochOffset: Int64 = 946_684_800_000_000
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    /// An empty buffer: it grows to the largest batch encoded and keeps that capacity.
    public init() {}

    /// Encodes `readings` in binary COPY format into `buffer` (replacing what it held, keeping its capacity).
    public mutating func encode<C: Collection>(readings: C) where C.Element == Reading {
        var size = 0
        for r in readings { size += 2 + 12 + 4 + r.deviceID.utf8.count + 4 + r.metric.utf8.count + 12 }
        write(rowBytes: size) { out in
            for r in readings {
                out.put16(4)
                Self.put(timestamp: r.time, to: &out)
                out.put(text: r.deviceID)
                out.put(text: r.metric)
                out.put32(8)
                out.put64(r.value.bitPattern)
            }
        }
    }

    /// Encodes text readings for the text table the same way (the same columns, `value` text).
    public mutating func encode<C: Collection>(texts: C) where C.Element == TextReading {
        var size = 0
        for r in texts { size += 2 + 12 + 4 + r.deviceID.utf8.count + 4 + r.metric.utf8.count + 4 + r.value.utf8.count }
        write(rowBytes: size) { out in
            for r in texts {
                out.put16(4)
                Self.put(timestamp: r.time, to: &out)
                out.put(text: r.deviceID)
                out.put(text: r.metric)
                out.put(text: r.value)
            }
        }
    }

    /// Encodes `rejects` for `ingest_rejects` the same way.
    public mutating func encode<C: Collection>(rejects: C) where C.Element == Reject {
        var size = 0
        for r in rejects {
            size += 2 + 12 + 4 + r.topic.utf8.count + 4 + r.payload.count + 4 + r.reason.rawValue.utf8.count
                + 4 + (r.detail?.utf8.count ?? 0)
        }
        write(rowBytes: size) { out in
            for r in rejects {
                out.put16(5)
                Self.put(timestamp: r.receivedAt, to: &out)
                out.put(text: r.topic)
                r.payload.withUnsafeBytes { out.put(bytes: $0) }
                out.put(text: r.reason.rawValue)
                if let detail = r.detail { out.put(text: detail) } else { out.put32(UInt32(bitPattern: -1)) }
            }
        }
    }

    /// Encodes Sparkplug metric definitions for `sparkplug_metrics` (`definitionColumns`).
    public mutating func encode<C: Collection>(definitions: C) where C.Element == MetricDefinition {
        var size = 0
        for d in definitions { size += 2 + 4 + d.deviceID.utf8.count + 4 + d.name.utf8.count + 4 + (d.alias == nil ? 0 : 8) + 8 + 12 }
        write(rowBytes: size) { out in
            for d in definitions {
                out.put16(5)
                out.put(text: d.deviceID)
                out.put(text: d.name)
                if let alias = d.alias {
                    out.put32(8)
                    out.put64(alias)
                } else {
                    out.put32(UInt32(bitPattern: -1))
                }
                out.put32(4)
                out.put32(UInt32(bitPattern: d.datatype))
                Self.put(timestamp: d.bornAt, to: &out)
            }
        }
    }

    /// A `timestamptz` field: length 8, microseconds since PostgreSQL's epoch.
    @inline(__always) private static func put(timestamp micros: Int64, to out: inout ByteWriter) {
        out.put32(8)
        out.put64(UInt64(bitPattern: micros - postgresEpochOffset))
    }

    /// Sizes `buffer` for the header, `rowBytes` of tuples and the trailer in one step, then
    /// has `rows` store the tuples at consecutive offsets: a store per field instead of an
    /// `Array.append` per field (which was most of a writer's CPU per row).
    private mutating func write(rowBytes: Int, _ rows: (inout ByteWriter) -> Void) {
        let total = Self.signature.count + 8 + rowBytes + 2
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: total))
        buffer.withUnsafeMutableBytes { raw in
            var out = ByteWriter(raw)
            Self.signature.withUnsafeBytes { out.put(raw: $0) }
            out.put32(0)  // flags
            out.put32(0)  // header extension length
            rows(&out)
            out.put16(0xFFFF)
            precondition(out.offset == total, "COPY rows sized \(total) bytes, wrote \(out.offset)")
        }
    }
}
