#if canImport(Glibc)
import Glibc
#endif
import Concurrency
import IngestModel
import Logging
import Synchronization

/// One pool entry: the connection of one writer thread, opened lazily and re-opened after a
/// loss. Only its writer thread uses the connection until that thread has been joined;
/// `cancel()` and `abort()` are the only cross-thread calls: the first goes through libpq's
/// cancel object, the second shuts the socket down under the lock that guards its number.
final class WriterSlot: @unchecked Sendable {
    // @unchecked: `connection` and `lost` are touched only by the owning writer thread
    // (and by closeConnection() after that thread is joined); `canceller` and the atomics
    // are the only state shared with other threads, behind their own synchronisation.
    let index: Int
    private var connection: PostgresConnection?
    private var lost = false
    /// What other threads may reach: the cancel object, and the socket while it is open (it
    /// is set to -1 under this lock before the connection is closed, so `abort()` can never
    /// shut down a descriptor number the process has reused for something else).
    private struct Reach { var canceller: PostgresConnection.Canceller?; var socket: Int32 = -1 }
    private let reach = Locked(Reach())
    /// When the running attempt started (monotonic µs; 0 between attempts).
    private let attemptStarted = Atomic<Int64>(0)
    private let connected = Atomic<Bool>(false)
    /// A cancel request is on its way (one at a time per slot).
    private let cancelling = Atomic<Bool>(false)
    let inFlightRows = Atomic<Int>(0)

    init(index: Int) {
        self.index = index
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    func connection(settings: BatchWriter.Settings, logger: Logger) throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isOpen { return connection }
        release()
        let fresh = try PostgresConnection(url: settings.url)
        // Cancellable from here on: the staging table is made `LIKE` the target table, which
        // waits behind a lock on it like any statement (drain time-out, forced shutdown).
        reach.withLock { $0 = Reach(canceller: fresh.makeCanceller(), socket: fresh.socket) }
        do {
            try settings.target.prepare(on: fresh)
        } catch {
            reach.withLock { $0 = Reach() }
            fresh.close()
            throw error
        }
        connection = fresh
        connected.store(true, ordering: .relaxed)
        if lost {
            lost = false
            logger.info("db_reconnected", metadata: ["connection": .stringConvertible(index)])
        }
        return fresh
    }

    func connectionLost(_ error: PostgresError, logger: Logger) {
        release()
        if !lost {
            lost = true
            logger.warning("db_connection_lost", metadata: [
                "connection": .stringConvertible(index), "error": .string(error.description),
            ])
        }
    }

    /// Asks the server to cancel this slot's statement, without waiting: `PQcancel` connects
    /// to the server and waits for it to hang up, which a black-holed server never does, so
    /// it runs on a detached thread of its own and the caller (the shutdown deadline) goes
    /// on. At most one such request per slot is outstanding.
    func cancel() {
        guard let canceller = reach.withLock({ $0.canceller }),
              cancelling.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        DedicatedThread {
            canceller.cancel()
            self.cancelling.store(false, ordering: .releasing)
        }.detach()
    }

    /// Brackets one attempt (writer thread), so `attemptSeconds` can tell a stuck one.
    func attempting<T>(_ body: () -> T) -> T {
        attemptStarted.store(max(1, Int64(Timestamp.monotonicSeconds() * 1e6)), ordering: .relaxed)
        defer { attemptStarted.store(0, ordering: .relaxed) }
        return body()
    }

    /// How long the running attempt has taken so far (0 when none runs).
    var attemptSeconds: Double {
        let started = attemptStarted.load(ordering: .relaxed)
        return started == 0 ? 0 : Timestamp.monotonicSeconds() - Double(started) / 1e6
    }

    /// Shuts the connection's socket down from another thread, so a writer blocked on a
    /// server that answers nothing (its kernel still acknowledging, so no TCP timeout fires)
    /// gets "connection lost" at once and the lane spools its batch. The descriptor stays
    /// open until the writer thread closes the connection itself.
    /// Returns false when there was no open socket to shut down (still connecting).
    @discardableResult
    func abort() -> Bool {
        reach.withLock { $0.socket >= 0 && shutdown($0.socket, Int32(SHUT_RDWR)) == 0 }
    }

    func closeConnection() {
        release()
    }

    /// Forgets the socket (under the lock), then closes the connection. Writer thread only.
    private func release() {
        reach.withLock { $0 = Reach() }
        connection?.close()
        connection = nil
        connected.store(false, ordering: .relaxed)
    }
}
