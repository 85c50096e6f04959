import Concurrency
import Logging
import ServiceLifecycle

/// The HTTP endpoints, up before anything slow is reached and down after everything else.
///
/// SPEC 11 lets `http_listening` come anywhere between `config_loaded` and `ingest_started`
/// and prefers it early: a probe should answer (/health 200, /ready 503 with the reason)
/// while the database and the broker are still being reached, or while a long journal
/// replay runs. So the server runs in a service group of its own, started right after the
/// directories are claimed, and is stopped only once the daemon's group has finished (its
/// shutdown included: /health and /metrics answer during the drain).
final class ProbeServer: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let listening: Latch

    /// Starts serving `http` now, whose `onListening` fires `listened`;
    /// `waitUntilListening()` says whether it could.
    init(_ http: any Service, listened: Latch) {
        listening = listened
        var quiet = Logger(label: "service-lifecycle")
        quiet.logLevel = .critical
        let group = ServiceGroup(configuration: .init(services: [.init(service: http)], logger: quiet))
        self.group = group
        running = Task { try await group.run() }
    }

    /// Returns once the port is bound; throws the server's failure (the port taken, an
    /// address not on this host) if it stopped first.
    func waitUntilListening() async throws {
        let running = running, listening = listening
        let waitForPort: @Sendable () async -> (any Error)? = { await listening.wait(); return nil }
        let waitForFailure: @Sendable () async -> (any Error)? = {
            do { try await running.value } catch { return error }
            return nil
        }
        let failure = await firstFinished([waitForPort, waitForFailure])
        if let failure { throw failure }
    }

    /// Calls `onFailure` if the server stops with an error while the daemon runs.
    func watch(onFailure: @escaping @Sendable (any Error) async -> Void) {
        let running = running
        Task {
            do { try await running.value } catch { await onFailure(error) }
        }
    }

    /// Stops serving and waits for the server to be gone, at most 2 s (a client holding a
    /// request open must not keep a stopped daemon from exiting).
    func stop() async {
        await group.triggerGracefulShutdown()
        let running = running
        let gone: @Sendable () async -> Void = { _ = try? await running.value }
        let late: @Sendable () async -> Void = { try? await Task.sleep(for: .seconds(2)) }
        await firstFinished([gone, late])
    }
}
