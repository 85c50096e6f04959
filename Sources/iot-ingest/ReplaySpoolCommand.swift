import ArgumentParser
import Concurrency
import Durability
import IngestModel
import Observability
import PostgresSink

/// `iot-ingest replay-spool`: write every spool file to the database, then exit (0 when the
/// spool is empty afterwards, 1 if the database could not be reached or files remain, 2 if
/// a running daemon owns the spool: it replays the files itself every 30 s).
struct ReplaySpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-spool", abstract: "Write every spool file to the database, then exit.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load()
        let logger = Bootstrap.logging(configuration).logger
        let lock: DirectoryLock
        do {
            lock = try Spool.lock(directory: configuration.spoolDirectory)
        } catch {
            Console.error("replay-spool: spool.dir \(configuration.spoolDirectory): \(error) (a running daemon replays its spool itself)")
            throw ExitCode(2)
        }
        defer { withExtendedLifetime(lock) {} }
        let spool = Spool(directory: configuration.spoolDirectory)
        spool.removeTemporaries()
        if configuration.database.createSchema {
            do {
                _ = try await DatabaseStartup.migrate(configuration.database, timescale: configuration.timescale,
                                                      logger: logger, patience: 10)
            } catch {
                logger.error("replay_failed", metadata: ["error": .string("\(error)")])
                throw ExitCode(1)
            }
        }
        let db = configuration.database
        let replayer = SpoolReplayer(spool: spool, applier: PostgresSpoolApplier(url: db.url, table: db.table,
                                                                                dedupe: db.dedupe),
                                     logger: logger)
        let outcome = try await DedicatedThread.run { replayer.pass(stats: IngestStats()) }
        let left = spool.files().count
        logger.info("spool_replay_finished", metadata: [
            "files": .stringConvertible(outcome?.files ?? 0), "rows": .stringConvertible(outcome?.rows ?? 0),
            "remaining_files": .stringConvertible(left),
        ])
        if outcome == nil || left > 0 { throw ExitCode(1) }
    }
}
