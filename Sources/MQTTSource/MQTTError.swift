import CMosquitto

/// A libmosquitto call that failed, with the library's own explanation. Keeps C return codes
/// from leaking past this module.
public struct MQTTError: Error, CustomStringConvertible {
    /// The libmosquitto function that failed.
    public let operation: String
    /// Its `MOSQ_ERR_*` return code (`MOSQ_ERR_ERRNO`: the system's errno said why).
    public let code: Int32

    /// A failed `operation` with libmosquitto's `code`.
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// MOSQ_ERR_ERRNO: a system call failed (a broker not listening yet): worth retrying.
    public var isSystemError: Bool { code == MOSQ_ERR_ERRNO.rawValue }

    /// The operation and libmosquitto's words for the code.
    public var description: String { "\(operation) failed: \(reason)" }

    /// libmosquitto's words for the code alone.
    public var reason: String { String(cString: mosquitto_strerror(code)) }

    /// The broker's words for a CONNACK refusal code.
    static func connackReason(_ code: Int32) -> String { String(cString: mosquitto_connack_string(code)) }

    static func check(_ code: Int32, _ operation: String) throws(MQTTError) {
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(operation: operation, code: code) }
    }
}
