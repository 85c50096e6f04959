#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Observability

// Unknown flags exit 2 (SPEC 2), not ArgumentParser's 64.
signal(SIGPIPE, SIG_IGN)
do {
    var command = try LoadgenCommand.parseAsRoot()
    try command.run()
} catch {
    if LoadgenCommand.exitCode(for: error) == .validationFailure {
        Console.error(LoadgenCommand.fullMessage(for: error))
        exit(2)
    }
    LoadgenCommand.exit(withError: error)
}
