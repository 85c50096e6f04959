#if canImport(Glibc)
import Glibc
#endif
import CLibPQ

/// One libpq connection, used by exactly one thread at a time (a writer thread, or a
/// dedicated thread for migration and probes). Every call blocks; none is ever made from a
/// Swift task on the cooperative pool.
///
/// Not Sendable on purpose: libpq connections are not thread-safe. The one thing another
/// thread may do is cancel the running statement, through `Canceller`.
public final class PostgresConnection {
    private var conn: OpaquePointer?

    /// Connection parameters we set unless the URL sets them: fail fast on a dead server,
    /// detect a silently dropped peer, name ourselves in pg_stat_activity.
    static let defaults: [(String, String)] = [
        ("application_name", "iot-ingest"),
        ("keepalives", "1"),
        ("keepalives_idle", "10"),
        ("keepalives_interval", "5"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "15000"),
    ]

    /// Opens a connection from a libpq URI or key=value string; PG* environment variables
    /// are honoured by libpq as usual. `connectTimeout` (seconds) bounds the connection
    /// unless the URL sets its own; `statementTimeoutMs` bounds every statement.
    public init(url: String, connectTimeout: Int = 5, statementTimeoutMs: Int = 30_000) throws(PostgresError) {
        let keys = ["connect_timeout"] + Self.defaults.map(\.0) + ["dbname"]
        let values = [String(connectTimeout)] + Self.defaults.map(\.1) + [url]
        conn = withCStrings(keys) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { ConnectionString.scrub(Self.firstLine(String(cString: PQerrorMessage($0))), url: url) }
                ?? "out of memory"
            if let conn { PQfinish(conn) }
            self.conn = nil
            throw PostgresError(code: .transient, sqlState: nil, message: message, connectionLost: !Self.isPermanent(message))
        }
        try execute("SET statement_timeout = \(statementTimeoutMs); SET client_min_messages = warning")
    }

    deinit {
        close()
    }

    /// Closes the connection (`PQfinish`); a second call does nothing.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// libpq's last known status (`PQstatus`), no round trip: a server that went away reads as
    /// open until a call on it fails.
    public var isOpen: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The connection's socket (-1 when closed), for `WriterSlot.abort()`.
    var socket: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// The server's version number (e.g. 150018), for logs.
    public var serverVersion: Int { conn.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Runs SQL without parameters (schema statements, transaction control, probes). Never
    /// called with text built from message content.
    public func execute(_ sql: String) throws(PostgresError) {
        let result = PQexec(try handle(), sql)
        defer { PQclear(result) }
        try check(result, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK])
    }

    /// Runs `body` between BEGIN and COMMIT, rolling back when it throws (unless the
    /// connection is gone, which rolls back by itself). The one transaction shape the writer,
    /// the replay and the migration share.
    public func transaction<T>(_ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        try execute("BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if !error.connectionLost { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs a query and returns the first column of the first row as text (nil for NULL or
    /// no rows).
    public func scalar(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> String? {
        try row(sql, parameters)?.first ?? nil
    }

    /// Runs a query and returns its first row as text, a nil per NULL column; nil when
    /// there is no row (so "no row" and "a NULL" can be told apart).
    public func row(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> [String?]? {
        try rows(sql, parameters).first
    }

    /// Runs a query and returns every row as text, a nil per NULL column.
    public func rows(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> [[String?]] {
        let c = try handle()
        let result: OpaquePointer? = withOptionalCStrings(parameters) { params in
            PQexecParams(c, sql, Int32(parameters.count), nil, params, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, expecting: [PGRES_TUPLES_OK, PGRES_COMMAND_OK])
        let columns = PQnfields(result)
        return (0..<PQntuples(result)).map { row in
            (0..<columns).map { column in
                PQgetisnull(result, row, column) == 0 ? String(cString: PQgetvalue(result, row, column)) : nil
            }
        }
    }

    /// `COPY <target> FROM STDIN` with `data` as the whole stream (the caller encodes it).
    public func copy(_ statement: String, data: [UInt8]) throws(PostgresError) {
        let c = try handle()
        let start = PQexec(c, statement)
        defer { PQclear(start) }
        try check(start, expecting: [PGRES_COPY_IN])
        let sent = data.withUnsafeBufferPointer { buffer -> Int32 in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(c, $0.baseAddress, Int32($0.count)) }
        }
        if sent != 1 {
            PQputCopyEnd(c, "client could not send data")
            drainResults(c)
            throw lostOrFailed(nil)
        }
        guard PQputCopyEnd(c, nil) == 1 else {
            drainResults(c)
            throw lostOrFailed(nil)
        }
        var failure: PostgresError?
        while let result = PQgetResult(c) {
            do { try check(result, expecting: [PGRES_COMMAND_OK]) } catch { failure = failure ?? error }
            PQclear(result)
        }
        if let failure { throw failure }
    }

    /// Cancels the statement in progress from another thread (shutdown deadline).
    public func makeCanceller() -> Canceller? {
        guard let conn, let cancel = PQgetCancel(conn) else { return nil }
        return Canceller(cancel)
    }

    /// A handle to cancel this connection's running statement from any thread.
    public final class Canceller: @unchecked Sendable {
        // @unchecked: PQcancel on a PGcancel object is documented as safe to call from a
        // thread other than the one using the connection; the object is freed in deinit.
        private let handle: OpaquePointer

        init(_ handle: OpaquePointer) { self.handle = handle }
        deinit { PQfreeCancel(handle) }

        /// Asks the server to cancel the statement running on this connection (`PQcancel`): the
        /// one call another thread may make while a lane is blocked in libpq.
        public func cancel() {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = PQcancel(handle, &buffer, 256)
        }
    }

    // MARK: - Helpers

    private func handle() throws(PostgresError) -> OpaquePointer {
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(code: .transient, sqlState: nil, message: "connection is closed", connectionLost: true)
        }
        return conn
    }

    private func drainResults(_ c: OpaquePointer) {
        while let r = PQgetResult(c) { PQclear(r) }
    }

    private func check(_ result: OpaquePointer?, expecting: [ExecStatusType]) throws(PostgresError) {
        guard let result else { throw lostOrFailed(nil) }
        let status = PQresultStatus(result)
        guard !expecting.contains(status) else { return }
        throw lostOrFailed(result)
    }

    private func lostOrFailed(_ result: OpaquePointer?) -> PostgresError {
        let lost = conn.map { PQstatus($0) != CONNECTION_OK } ?? true
        var state: String?
        var message = ""
        if let result {
            if let s = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { state = String(cString: s) }
            if let m = PQresultErrorField(result, Int32(UInt8(ascii: "M"))) { message = String(cString: m) }
        }
        if message.isEmpty, let conn { message = Self.firstLine(String(cString: PQerrorMessage(conn))) }
        if message.isEmpty { message = "unknown libpq error" }
        let code: PostgresError.Code = lost ? .transient : PostgresError.code(forSQLState: state)
        return PostgresError(code: code, sqlState: state, message: message, connectionLost: lost)
    }

    /// Connection failures that waiting will not cure: a certificate refused either way, a
    /// server without TLS when TLS is required, a wrong password, a missing database or a
    /// malformed URL. Start-up stops on them at once (exit 1, the reason logged) instead of
    /// retrying for a minute. libpq gives no SQLSTATE before a connection exists, so this
    /// reads its messages; anything not listed is retried, as a server still starting is.
    static func isPermanent(_ message: String) -> Bool {
        ["certificate", "does not support SSL", "authentication failed", "pg_hba.conf", "does not exist",
         "invalid sslmode", "invalid connection option", "invalid URI", "invalid integer value"]
            .contains { message.contains($0) }
    }

    static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n", maxSplits: 1).first ?? "")
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    let constPointers: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) } + [nil]
    return constPointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let pointers = strings.map { $0.map { strdup($0) } ?? nil }
    defer { pointers.forEach { free($0) } }
    let constPointers: [UnsafePointer<CChar>?] = pointers.map { $0.map { UnsafePointer($0) } }
    return constPointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
