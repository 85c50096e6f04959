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
    /// `payload.max_readings`: more rows (numeric + text) from one message is `too_many_readings`.
    public let maxReadings: Int
    /// `payload.store_strings`: false counts string leaves as ignored (kind `string`).
    public let storeStrings: Bool

    /// From `IngestConfiguration.payload`; never changes after, so one instance serves every worker.
    public init(template: TopicTemplate, maxBytes: Int, maxReadings: Int = 1000, storeStrings: Bool = true) {
        self.template = template
        self.maxBytes = maxBytes
        self.maxReadings = maxReadings
        self.storeStrings = storeStrings
    }

    /// Appends the message's rows to `rows.readings` and `rows.texts`, adds its ignored
    /// leaves to `ignored` and returns nil; or appends and counts nothing and returns the
    /// reject to store.
    public func decode(_ message: Message, into rows: inout Batch, ignored: inout IgnoredFields) -> Reject? {
        if let reject = PayloadChecks.tooLarge(message, maxBytes: maxBytes) { return reject }
        guard let (topicDevice, topicMetric) = template.match(message.topic) else {
            return Reject(message, reason: .topicMismatch, detail: "topic does not match \(template)")
        }
        let (first, firstText) = (rows.readings.count, rows.texts.count)
        var tally = IgnoredFields()
        let failure: (RejectReason, String)? = message.payload.withUnsafeBufferPointer { bytes in
            var walk = Walk(message: message, scanner: JSONScanner(bytes), topicDevice: topicDevice,
                            topicMetric: topicMetric, maxReadings: maxReadings, storeStrings: storeStrings)
            defer { tally = walk.tally }
            return walk.run(into: &rows.readings, texts: &rows.texts)
        }
        if let (reason, detail) = failure {
            rows.readings.removeSubrange(first...)
            rows.texts.removeSubrange(firstText...)
            return Reject(message, reason: reason, detail: detail)
        }
        let why = PayloadChecks.unstorableRow(rows.readings, from: first, rows.texts, from: firstText)
        if let why {
            rows.readings.removeSubrange(first...)
            rows.texts.removeSubrange(firstText...)
            return Reject(message, reason: .invalidField, detail: why)
        }
        if !tally.isEmpty { ignored.add(tally) }
        return nil
    }
}

/// One decode: the walk over a payload and what it has found so far.
private struct Walk {
    let message: Message
    var scanner: JSONScanner
    let topicDevice: String?
    let topicMetric: String?
    let maxReadings: Int
    let storeStrings: Bool

    /// Timestamps by field, in precedence order: ts, time, timestamp (a tuple, not an array:
    /// no allocation per message).
    var timeFields: (Int64?, Int64?, Int64?) = (nil, nil, nil)
    var timeError: String?
    var payloadDevice: String?
    var metricName: String?
    /// `value` at the top level: the number, or nil with `valueSeen` for a non-numeric one
    /// (`valueText` when it is a string).
    var value: Double?
    var valueText: String?
    var valueSeen = false
    var nonFinite: String?
    /// Rows made so far (numeric and text); past `maxReadings` the walk stops appending
    /// (memory stays bounded) and only counts.
    var produced = 0
    /// Leaves that are not a top-level `ts`/`time`/`timestamp`/`device_id`/`metric`/`value`:
    /// in the metric/value form, each is metadata (`beside_value`).
    var otherLeaves = 0
    /// Nulls, empties and (with `store_strings` off) strings met so far.
    var tally = IgnoredFields()

    init(message: Message, scanner: JSONScanner, topicDevice: String?, topicMetric: String?,
         maxReadings: Int, storeStrings: Bool) {
        self.message = message
        self.scanner = scanner
        self.topicDevice = topicDevice
        self.topicMetric = topicMetric
        self.maxReadings = maxReadings
        self.storeStrings = storeStrings
    }

