/// A failed libpq call, classified by what the writer should do about it, with the
/// server's SQLSTATE kept for the logs.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What the caller does about it.
    public enum Code: Sendable, Equatable {
        /// Try again later (connection lost, server shutting down, timeout, lock): retry with
        /// backoff, then spool.
        case transient
        /// The rows themselves were refused (constraint, trigger, bad value): bisect.
        case data
    }

    /// What the caller does about it.
    public let code: Code
    /// The server's five-character SQLSTATE, nil when libpq failed before the server answered.
    public let sqlState: String?
    /// The server's (or libpq's) message, first line. Never contains the connection string.
    public let message: String
    /// True when the connection itself is gone and must be re-opened.
    public let connectionLost: Bool

    /// The message and its SQLSTATE, as the logs show it.
    public var description: String {
        if let sqlState { return "\(message) (SQLSTATE \(sqlState))" }
        return message
    }

    /// SQLSTATE classes that mean "this data", per PostgreSQL's errcodes appendix:
    /// 22 data exception, 23 integrity constraint violation, 54 program limit exceeded (a
    /// value too large for an index row, 54000: retrying cannot help), P0 PL/pgSQL raise
    /// (triggers).
    static func code(forSQLState state: String?) -> Code {
        guard let state, state.count == 5 else { return .transient }
        switch state.prefix(2) {
        case "22", "23", "54", "P0": return .data
        default: return .transient
        }
    }
}
