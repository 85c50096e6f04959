import IngestConfig
import Logging
import Observability
import Synchronization

/// SIGHUP and `POST /admin/reload` (SPEC 3): re-reads file and environment with the same
/// command-line overrides, validates, applies the reloadable keys live and reports the rest
/// as `requires_restart` (they keep their old values). An invalid configuration is rejected
/// whole. Nothing is restarted, so no data moves: the pipeline reads the new values on its
/// next use. Reloads run one at a time (a signal and a request can arrive together, and each
/// applies a diff against the configuration it read).
final class ConfigurationReloader: Sendable {
    let inputs: ConfigurationLoader.Inputs
    let daemon: Daemon
    let logSettings: LogSettings
    let metrics: IngestMetrics?
    let logger: Logger
    private let serial = Mutex(())

    init(inputs: ConfigurationLoader.Inputs, daemon: Daemon, logSettings: LogSettings, metrics: IngestMetrics?,
         logger: Logger) {
        self.inputs = inputs
        self.daemon = daemon
        self.logSettings = logSettings
        self.metrics = metrics
        self.logger = logger
    }

    @discardableResult
    func reload() -> ReloadOutcome {
        serial.withLock { _ in reloadOnce() }
    }

    private func reloadOnce() -> ReloadOutcome {
        // A fresh Inputs re-reads the environment; the command-line overrides stay.
        var inputs = ConfigurationLoader.Inputs(configPath: self.inputs.configPath, overrides: self.inputs.overrides)
        inputs.defaultFilePath = self.inputs.defaultFilePath
        let old = daemon.configuration.current
        let new: IngestConfiguration
        do {
            new = try ConfigurationLoader.load(inputs)
        } catch {
            let outcome = ReloadOutcome(errors: error.problems.map(\.description))
            metrics?.configReloaded(success: false)
            logger.error("config_reload_failed", metadata: ["errors": .array(outcome.errors.map { .string($0) })])
            return outcome
        }
        let changed = new.changedKeys(comparedTo: old)
        let outcome = ReloadOutcome(changed: changed.filter(IngestConfiguration.isReloadable),
                                    requiresRestart: changed.filter { !IngestConfiguration.isReloadable($0) })
        let next = old.reloading(from: new)
        daemon.apply(next)
        logSettings.apply(next.log)
        metrics?.configReloaded(success: true)
        logger.info("config_reloaded", metadata: [
            "changed": .array(outcome.changed.map { .string($0) }),
            "requires_restart": .array(outcome.requiresRestart.map { .string($0) }),
        ])
        return outcome
    }
}
