import ArgumentParser
import Durability
import IngestCore
import Logging
import Observability
import PostgresSink
import ServiceLifecycle

/// `iot-ingest run` (the default): the daemon. `run()` reads as SPEC 11's start-up order.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the ingest daemon (default).")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try loadConfiguration()
        let (logger, logSettings) = Bootstrap.logging(configuration)
        logLoaded(configuration, logger)                           // config_loaded
        try await prepareSchema(configuration, logger)             // db_connected, schema_ready
        let metrics = IngestMetrics.bootstrap()
        let daemon = try makeDaemon(configuration, metrics, logger)
        await replayLeftoverSpool(daemon)                          // spool_replayed
        let code = try await serve(daemon, metrics, logSettings)   // mqtt_connected, subscribed, ingest_started
        if code != 0 { throw ExitCode(code) }
    }

    /// The configuration, and a spool directory that can take files (exit 2 naming the key).
    private func loadConfiguration() throws -> IngestConfiguration {
        let configuration = try options.load()
        do {
            try SpoolDirectory.check(configuration.spoolDirectory)
        } catch {
            Console.error("invalid configuration:\n  - spool.dir: \(error) (value: \"\(configuration.spoolDirectory)\")")
            throw ExitCode(2)
        }
        return configuration
    }

    private func logLoaded(_ configuration: IngestConfiguration, _ logger: Logger) {
        var loaded: Logger.Metadata = ["file": .string(configuration.filePath ?? "none")]
        for (key, value) in configuration.redacted {
            switch value {
            case .null: continue
            case .string(let s): loaded[key] = .string(s)
            case .int(let i): loaded[key] = .stringConvertible(i)
            case .bool(let b): loaded[key] = .stringConvertible(b)
            case .double(let d): loaded[key] = .stringConvertible(d)
            default: loaded[key] = .string(value.rendered)
            }
        }
        logger.info("config_loaded", metadata: loaded)
        for warning in configuration.warnings {
            logger.warning("config_warning", metadata: ["detail": .string(warning)])
        }
    }

    private func prepareSchema(_ configuration: IngestConfiguration, _ logger: Logger) async throws {
        guard configuration.database.createSchema else { return }
        do {
            _ = try await PostgresDatabase.migrate(configuration.database, logger: logger)
        } catch {
            logger.critical("startup_failed", metadata: ["step": "migrate", "error": .string("\(error)")])
            throw ExitCode(1)
        }
    }

    private func makeDaemon(_ configuration: IngestConfiguration, _ metrics: IngestMetrics,
                            _ logger: Logger) throws -> Daemon {
        do {
            let daemon = try Daemon(configuration: configuration, metrics: metrics, logger: logger)
            if configuration.database.createSchema { daemon.database.probe.markReachable() }
            return daemon
        } catch let error as Journal.OpenError {
            Console.error("invalid configuration:\n  - journal.dir: \(error) (value: \"\(configuration.journal.directory)\")")
            logger.critical("startup_failed", metadata: ["step": "journal", "error": .string(error.description)])
            throw ExitCode(2)
        } catch {
            logger.critical("startup_failed", metadata: ["step": "mqtt", "error": .string("\(error)")])
            throw ExitCode(1)
        }
    }

    /// Spool left by an earlier run: clean up half-written files, replay the rest now (what
    /// the database cannot take yet waits for the 30 s replay loop).
    private func replayLeftoverSpool(_ daemon: Daemon) async {
        let stale = daemon.spool.removeTemporaries()
        if stale > 0 {
            daemon.logger.warning("spool_temporaries_removed", metadata: ["files": .stringConvertible(stale)])
        }
        guard !daemon.spool.files().isEmpty else { return }
        let database = daemon.database
        _ = try? await DedicatedThread.run { database.replaySpool() }
    }

    /// Runs the services until the shutdown sequence ends; returns its exit code.
    private func serve(_ daemon: Daemon, _ metrics: IngestMetrics, _ logSettings: LogSettings) async throws -> Int32 {
        let logger = daemon.logger
        let configuration = daemon.configuration.current
        let coordinator = ShutdownCoordinator(
            steps: daemon.pipeline, logger: logger,
            drainTimeout: { daemon.configuration.current.shutdown.drainTimeoutSeconds },
            hardTimeout: { daemon.configuration.current.shutdown.timeoutSeconds })
        let groupBox = GroupBox()
        let reloader = ConfigurationReloader(inputs: options.inputs, daemon: daemon,
                                             logSettings: logSettings, metrics: metrics, logger: logger)
        let signals = SignalService(coordinator: coordinator, logger: logger, group: groupBox,
                                    reload: { reloader.reload() })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: signals)]
        if configuration.http.port != 0 {
            let endpoints = HTTPEndpoints(source: daemon, stats: daemon.stats, metrics: metrics, version: Version.string)
            let http = HTTPServer.make(host: configuration.http.host, port: configuration.http.port, endpoints: endpoints,
                                       logger: logger) { port in
                logger.info("http_listening", metadata: ["host": .string(configuration.http.host),
                                                         "port": .stringConvertible(port)])
            }
            services.append(.init(service: http))
        }
        services.append(.init(service: IngestService(daemon: daemon, coordinator: coordinator),
                              successTerminationBehavior: .gracefullyShutdownGroup,
                              failureTerminationBehavior: .gracefullyShutdownGroup))
        var quiet = Logger(label: "service-lifecycle")
        quiet.logLevel = .critical
        // Graceful shutdown runs in reverse order: ingest first (the whole SPEC 7 sequence),
        // then HTTP (so /health and /metrics answer during the drain), signals last (so a
        // second signal is still caught while ingest drains).
        let group = ServiceGroup(configuration: .init(services: services, logger: quiet))
        groupBox.set(group)
        do {
            try await group.run()
        } catch {
            logger.critical("fatal", metadata: ["error": .string("\(error)")])
            throw ExitCode(1)
        }
        return coordinator.exitCode ?? 0
    }
}
