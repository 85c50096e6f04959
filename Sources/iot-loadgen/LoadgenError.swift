/// Why the load generator could not do its job: `code` says which step failed, the
/// description what libmosquitto said.
struct LoadgenError: Error, CustomStringConvertible {
    enum Code: Equatable {
        /// `mosquitto_new` failed (out of memory, or a bad client id).
        case client
        /// The broker did not accept the connection.
        case connect
        /// libmosquitto's network thread did not start.
        case loop
        /// `--hot-path` could not prepare its temporary directory.
        case setup
    }

    let code: Code
    let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
