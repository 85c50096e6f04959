#if canImport(Glibc)
import Glibc
#endif
import IngestModel

/// Turns one MQTT message into readings, or into the reason it cannot be stored (SPEC 4).
///
/// Pure and synchronous, with immutable state, so the workers share one. The rules, in
/// order: size, topic shape, UTF-8, JSON syntax, then timestamp, finiteness and "has
/// readings". A final class: the pipeline holds it as `any PayloadFormat`, and a class-bound
/// existential is one reference where a struct this size would be a box to project on every
/// message (callgrind: ~100 instructions per message).
public final class PayloadDecoder: Sendable {
    /// Checked before the payload is read: a topic of another shape is `topic_mismatch`.
    public let template: TopicTemplate
    /// `payload.max_bytes`: a larger message is rejected as `too_large`, its payload cut to this.
    public let maxBytes: Int

    /// From `IngestConfiguration.payload`; never changes after, so one instance serves every worker.
    public init(template: TopicTemplate, maxBytes: Int) {
        self.template = template
        self.maxBytes = maxBytes
    }

    /// Appends the message's readings to `readings` and returns nil, or appends nothing and
    /// returns the reject to store.
    public func decode(_ message: Message, into readings: inout [Reading]) -> Reject? {
        if message.size > maxBytes || message.payload.count > maxBytes {
            var reject = Reject(message, reason: .tooLarge, detail: "\(max(message.size, message.payload.count)) bytes")
            reject.payload = Array(message.payload.prefix(maxBytes))
            return reject
        }
        guard let (topicDevice, topicMetric) = template.match(message.topic) else {
            return Reject(message, reason: .topicMismatch, detail: "topic does not match \(template)")
        }
        let first = readings.count
        let failure: (RejectReason, String)? = message.payload.withUnsafeBufferPointer { bytes in
            var walk = Walk(message: message, scanner: JSONScanner(bytes),
                            topicDevice: topicDevice, topicMetric: topicMetric)
            return walk.run(into: &readings)
        }
        if let (reason, detail) = failure {
            readings.removeSubrange(first...)
            return Reject(message, reason: reason, detail: detail)
        }
        // A name PostgreSQL cannot store would fail the whole COPY and cost a bisection per
        // batch, which one hostile publisher could repeat at will: refuse it here instead.
        for reading in readings[first...] {
            if let why = Self.unstorable(reading.deviceID) ?? Self.unstorable(reading.metric) {
                readings.removeSubrange(first...)
                return Reject(message, reason: .invalidField, detail: why)
            }
        }
        return nil
    }

    /// Why a device id or metric name cannot be stored (SPEC 4), or nil.
    static func unstorable(_ name: String) -> String? {
        let bytes = name.utf8
        if bytes.isEmpty { return "empty device_id or metric" }
        if bytes.count > 255 { return "device_id or metric of \(bytes.count) bytes (over 255)" }
        let hasNUL = bytes.withContiguousStorageIfAvailable { memchr($0.baseAddress!, 0, $0.count) != nil }
            ?? bytes.contains(0)
        if hasNUL { return "device_id or metric holds U+0000" }
        return nil
    }
}

/// One decode: the walk over a payload and what it has found so far.
private struct Walk {
    let message: Message
    var scanner: JSONScanner
    let topicDevice: String?
    let topicMetric: String?

    /// Timestamps by field, in precedence order: ts, time, timestamp (a tuple, not an array:
    /// no allocation per message).
    var timeFields: (Int64?, Int64?, Int64?) = (nil, nil, nil)
    var timeError: String?
    var payloadDevice: String?
    var metricName: String?
    /// `value` at the top level: the number, or nil with `valueSeen` for a non-numeric one.
    var value: Double?
    var valueSeen = false
    var nonFinite: String?

    init(message: Message, scanner: JSONScanner, topicDevice: String?, topicMetric: String?) {
        self.message = message
        self.scanner = scanner
        self.topicDevice = topicDevice
        self.topicMetric = topicMetric
    }

