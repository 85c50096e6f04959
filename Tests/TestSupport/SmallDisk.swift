import Foundation

/// A small tmpfs mounted on a scratch directory: a disk a test can fill and free at will,
/// for the spool's and the journal's full-disk paths. Root only (the test services run as
/// root in CI). Unmount it with `unmount()` before the test ends.
public struct SmallDisk: Sendable {
    /// Where it is mounted.
    public let url: URL
    public var path: String { url.path }
    private var filler: String { path + "/filler" }

    /// Mounts a `megabytes` MiB tmpfs on a new scratch directory named `name`.
    public static func mount(_ name: String, megabytes: Int) async throws -> SmallDisk {
        let dir = try scratchDirectory(name)
        let mounted = try await ChildProcess.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", dir.path],
                                                 timeout: 10)
        guard mounted.code == 0 else {
            throw Failure("mount a small tmpfs (needs root): \(mounted.errorOutput)")
        }
        return SmallDisk(url: dir)
    }

    /// Takes every free block with one file (`filler`), until the disk says ENOSPC; returns
    /// the bytes it took. Memory copies into a tmpfs, 1 MiB a call (the last one short): a
    /// few milliseconds, nothing that parks a thread.
    @discardableResult
    public func fill() throws -> Int {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure("cannot create \(filler): errno \(errno)") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
        var taken = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            taken += n
        }
        guard errno == ENOSPC else { throw Failure("filling \(path) stopped with errno \(errno)") }
        return taken
    }

    /// Gives back what `fill()` took.
    public func free() {
        unlink(filler)
    }

    /// Unmounts it lazily (a daemon may still hold a file there) and removes the directory.
    public func unmount() async {
        _ = try? await ChildProcess.run("/bin/umount", ["-l", path], timeout: 10)
        try? FileManager.default.removeItem(at: url)
    }
}

/// Runs `body` with a small disk mounted, and unmounts it afterwards, thrown or not.
public func withSmallDisk<T>(_ name: String, megabytes: Int, _ body: (SmallDisk) async throws -> T) async throws -> T {
    try await withCleanup(try await SmallDisk.mount(name, megabytes: megabytes), { await $0.unmount() }, body)
}
