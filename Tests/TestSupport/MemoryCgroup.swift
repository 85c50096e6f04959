import Foundation

/// A memory cgroup of its own with a hard limit, for running the daemon as a container
/// runtime would (`docker run --memory`, a Kubernetes limit): the kernel's OOM killer takes
/// it if it goes past. cgroup v1 (`/sys/fs/cgroup/memory`, this machine's) or v2 (the
/// unified hierarchy with the memory controller enabled). Root only. `remove()` it at the end.
public struct MemoryCgroup: Sendable {
    /// The cgroup's directory.
    public let path: String
    let v2: Bool

    /// Where a new cgroup can be made, nil when neither hierarchy offers memory limits here.
    static var root: (path: String, v2: Bool)? {
        let v1 = "/sys/fs/cgroup/memory"
        if FileManager.default.fileExists(atPath: v1 + "/memory.limit_in_bytes") { return (v1, false) }
        for unified in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            let controllers = (try? String(contentsOfFile: unified + "/cgroup.subtree_control", encoding: .utf8)) ?? ""
            if controllers.split(separator: " ").contains(where: { $0.hasPrefix("memory") }) { return (unified, true) }
        }
        return nil
    }

    /// Whether a limited cgroup can be made here (root and a memory hierarchy).
    public static var available: Bool { getuid() == 0 && root != nil }

    /// A new cgroup named `name` limited to `megabytes` MiB of memory (and no swap beyond it).
    public static func create(_ name: String, megabytes: Int) throws -> MemoryCgroup {
        guard let root else { throw Failure("no memory cgroup hierarchy here") }
        let group = MemoryCgroup(path: root.path + "/" + name, v2: root.v2)
        try FileManager.default.createDirectory(atPath: group.path, withIntermediateDirectories: false)
        let bytes = String(megabytes << 20)
        do {
            if root.v2 {
                try group.write("memory.max", bytes)
                try? group.write("memory.swap.max", "0")
            } else {
                try group.write("memory.limit_in_bytes", bytes)
                try? group.write("memory.memsw.limit_in_bytes", bytes)  // absent without swap accounting
            }
        } catch {
            group.remove()
            throw error
        }
        return group
    }

    /// The command prefix that runs a program inside the cgroup (for `DaemonProcess`'s
    /// launcher): the shell joins it, then `exec`s the program with the same PID.
    public var launcher: [String] {
        ["/bin/sh", "-c", "echo $$ > \(path)/cgroup.procs && exec \"$@\"", "sh"]
    }

    /// The most memory the cgroup's processes held at once (their RSS and the page cache
    /// charged to them), in MiB. v1 only keeps it; on v2 `memory.peak` where the kernel has it.
    public var peakMegabytes: Double {
        let file = v2 ? "memory.peak" : "memory.max_usage_in_bytes"
        return Double(read(file).trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 / 1_048_576 } ?? 0
    }

    /// Processes of the cgroup the OOM killer took.
    public var oomKills: Int {
        let text = read(v2 ? "memory.events" : "memory.oom_control")
        let line = text.split(separator: "\n").first { $0.hasPrefix("oom_kill ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// Times the limit was hit (the kernel then reclaimed page cache, or killed).
    public var limitHits: Int {
        if v2 {
            let line = read("memory.events").split(separator: "\n").first { $0.hasPrefix("max ") }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        return Int(read("memory.failcnt").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Removes the cgroup (its processes must be gone).
    public func remove() {
        rmdir(path)
    }

    private func read(_ file: String) -> String {
        (try? String(contentsOfFile: path + "/" + file, encoding: .utf8)) ?? ""
    }

    private func write(_ file: String, _ value: String) throws {
        // A plain write(2): the kernel takes the value from it (no temporary file, no rename).
        let fd = open(path + "/" + file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("cannot open \(path)/\(file): errno \(errno)") }
        defer { close(fd) }
        let n = value.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, value.utf8.count) }
        guard n == value.utf8.count else { throw Failure("cannot write \(value) to \(path)/\(file): errno \(errno)") }
    }
}
