#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Observability

// Entry point. ArgumentParser's own `main()` exits 64 on usage errors; SPEC 2 wants 2 for
// unknown flags or subcommands, so we parse and map the exit code ourselves.
signal(SIGPIPE, SIG_IGN)
do {
    var command = try IngestCommand.parseAsRoot()
    if var asyncCommand = command as? any AsyncParsableCommand {
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

extension AsyncParsableCommand {
    /// Calling `run()` on `any AsyncParsableCommand` picks the synchronous overload (which
    /// prints help). Here `Self` is the concrete command, so `await run()` is its own async
    /// `run`: every async subcommand works without being listed anywhere.
    mutating func runAsync() async throws { try await run() }
}
