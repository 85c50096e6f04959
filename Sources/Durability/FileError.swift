#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file operation of the spool or the journal: the step, the path and the system's
/// `errno`, so a caller can tell a full disk (`ENOSPC`) from a missing directory (`ENOENT`)
/// and an operator reads which file and why. Paths come from `spool.dir` and `journal.dir`,
/// never from a secret.
public struct FileError: Error, CustomStringConvertible, Sendable {
    /// What was being done: "create", "write", "link", "map"...
    public let operation: String
    /// The file or directory the operation was on.
    public let path: String
    /// The `errno` of the failed call; 0 when the file itself was wrong (`reason` says how).
    public let code: Int32
    /// Why it failed, in words: `strerror(code)`, or what was wrong with the file.
    public let reason: String

    /// A failed system call; takes `errno` now, so build it before any other call.
    public init(_ operation: String, _ path: String, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
        reason = String(cString: strerror(code))
    }

    /// A file that opened but is not what it should be (code 0), or a failure whose
    /// `errno` reads better in other words.
    public init(_ operation: String, _ path: String, code: Int32 = 0, reason: String) {
        self.operation = operation
        self.path = path
        self.code = code
        self.reason = reason
    }

    /// One line for the logs: "cannot <operation> <path>: <reason>".
    public var description: String { "cannot \(operation) \(path): \(reason)" }
}
