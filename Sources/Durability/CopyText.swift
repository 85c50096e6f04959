import IngestModel

/// PostgreSQL's COPY text format, for spool files: one line per row, tab-separated, `\N` for
/// NULL, backslash escapes for tab, newline, carriage return and backslash. Text (not binary)
/// so an operator can read, grep and fix a spool file by hand.
public enum CopyText {
    /// One text-format COPY line for `readings` (SPEC 8: the spool file format).
    public static func line(_ r: Reading) -> String {
        Timestamp.copyText(r.time) + "\t" + escape(r.deviceID) + "\t" + escape(r.metric) + "\t" + r.value.description + "\n"
    }

    /// One text-format COPY line for the text table: an empty string is an empty field
    /// (COPY reads it as '', not NULL, which is `\N`).
    public static func line(_ r: TextReading) -> String {
        Timestamp.copyText(r.time) + "\t" + escape(r.deviceID) + "\t" + escape(r.metric) + "\t" + escape(r.value) + "\n"
    }

    /// One text-format COPY line for `ingest_rejects`.
    public static func line(_ r: Reject) -> String {
        var hex = "\\\\x"
        hex.reserveCapacity(4 + r.payload.count * 2)
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(r.payload.count * 2)
        for b in r.payload {
            bytes.append(digits[Int(b >> 4)])
            bytes.append(digits[Int(b & 0xF)])
        }
        hex += String(decoding: bytes, as: UTF8.self)
        return Timestamp.copyText(r.receivedAt) + "\t" + escape(r.topic) + "\t" + hex + "\t" + r.reason.rawValue + "\t"
            + (r.detail.map(escape) ?? "\\N") + "\n"
    }

    /// One text-format COPY line for `sparkplug_metrics` (`device_id, name, alias, datatype,
    /// born_at`; no alias is `\N`).
    public static func line(_ d: MetricDefinition) -> String {
        escape(d.deviceID) + "\t" + escape(d.name) + "\t" + (d.alias.map { String($0) } ?? "\\N") + "\t"
            + String(d.datatype) + "\t" + Timestamp.copyText(d.bornAt) + "\n"
    }

    /// Escapes a field for text COPY (backslash, tab, newline, carriage return).
    public static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == ASCII.backslash || $0 == ASCII.tab || $0 == ASCII.lineFeed || $0 == ASCII.carriageReturn }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
