import IngestCore
import Logging
import Synchronization

/// One pool entry: the connection of one writer thread, opened lazily and re-opened after a
/// loss. Only its writer thread uses the connection until that thread has been joined;
/// `cancel()` is the only cross-thread call, and it goes through libpq's cancel object.
final class WriterSlot: @unchecked Sendable {
    // @unchecked: `connection` and `lost` are touched only by the owning writer thread
    // (and by closeConnection() after that thread is joined); `canceller` and the atomics
    // are the only state shared with other threads, behind their own synchronisation.
    let index: Int
    private var connection: PostgresConnection?
    private var lost = false
    private let canceller = Locked<PostgresConnection.Canceller?>(nil)
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
        connection?.close()
        connection = nil
        let fresh = try PostgresConnection(url: settings.url)
        // Cancellable from here on: the staging table is made `LIKE` the target table, which
        // waits behind a lock on it like any statement (drain time-out, forced shutdown).
        canceller.withLock { $0 = fresh.makeCanceller() }
        do {
            if settings.dedupe { try DedupeStaging.prepare(on: fresh, like: settings.table) }
        } catch {
            canceller.withLock { $0 = nil }
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
        connection?.close()
        connection = nil
        canceller.withLock { $0 = nil }
        connected.store(false, ordering: .relaxed)
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
        guard let canceller = canceller.withLock({ $0 }),
              cancelling.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        DedicatedThread {
            canceller.cancel()
            self.cancelling.store(false, ordering: .releasing)
        }.detach()
    }

    func closeConnection() {
        connection?.close()
        connection = nil
        canceller.withLock { $0 = nil }
        connected.store(false, ordering: .relaxed)
    }
}
