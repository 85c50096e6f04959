import SparkplugB

/// The synthetic messages: device `i % devices`, and for each device a timestamp that moves
/// one millisecond per message, so every valid message has a distinct (device_id, ts) and a
/// test can count rows exactly.
struct Telemetry {
    /// The payload format published (`--format`).
    enum Format: String, CaseIterable, Sendable {
        /// `{"ts": ..., "temperature": ...}` on `<prefix>/<device>/telemetry`.
        case json
        /// Sparkplug B: each device is an edge node of group `<prefix>`; its first message is an
        /// NBIRTH defining the metrics' aliases, the rest NDATA carrying aliases and `seq`.
        case sparkplugB = "sparkplug_b"
        /// Influx line protocol, `env temperature=...,humidity=... <ns>` on `<prefix>/<device>/telemetry`.
        case influx
    }

    static let metricNames = ["temperature", "humidity", "pressure", "co2", "voltage", "current", "rssi", "battery"]

    let devices: Int
    let readingsPerMessage: Int
    let topicPrefix: String
    let tsBaseMs: Int64
    /// Also a string (`status`) and a three-element array (`accel`) per message: the v4
    /// payload shapes (a text row and three more numeric rows).
    var mixed = false
    var format = Format.json
    /// Sparkplug: share of data messages sent with a sequence number that is not the
    /// previous + 1 (the daemon then asks the node for a rebirth).
    var gapFraction = 0.0
    /// JSON: payloads padded with trailing blanks to this size (large payloads that decode
    /// to the same rows: what the memory bound is tested with); 0 = as they are.
    var payloadBytes = 0

    /// Numeric rows one valid message makes (Sparkplug births make two more: `bdSeq` and
    /// `sparkplug.online`; arrays are JSON's alone).
    var numericPerMessage: Int { readingsPerMessage + (mixed && format == .json ? 3 : 0) }
    /// Text rows one valid message makes.
    var textPerMessage: Int { mixed ? 1 : 0 }

    /// Rows (numeric and text) the first `valid` valid messages make.
    func rows(_ valid: Int) -> Int {
        valid * (numericPerMessage + textPerMessage) + (format == .sparkplugB ? 2 * min(valid, devices) : 0)
    }

    func deviceID(_ n: Int) -> String {
        let digits = String(n)
        return "dev-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    func topic(device: Int) -> String {
        "\(topicPrefix)/\(deviceID(device))/telemetry"
    }

    /// The `valid`-th valid message.
    func message(_ valid: Int) -> (topic: String, payload: [UInt8]) {
        switch format {
        case .json: json(valid)
        case .sparkplugB: sparkplug(valid)
        case .influx: influx(valid)
        }
    }

    /// The k-th value of metric `k` in message `valid`: 10.00 to 49.99, distinct enough.
    private func value(_ valid: Int, _ k: Int) -> (Int, Int) {
        let centi = 1000 + (valid &* 37 &+ k &* 101) % 4000
        return (centi / 100, centi % 100)
    }

    /// `value(valid, k)` as JSON and line protocol write it: `12.05`.
    private func valueText(_ valid: Int, _ k: Int) -> String {
        let (whole, frac) = value(valid, k)
        return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }

    private func metricName(_ k: Int) -> String { k < Self.metricNames.count ? Self.metricNames[k] : "metric_\(k)" }

    private static let statuses = ["charging", "idle", "driving", "fault"]

    private func influx(_ valid: Int) -> (topic: String, payload: [UInt8]) {
        let device = valid % devices
        let ts = tsBaseMs + Int64(valid / devices)
        var line = "env "
        for k in 0..<readingsPerMessage {
            line += "\(k == 0 ? "" : ",")\(metricName(k))=\(valueText(valid, k))"
        }
        if mixed { line += ",status=\"\(Self.statuses[valid % 4])\"" }
        line += " \(ts)000000"
        return (topic(device: device), Array(line.utf8))
    }

    private func sparkplug(_ valid: Int) -> (topic: String, payload: [UInt8]) {
        let device = valid % devices
        let k = valid / devices
        let ts = tsBaseMs + Int64(k)
        let birth = k == 0
        var payload = Org_Eclipse_Tahu_Protobuf_Payload()
        payload.timestamp = UInt64(ts)
        let gap = !birth && gapFraction > 0
            && Int(Double(valid + 1) * gapFraction) > Int(Double(valid) * gapFraction)
        payload.seq = UInt64((k + (gap ? 1 : 0)) % 256)
        if birth {
            var bdSeq = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
            bdSeq.name = "bdSeq"
            bdSeq.datatype = 8
            bdSeq.longValue = 0
            payload.metrics.append(bdSeq)
        }
        for k in 0..<(readingsPerMessage + (mixed ? 1 : 0)) {
            var metric = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
            metric.alias = UInt64(k)
            if birth {
                metric.name = k < readingsPerMessage ? metricName(k) : "status"
                metric.datatype = k < readingsPerMessage ? 10 : 12
            }
            if k < readingsPerMessage {
                let (whole, frac) = value(valid, k)
                metric.doubleValue = Double(whole * 100 + frac) / 100
            } else {
                metric.stringValue = Self.statuses[valid % 4]
            }
            payload.metrics.append(metric)
        }
        let node = deviceID(device)
        // Serialising a message built here cannot fail (no required fields, no extensions).
        let bytes: [UInt8] = (try? payload.serializedBytes()) ?? []
        return ("spBv1.0/\(topicPrefix)/\(birth ? "NBIRTH" : "NDATA")/\(node)", bytes)
    }

    private func json(_ valid: Int) -> (topic: String, payload: [UInt8]) {
        let device = valid % devices
        let ts = tsBaseMs + Int64(valid / devices)
        var json = "{\"ts\":\(ts)"
        for k in 0..<readingsPerMessage {
            json += ",\"\(metricName(k))\":\(valueText(valid, k))"
        }
        if mixed {
            json += ",\"status\":\"\(["charging", "idle", "driving", "fault"][valid % 4])\""
            json += ",\"accel\":[0.\(valid % 10),0.0\(valid % 7),9.8]"
        }
        json += "}"
        return (topic(device: device), padded(Array(json.utf8)))
    }

    private func padded(_ payload: [UInt8]) -> [UInt8] {
        payload.count >= payloadBytes ? payload : payload + [UInt8](repeating: 0x20, count: payloadBytes - payload.count)
    }

    /// A message its format cannot read (a reject: `invalid_json`, `invalid_sparkplug`,
    /// `invalid_line_protocol`).
    func invalid(_ n: Int) -> (topic: String, payload: [UInt8]) {
        switch format {
        case .json: (topic(device: n % devices), padded(Array("{\"temperature\": oops".utf8)))
        case .sparkplugB: ("spBv1.0/\(topicPrefix)/NDATA/\(deviceID(n % devices))", [0xFF, 0xFF, 0xFF])
        case .influx: (topic(device: n % devices), Array("env temperature=oops".utf8))
        }
    }
}