    mutating func run(into readings: inout [Reading]) -> (RejectReason, String)? {
        if !isASCII(scanner.bytes), String(validating: scanner.bytes, as: UTF8.self) == nil {
            return (.notUTF8, "payload is not valid UTF-8")
        }
        scanner.skipWhitespace()
        guard let first = scanner.peek else { return (.invalidJSON, "empty payload") }
        let firstRow = readings.count
        do {
            if first == ASCII.openBrace {
                try object(prefix: nil, depth: 0, into: &readings)
            } else if JSONScanner.startsNumber(first) {
                let number = try scanner.scanNumber()
                try endOfPayload()
                guard number.isFinite else { return (.nonFinite, "payload is not a finite number") }
                return single(metric: topicMetric ?? "value", value: number, into: &readings)
            } else {
                try scanner.skipValue()
                try endOfPayload()
                return (.noReadings, "payload is neither an object nor a number")
            }
            try endOfPayload()
        } catch {
            return (.invalidJSON, error.detail)
        }
        if let timeError { return (.badTimestamp, timeError) }
        let time = timeFields.0 ?? timeFields.1 ?? timeFields.2 ?? message.receivedAt

        // `metric`+`value`, or `value` under a {metric} topic: exactly one row.
        if let name = metricName ?? (valueSeen ? topicMetric : nil), valueSeen {
            readings.removeSubrange(firstRow...)
            guard let value else { return (.noReadings, "\"value\" is not a number") }
            guard value.isFinite else { return (.nonFinite, "\"value\" is not finite") }
            return single(metric: name, value: value, time: time, into: &readings)
        }
        if let nonFinite { return (.nonFinite, "\(nonFinite) is not finite") }
        guard readings.count > firstRow else { return (.noReadings, "no numeric field") }
        guard let device = topicDevice ?? payloadDevice else {
            return (.topicMismatch, "no device_id in topic or payload")
        }
        for i in firstRow..<readings.count {
            readings[i].time = time
            if topicDevice == nil { readings[i].deviceID = device }
        }
        return nil
    }

    private mutating func single(metric: String, value: Double, time: Int64? = nil,
                                 into readings: inout [Reading]) -> (RejectReason, String)? {
        guard let device = topicDevice ?? payloadDevice else {
            return (.topicMismatch, "no device_id in topic or payload")
        }
        readings.append(Reading(time: time ?? message.receivedAt, deviceID: device, metric: metric,
                                value: value, source: message))
        return nil
    }

