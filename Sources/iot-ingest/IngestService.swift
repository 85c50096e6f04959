import IngestCore
import Logging
import ServiceLifecycle

/// The pipeline as a ServiceLifecycle service: runs until the group's graceful shutdown
/// (started by `SignalService`), then lets the coordinator run SPEC 7's sequence.
struct IngestService: Service {
    let daemon: Daemon
    let coordinator: ShutdownCoordinator

    func run() async throws {
        try await daemon.start()
        // SPEC 11: `ingest_started` follows `mqtt_connected` and `subscribed`; a shutdown
        // before the broker was ever reached skips it.
        let subscription = daemon.subscriber.firstSubscription
        await cancelWhenGracefulShutdown { await subscription.wait() }
        if subscription.isFired {
            daemon.logger.info("ingest_started", metadata: [
                "workers": .stringConvertible(daemon.configuration.current.workers),
                "queue_capacity": .stringConvertible(daemon.pipeline.messages.capacity),
            ])
        }
        try? await gracefulShutdown()
        _ = await coordinator.run()
    }
}
