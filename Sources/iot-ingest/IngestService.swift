import IngestCore
import Logging
import ServiceLifecycle

/// The pipeline as a ServiceLifecycle service: runs until the group's graceful shutdown
/// (started by `SignalService`), then lets the coordinator run SPEC 7's sequence.
struct IngestService: Service {
    let pipeline: Pipeline
    let coordinator: ShutdownCoordinator
    let exitCode: ExitCodeBox

    func run() async throws {
        try pipeline.start()
        pipeline.logger.info("ingest_started", metadata: [
            "workers": .stringConvertible(pipeline.configuration.current.workers),
            "queue_capacity": .stringConvertible(pipeline.messages.capacity),
        ])
        try? await gracefulShutdown()
        if let code = await coordinator.run() { exitCode.set(code) }
    }
}
