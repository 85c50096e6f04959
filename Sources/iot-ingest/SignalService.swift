import IngestCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Turns Unix signals into daemon actions: the first SIGTERM/SIGINT logs `signal_received`
/// and starts the group's graceful shutdown (which runs the shutdown sequence); a second one
/// forces it; SIGHUP reloads the configuration.
///
/// ServiceGroup's own signal handling is not used because SPEC 7 needs the signal's name in
/// the log and a second signal that forces rather than cancels.
struct SignalService: Service {
    let coordinator: ShutdownCoordinator
    let logger: Logger
    let group: GroupBox
    let reload: @Sendable () async -> Void

    func run() async throws {
        var shutdownStarted = false
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        for await signal in signals.cancelOnGracefulShutdown() {
            if signal == .sighup {
                await reload()
                continue
            }
            let name = signal == .sigterm ? "SIGTERM" : "SIGINT"
            if shutdownStarted {
                logger.info("signal_received", metadata: ["signal": .string(name)])
                coordinator.force()
                continue
            }
            shutdownStarted = true
            logger.info("signal_received", metadata: ["signal": .string(name)])
            await group.trigger()
        }
    }
}
