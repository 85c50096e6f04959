import IngestCore
import Logging
import Observability

/// SIGHUP (SPEC 3): re-reads file and environment with the same command-line overrides,
/// validates, applies the reloadable keys live and reports the rest as `requires_restart`
/// (they keep their old values). An invalid configuration is rejected whole. Nothing is
/// restarted, so no data moves: the pipeline reads the new values on its next use.
struct ConfigurationReloader: Sendable {
    let inputs: ConfigurationLoader.Inputs
    let daemon: Daemon
    let logSettings: LogSettings
    let metrics: IngestMetrics?
    let logger: Logger

    func reload() {
        // A fresh Inputs re-reads the environment; the command-line overrides stay.
        var inputs = ConfigurationLoader.Inputs(configPath: self.inputs.configPath, overrides: self.inputs.overrides)
        inputs.defaultFilePath = self.inputs.defaultFilePath
        let old = daemon.configuration.current
        let new: IngestConfiguration
        do {
            new = try ConfigurationLoader.load(inputs)
        } catch {
            metrics?.configReloaded(success: false)
            logger.error("config_reload_failed", metadata: [
                "errors": .array(error.problems.map { .string($0.description) }),
            ])
            return
        }
        let changed = new.changedKeys(comparedTo: old)
        let applied = changed.filter(IngestConfiguration.isReloadable)
        let restart = changed.filter { !IngestConfiguration.isReloadable($0) }
        var next = old
        next.batch = new.batch
        next.queue.fullPolicy = new.queue.fullPolicy
        next.shutdown = new.shutdown
        next.log = new.log
        for key in applied { next.redacted[key] = new.redacted[key] }
        daemon.apply(next)
        logSettings.apply(next.log)
        metrics?.configReloaded(success: true)
        logger.info("config_reloaded", metadata: [
            "changed": .array(applied.map { .string($0) }),
            "requires_restart": .array(restart.map { .string($0) }),
        ])
    }
}
