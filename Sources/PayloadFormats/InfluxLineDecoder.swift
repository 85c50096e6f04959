import IngestModel

/// Influx line protocol as a payload format (SPEC 4c): each field of each line is a reading
/// `<measurement>.<field>`; floats, integers, unsigned integers and booleans go to `readings`,
/// string fields to `readings_text`, and every tag but the device tag to `readings_text` as
/// `<measurement>.<tag>`, once per line (tags are data in this schema). A payload stores
/// whole or not at all: the first line that does not parse rejects the message
/// `invalid_line_protocol`, naming the line.
///
/// Decisions where SPEC 4c is silent: integers and unsigned integers are stored as double
/// precision like every reading, so beyond 2^53 they lose their last digits; a timestamp is
/// converted to microseconds (PostgreSQL's precision) by flooring, and one before 1970 or
/// after 9999 is `bad_timestamp`, as in JSON; the topic template's `{metric}` segment, if
/// any, is not used; a line without the device tag on a template without `{device_id}`
/// rejects the message `invalid_line_protocol`.
public final class InfluxLineDecoder: PayloadFormat {
    /// `payload.influx_precision`: the unit of the lines' timestamps.
    public enum Precision: String, Sendable, CaseIterable {
        case nanoseconds = "ns", microseconds = "us", milliseconds = "ms", seconds = "s"
    }

    /// Where the device id sits in the topic, if it does; nil: any topic, the device id from
    /// `deviceTag` only.
    public let template: TopicTemplate?
    /// The route's `device_tag`: when a line has this tag, its value is the device id.
    public let deviceTag: String?
    /// `payload.influx_precision`.
    public let precision: Precision
    /// `payload.max_bytes`.
    public let maxBytes: Int
    /// `payload.max_readings`: rows of every line together.
    public let maxReadings: Int
    /// `payload.store_strings`: false counts string fields and tags as ignored (kind `string`).
    public let storeStrings: Bool

    /// From the route and `payload.*`; immutable, so every worker shares one.
    public init(template: TopicTemplate?, deviceTag: String?, precision: Precision = .nanoseconds,
                maxBytes: Int, maxReadings: Int = 1000, storeStrings: Bool = true) {
        self.template = template
        self.deviceTag = deviceTag
        self.precision = precision
        self.maxBytes = maxBytes
        self.maxReadings = maxReadings
        self.storeStrings = storeStrings
    }

    /// Appends the message's rows and returns nil, or appends nothing and returns the reject.
    public func decode(_ message: Message, into rows: inout Batch, ignored: inout IgnoredFields) -> Reject? {
        if let reject = PayloadChecks.tooLarge(message, maxBytes: maxBytes) { return reject }
        var topicDevice: String?
        if let template {
            guard let (device, _) = template.match(message.topic) else {
                return Reject(message, reason: .topicMismatch, detail: "topic does not match \(template)")
            }
            topicDevice = device
        }
        var readings: [Reading] = []
        var texts: [TextReading] = []
        var tally = IgnoredFields()
        let failure: (RejectReason, String)? = message.payload.withUnsafeBufferPointer { bytes in
            guard String(validating: bytes, as: UTF8.self) != nil else { return (.notUTF8, "payload is not valid UTF-8") }
            var parser = InfluxLineParser(bytes)
            do throws(InfluxLineParser.Failure) {
                while let line = try parser.next() {
                    let number = parser.lastLine
                    if let why = self.rows(of: line, number: number, message: message, topicDevice: topicDevice,
                                      readings: &readings, texts: &texts, tally: &tally) {
                        return why
                    }
                }
            } catch {
                return (.invalidLineProtocol, error.description)
            }
            return nil
        }
        if let (reason, detail) = failure { return Reject(message, reason: reason, detail: detail) }
        if readings.isEmpty && texts.isEmpty {
            return Reject(message, reason: .noReadings, detail: tally.isEmpty ? "no lines" : "only ignored fields")
        }
        if let why = PayloadChecks.unstorableRow(readings, from: 0, texts, from: 0) {
            return Reject(message, reason: .invalidField, detail: why)
        }
        rows.readings += readings
        rows.texts += texts
        if !tally.isEmpty { ignored.add(tally) }
        return nil
    }

    /// One line's rows, or why the message is rejected.
    private func rows(of line: InfluxLineParser.Line, number: Int, message: Message, topicDevice: String?,
                      readings: inout [Reading], texts: inout [TextReading],
                      tally: inout IgnoredFields) -> (RejectReason, String)? {
        let tagged = deviceTag.flatMap { tag in line.tags.last { $0.key == tag }?.value }
        guard let device = tagged ?? topicDevice else {
            return (.invalidLineProtocol, "line \(number): no device id (" + (deviceTag.map { "no tag \($0), " } ?? "")
                    + "and no {device_id} in a topic template)")
        }
        let time: Int64
        if let stamp = line.timestamp {
            guard let micros = microseconds(stamp), micros >= 0, micros < Timestamp.endOfYear9999 else {
                return (.badTimestamp, "line \(number): timestamp \(stamp) (\(precision.rawValue)) is before 1970 or after 9999")
            }
            time = micros
        } else {
            time = message.receivedAt
        }
        // Rows this line will add: numbers always, strings and tags only when stored.
        var extra = 0
        for (_, value) in line.fields {
            if case .string = value { if storeStrings { extra += 1 } } else { extra += 1 }
        }
        if storeStrings { extra += line.tags.count { !(tagged != nil && $0.key == deviceTag) } }
        guard readings.count + texts.count + extra <= maxReadings else {
            return (.tooManyReadings, "more than \(maxReadings) readings (line \(number))")
        }
        // Checked before a name is built: a hostile 256 KiB measurement times 1,000 fields
        // would otherwise cost 256 MB of names, only to be refused afterwards.
        let longestKey = max(line.fields.map(\.key.utf8.count).max() ?? 0, line.tags.map(\.key.utf8.count).max() ?? 0)
        guard line.measurement.utf8.count + 1 + longestKey <= 255, device.utf8.count <= 255 else {
            return (.invalidField, "line \(number): a device id or metric over 255 bytes")
        }
        for (key, value) in line.fields {
            let metric = line.measurement + "." + key
            let number: Double
            switch value {
            case .float(let v): number = v
            case .integer(let v): number = Double(v)
            case .unsigned(let v): number = Double(v)
            case .boolean(let v): number = v ? 1 : 0
            case .string(let v):
                if storeStrings {
                    texts.append(TextReading(time: time, deviceID: device, metric: metric, value: v, source: message))
                } else {
                    tally.add(.string)
                }
                continue
            }
            readings.append(Reading(time: time, deviceID: device, metric: metric, value: number, source: message))
        }
        for (key, value) in line.tags where !(tagged != nil && key == deviceTag) {
            if storeStrings {
                texts.append(TextReading(time: time, deviceID: device, metric: line.measurement + "." + key, value: value,
                                         source: message))
            } else {
                tally.add(.string)
            }
        }
        return nil
    }

    /// `stamp` in microseconds, floored; nil when it overflows.
    private func microseconds(_ stamp: Int64) -> Int64? {
        switch precision {
        case .nanoseconds:
            let (q, r) = stamp.quotientAndRemainder(dividingBy: 1_000)
            return r < 0 ? q - 1 : q
        case .microseconds: return stamp
        case .milliseconds:
            let (v, o) = stamp.multipliedReportingOverflow(by: 1_000)
            return o ? nil : v
        case .seconds:
            let (v, o) = stamp.multipliedReportingOverflow(by: 1_000_000)
            return o ? nil : v
        }
    }
}
