/// The synthetic messages: device `i % devices`, and for each device a timestamp that moves
/// one millisecond per message, so every valid message has a distinct (device_id, ts) and a
/// test can count rows exactly.
struct Telemetry {
    static let metricNames = ["temperature", "humidity", "pressure", "co2", "voltage", "current", "rssi", "battery"]

    let devices: Int
    let readingsPerMessage: Int
    let topicPrefix: String
    let tsBaseMs: Int64
    /// Also a string (`status`) and a three-element array (`accel`) per message: the v4
    /// payload shapes (a text row and three more numeric rows).
    var mixed = false

    /// Numeric rows one valid message makes.
    var numericPerMessage: Int { readingsPerMessage + (mixed ? 3 : 0) }
    /// Text rows one valid message makes.
    var textPerMessage: Int { mixed ? 1 : 0 }

    func deviceID(_ n: Int) -> String {
        let digits = String(n)
        return "dev-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    func topic(device: Int) -> String {
        "\(topicPrefix)/\(deviceID(device))/telemetry"
    }

    /// The `valid`-th valid message.
    func message(_ valid: Int) -> (topic: String, payload: [UInt8]) {
        let device = valid % devices
        let ts = tsBaseMs + Int64(valid / devices)
        var json = "{\"ts\":\(ts)"
        for k in 0..<readingsPerMessage {
            let name = k < Self.metricNames.count ? Self.metricNames[k] : "metric_\(k)"
            let centi = 1000 + (valid &* 37 &+ k &* 101) % 4000
            let frac = centi % 100
            json += ",\"\(name)\":\(centi / 100).\(frac < 10 ? "0" : "")\(frac)"
        }
        if mixed {
            json += ",\"status\":\"\(["charging", "idle", "driving", "fault"][valid % 4])\""
            json += ",\"accel\":[0.\(valid % 10),0.0\(valid % 7),9.8]"
        }
        json += "}"
        return (topic(device: device), Array(json.utf8))
    }

    /// A message that is not JSON (lands in ingest_rejects as invalid_json).
    func invalid(_ n: Int) -> (topic: String, payload: [UInt8]) {
        (topic(device: n % devices), Array("{\"temperature\": oops".utf8))
    }
}
