import IngestCore
import Synchronization

/// The configuration in force. Components read the reloadable keys through it on each use
/// (queue policy per full-queue event, retries per failed batch, shutdown timings when the
/// sequence starts), so a SIGHUP reload reaches them without restarting anything.
final class LiveConfiguration: Sendable {
    private let value: Mutex<IngestConfiguration>

    init(_ configuration: IngestConfiguration) {
        value = Mutex(configuration)
    }

    var current: IngestConfiguration { value.withLock { $0 } }

    func replace(_ configuration: IngestConfiguration) {
        value.withLock { $0 = configuration }
    }
}
