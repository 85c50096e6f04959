#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `corrupt/` beside the spool or the journal: where a file the daemon cannot use goes, or
/// the part of one the database refused. Nothing that might hold a reading is ever deleted
/// for being bad; an operator reads it there (SPEC 8, 8a).
struct Quarantine {
    /// The spool's or the journal's directory; the quarantine is its `corrupt/`.
    let parent: String

    var path: String { parent + "/corrupt" }

    /// Moves `name` from the parent directory into `corrupt/`, both directories fsynced.
    func move(_ name: String) throws(FileError) {
        try create()
        guard rename(parent + "/" + name, path + "/" + name) == 0 else {
            throw FileError("move to corrupt/", parent + "/" + name)
        }
        Directory.sync(path)
        Directory.sync(parent)
    }

    /// Writes `bytes` as `corrupt/<name>`: to a temporary name, fsynced, renamed over an
    /// earlier attempt's copy, the directory fsynced, so it is durable before the caller
    /// lets the original go.
    func keep(_ bytes: [UInt8], as name: String) throws(FileError) {
        try create()
        let tmp = path + "/.tmp-" + name
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileError("create", tmp) }
        var ok = bytes.withUnsafeBytes { Directory.writeAll(fd, $0) } && fsync(fd) == 0
        close(fd)
        ok = ok && rename(tmp, path + "/" + name) == 0
        guard ok else {
            let failure = FileError("write", tmp)
            unlink(tmp)
            throw failure
        }
        Directory.sync(path)
    }

    private func create() throws(FileError) {
        if mkdir(path, 0o750) != 0 && errno != EEXIST { throw FileError("create", path) }
    }
}