    private mutating func endOfPayload() throws(JSONScanner.Malformed) {
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw .init(.syntax, "trailing bytes at \(scanner.index)") }
    }

    /// Walks an object; numeric and boolean leaves become readings (time filled in later),
    /// nested objects are flattened with dots, arrays skipped.
    private mutating func object(prefix: String?, depth: Int, into readings: inout [Reading]) throws(JSONScanner.Malformed) {
        guard depth < JSONScanner.maxDepth else { throw .init(.depth, "nesting too deep") }
        scanner.index += 1  // {
        scanner.skipWhitespace()
        if scanner.peek == ASCII.closeBrace { scanner.index += 1; return }
        while true {
            scanner.skipWhitespace()
            guard scanner.peek == ASCII.quote else { throw .init(.syntax, "expected key at byte \(scanner.index)") }
            let keyToken = try scanner.scanString()
            // The key becomes a `String` only where one is needed (a metric name, a nested
            // prefix; a timestamp key needs none), unless escapes must be resolved first.
            let escapedKey = keyToken.hasEscapes ? try scanner.string(keyToken) : nil
            try scanner.expect(ASCII.colon)
            scanner.skipWhitespace()
            guard let c = scanner.peek else { throw .init(.truncated, "unexpected end") }
            let topLevel = prefix == nil
            // One classification per key, not a string comparison per rule below.
            let role: KeyRole = !topLevel ? .plain
                : escapedKey.map(KeyRole.init) ?? KeyRole(UnsafeRawBufferPointer(scanner.raw(keyToken)))
            if let timeSlot = role.timeSlot {
                try timestamp(slot: timeSlot, first: c)
            } else if c == ASCII.openBrace {
                let key = keyText(keyToken, escapedKey)
                try object(prefix: topLevel ? key : prefix! + "." + key, depth: depth + 1, into: &readings)
            } else if c == ASCII.quote {
                let token = try scanner.scanString()
                if role == .deviceID { payloadDevice = try scanner.string(token) }
                if role == .metric { metricName = try scanner.string(token) }
                if role == .value { valueSeen = true; value = nil }
            } else if JSONScanner.startsNumber(c) || c == ASCII.lowerT || c == ASCII.lowerF || c == ASCII.lowerN {
                let number: Double?
                if JSONScanner.startsNumber(c) {
                    number = try scanner.scanNumber()
                } else {
                    guard let literal = scanner.scanLiteral() else { throw .init(.syntax, "unexpected byte at \(scanner.index)") }
                    number = literal.map { $0 ? 1 : 0 }
                }
                if role == .value { valueSeen = true; value = number }
                if let number, role != .deviceID && role != .metric {
                    let key = keyText(keyToken, escapedKey)
                    let name = topLevel ? key : prefix! + "." + key
                    if !number.isFinite { nonFinite = nonFinite ?? name }
                    readings.append(Reading(time: 0, deviceID: topicDevice ?? "", metric: name,
                                            value: number, source: message))
                }
            } else {
                try scanner.skipValue(depth: depth + 1)
            }
            scanner.skipWhitespace()
            if scanner.peek == ASCII.comma { scanner.index += 1; continue }
            if scanner.peek == ASCII.closeBrace { scanner.index += 1; return }
            throw .init(.syntax, "expected ',' or '}' at byte \(scanner.index)")
        }
    }

    /// A key's text: resolved already when it had escapes, else its bytes as they are.
    private func keyText(_ token: JSONScanner.StringToken, _ escaped: String?) -> String {
        escaped ?? String(decoding: scanner.raw(token), as: UTF8.self)
    }

    private mutating func timestamp(slot: Int, first: UInt8) throws(JSONScanner.Malformed) {
        if first == ASCII.quote {
            let token = try scanner.scanString()
            let parsed: Int64?
            if token.hasEscapes {
                var text = try scanner.string(token)
                parsed = text.withUTF8 { Timestamp.parseRFC3339($0) }
            } else {
                parsed = Timestamp.parseRFC3339(scanner.raw(token))
            }
            if let parsed, parsed >= 0, parsed < Timestamp.endOfYear9999 {
                setTime(parsed, slot: slot)
            } else {
                timeError = timeError ?? "unparseable timestamp"
            }
        } else if JSONScanner.startsNumber(first) {
            let start = scanner.index
            let number = try scanner.scanNumber()
            let text = UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.index])
            if let micros = Timestamp.fromEpochText(text) {
                setTime(micros, slot: slot)
            } else {
                timeError = timeError ?? "timestamp \(number) is negative, not finite or beyond year 9999"
            }
        } else if scanner.scanLiteral() == .some(nil) {
            return  // null: as if absent
        } else {
            try scanner.skipValue()
            timeError = timeError ?? "timestamp is neither a string nor a number"
        }
    }

    /// What a top-level key means to SPEC 4 (nested keys are always `plain`).
    private enum KeyRole: Equatable {
        case ts, time, timestamp, deviceID, metric, value, plain

        /// From the key's UTF-8 bytes: a length switch and at most two `memcmp`s, not a
        /// `String` comparison per name (those were a tenth of the decode).
        init(_ key: UnsafeRawBufferPointer) {
            func equals(_ name: StaticString) -> Bool { memcmp(key.baseAddress!, name.utf8Start, key.count) == 0 }
            switch key.count {
            case 2: self = equals("ts") ? .ts : .plain
            case 4: self = equals("time") ? .time : .plain
            case 5: self = equals("value") ? .value : .plain
            case 6: self = equals("metric") ? .metric : .plain
            case 9: self = equals("timestamp") ? .timestamp : equals("device_id") ? .deviceID : .plain
            default: self = .plain
            }
        }

        /// A key that had escapes, once they are resolved.
        init(_ key: String) {
            var key = key
            self = key.withUTF8 { KeyRole(UnsafeRawBufferPointer($0)) }
        }

        /// Precedence among the timestamp fields: ts, time, timestamp.
        var timeSlot: Int? {
            switch self {
            case .ts: 0
            case .time: 1
            case .timestamp: 2
            default: nil
            }
        }
    }

    private mutating func setTime(_ micros: Int64, slot: Int) {
        switch slot {
        case 0: timeFields.0 = micros
        case 1: timeFields.1 = micros
        default: timeFields.2 = micros
        }
    }

    private func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var acc: UInt8 = 0
        for b in bytes { acc |= b }
        return acc < 0x80
    }
}
