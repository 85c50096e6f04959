#if canImport(Glibc)
import Glibc
#endif
import IngestModel

/// What every payload format checks the same way (SPEC 4): the size before a payload is
/// read, and after decoding, that PostgreSQL can store every name and text value. A name it
/// cannot store would fail the whole COPY and cost a bisection per batch, which one hostile
/// publisher could repeat at will: it is refused here instead (`invalid_field`).
enum PayloadChecks {
    /// `too_large` with the payload cut to `maxBytes` and the published size in `detail`.
    static func tooLarge(_ message: Message, maxBytes: Int) -> Reject? {
        guard message.size > maxBytes || message.payload.count > maxBytes else { return nil }
        var reject = Reject(message, reason: .tooLarge, detail: "\(max(message.size, message.payload.count)) bytes")
        reject.payload = Array(message.payload.prefix(maxBytes))
        return reject
    }

    /// Why a row from `readings[first...]` or `texts[firstText...]` cannot be stored, or nil.
    /// By index, not by element: a `for` over a slice copies every row (a retain and a
    /// release of its strings and message each; callgrind: ~300 instructions a message).
    static func unstorableRow(_ readings: [Reading], from first: Int, _ texts: [TextReading], from firstText: Int) -> String? {
        for i in first..<readings.count {
            if let why = unstorable(readings[i].deviceID) ?? unstorable(readings[i].metric) { return why }
        }
        for i in firstText..<texts.count {
            if let why = unstorable(texts[i].deviceID) ?? unstorable(texts[i].metric) { return why }
            if holdsNUL(texts[i].value) { return "text value of \(texts[i].metric) holds U+0000" }
        }
        return nil
    }

    /// Why a device id or metric name cannot be stored (SPEC 4), or nil.
    static func unstorable(_ name: String) -> String? {
        let bytes = name.utf8
        if bytes.isEmpty { return "empty device_id or metric" }
        if bytes.count > 255 { return "device_id or metric of \(bytes.count) bytes (over 255)" }
        if holdsNUL(name) { return "device_id or metric holds U+0000" }
        return nil
    }

    /// PostgreSQL's text cannot hold U+0000.
    static func holdsNUL(_ text: String) -> Bool {
        let bytes = text.utf8
        return bytes.withContiguousStorageIfAvailable { $0.isEmpty ? false : memchr($0.baseAddress!, 0, $0.count) != nil }
            ?? bytes.contains(0)
    }
}
