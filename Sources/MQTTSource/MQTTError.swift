import CMosquitto

/// A libmosquitto call that failed, with the library's own explanation. Keeps C return codes
/// from leaking past this module.
public struct MQTTError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32

    public var description: String {
        "\(operation) failed: \(String(cString: mosquitto_strerror(code)))"
    }

    static func check(_ code: Int32, _ operation: String) throws(MQTTError) {
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(operation: operation, code: code) }
    }
}
