import ArgumentParser
import IngestCore
import Logging
import Observability
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `iot-ingest run` (the default): the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the ingest daemon (default).")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load()
        do {
            try SpoolDirectory.check(configuration.spoolDirectory)
        } catch {
            Console.error("invalid configuration:\n  - spool.dir: \(error) (value: \"\(configuration.spoolDirectory)\")")
            throw ExitCode(2)
        }
        let (logger, logSettings) = Bootstrap.logging(configuration)
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

        if configuration.database.createSchema {
            do {
                _ = try await Database.migrate(configuration.database, logger: logger)
            } catch {
                logger.critical("startup_failed", metadata: ["step": "migrate", "error": .string("\(error)")])
                throw ExitCode(1)
            }
        }

        let metrics = IngestMetrics.bootstrap()
        let pipeline: Pipeline
        do {
            pipeline = try Pipeline(configuration: configuration, metrics: metrics, logger: logger)
        } catch {
            logger.critical("startup_failed", metadata: ["step": "mqtt", "error": .string("\(error)")])
            throw ExitCode(1)
        }
        // Spool left by an earlier run: clean up half-written files, replay the rest now
        // (what the database cannot take yet waits for the 30 s replay loop).
        let spool = pipeline.spool
        let stale = spool.removeTemporaries()
        if stale > 0 { logger.warning("spool_temporaries_removed", metadata: ["files": .stringConvertible(stale)]) }
        if !spool.files().isEmpty {
            let stats = pipeline.stats
            _ = try? await DedicatedThread.run {
                replayOnce(spool: spool, database: configuration.database, stats: stats, logger: logger)
            }
        }

        let coordinator = ShutdownCoordinator(
            steps: pipeline, logger: logger,
            drainTimeout: { pipeline.configuration.current.shutdown.drainTimeoutSeconds },
            hardTimeout: { pipeline.configuration.current.shutdown.timeoutSeconds },
            terminate: { code in Glibc.exit(code) })
        let exitCode = ExitCodeBox()
        let groupBox = GroupBox()
        let reloader = ConfigurationReloader(inputs: options.inputs, pipeline: pipeline,
                                             logSettings: logSettings, metrics: metrics, logger: logger)
        let signals = SignalService(coordinator: coordinator, logger: logger, group: groupBox,
                                    reload: { reloader.reload() })
        if configuration.database.createSchema { pipeline.probe.markReachable() }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: signals)]
        if configuration.http.port != 0 {
            let endpoints = HTTPEndpoints(source: pipeline, stats: pipeline.stats, metrics: metrics, version: Version.string)
            let http = HTTPServer.make(host: configuration.http.host, port: configuration.http.port, endpoints: endpoints,
                                       logger: logger) { port in
                logger.info("http_listening", metadata: ["host": .string(configuration.http.host),
                                                         "port": .stringConvertible(port)])
            }
            services.append(.init(service: http))
        }
        services.append(.init(service: IngestService(pipeline: pipeline, coordinator: coordinator, exitCode: exitCode),
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
        if exitCode.value != 0 { throw ExitCode(exitCode.value) }
    }
}
