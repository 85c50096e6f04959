import ArgumentParser
import IngestCore
#if canImport(Glibc)
import Glibc
#endif

// Entry point. ArgumentParser's own `main()` exits 64 on usage errors; SPEC 2 wants 2 for
// unknown flags or subcommands, so we parse and map the exit code ourselves.
signal(SIGPIPE, SIG_IGN)
do {
    var command = try IngestCommand.parseAsRoot()
    if var asyncCommand = command as? any AsyncRunnable {
        try await asyncCommand.runAsync()
    } else {
        try command.run()
    }
} catch {
    let code = IngestCommand.exitCode(for: error)
    if code == .validationFailure {
        Console.error(IngestCommand.fullMessage(for: error))
        exit(2)
    }
    IngestCommand.exit(withError: error)
}

/// Calling `run()` through `any AsyncParsableCommand` picks the synchronous overload (which
/// prints help); each async command forwards through this instead.
protocol AsyncRunnable {
    mutating func runAsync() async throws
}

extension RunCommand: AsyncRunnable {
    mutating func runAsync() async throws { try await run() }
}

extension MigrateCommand: AsyncRunnable {
    mutating func runAsync() async throws { try await run() }
}

extension ReplaySpoolCommand: AsyncRunnable {
    mutating func runAsync() async throws { try await run() }
}
