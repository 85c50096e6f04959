import ArgumentParser
import Concurrency
import Durability
import IngestConfig
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
        let configuration = try options.load()
        let (logger, logSettings) = Bootstrap.logging(configuration)
        logLoaded(configuration, logger)                           // config_loaded
        let (journal, spoolLock) = try claimDirectories(configuration, logger)
        defer { withExtendedLifetime(spoolLock) {} }
        let metrics = IngestMetrics.bootstrap(table: configuration.database.table)
        let daemon = try makeDaemon(configuration, journal, metrics, logger)
        let reloader = ConfigurationReloader(inputs: options.inputs, daemon: daemon,
                                             logSettings: logSettings, metrics: metrics, logger: logger)
        let probes = try await startProbes(daemon, metrics, reloader)  // http_listening
        let code: Int32
        do {
            try await prepareSchema(configuration, logger)         // db_connected, schema_ready
            if configuration.database.createSchema { daemon.probe.markReachable() }
            await replayLeftoverSpool(daemon)                      // spool_replayed
            code = try await serve(daemon, probes, reloader)       // mqtt_connected, subscribed, ingest_started
        } catch {
            await probes?.stop()
            throw error
        }
        await probes?.stop()
        if code != 0 { throw ExitCode(code) }
    }

    /// The HTTP endpoints (SPEC 9), listening before the database and the broker are reached
    /// (SPEC 11: `http_listening` as early as it can be), so a slow start answers /health and
    /// says why /ready is 503. A port that cannot be served is fatal (exit 1) here, before
    /// anything else was touched. Nil with `http.port: 0`.
    private func startProbes(_ daemon: Daemon, _ metrics: IngestMetrics,
                             _ reloader: ConfigurationReloader) async throws -> ProbeServer? {
        let configuration = daemon.configuration.current
        guard configuration.http.port != 0 else { return nil }
        let logger = daemon.logger
        let admin = configuration.http.adminToken.map { AdminReload(token: $0, reload: { reloader.reload() }) }
        let endpoints = HTTPEndpoints(source: daemon, stats: daemon.stats, metrics: metrics, version: Version.string,
                                      admin: admin)
        let listened = Latch()
        let http = HTTPServer.make(host: configuration.http.host, port: configuration.http.port, endpoints: endpoints,
                                   logger: logger) { port in
            logger.info("http_listening", metadata: ["host": .string(configuration.http.host),
                                                     "port": .stringConvertible(port)])
            listened.fire()
        }
        let server = ProbeServer(http, listened: listened)
        do {
            try await server.waitUntilListening()
        } catch {
            logger.critical("fatal", metadata: ["error": .string("\(error)")])
            throw ExitCode(1)
        }
        return server
    }

    /// The spool directory, proven to take a file and locked, and the journal, opened and
    /// locked: both before anything else, so an unusable or shared directory is a
    /// configuration error (exit 2 naming the key, SPEC 3 and 8a) and not a failure after the
    /// database is reached. The spool's lock lives as long as the returned value.
    private func claimDirectories(_ configuration: IngestConfiguration,
                                  _ logger: Logger) throws -> (Journal?, DirectoryLock) {
        func refuse(_ key: String, _ value: String, _ error: any Error) -> ExitCode {
            Console.error("invalid configuration:\n  - \(key): \(error) (value: \"\(value)\")")
            logger.critical("startup_failed", metadata: ["step": .string(key), "error": .string("\(error)")])
            return ExitCode(2)
        }
        let lock: DirectoryLock
        do {
            try Spool.prepare(directory: configuration.spoolDirectory)
            lock = try Spool.lock(directory: configuration.spoolDirectory)
        } catch {
            throw refuse("spool.dir", configuration.spoolDirectory, error)
        }
        let settings = configuration.journal
        guard settings.enabled else { return (nil, lock) }
        do {
            return (try Journal(settings: .init(directory: settings.directory, maxBytes: settings.maxBytes,
                                                fsyncIntervalMs: settings.fsyncIntervalMs), logger: logger), lock)
        } catch {
            throw refuse("journal.dir", settings.directory, error)
        }
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
        guard configuration.database.createSchema else {
            // Tables nobody creates would send every batch to the spool for ever: say so now.
            let settings = configuration.database
            let sparkplug = configuration.routes.contains { $0.format == .sparkplugB } ? ["sparkplug_metrics"] : []
            let missing = try await DedicatedThread.run { DatabaseStartup.missingTables(settings, also: sparkplug) }
            if let missing, !missing.isEmpty {
                let why = "tables missing: \(missing.joined(separator: ", ")) (run `iot-ingest migrate`)"
                Console.error("invalid configuration:\n  - database.create_schema: \(why) (value: \"false\")")
                logger.critical("startup_failed", metadata: ["step": "database.create_schema", "error": .string(why)])
                throw ExitCode(2)
            }
            return
        }
        do {
            _ = try await DatabaseStartup.migrate(configuration.database, timescale: configuration.timescale, logger: logger)
        } catch {
            logger.critical("startup_failed", metadata: ["step": "migrate", "error": .string("\(error)")])
            throw ExitCode(1)
        }
    }

    private func makeDaemon(_ configuration: IngestConfiguration, _ journal: Journal?, _ metrics: IngestMetrics,
                            _ logger: Logger) throws -> Daemon {
        do {
            return try Daemon(configuration: configuration, journal: journal, metrics: metrics, logger: logger)
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
        let (replayer, stats) = (daemon.spoolReplayer, daemon.stats)
        _ = try? await DedicatedThread.run { replayer.pass(stats: stats) }
    }

    /// Runs the services until the shutdown sequence ends; returns its exit code. A failure
    /// of the HTTP server meanwhile (it is already listening) stops the daemon in order.
    private func serve(_ daemon: Daemon, _ probes: ProbeServer?, _ reloader: ConfigurationReloader) async throws -> Int32 {
        let logger = daemon.logger
        let coordinator = ShutdownCoordinator(
            steps: daemon.shutdown, logger: logger,
            drainTimeout: { daemon.configuration.current.shutdown.drainTimeoutSeconds },
            hardTimeout: { daemon.configuration.current.shutdown.timeoutSeconds })
        let groupBox = GroupBox()
        let httpFailed = Latch()
        let signals = SignalService(coordinator: coordinator, logger: logger, group: groupBox,
                                    reload: { _ = try? await DedicatedThread.run { reloader.reload() } })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: signals)]
        services.append(.init(service: IngestService(daemon: daemon, coordinator: coordinator),
                              successTerminationBehavior: .gracefullyShutdownGroup,
                              failureTerminationBehavior: .gracefullyShutdownGroup))
        var quiet = Logger(label: "service-lifecycle")
        quiet.logLevel = .critical
        // Graceful shutdown runs in reverse order: ingest first (the whole SPEC 7 sequence),
        // signals last (so a second signal is still caught while ingest drains); HTTP is
        // stopped after the group (so /health and /metrics answer during the drain).
        let group = ServiceGroup(configuration: .init(services: services, logger: quiet))
        groupBox.set(group)
        // After the group is set, so the trigger reaches it (a server that failed during the
        // database steps fires at once).
        probes?.watch { error in
            logger.critical("fatal", metadata: ["error": .string("\(error)")])
            httpFailed.fire()
            await groupBox.trigger()
        }
        do {
            try await group.run()
        } catch {
            logger.critical("fatal", metadata: ["error": .string("\(error)")])
            throw ExitCode(1)
        }
        return httpFailed.isFired ? 1 : coordinator.exitCode ?? 0
    }
}
