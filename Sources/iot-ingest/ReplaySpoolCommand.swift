import ArgumentParser
import IngestCore

/// `iot-ingest replay-spool`: write every spool file to the database, then exit.
struct ReplaySpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-spool", abstract: "Write every spool file to the database, then exit.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        _ = try options.load()
        Console.error("replay-spool: the spool arrives with the shutdown issue")
        throw ExitCode(1)
    }
}
