/// A failed libpq call, classified by what the writer should do about it.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Try again later (connection lost, server shutting down, timeout, lock): retry with
        /// backoff, then spool.
        case transient
        /// The rows themselves were refused (constraint, trigger, bad value): bisect.
        case data
    }

    public let kind: Kind
    public let sqlState: String?
    /// The server's (or libpq's) message, first line. Never contains the connection string.
    public let message: String
    /// True when the connection itself is gone and must be re-opened.
    public let connectionLost: Bool

    public var description: String {
        if let sqlState { return "\(message) (SQLSTATE \(sqlState))" }
        return message
    }

    /// SQLSTATE classes that mean "this data", per PostgreSQL's errcodes appendix:
    /// 22 data exception, 23 integrity constraint violation, 54 program limit exceeded (a
    /// value too large for an index row, 54000: retrying cannot help), P0 PL/pgSQL raise
    /// (triggers).
    static func kind(forSQLState state: String?) -> Kind {
        guard let state, state.count == 5 else { return .transient }
        switch state.prefix(2) {
        case "22", "23", "54", "P0": return .data
        default: return .transient
        }
    }
}
