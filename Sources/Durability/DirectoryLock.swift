#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Concurrency

/// An exclusive `flock` on a file in a directory, held while one process owns the directory:
/// the daemon owns its spool and its journal for its whole run, `replay-spool` the spool
/// while it replays. Without it a second process could delete the first one's half-written
/// files or replay its journal twice. The kernel drops the lock when the process dies, so a
/// SIGKILL never leaves a directory locked.
///
/// `release()` gives it up at a moment the caller chooses (a test that simulates a restart,
/// a clean hand-over); dropping the last reference also releases it.
public final class DirectoryLock: Sendable {
    /// The lock file, `<directory>/<file>`, for messages naming the directory in use.
    public let path: String
    /// The descriptor holding the lock; -1 once released.
    private let fd: Locked<Int32>

    /// Takes the lock without waiting. Throws a `lock` error whose `code` is `EWOULDBLOCK`
    /// (and whose reason says so in words) when another process holds it, or carrying the
    /// call's `errno` when `open` or `flock` failed for another reason.
    public init(directory: String, file: String) throws(FileError) {
        path = directory + "/" + file
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileError("open", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            throw code == EWOULDBLOCK ? Self.held(path) : FileError("lock", path, code: code)
        }
        self.fd = Locked(fd)
    }

    /// The error for a lock another process holds.
    static func held(_ path: String) -> FileError {
        FileError("lock", path, code: EWOULDBLOCK, reason: "in use by another running iot-ingest")
    }

    /// Whether `error` says another process holds the lock.
    public static func isHeldElsewhere(_ error: FileError) -> Bool {
        error.operation == "lock" && error.code == EWOULDBLOCK
    }

    /// Releases the lock; later calls do nothing.
    public func release() {
        fd.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}