    mutating func run(into readings: inout [Reading], texts: inout [TextReading]) -> (RejectReason, String)? {
        if !isASCII(scanner.bytes), String(validating: scanner.bytes, as: UTF8.self) == nil {
            return (.notUTF8, "payload is not valid UTF-8")
        }
        scanner.skipWhitespace()
        guard let first = scanner.peek else { return (.invalidJSON, "empty payload") }
        let (firstRow, firstText) = (readings.count, texts.count)
        do {
            if first == ASCII.openBrace {
                try object(prefix: nil, depth: 0, into: &readings, texts: &texts)
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

        // `metric`+`value`, or `value` under a {metric} topic: exactly one row, the other
        // leaves its metadata.
        if let name = metricName ?? (valueSeen ? topicMetric : nil), valueSeen {
            readings.removeSubrange(firstRow...)
            texts.removeSubrange(firstText...)
            tally = IgnoredFields()
            tally.add(.besideValue, otherLeaves)
            if let text = valueText {
                guard storeStrings else { return (.noReadings, "\"value\" is a string and payload.store_strings is off") }
                guard let device = topicDevice ?? payloadDevice else {
                    return (.topicMismatch, "no device_id in topic or payload")
                }
                texts.append(TextReading(time: time, deviceID: device, metric: name, value: text, source: message))
                return nil
            }
            guard let value else { return (.noReadings, "\"value\" is neither a number, a boolean nor a string") }
            guard value.isFinite else { return (.nonFinite, "\"value\" is not finite") }
            return single(metric: name, value: value, time: time, into: &readings)
        }
        if let nonFinite { return (.nonFinite, "\(nonFinite) is not finite") }
        if produced > maxReadings {
            return (.tooManyReadings, "\(produced) readings, payload.max_readings is \(maxReadings)")
        }
        guard readings.count > firstRow || texts.count > firstText else {
            return (.noReadings, "nothing storable")
        }
        guard let device = topicDevice ?? payloadDevice else {
            return (.topicMismatch, "no device_id in topic or payload")
        }
        for i in firstRow..<readings.count {
            readings[i].time = time
            if topicDevice == nil { readings[i].deviceID = device }
        }
        for i in firstText..<texts.count {
            texts[i].time = time
            if topicDevice == nil { texts[i].deviceID = device }
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

    /// Walks an object: leaves become rows (time filled in later), nested objects and arrays
    /// are flattened with dots, nulls and empties counted.
    private mutating func object(prefix: String?, depth: Int, into readings: inout [Reading],
                                 texts: inout [TextReading]) throws(JSONScanner.Malformed) {
        guard depth < JSONScanner.maxDepth else { throw .init(.depth, "nesting too deep") }
        scanner.index += 1  // {
        scanner.skipWhitespace()
        if scanner.peek == ASCII.closeBrace {
            scanner.index += 1
            if prefix != nil { empty() }
            return
        }
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
            } else {
                try member(first: c, role: role, depth: depth, named: .key(keyToken, escapedKey, prefix: prefix),
                           into: &readings, texts: &texts)
            }
            scanner.skipWhitespace()
            if scanner.peek == ASCII.comma { scanner.index += 1; continue }
            if scanner.peek == ASCII.closeBrace { scanner.index += 1; return }
            throw .init(.syntax, "expected ',' or '}' at byte \(scanner.index)")
        }
    }

    /// Walks an array: element `i` is named `<prefix>.<i>` (`accel.0`, `cells.0.v`).
    private mutating func array(prefix: String, depth: Int, into readings: inout [Reading],
                                texts: inout [TextReading]) throws(JSONScanner.Malformed) {
        guard depth < JSONScanner.maxDepth else { throw .init(.depth, "nesting too deep") }
        scanner.index += 1  // [
        scanner.skipWhitespace()
        if scanner.peek == ASCII.closeBracket {
            scanner.index += 1
            empty()
            return
        }
        var index = 0
        while true {
            scanner.skipWhitespace()
            guard let c = scanner.peek else { throw .init(.truncated, "unexpected end") }
            try member(first: c, role: .plain, depth: depth, named: .element(index, prefix: prefix),
                       into: &readings, texts: &texts)
            index += 1
            scanner.skipWhitespace()
            if scanner.peek == ASCII.comma { scanner.index += 1; continue }
            if scanner.peek == ASCII.closeBracket { scanner.index += 1; return }
            throw .init(.syntax, "expected ',' or ']' at byte \(scanner.index)")
        }
    }

    /// Where a value's metric name comes from: built only when the value needs it (a row,
    /// or a nested prefix), never for a null or an ignored string.
    private enum Name {
        case key(JSONScanner.StringToken, String?, prefix: String?)
        case element(Int, prefix: String)
    }

    private func text(of name: Name) -> String {
        switch name {
        case .key(let token, let escaped, let prefix):
            let key = keyText(token, escaped)
            return prefix.map { $0 + "." + key } ?? key
        case .element(let index, let prefix):
            return prefix + "." + String(index)
        }
    }

    /// One value of an object member or array element, whose first byte is `c`. Inlined
    /// into `object` and `array`: a call per member was ~150 instructions a message.
    @inline(__always)
    private mutating func member(first c: UInt8, role: KeyRole, depth: Int, named: Name, into readings: inout [Reading],
                                 texts: inout [TextReading]) throws(JSONScanner.Malformed) {
        if c == ASCII.openBrace {
            try object(prefix: text(of: named), depth: depth + 1, into: &readings, texts: &texts)
        } else if c == ASCII.openBracket {
            try array(prefix: text(of: named), depth: depth + 1, into: &readings, texts: &texts)
        } else if c == ASCII.quote {
            let token = try scanner.scanString()
            switch role {
            case .deviceID:
                payloadDevice = try scanner.string(token)
                return
            case .metric:
                metricName = try scanner.string(token)
            case .value:
                valueSeen = true
                value = nil
                valueText = try scanner.string(token)
            default:
                otherLeaves += 1
            }
            guard storeStrings else {
                tally.add(.string)
                return
            }
            produced += 1
            guard produced <= maxReadings else { return }
            texts.append(TextReading(time: 0, deviceID: topicDevice ?? "", metric: text(of: named),
                                     value: try role == .value ? valueText! : scanner.string(token), source: message))
        } else if JSONScanner.startsNumber(c) || c == ASCII.lowerT || c == ASCII.lowerF || c == ASCII.lowerN {
            let number: Double?
            if JSONScanner.startsNumber(c) {
                number = try scanner.scanNumber()
            } else {
                guard let literal = scanner.scanLiteral() else { throw .init(.syntax, "unexpected byte at \(scanner.index)") }
                number = literal.map { $0 ? 1 : 0 }
            }
            if role == .value { valueSeen = true; value = number; valueText = nil }
            // Only a string names the device or the metric; a null one is counted, a number
            // or boolean `metric` is an ordinary reading named `metric`.
            if role == .deviceID {
                if number == nil { tally.add(.null) }
                return
            }
            if role != .value { otherLeaves += 1 }
            guard let number else {
                tally.add(.null)  // a null `value` too (the metric/value form recounts its leaves)
                return
            }
            produced += 1
            guard produced <= maxReadings else { return }
            let metric = text(of: named)
            if !number.isFinite { nonFinite = nonFinite ?? metric }
            readings.append(Reading(time: 0, deviceID: topicDevice ?? "", metric: metric, value: number, source: message))
        } else {
            throw .init(.syntax, "unexpected byte at \(scanner.index)")
        }
    }

    /// An empty object or array below the top level: counted, and metadata in the
    /// metric/value form.
    private mutating func empty() {
        otherLeaves += 1
        tally.add(.empty)
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
            tally.add(.null)  // as if absent, and counted (SPEC 4: no leaf unaccounted)
            otherLeaves += 1
            return
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
